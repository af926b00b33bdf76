//! The hook scripts the wrapper hands to the runner, and how a user's own hook is run.
//!
//! The scripts are thin: they exec this very binary (`/proc/self/exe`) as a client of the
//! wrapper's socket, because a lock taken inside a hook would die with the hook.

use std::fs;
use std::io;
use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus};

use crate::config::{SOCKET_ENV, USER_HOOK_ENV};

/// Private directory of one wrapper: its socket and hook scripts. Removed on drop.
#[derive(Debug)]
pub struct RuntimeDir {
    pub dir: PathBuf,
    pub socket: PathBuf,
    pub started: PathBuf,
    pub completed: PathBuf,
}

impl RuntimeDir {
    /// Unique per wrapper (pid + time), so several wrappers can share a host or a /tmp.
    pub fn create() -> io::Result<RuntimeDir> {
        let base = std::env::var_os("XDG_RUNTIME_DIR")
            .map(PathBuf::from)
            .filter(|p| p.is_dir())
            .unwrap_or_else(std::env::temp_dir);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        let dir = base.join(format!("runner-wrapper.{}.{nanos}", std::process::id()));
        if !base.exists() {
            // Minimal (FROM scratch) images may lack /tmp altogether.
            fs::create_dir_all(&base)?;
            let _ = fs::set_permissions(&base, fs::Permissions::from_mode(0o1777));
        }
        fs::DirBuilder::new()
            .mode(0o700)
            .create(&dir)
            .map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", dir.display())))?;
        Ok(RuntimeDir {
            socket: dir.join("sock"),
            started: dir.join("job-started.sh"),
            completed: dir.join("job-completed.sh"),
            dir,
        })
    }

    /// Write both scripts; `user_*` are the hooks the environment already had.
    pub fn write_scripts(
        &self,
        exe: &Path,
        user_started: Option<&str>,
        user_completed: Option<&str>,
    ) -> io::Result<()> {
        for (path, verb, user) in [
            (&self.started, "started", user_started),
            (&self.completed, "completed", user_completed),
        ] {
            let text = script(exe, &self.socket, verb, user);
            fs::write(path, text)?;
            fs::set_permissions(path, fs::Permissions::from_mode(0o755))?;
        }
        Ok(())
    }
}

impl Drop for RuntimeDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.dir);
    }
}

/// Single-quote for sh.
fn quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

fn script(exe: &Path, socket: &Path, verb: &str, user: Option<&str>) -> String {
    let mut s = String::from("#!/bin/bash\n# Job lock hook written by runner-wrapper: the lock is held by the wrapper, not here.\n");
    s.push_str(&format!(
        "export {SOCKET_ENV}={}\n",
        quote(&socket.to_string_lossy())
    ));
    match user {
        Some(u) => s.push_str(&format!("export {USER_HOOK_ENV}={}\n", quote(u))),
        None => s.push_str(&format!("unset {USER_HOOK_ENV}\n")),
    }
    s.push_str(&format!(
        "exec {} hook {verb}\n",
        quote(&exe.to_string_lossy())
    ));
    s
}

/// Run a user's hook as the runner would: `bash -e` for `.sh`, else directly. Output goes to our
/// own stdout/stderr, i.e. the job log.
pub fn run_user_hook(path: &str) -> io::Result<ExitStatus> {
    let mut cmd = if path.ends_with(".sh") {
        let mut c = Command::new("bash");
        c.arg("-e").arg(path);
        c
    } else {
        Command::new(path)
    };
    cmd.env_remove(USER_HOOK_ENV).status()
}
