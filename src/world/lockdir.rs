//! The host side of the shared lock directory (`RUNNER_LOCK_HOST_PATH`): it must exist before
//! compose mounts it (else Docker creates it root-owned, 0755) and be usable by every runner
//! user (uid 1001 in the stock image, root in others): sticky and world-writable, like /tmp.

use crate::config::error::ConfigError;
use crate::config::settings::Settings;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;

/// The mode ghr gives the lock directory.
pub const MODE: u32 = runner_wrapper::contract::LOCK_HOST_DIR_MODE;

/// What `prepare` did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Prepared {
    Created,
    /// It existed with a narrower mode; ghr widened it.
    Widened {
        from: u32,
    },
    Ready,
}

/// What to do with a directory of this mode: fine as it is, or widen it.
pub fn needs_widening(mode: u32) -> bool {
    mode & 0o777 != 0o777
}

/// Creates the directory (mode 1777) when missing, widens it when runners could not write to
/// it, and fails with the fix when ghr may not change it.
pub fn prepare(path: &Path) -> Result<Prepared, ConfigError> {
    let shown = path.display();
    let key = "RUNNER_LOCK_HOST_PATH";
    match std::fs::metadata(path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            std::fs::create_dir_all(path)
                .and_then(|()| std::fs::set_permissions(path, std::fs::Permissions::from_mode(MODE)))
                .map_err(|e| {
                    ConfigError::new(format!(
                        "{key}={shown} cannot be created ({e}); create it with: sudo mkdir -p {shown} && sudo chmod 1777 {shown}"
                    ))
                })?;
            Ok(Prepared::Created)
        }
        Err(e) => Err(ConfigError::new(format!(
            "{key}={shown} cannot be read ({e}); point {key} at a directory all runners can write to"
        ))),
        Ok(meta) if !meta.is_dir() => Err(ConfigError::new(format!(
            "{key}={shown} is not a directory; point {key} at a directory (ghr creates it)"
        ))),
        Ok(meta) if !needs_widening(meta.mode()) => Ok(Prepared::Ready),
        Ok(meta) => {
            let from = meta.mode() & 0o7777;
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(MODE)).map_err(|e| {
                ConfigError::new(format!(
                    "{key}={shown} has mode {from:04o} (owner uid {}), so runners of other users (uid 1001 in the stock image) cannot lock in it, and ghr cannot change it ({e}); run: sudo chmod 1777 {shown}",
                    meta.uid()
                ))
            })?;
            Ok(Prepared::Widened { from })
        }
    }
}

/// The lock directory's path names a directory or nothing yet (ghr makes it): a file or a
/// dangling link there is a settings error before anything changes.
pub fn check_path(path: &Path) -> Result<(), ConfigError> {
    match std::fs::metadata(path) {
        Ok(meta) if meta.is_dir() => Ok(()),
        Ok(_) => Err(ConfigError::new(format!(
            "RUNNER_LOCK_HOST_PATH={} is a file, not a directory; remove it or set RUNNER_LOCK_HOST_PATH to a directory",
            path.display()
        ))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(ConfigError::new(format!(
            "RUNNER_LOCK_HOST_PATH={} cannot be read ({e}); set it to a directory ghr can create or use",
            path.display()
        ))),
    }
}

/// The shared lock directory must exist, usable by every runner user, before compose mounts it.
pub fn prepare_for(settings: &Settings) -> crate::world::error::Result<()> {
    let path = std::path::Path::new(&settings.lock_host_path);
    match prepare(path)? {
        Prepared::Created => crate::world::notify::info(&format!(
            "Created the lock directory {} (mode 1777)",
            path.display()
        )),
        Prepared::Widened { from } => crate::world::notify::info(&format!(
            "Made the lock directory {} usable by every runner user (mode {from:04o} -> 1777)",
            path.display()
        )),
        Prepared::Ready => {}
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modes_that_every_user_can_use_are_left_alone() {
        for (mode, widen) in [
            (0o1777, false),
            (0o777, false),
            (0o40777, false),
            (0o755, true),
            (0o1775, true),
            (0o700, true),
        ] {
            assert_eq!(needs_widening(mode), widen, "{mode:o}");
        }
    }

    #[test]
    fn creates_widens_and_refuses_files() {
        let base = std::env::temp_dir().join(format!("ghr-lockdir-{}", std::process::id()));
        let dir = base.join("a/locks");
        assert_eq!(prepare(&dir).unwrap(), Prepared::Created);
        let mode = std::fs::metadata(&dir).unwrap().mode() & 0o7777;
        assert_eq!(mode, 0o1777);
        assert_eq!(prepare(&dir).unwrap(), Prepared::Ready);
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
        assert_eq!(prepare(&dir).unwrap(), Prepared::Widened { from: 0o755 });
        let file = base.join("file");
        std::fs::write(&file, "").unwrap();
        let err = prepare(&file).unwrap_err().to_string();
        assert!(err.contains("is not a directory"), "{err}");
        std::fs::remove_dir_all(&base).unwrap();
    }
}
