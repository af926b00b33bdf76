//! The holder's watch over its locks (see `lockfile`): every [`GUARD_EVERY`], is each held lock
//! file still the one at its path? If not, take the one there now at once and hand it to the
//! event loop; if that fails, or the lock directory itself was removed or moved on the host
//! under this container's bind mount (its link count; the mount's source in mountinfo, checked
//! every [`MOUNT_EVERY`]), tell the loop that the lock directory is lost. A timer, not inotify:
//! it also sees a parent directory renamed, and costs one `stat` per held lock per tick.

use std::collections::HashMap;
use std::fs::File;
use std::os::unix::fs::MetadataExt;
use std::path::PathBuf;
use std::sync::mpsc::Sender;
use std::sync::{Arc, Mutex};
use std::thread;

use super::Raw;
use crate::lockdir::ResourcePaths;
use crate::lockfile::{self, id_at, root_state, FileId, RootState, Watch, GUARD_EVERY};
use crate::mountinfo;

/// Per member: the file this wrapper holds the lock of, if it holds it. Kept by the event loop.
pub type Held = Arc<Mutex<Vec<Option<FileId>>>>;

/// How often the mount's source is read (a file of a few KiB, so not every tick).
const MOUNT_EVERY: u32 = 10;

pub fn spawn(
    root: PathBuf,
    root_dir: File,
    paths: Vec<ResourcePaths>,
    gid: u32,
    held: Held,
    tx: Sender<Raw>,
) {
    thread::spawn(move || {
        // The held file each member was last acted on for, so a failure is reported once.
        let mut acted: HashMap<usize, FileId> = HashMap::new();
        let mut orphaned = false;
        // Where the lock directory is mounted from, when it is a mount point (a container).
        let mount_point = std::fs::canonicalize(&root).unwrap_or_else(|_| root.clone());
        let source = mountinfo::read(&mount_point);
        let mut tick = 0u32;
        loop {
            thread::sleep(GUARD_EVERY);
            tick = tick.wrapping_add(1);
            if let (false, Some(was), 0) = (orphaned, &source, tick % MOUNT_EVERY) {
                let now = mountinfo::read(&mount_point);
                if now.as_ref() != Some(was) {
                    orphaned = true;
                    let why = format!(
                        "the lock directory {} was moved or removed on the host (its mount was {was}, now {}): this container cannot see where the other runners lock any more",
                        root.display(),
                        now.as_deref().unwrap_or("gone")
                    );
                    if tx.send(Raw::Lost { why }).is_err() {
                        return;
                    }
                }
            }
            if !orphaned {
                if let (Ok(meta), Ok(at)) = (root_dir.metadata(), id_at(&root)) {
                    let opened = FileId {
                        dev: meta.dev(),
                        ino: meta.ino(),
                    };
                    if root_state(opened, meta.nlink(), at) == RootState::Orphaned {
                        orphaned = true;
                        let why = format!(
                            "the lock directory {} was removed on the host: this container still sees the removed directory through its mount and cannot see a new one, so it can no longer take turns with the other runners",
                            root.display()
                        );
                        if tx.send(Raw::Lost { why }).is_err() {
                            return;
                        }
                    }
                }
            }
            let now: Vec<Option<FileId>> = held.lock().unwrap_or_else(|e| e.into_inner()).clone();
            for (member, id) in now.iter().enumerate() {
                let Some(id) = *id else { continue };
                if acted.get(&member) == Some(&id) {
                    continue;
                }
                let raw = match lockfile::watch(&paths[member], gid, id) {
                    Watch::Fine | Watch::Unknown(_) => continue,
                    Watch::Relocked { file, what } => Raw::Relocked {
                        member,
                        from: id,
                        lock: file,
                        what,
                    },
                    Watch::Failed { why } => Raw::RelockFailed {
                        member,
                        from: id,
                        why,
                    },
                };
                acted.insert(member, id);
                if tx.send(raw).is_err() {
                    return;
                }
            }
        }
    });
}
