//! The hook scripts the wrapper hands to the runner, and how a user's own hook is run.
//!
//! The scripts are thin: they exec this very binary (`/proc/self/exe`) as a client of the
//! wrapper's socket, because a lock taken inside a hook would die with the hook.

use std::fs;
use std::io;
use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus};

use crate::contract::env::{SOCKET as SOCKET_ENV, USER_HOOK as USER_HOOK_ENV};

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
        let dir = base.join(format!(
            "{RUNTIME_DIR_PREFIX}{}.{nanos}",
            std::process::id()
        ));
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

/// Name of the private runtime directories, `<base>/runner-wrapper.<pid>.<nanos>/`.
pub const RUNTIME_DIR_PREFIX: &str = "runner-wrapper.";

/// Is `path` one of our hook scripts (of any wrapper run), e.g. left in the runner's `.env` by
/// an earlier run? Recognised by shape: `.../runner-wrapper.<pid>.<nanos>/job-<verb>.sh`.
pub fn is_our_hook(path: &str) -> bool {
    let p = Path::new(path);
    let file_ok = p
        .file_name()
        .is_some_and(|f| f == "job-started.sh" || f == "job-completed.sh");
    let dir_ok = p
        .parent()
        .and_then(|d| d.file_name())
        .and_then(|d| d.to_str())
        .and_then(|d| d.strip_prefix(RUNTIME_DIR_PREFIX))
        .is_some_and(|rest| {
            let mut parts = rest.split('.');
            let digits = |s: Option<&str>| {
                s.is_some_and(|s| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()))
            };
            digits(parts.next()) && digits(parts.next()) && parts.next().is_none()
        });
    file_ok && dir_ok
}

/// Run a user's hook as the runner would: `bash -e` for `.sh`, else directly, with `vars` (the
/// granted member's environment) added. Output goes to our own stdout/stderr: the job log.
pub fn run_user_hook(path: &str, vars: &[(String, String)]) -> io::Result<ExitStatus> {
    let mut cmd = if path.ends_with(".sh") {
        let mut c = Command::new("bash");
        c.arg("-e").arg(path);
        c
    } else {
        Command::new(path)
    };
    cmd.env_remove(USER_HOOK_ENV)
        .envs(vars.iter().map(|(k, v)| (k, v)))
        .status()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn our_hooks_are_recognised_by_shape() {
        assert!(is_our_hook("/tmp/runner-wrapper.1.123456/job-started.sh"));
        assert!(is_our_hook(
            "/run/user/1001/runner-wrapper.77.9/job-completed.sh"
        ));
        assert!(!is_our_hook("/home/runner/hooks/job-started.sh"));
        assert!(!is_our_hook("/tmp/runner-wrapper.x.1/job-started.sh"));
        assert!(!is_our_hook("/tmp/runner-wrapper.1.2/other.sh"));
        assert!(!is_our_hook("/tmp/runner-wrapper.1.2.3/job-started.sh"));
        assert!(!is_our_hook(""));
    }
}
