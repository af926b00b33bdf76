//! The host side of the shared lock directory (`RUNNER_LOCK_HOST_PATH`): it must exist before
//! compose mounts it (else Docker creates it root-owned, 0755, which the wrappers refuse) and
//! be usable by the runners and their admins only: owner root, group the lock group
//! (`RUNNER_LOCK_GROUP`, default 1001: the stock image's `runner` user), mode 2770, everything
//! inside the lock group's (see runner-wrapper/README.md, "Security").

use crate::config::error::ConfigError;
use crate::config::settings::Settings;
use runner_wrapper::contract::env::{LOCK_GROUP, LOCK_HOST_PATH};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;

/// The mode ghr gives the lock directory.
pub const MODE: u32 = runner_wrapper::contract::LOCK_HOST_DIR_MODE;

/// What `prepare` did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Prepared {
    Created,
    /// It existed with another owner, group or mode (e.g. an older ghr's 1777); ghr fixed it
    /// and what is inside.
    Secured {
        from: String,
    },
    Ready,
}

/// Owner, group and mode of the lock directory as found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Found {
    pub uid: u32,
    pub gid: u32,
    pub mode: u32,
}

impl Found {
    fn describe(&self) -> String {
        format!(
            "owner {}:{} mode {:04o}",
            self.uid,
            self.gid,
            self.mode & 0o7777
        )
    }
}

/// Is the lock directory as it must be: root's, the lock group's, 2770?
pub fn is_secure(found: Found, gid: u32) -> bool {
    found.uid == 0 && found.gid == gid && found.mode & 0o7777 == MODE
}

/// The exact commands that make `path` right, for one line of an error: the directory alone
/// when it is empty, else everything in it too.
pub fn fix_command(path: &Path, gid: u32, empty: bool) -> String {
    let p = path.display();
    if empty {
        format!("sudo chown root:{gid} {p} && sudo chmod 2770 {p}")
    } else {
        format!(
            "sudo chown -R root:{gid} {p} && sudo chmod -R u=rwX,g=rwX,o= {p} && sudo find {p} -type d -exec chmod g+s {{}} +"
        )
    }
}

/// The one line when ghr may not make the lock directory right: what is wrong, why it matters,
/// the cause and the exact commands.
pub fn refusal(
    path: &Path,
    what: &str,
    gid: u32,
    cause: &dyn std::fmt::Display,
    empty: bool,
) -> String {
    format!(
        "{LOCK_HOST_PATH}={} {what}, so that only root and the runners (lock group {gid}, {LOCK_GROUP}) can use its locks, and ghr cannot change it ({cause}); run: {}",
        path.display(),
        fix_command(path, gid, empty)
    )
}

/// Creates the directory (root:<gid>, 2770) when missing, secures it (and what is inside) when
/// it is not so, and fails with the exact commands when ghr may not change it (not root).
pub fn prepare(path: &Path, gid: u32) -> Result<Prepared, ConfigError> {
    let shown = path.display();
    let key = LOCK_HOST_PATH;
    let cannot = |what: &str, e: &dyn std::fmt::Display, empty: bool| {
        ConfigError::new(refusal(path, what, gid, e, empty))
    };
    let meta = match std::fs::symlink_metadata(path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            if let Some(parent) = path.parent() {
                std::fs::create_dir_all(parent).map_err(|e| {
                    ConfigError::new(format!(
                        "{key}={shown} cannot be created ({e}); create it with: sudo mkdir -p {shown} && {}",
                        fix_command(path, gid, true)
                    ))
                })?;
            }
            std::fs::create_dir(path).map_err(|e| {
                ConfigError::new(format!(
                    "{key}={shown} cannot be created ({e}); create it with: sudo mkdir -p {shown} && {}",
                    fix_command(path, gid, true)
                ))
            })?;
            secure_top(path, gid)
                .map_err(|e| cannot("was created but must be root's", &e, true))?;
            return Ok(Prepared::Created);
        }
        Err(e) => {
            let line = format!(
                "{key}={shown} cannot be read ({e}); point {key} at a directory ghr can create or read"
            );
            return Err(ConfigError::new(line));
        }
        Ok(meta) => meta,
    };
    if !meta.is_dir() {
        return Err(ConfigError::new(format!(
            "{key}={shown} is not a directory; point {key} at a directory (ghr creates it)"
        )));
    }
    let found = Found {
        uid: meta.uid(),
        gid: meta.gid(),
        mode: meta.mode(),
    };
    let root = runner_wrapper::lockdir::euid() == 0;
    if is_secure(found, gid) {
        if root {
            // What an older version or a restore left inside (0777, 0666, other groups).
            let _ = runner_wrapper::lockdir::secure_tree(path, gid);
        }
        return Ok(Prepared::Ready);
    }
    let empty = std::fs::read_dir(path)
        .map(|mut d| d.next().is_none())
        .unwrap_or(false);
    let what = format!("has {}, not root:{gid} mode 2770", found.describe());
    secure_top(path, gid).map_err(|e| cannot(&what, &e, empty))?;
    runner_wrapper::lockdir::secure_tree(path, gid).map_err(|e| cannot(&what, &e, false))?;
    Ok(Prepared::Secured {
        from: found.describe(),
    })
}

/// root:<gid>, then 2770 (after chown, which may clear setgid).
fn secure_top(path: &Path, gid: u32) -> std::io::Result<()> {
    std::os::unix::fs::chown(path, Some(0), Some(gid))?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(MODE))
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

/// The shared lock directory must exist, usable by the runners (the lock group) and root only,
/// before compose mounts it.
pub fn prepare_for(settings: &Settings) -> crate::world::error::Result<()> {
    let path = std::path::Path::new(&settings.lock_host_path);
    let gid = settings.lock_group;
    match prepare(path, gid)? {
        Prepared::Created => crate::world::notify::info(&format!(
            "Created the lock directory {} (root:{gid}, mode 2770: root and the runners' lock group only)",
            path.display()
        )),
        Prepared::Secured { from } => crate::world::notify::info(&format!(
            "Secured the lock directory {} ({from} -> root:{gid} mode 2770, and what is inside): only root and the runners' lock group may use it",
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
    fn only_root_the_lock_group_and_2770_is_secure() {
        let f = |uid, gid, mode| Found { uid, gid, mode };
        for (found, secure) in [
            (f(0, 1001, 0o42770), true),
            (f(0, 1001, 0o2770), true),
            (f(0, 0, 0o1777), false),
            (f(0, 1001, 0o1777), false),
            (f(0, 1001, 0o770), false),
            (f(0, 1001, 0o2775), false),
            (f(0, 2000, 0o2770), false),
            (f(1000, 1001, 0o2770), false),
        ] {
            assert_eq!(is_secure(found, 1001), secure, "{found:?}");
        }
    }

    #[test]
    fn a_refusal_says_what_why_and_the_commands() {
        let e = std::io::Error::from_raw_os_error(libc::EPERM);
        let line = refusal(
            Path::new("/tmp/locks"),
            "has owner 1000:1000 mode 1777, not root:1001 mode 2770",
            1001,
            &e,
            true,
        );
        assert_eq!(
            line,
            "RUNNER_LOCK_HOST_PATH=/tmp/locks has owner 1000:1000 mode 1777, not root:1001 mode 2770, so that only root and the runners (lock group 1001, RUNNER_LOCK_GROUP) can use its locks, and ghr cannot change it (Operation not permitted (os error 1)); run: sudo chown root:1001 /tmp/locks && sudo chmod 2770 /tmp/locks"
        );
    }

    #[test]
    fn the_fix_is_one_line_of_exact_commands() {
        let p = Path::new("/srv/locks");
        assert_eq!(
            fix_command(p, 1001, true),
            "sudo chown root:1001 /srv/locks && sudo chmod 2770 /srv/locks"
        );
        assert_eq!(
            fix_command(p, 1001, false),
            "sudo chown -R root:1001 /srv/locks && sudo chmod -R u=rwX,g=rwX,o= /srv/locks && sudo find /srv/locks -type d -exec chmod g+s {} +"
        );
    }

    /// As root (these tests run as root): created so, an older 1777 layout secured with what is
    /// inside, a file refused.
    #[test]
    fn creates_secures_and_refuses_files() {
        let base = std::env::temp_dir().join(format!("ghr-lockdir-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&base);
        let dir = base.join("a/locks");
        let meta = |p: &Path| {
            let m = std::fs::metadata(p).unwrap();
            (m.uid(), m.gid(), m.mode() & 0o7777)
        };
        assert_eq!(prepare(&dir, 1001).unwrap(), Prepared::Created);
        assert_eq!(meta(&dir), (0, 1001, 0o2770));
        assert_eq!(prepare(&dir, 1001).unwrap(), Prepared::Ready);

        // An older ghr's layout: 1777 root:root, a 0777 resource directory, a 0666 lock file.
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o1777)).unwrap();
        std::os::unix::fs::chown(&dir, Some(0), Some(0)).unwrap();
        std::fs::create_dir(dir.join("brd")).unwrap();
        std::fs::write(dir.join("brd/lock"), "").unwrap();
        std::fs::set_permissions(dir.join("brd"), std::fs::Permissions::from_mode(0o777)).unwrap();
        std::fs::set_permissions(dir.join("brd/lock"), std::fs::Permissions::from_mode(0o666))
            .unwrap();
        assert_eq!(
            prepare(&dir, 1001).unwrap(),
            Prepared::Secured {
                from: "owner 0:0 mode 1777".into()
            }
        );
        assert_eq!(meta(&dir), (0, 1001, 0o2770));
        assert_eq!(meta(&dir.join("brd")), (0, 1001, 0o2770));
        assert_eq!(meta(&dir.join("brd/lock")), (0, 1001, 0o660));

        let file = base.join("file");
        std::fs::write(&file, "").unwrap();
        let err = prepare(&file, 1001).unwrap_err().to_string();
        assert!(err.contains("is not a directory"), "{err}");
        std::fs::remove_dir_all(&base).unwrap();
    }
}
