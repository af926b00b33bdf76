//! The empty env file compose is given.

use std::path::Path;

/// An empty env file for compose's `--env-file`, private to this process: compose v1 wants
/// a regular file there (it refuses /dev/null), and a fixed shared path (the old
/// `$TMPDIR/ghr-empty.env`) is one any local user can create or fill first, steering compose
/// with `DOCKER_HOST` and the like. So: a directory of our own (`mkdtemp`: a fresh name, mode
/// 0700, created atomically) holding a file created with `O_EXCL`, mode 0600; both removed
/// when the `Docker` that made them goes, or when the command is interrupted.
#[derive(Debug)]
pub struct PrivateEnvFile {
    dir: std::path::PathBuf,
    file: std::path::PathBuf,
}

impl PrivateEnvFile {
    pub fn create() -> std::io::Result<PrivateEnvFile> {
        use std::os::unix::ffi::OsStrExt;
        use std::os::unix::fs::OpenOptionsExt;
        let template = std::env::temp_dir().join("ghr-XXXXXX");
        let mut bytes = template.as_os_str().as_bytes().to_vec();
        bytes.push(0);
        // SAFETY: a NUL-terminated buffer we own; mkdtemp only rewrites its XXXXXX in place.
        let made = unsafe { libc::mkdtemp(bytes.as_mut_ptr().cast()) };
        if made.is_null() {
            return Err(std::io::Error::last_os_error());
        }
        bytes.pop();
        let dir = std::path::PathBuf::from(std::ffi::OsStr::from_bytes(&bytes));
        let file = dir.join("empty.env");
        let created = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&file);
        if let Err(e) = created {
            let _ = std::fs::remove_dir(&dir);
            return Err(e);
        }
        let (d, f) = (dir.clone(), file.clone());
        crate::world::cancel::on_interrupt(move || remove_private(&d, &f));
        Ok(PrivateEnvFile { dir, file })
    }

    pub fn path(&self) -> &Path {
        &self.file
    }
}

fn remove_private(dir: &Path, file: &Path) {
    let _ = std::fs::remove_file(file);
    let _ = std::fs::remove_dir(dir);
}

impl Drop for PrivateEnvFile {
    fn drop(&mut self) {
        remove_private(&self.dir, &self.file);
    }
}

#[cfg(test)]
mod tests {
    use super::PrivateEnvFile;
    use std::os::unix::fs::MetadataExt;

    #[test]
    fn the_env_file_is_private_fresh_and_removed() {
        let a = PrivateEnvFile::create().unwrap();
        let b = PrivateEnvFile::create().unwrap();
        assert_ne!(
            a.path(),
            b.path(),
            "a fresh one per use, never a shared name"
        );
        let dir = std::fs::metadata(a.path().parent().unwrap()).unwrap();
        let file = std::fs::metadata(a.path()).unwrap();
        assert_eq!(dir.mode() & 0o777, 0o700);
        assert_eq!(file.mode() & 0o777, 0o600);
        assert_eq!(
            (dir.uid(), file.uid()),
            (unsafe { libc::geteuid() }, dir.uid())
        );
        assert_eq!(file.len(), 0);
        let (path, parent) = (
            a.path().to_path_buf(),
            a.path().parent().unwrap().to_path_buf(),
        );
        drop(a);
        assert!(!path.exists() && !parent.exists());
    }
}
