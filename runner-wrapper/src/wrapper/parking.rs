//! Queue at GitHub, the I/O half (the decisions are `park` and `state`): what a member's
//! directory shows (an owner record on a held lock; other runners' `parked.*` markers), this
//! wrapper's own markers, and whether a job's `Runner.Worker` runs under the runner before the
//! listener is stopped.
//!
//! A marker is `<member dir>/parked.<pid>-<nanos>`: `runner=`, `org=`, `since=` lines, kept
//! under an exclusive flock by the wrapper that parked, so one left behind by a dead wrapper is
//! seen as dead (like a ticket) and ignored.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use crate::contract::now_epoch_ms;
use crate::lockdir::ResourcePaths;
use crate::park::Occupancy;
use crate::record::OwnerRecord;
use crate::status::lock_is_held;
use crate::turn::Turn;

pub const MARKER_PREFIX: &str = crate::parked::PREFIX;

/// What `paths` shows now; `mine` are our own markers (not counted).
pub fn occupancy(paths: &ResourcePaths, mine: &[PathBuf]) -> Occupancy {
    let held = paths.owner.exists() && lock_is_held(&paths.lock).unwrap_or(false);
    Occupancy {
        held,
        parked_others: parked(&paths.dir)
            .into_iter()
            .filter(|(p, _)| !mine.contains(p))
            .count(),
    }
}

/// The live markers in `dir`, with their text.
pub fn parked(dir: &Path) -> Vec<(PathBuf, String)> {
    crate::parked::live(dir)
        .into_iter()
        .map(|p| {
            let text = fs::read_to_string(&p).unwrap_or_default();
            (p, text)
        })
        .collect()
}

/// The member's turn file (see [`crate::turn`]); `None` when there is none (or it cannot be
/// read: then no courtesy is inherited, which only costs fairness).
pub fn read_turn(paths: &ResourcePaths) -> Option<Turn> {
    fs::read_to_string(paths.dir.join(crate::turn::FILE))
        .ok()
        .map(|t| Turn::parse(&t))
}

/// Leave the turn file of a job's end (atomically, 0660 like every record).
pub fn write_turn(paths: &ResourcePaths, turn: &Turn) -> io::Result<()> {
    crate::lockdir::write_atomic(&paths.dir.join(crate::turn::FILE), &turn.render())
}

/// This wrapper's markers while it is parked (the files stay locked while they exist).
#[derive(Default)]
pub struct Markers {
    files: Vec<(PathBuf, File)>,
}

impl Markers {
    pub fn paths(&self) -> Vec<PathBuf> {
        self.files.iter().map(|(p, _)| p.clone()).collect()
    }

    /// Show that `me` is parked waiting for each of `dirs`.
    pub fn show(&mut self, dirs: &[PathBuf], me: &OwnerRecord) -> io::Result<()> {
        self.clear();
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or_default();
        for dir in dirs {
            let name = format!("{}-{}-{nanos}", std::process::id(), now_epoch_ms());
            // Locked and written under another name, then renamed: whoever sees the marker
            // sees it live and whole.
            let tmp = dir.join(format!(".tmp-park.{name}"));
            let path = dir.join(format!("{MARKER_PREFIX}{name}"));
            let mut f = OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o660)
                .custom_flags(libc::O_CLOEXEC)
                .open(&tmp)?;
            let written = f.lock().and_then(|()| {
                writeln!(
                    f,
                    "runner={}\norg={}\nsince={}",
                    me.runner,
                    me.org,
                    now_epoch_ms() / 1000
                )
            });
            if let Err(e) = written.and_then(|()| fs::rename(&tmp, &path)) {
                let _ = fs::remove_file(&tmp);
                return Err(e);
            }
            self.files.push((path, f));
        }
        Ok(())
    }

    pub fn clear(&mut self) {
        for (path, f) in self.files.drain(..) {
            let _ = fs::remove_file(&path);
            drop(f);
        }
    }
}

impl Drop for Markers {
    fn drop(&mut self) {
        self.clear();
    }
}

/// Does a `Runner.Worker` process run below `runner` (the runner's job)? Read from `/proc`.
pub fn has_worker(runner: u32) -> bool {
    let Ok(rd) = fs::read_dir("/proc") else {
        return false;
    };
    rd.flatten().any(|e| {
        let Some(pid) = e.file_name().to_str().and_then(|n| n.parse::<u32>().ok()) else {
            return false;
        };
        let comm = fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default();
        comm.trim_end() == "Runner.Worker" && descends_from(pid, runner)
    })
}

fn descends_from(mut pid: u32, ancestor: u32) -> bool {
    for _ in 0..64 {
        if pid == ancestor {
            return true;
        }
        match parent(pid) {
            Some(p) if p > 0 && p != pid => pid = p,
            _ => return false,
        }
    }
    false
}

/// The parent pid from `/proc/<pid>/stat` (the field after the state, after the command's
/// closing parenthesis, which may itself contain blanks and parentheses).
fn parent(pid: u32) -> Option<u32> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = &stat[stat.rfind(')')? + 1..];
    rest.split_whitespace().nth(1)?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_parent_of_this_process_is_read_from_proc() {
        let me = std::process::id();
        let parent_pid = parent(me).expect("a parent");
        assert!(descends_from(me, parent_pid));
        assert!(!descends_from(parent_pid, me));
        assert!(!has_worker(me), "no Runner.Worker below the test");
    }

    #[test]
    fn markers_are_live_while_shown_and_gone_after() {
        let dir = std::env::temp_dir().join(format!("park-test-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        let mut m = Markers::default();
        m.show(
            std::slice::from_ref(&dir),
            &OwnerRecord {
                runner: "b-1".into(),
                org: "beta".into(),
                ..Default::default()
            },
        )
        .unwrap();
        let live = parked(&dir);
        assert_eq!(live.len(), 1);
        assert!(
            live[0].1.contains("runner=b-1\norg=beta\n"),
            "{}",
            live[0].1
        );
        // A marker whose wrapper died (no lock) does not count.
        fs::write(dir.join("parked.1-2-3"), "runner=dead\n").unwrap();
        assert_eq!(parked(&dir).len(), 1);
        m.clear();
        assert!(parked(&dir).is_empty());
        fs::remove_dir_all(&dir).unwrap();
    }
}
