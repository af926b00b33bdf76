//! Notice health records written by other wrappers (other orgs' runners), and owner records
//! and `parked.*` markers coming and going (queue at GitHub), at once: inotify on
//! each member's directory (works across bind mounts on one kernel). Where inotify is not
//! available, or a watched directory was removed or moved (the watch would follow the old one;
//! see `lockfile` for the locks), the records are re-read every [`FALLBACK`] instead.

use std::ffi::CString;
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;
use std::sync::mpsc::Sender;
use std::thread;
use std::time::Duration;

use super::Raw;
use crate::lockfile;

pub const FALLBACK: Duration = Duration::from_secs(5);

/// Watches are in place when this returns (the caller starts the runner after it, so no record
/// written after the start is missed); the thread then reports changes.
pub fn spawn(dirs: Vec<PathBuf>, tx: Sender<Raw>) {
    let watching = add_watches(&dirs);
    thread::spawn(move || {
        let result = watching.and_then(|w| watch(w, &dirs, &tx));
        match result {
            Ok(()) => return,
            Err(e) => eprintln!(
                "runner-wrapper: cannot watch the health records ({e}); re-reading them every {}s",
                FALLBACK.as_secs()
            ),
        }
        loop {
            thread::sleep(FALLBACK);
            for member in 0..dirs.len() {
                if tx.send(Raw::HealthFile { member }).is_err()
                    || tx.send(Raw::Occupancy { member }).is_err()
                {
                    return;
                }
            }
        }
    });
}

/// The inotify descriptor and one watch per directory, and what each path led to.
struct Watching {
    fd: i32,
    wds: Vec<i32>,
    ids: Vec<Option<lockfile::FileId>>,
}

fn add_watches(dirs: &[PathBuf]) -> std::io::Result<Watching> {
    // SAFETY: plain syscall wrappers on a descriptor we own.
    let fd = unsafe { libc::inotify_init1(libc::IN_CLOEXEC) };
    if fd < 0 {
        return Err(std::io::Error::last_os_error());
    }
    let mut wds = Vec::new();
    for d in dirs {
        let c = CString::new(d.as_os_str().as_bytes())?;
        let mask = libc::IN_MOVED_TO | libc::IN_CLOSE_WRITE | libc::IN_DELETE;
        let wd = unsafe { libc::inotify_add_watch(fd, c.as_ptr(), mask) };
        if wd < 0 {
            let e = std::io::Error::last_os_error();
            unsafe { libc::close(fd) };
            return Err(e);
        }
        wds.push(wd);
    }
    // A watch follows its directory, not the path: once a path leads elsewhere (the directory
    // or a parent removed or renamed) we re-read instead.
    let ids = dirs
        .iter()
        .map(|d| lockfile::id_at(d).ok().flatten())
        .collect();
    Ok(Watching { fd, wds, ids })
}

fn watch(w: Watching, dirs: &[PathBuf], tx: &Sender<Raw>) -> std::io::Result<()> {
    let Watching { fd, wds, ids } = w;
    // SAFETY: plain syscall wrappers on a descriptor we own; the buffer outlives every read.
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        let mut pfd = libc::pollfd {
            fd,
            events: libc::POLLIN,
            revents: 0,
        };
        let ready = unsafe { libc::poll(&mut pfd, 1, lockfile::SETTLE.as_millis() as i32) };
        let moved = dirs
            .iter()
            .zip(&ids)
            .any(|(d, id)| lockfile::id_at(d).ok().flatten() != *id);
        if moved {
            unsafe { libc::close(fd) };
            return Err(std::io::Error::other(
                "a resource directory was removed or moved",
            ));
        }
        if ready <= 0 {
            continue; // timeout, or EINTR
        }
        let n = unsafe { libc::read(fd, buf.as_mut_ptr().cast(), buf.len()) };
        if n < 0 {
            let e = std::io::Error::last_os_error();
            if e.kind() == std::io::ErrorKind::Interrupted {
                continue;
            }
            unsafe { libc::close(fd) };
            return Err(e);
        }
        let mut off = 0usize;
        let header = std::mem::size_of::<libc::inotify_event>();
        while off + header <= n as usize {
            // SAFETY: the kernel wrote whole events; read_unaligned copes with the byte buffer.
            let ev: libc::inotify_event =
                unsafe { std::ptr::read_unaligned(buf[off..].as_ptr().cast()) };
            let name_bytes = &buf[off + header..off + header + ev.len as usize];
            let name = name_bytes.split(|b| *b == 0).next().unwrap_or(&[]);
            let raw = |member| match name {
                b"health" => Some(Raw::HealthFile { member }),
                b"owner" => Some(Raw::Occupancy { member }),
                n if n.starts_with(b"parked.") => Some(Raw::Occupancy { member }),
                _ => None,
            };
            if let Some(member) = wds.iter().position(|w| *w == ev.wd) {
                if let Some(r) = raw(member) {
                    if tx.send(r).is_err() {
                        unsafe { libc::close(fd) };
                        return Ok(());
                    }
                }
            }
            off += header + ev.len as usize;
        }
    }
}
