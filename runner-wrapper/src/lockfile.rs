//! Taking a resource's lock file, and keeping it the one at its path.
//!
//! A flock belongs to a file (an inode), not to a path. If the lock file, its directory or the
//! whole lock directory is removed or replaced while a holder holds it (`rm -rf`, a rename, a
//! cleaner of old files in /tmp), the next runner would lock a new file at the same path: two
//! holders of one board. So:
//! - **before every grant** the taker checks that the file it locked is still the one at the path
//!   (device and inode of its descriptor against a fresh `stat` of the path), else it takes the
//!   one there now;
//! - **a new lock file is not taken for [`SETTLE`]** after it appeared (its mtime; lock files are
//!   never written), except by a holder that re-establishes its lock;
//! - **a holder checks its lock every [`GUARD_EVERY`]** and, when the path no longer leads to its
//!   file, takes the file there now (creating it if needed) at once, without waiting. With the
//!   check 20 times as often as the settle time, the holder gets there first: never two holders,
//!   as long as the holder's process gets to run within [`SETTLE`].
//! - a holder that cannot (the new file is already locked, or its directory cannot be created:
//!   a container whose bind-mounted lock directory was removed on the host) says so and its
//!   wrapper stops taking jobs (see `state`).

use std::fs::{self, File, TryLockError};
use std::io;
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::thread;
use std::time::{Duration, SystemTime};

use crate::lockdir::{annotate, ensure_resource, ResourcePaths};

/// How long a new lock file is not taken (by anyone but a holder re-establishing its lock).
pub const SETTLE: Duration = Duration::from_secs(2);
/// How often a holder checks that its lock file is still the one at the path.
pub const GUARD_EVERY: Duration = Duration::from_millis(100);

/// Which file: device and inode. Stable while we hold the file open (an open file's inode number
/// is not reused, even when it is unlinked).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct FileId {
    pub dev: u64,
    pub ino: u64,
}

impl std::fmt::Display for FileId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.dev, self.ino)
    }
}

pub fn id_of(file: &File) -> io::Result<FileId> {
    let m = file.metadata()?;
    Ok(FileId {
        dev: m.dev(),
        ino: m.ino(),
    })
}

/// The file at `path` now; `None` when there is none.
pub fn id_at(path: &Path) -> io::Result<Option<FileId>> {
    match fs::metadata(path) {
        Ok(m) => Ok(Some(FileId {
            dev: m.dev(),
            ino: m.ino(),
        })),
        Err(e)
            if matches!(
                e.kind(),
                io::ErrorKind::NotFound | io::ErrorKind::NotADirectory
            ) =>
        {
            Ok(None)
        }
        Err(e) => Err(e),
    }
}

/// How much longer a lock file created (last modified) at `mtime` must settle at `now`. A time
/// in the future counts as just created.
pub fn settle_left(mtime: SystemTime, now: SystemTime) -> Duration {
    let age = now.duration_since(mtime).unwrap_or_default();
    SETTLE.saturating_sub(age)
}

/// How to wait for the lock.
pub enum Wait<'a> {
    /// Block in flock; give up when this says so (checked between steps).
    Block(&'a dyn Fn() -> bool),
    /// Do not wait for another holder (`ghr hold --no-wait`).
    Try,
}

#[derive(Debug)]
pub enum Got {
    Lock(File),
    Cancelled,
    /// Held by somebody else (only with [`Wait::Try`]).
    Busy,
}

/// Take the resource's lock: the file at its path, settled, verified after the flock. A missing
/// resource directory (removed) is created again (group `gid`). Errors name the file and fix.
pub fn acquire(paths: &ResourcePaths, gid: u32, wait: Wait) -> io::Result<Got> {
    let mut settled = None;
    let mut recreated = 0;
    loop {
        if let Wait::Block(cancelled) = wait {
            if cancelled() {
                return Ok(Got::Cancelled);
            }
        }
        let file = match paths.open_lock() {
            Ok(f) => f,
            Err(e) if e.kind() == io::ErrorKind::NotFound && recreated < 3 => {
                recreated += 1;
                ensure_resource(&paths.root, &paths.name, gid)?;
                continue;
            }
            Err(e) => return Err(e),
        };
        let id = id_of(&file).map_err(|e| annotate(&paths.root, &paths.lock, "reading", e))?;
        if settled != Some(id) {
            let mtime = file
                .metadata()
                .and_then(|m| m.modified())
                .map_err(|e| annotate(&paths.root, &paths.lock, "reading", e))?;
            let left = settle_left(mtime, SystemTime::now());
            settled = Some(id);
            if !left.is_zero() {
                // A new lock file: its holder, if the old one was pulled away under it, gets
                // there first. Then look again: the path may lead elsewhere by now.
                thread::sleep(left);
                continue;
            }
        }
        match wait {
            Wait::Block(_) => file
                .lock()
                .map_err(|e| annotate(&paths.root, &paths.lock, "locking", e))?,
            Wait::Try => match file.try_lock() {
                Ok(()) => {}
                Err(TryLockError::WouldBlock) => return Ok(Got::Busy),
                Err(TryLockError::Error(e)) => {
                    return Err(annotate(&paths.root, &paths.lock, "locking", e))
                }
            },
        }
        let now =
            id_at(&paths.lock).map_err(|e| annotate(&paths.root, &paths.lock, "reading", e))?;
        if now == Some(id) {
            return Ok(Got::Lock(file));
        }
        // Removed or replaced while we waited: what we hold locks nothing any more.
    }
}

/// A holder's lock file is no longer the one at the path: take the one there now (creating the
/// directory and file if they are gone), without waiting and without settling. Fails when
/// somebody else holds it already, or it cannot be made.
pub fn reestablish(paths: &ResourcePaths, gid: u32) -> io::Result<File> {
    ensure_resource(&paths.root, &paths.name, gid)?;
    let file = paths.open_lock()?;
    match file.try_lock() {
        Ok(()) => {}
        Err(TryLockError::WouldBlock) => {
            return Err(io::Error::new(
                io::ErrorKind::WouldBlock,
                format!(
                    "the new {} is locked by another process already (a runner that does not wait for new lock files to settle, or this holder could not run for {}s)",
                    paths.lock.display(),
                    SETTLE.as_secs()
                ),
            ))
        }
        Err(TryLockError::Error(e)) => {
            return Err(annotate(&paths.root, &paths.lock, "locking", e))
        }
    }
    let id = id_of(&file)?;
    if id_at(&paths.lock)? != Some(id) {
        return Err(io::Error::other(format!(
            "{} changed again while it was re-established",
            paths.lock.display()
        )));
    }
    Ok(file)
}

/// What a holder found when it looked at its lock.
#[derive(Debug)]
pub enum Watch {
    /// The path still leads to the held file.
    Fine,
    /// It did not; the holder took the file there now (`what` happened, for the log).
    Relocked { file: File, what: String },
    /// It did not, and the holder could not take the file there now.
    Failed { why: String },
    /// The path could not be looked at (e.g. a permission changed): try again later.
    Unknown(io::Error),
}

/// A holder of `held` looks at its lock's path and re-establishes the lock there if needed.
pub fn watch(paths: &ResourcePaths, gid: u32, held: FileId) -> Watch {
    let what = match id_at(&paths.lock) {
        Ok(Some(now)) if now == held => return Watch::Fine,
        Ok(Some(now)) => format!(
            "the lock file {} was replaced (held file {held}, now {now})",
            paths.lock.display()
        ),
        Ok(None) => format!("the lock file {} was removed", paths.lock.display()),
        Err(e) => return Watch::Unknown(e),
    };
    match reestablish(paths, gid) {
        Ok(file) => Watch::Relocked { file, what },
        Err(e) => Watch::Failed {
            why: format!("{what} and the lock could not be re-established there: {e}"),
        },
    }
}

/// The lock directory itself, as a wrapper sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RootState {
    /// The path leads to the directory the wrapper opened at start-up.
    Same,
    /// The path leads elsewhere or nowhere (removed or replaced): holders re-establish there.
    Moved,
    /// The path still leads to the opened directory, but it was removed: a container's bind
    /// mount of a directory removed on the host. The new one (if any) cannot be seen from here.
    Orphaned,
}

/// `opened`: the directory opened at start-up and its link count now; `at_path`: what the path
/// leads to now.
pub fn root_state(opened: FileId, links: u64, at_path: Option<FileId>) -> RootState {
    match at_path {
        Some(id) if id == opened && links == 0 => RootState::Orphaned,
        Some(id) if id == opened => RootState::Same,
        _ => RootState::Moved,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_new_lock_file_settles() {
        let t0 = SystemTime::UNIX_EPOCH + Duration::from_secs(1_795_377_600);
        let ms = Duration::from_millis;
        for (age_ms, left_ms) in [(0, 2000), (500, 1500), (2000, 0), (3_600_000, 0)] {
            assert_eq!(settle_left(t0, t0 + ms(age_ms)), ms(left_ms), "{age_ms}");
        }
        // Touched into the future (a clock step): one full settle, not a wait until then.
        assert_eq!(settle_left(t0 + ms(60_000), t0), SETTLE);
    }

    #[test]
    fn the_lock_directory_is_the_same_moved_or_orphaned() {
        let a = FileId { dev: 1, ino: 10 };
        let b = FileId { dev: 1, ino: 11 };
        let table = [
            (2, Some(a), RootState::Same),
            (5, Some(a), RootState::Same),
            (2, Some(b), RootState::Moved),
            (2, None, RootState::Moved),
            (0, None, RootState::Moved),
            (0, Some(b), RootState::Moved),
            (0, Some(a), RootState::Orphaned),
        ];
        for (links, at, want) in table {
            assert_eq!(root_state(a, links, at), want, "{links} {at:?}");
        }
    }

    /// Make a lock file look as old as a lab's (no settle wait in a unit test).
    fn age(path: &Path) {
        let f = File::options().write(true).open(path).unwrap();
        f.set_modified(SystemTime::now() - Duration::from_secs(3600))
            .unwrap();
    }

    /// The holder of a removed lock file takes the new one at once; anybody else finds it held.
    #[test]
    fn a_removed_lock_file_is_replaced_and_never_shared() {
        let root = std::env::temp_dir().join(format!("rw-lockfile-{}", std::process::id()));
        let _ = fs::remove_dir_all(&root);
        let paths = ensure_resource(&root, "b", 1001).unwrap();
        age(&paths.lock);
        let old = match acquire(&paths, 1001, Wait::Try).unwrap() {
            Got::Lock(f) => f,
            other => panic!("{other:?}"),
        };
        fs::remove_dir_all(&paths.dir).unwrap();
        let new = reestablish(&paths, 1001).unwrap();
        assert_ne!(id_of(&old).unwrap(), id_of(&new).unwrap());
        assert_eq!(id_at(&paths.lock).unwrap(), Some(id_of(&new).unwrap()));
        age(&paths.lock);
        assert!(matches!(
            acquire(&paths, 1001, Wait::Try).unwrap(),
            Got::Busy
        ));
        drop(new);
        assert!(matches!(
            acquire(&paths, 1001, Wait::Try).unwrap(),
            Got::Lock(_)
        ));
        let _ = fs::remove_dir_all(&root);
    }
}
