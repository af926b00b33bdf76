//! FIFO ticket queue in a resource's directory, because flock alone is not fair: a newcomer can
//! jump ahead of blocked waiters. Each waiter draws a numbered ticket and holds an exclusive
//! flock on it while it waits; it blocks (flock, no polling) on its predecessor's ticket and only
//! the head of the queue blocks on the resource lock itself. A ticket whose file still exists
//! while its flock is free belongs to a dead waiter: it is skipped and removed (the resource
//! directory is the lock group's and not sticky, so any runner's uid may remove it).

use std::fs::{self, File};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use crate::lockdir::{annotate, create_shared_file, unique_tmp, ResourcePaths};
use crate::lockfile::{id_at, id_of};
use crate::record::OwnerRecord;

const SUFFIX: &str = ".ticket";

/// A drawn ticket; holds its flock until dropped. Dropping unlinks the file *before* closing
/// it, so a successor that gets the flock and still sees the file knows the holder died.
#[derive(Debug)]
pub struct Ticket {
    pub number: u64,
    pub path: PathBuf,
    _file: File,
}

impl Drop for Ticket {
    fn drop(&mut self) {
        // Only our own: if the resource directory was removed and made again, the same name
        // may be another waiter's ticket now.
        let ours = match (id_of(&self._file), id_at(&self.path)) {
            (Ok(mine), Ok(Some(there))) => mine == there,
            _ => false,
        };
        if ours {
            let _ = fs::remove_file(&self.path);
        }
    }
}

fn ticket_path(dir: &Path, number: u64) -> PathBuf {
    dir.join(format!("{number:020}{SUFFIX}"))
}

/// Draw the next ticket. Numbers come from a counter file under a short flock, and the ticket
/// is locked before it is renamed into view, so nobody can mistake it for a dead one.
pub fn draw(paths: &ResourcePaths, who: &OwnerRecord) -> io::Result<Ticket> {
    let at = |path: &Path, action: &str| {
        let (root, path, action) = (paths.root.clone(), path.to_path_buf(), action.to_string());
        move |e: io::Error| annotate(&root, &path, &action, e)
    };
    let seq_path = &paths.seq;
    let mut seq = create_shared_file(seq_path).map_err(at(seq_path, "opening"))?;
    seq.lock().map_err(at(seq_path, "locking"))?;
    let mut text = String::new();
    seq.read_to_string(&mut text)
        .map_err(at(seq_path, "reading"))?;
    let number = text.trim().parse::<u64>().unwrap_or(0) + 1;
    seq.seek(SeekFrom::Start(0))
        .and_then(|_| seq.set_len(0))
        .and_then(|()| seq.write_all(number.to_string().as_bytes()))
        .map_err(at(seq_path, "writing"))?;

    let tmp = unique_tmp(&paths.dir, ".tmp-ticket");
    let mut file = create_shared_file(&tmp).map_err(at(&tmp, "creating"))?;
    file.lock()
        .and_then(|()| file.write_all(who.to_text().as_bytes()))
        .map_err(at(&tmp, "writing"))?;
    let path = ticket_path(&paths.dir, number);
    if let Err(e) = fs::rename(&tmp, &path) {
        let _ = fs::remove_file(&tmp);
        return Err(at(&path, "creating")(e));
    }
    drop(seq);
    Ok(Ticket {
        number,
        path,
        _file: file,
    })
}

/// Tickets present in the queue, in order (alive or not).
pub fn list(dir: &Path) -> io::Result<Vec<(u64, PathBuf)>> {
    let mut out = Vec::new();
    let rd = match fs::read_dir(dir) {
        Ok(rd) => rd,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(out),
        Err(e) => return Err(e),
    };
    for entry in rd {
        let entry = entry?;
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        if let Some(num) = name.strip_suffix(SUFFIX).and_then(|n| n.parse().ok()) {
            out.push((num, entry.path()));
        }
    }
    out.sort();
    Ok(out)
}

/// Is the waiter behind this ticket still alive? A shared try-lock succeeds only when nobody
/// holds the ticket's exclusive flock; we drop it at once, so a live waiter is never disturbed.
pub fn is_alive(path: &Path) -> io::Result<bool> {
    let f = File::open(path)?;
    match f.try_lock_shared() {
        Ok(()) => Ok(false),
        Err(fs::TryLockError::WouldBlock) => Ok(true),
        Err(fs::TryLockError::Error(e)) => Err(e),
    }
}

/// Block until every ticket before `mine` is gone. Returns false if `cancelled()` became true.
/// Blocks on the immediate predecessor only: when it leaves (granted, withdrawn or dead) we
/// look again, so each departure wakes exactly the waiter behind it.
pub fn wait_turn(
    paths: &ResourcePaths,
    mine: u64,
    cancelled: &dyn Fn() -> bool,
) -> io::Result<bool> {
    loop {
        if cancelled() {
            return Ok(false);
        }
        let before =
            list(&paths.dir).map_err(|e| annotate(&paths.root, &paths.dir, "reading", e))?;
        let Some((_, pred)) = before.into_iter().rev().find(|(n, _)| *n < mine) else {
            return Ok(true);
        };
        let f = match File::open(&pred) {
            Ok(f) => f,
            Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
            Err(e) => return Err(annotate(&paths.root, &pred, "opening", e)),
        };
        f.lock_shared()
            .map_err(|e| annotate(&paths.root, &pred, "locking", e))?;
        // We got its lock. If the file is still linked its owner died without unlinking: skip it.
        if f.metadata()?.nlink() > 0 {
            match fs::remove_file(&pred) {
                Err(e) if e.kind() != io::ErrorKind::NotFound => {
                    return Err(annotate(&paths.root, &pred, "removing the dead ticket", e))
                }
                _ => {}
            }
        }
    }
}

/// Is any live ticket ahead of `mine`? (For `--no-wait`: never blocks.)
pub fn anyone_ahead(paths: &ResourcePaths, mine: u64) -> io::Result<bool> {
    for (n, path) in list(&paths.dir)? {
        if n >= mine {
            break;
        }
        match is_alive(&path) {
            Ok(true) => return Ok(true),
            Ok(false) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
    }
    Ok(false)
}

/// Read the record inside a ticket (who waits).
pub fn read(path: &Path) -> io::Result<OwnerRecord> {
    OwnerRecord::read(path)
}
