//! The empty env file compose is given.

use std::path::Path;

/// An empty env file for compose's `--env-file`, private to this process: compose v1 wants
/// a regular file there (it refuses /dev/null), and a fixed shared path (the old
/// `$TMPDIR/ghr-empty.env`) is one any local user can create or fill first, steering compose
/// with `DOCKER_HOST` and the like. So: a directory of our own (`mkdtemp`: a fresh name, mode
/// 0700, created atomically) holding a file created with `O_EXCL`, mode 0600; both removed
/// when the `Docker` that made them goes, or when the command is interrupted. The directory
/// is named `ghr-<pid>-XXXXXX`, so the next ghr removes those a killed ghr (`kill -9`) left.
#[derive(Debug)]
pub struct PrivateEnvFile {
    dir: std::path::PathBuf,
    file: std::path::PathBuf,
}

impl PrivateEnvFile {
    pub fn create() -> std::io::Result<PrivateEnvFile> {
        use std::os::unix::ffi::OsStrExt;
        use std::os::unix::fs::OpenOptionsExt;
        let tmp = std::env::temp_dir();
        sweep(&tmp);
        let template = tmp.join(format!("ghr-{}-XXXXXX", std::process::id()));
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

/// Removes the private directories of ghr processes of this user that are gone: named
/// `ghr-<pid>-XXXXXX`, a directory (not a link) owned by us, its pid not running. Only our
/// own empty file and the directory go (not recursively): nothing else can be in them.
fn sweep(tmp: &Path) {
    use std::os::unix::fs::MetadataExt;
    let Ok(entries) = std::fs::read_dir(tmp) else {
        return;
    };
    // SAFETY: plain syscall.
    let me = unsafe { libc::geteuid() };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(pid) = stale_pid(&name.to_string_lossy()) else {
            continue;
        };
        let dir = entry.path();
        let ours = std::fs::symlink_metadata(&dir).is_ok_and(|m| m.is_dir() && m.uid() == me);
        // SAFETY: signal 0 only asks whether the process exists.
        let gone = pid != std::process::id()
            && unsafe { libc::kill(pid as libc::pid_t, 0) } != 0
            && std::io::Error::last_os_error().raw_os_error() == Some(libc::ESRCH);
        if ours && gone {
            remove_private(&dir, &dir.join("empty.env"));
        }
    }
}

/// The pid in a private directory's name `ghr-<pid>-XXXXXX`.
fn stale_pid(name: &str) -> Option<u32> {
    let rest = name.strip_prefix("ghr-")?;
    let (pid, suffix) = rest.split_once('-')?;
    (suffix.len() == 6 && suffix.chars().all(|c| c.is_ascii_alphanumeric()))
        .then(|| pid.parse().ok())
        .flatten()
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
    use super::{stale_pid, PrivateEnvFile};

    #[test]
    fn only_ghrs_private_directories_are_swept() {
        for (name, pid) in [
            ("ghr-123-aB3xYz", Some(123)),
            ("ghr-aB3xYz", None),
            ("ghr-123-aB3xY", None),
            ("ghr-123-aB3x.z", None),
            ("ghr-empty.env", None),
            ("ghr-test-lab-1-2", None),
            ("other-123-aB3xYz", None),
        ] {
            assert_eq!(stale_pid(name), pid, "{name}");
        }
        // A directory of a process that is gone is removed; the caller's own stays.
        let tmp = std::env::temp_dir().join(format!("ghr-sweep-test-{}", std::process::id()));
        std::fs::create_dir_all(&tmp).unwrap();
        let dead = tmp.join("ghr-999999999-aaaaaa");
        let alive = tmp.join(format!("ghr-{}-bbbbbb", std::process::id()));
        for d in [&dead, &alive] {
            std::fs::create_dir_all(d).unwrap();
            std::fs::write(d.join("empty.env"), "").unwrap();
        }
        super::sweep(&tmp);
        assert!(!dead.exists() && alive.exists());
        std::fs::remove_dir_all(&tmp).unwrap();
    }
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
