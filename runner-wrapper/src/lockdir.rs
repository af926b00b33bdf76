//! Where a resource's files live inside the shared lock directory.
//!
//! `<dir>/<name>.lock`   the lock: flocked (exclusive) by the holding wrapper, never unlinked,
//!                       because a waiter blocked on an unlinked inode would never be woken by
//!                       a newcomer's lock on the new file.
//! `<dir>/<name>.owner`  owner record of the current holder (see `record`).
//! `<dir>/<name>.queue/` tickets of waiters (see `tickets`).

use std::fs::{self, File, OpenOptions};
use std::io;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// Files of one resource in a lock directory.
#[derive(Debug, Clone)]
pub struct ResourcePaths {
    pub name: String,
    pub lock: PathBuf,
    pub owner: PathBuf,
    pub queue: PathBuf,
}

/// Resource ids become file names: keep them to a safe alphabet so an id can never escape the dir.
pub fn file_name_for(resource: &str) -> String {
    let mut s: String = resource
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.' {
                c
            } else {
                '_'
            }
        })
        .collect();
    if s.starts_with('.') || s.is_empty() {
        s.insert(0, '_');
    }
    s
}

impl ResourcePaths {
    pub fn new(dir: &Path, resource: &str) -> Self {
        Self::from_name(dir, &file_name_for(resource))
    }

    pub fn from_name(dir: &Path, name: &str) -> Self {
        ResourcePaths {
            name: name.to_string(),
            lock: dir.join(format!("{name}.lock")),
            owner: dir.join(format!("{name}.owner")),
            queue: dir.join(format!("{name}.queue")),
        }
    }

    /// Create the directory layout; modes are wide open because containers of different orgs
    /// (maybe different uids) share the host directory.
    pub fn ensure(&self, dir: &Path) -> io::Result<()> {
        for d in [dir, self.queue.as_path()] {
            if !d.is_dir() {
                fs::DirBuilder::new()
                    .recursive(true)
                    .mode(0o777)
                    .create(d)?;
                widen(d, 0o777);
            }
        }
        Ok(())
    }

    /// Open (creating if needed) the lock file; every waiter uses its own open file description.
    pub fn open_lock(&self) -> io::Result<File> {
        open_shared_file(&self.lock)
    }
}

/// Open or create a file that other wrappers (other uids) must be able to open too.
pub fn open_shared_file(path: &Path) -> io::Result<File> {
    let f = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o666)
        .open(path)?;
    // The umask narrowed the mode; widen it if we own the file (fails harmlessly otherwise).
    let _ = f.set_permissions(fs::Permissions::from_mode(0o666));
    Ok(f)
}

/// Best effort chmod: only the creator may, and only the creator needs to.
fn widen(path: &Path, mode: u32) {
    let _ = fs::set_permissions(path, fs::Permissions::from_mode(mode));
}
