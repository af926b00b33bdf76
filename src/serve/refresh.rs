//! The refreshers: the only code of `ghr serve` that reads Docker, GitHub and the lock
//! directory. Each writes its part of the [`Hub`]; requests never trigger a read.
//! - lock directories: read every second (a few small files per resource; flock changes
//!   make no inotify event, so a poll is the only way to see a holder die), the ledger only
//!   when its files changed;
//! - Docker: `docker events` for ghr's containers wakes a re-read at once; without it (the
//!   engine is away) a re-read every 2 s; a resync every 30 s either way;
//! - GitHub: per fleet at most every `SERVE_GITHUB_REFRESH`, later when the rate limit says so.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, SystemTime};

use runner_wrapper::contract::now_epoch_ms;
use runner_wrapper::ledger::{self, Ledger};

use super::state::{GitHubSide, Hub, LockView};
use crate::config::settings::Settings;
use crate::model::fleet::Side;
use crate::world::docker::Docker;
use crate::world::error::Error;
use crate::world::github::GitHubError;
use crate::world::remote::Remote;

pub const LOCK_POLL: Duration = Duration::from_secs(1);
pub const DOCKER_POLL: Duration = Duration::from_secs(2);
pub const DOCKER_RESYNC: Duration = Duration::from_secs(30);
/// A burst of events (compose starting ten containers) makes one re-read.
const DOCKER_SETTLE: Duration = Duration::from_millis(150);

/// How long to wait before asking GitHub again: the interval after a success; after a
/// failure the interval doubled per failure in a row (at most 10 minutes, never less than
/// the interval); never before a rate limit's reset when none is left.
pub fn github_wait(
    interval: Duration,
    failures: u32,
    rate_remaining: Option<u64>,
    rate_reset: Option<i64>,
    now_epoch: i64,
) -> Duration {
    let mut wait = interval;
    if failures > 0 {
        let grown = interval.saturating_mul(1 << failures.min(8));
        wait = grown.min(Duration::from_secs(600)).max(interval);
    }
    if rate_remaining == Some(0) {
        if let Some(reset) = rate_reset {
            let until = Duration::from_secs(reset.saturating_sub(now_epoch).max(0) as u64 + 1);
            wait = wait.max(until);
        }
    }
    wait
}

/// Starts every refresher. `settings[i]` belongs to `hub.infos[i]`; `remotes[i]` is its
/// GitHub client (`None`: no GH_PAT).
pub fn start(hub: Arc<Hub>, settings: Vec<Settings>, remotes: Vec<Option<Remote>>) {
    let dirs: Vec<PathBuf> = {
        let mut d: Vec<PathBuf> = hub.infos.iter().map(|f| f.lock_dir.clone()).collect();
        d.sort();
        d.dedup();
        d
    };
    let h = hub.clone();
    spawn("serve-locks", move || locks_loop(&h, &dirs));

    let (poke, pokes) = mpsc::channel::<()>();
    let settings = Arc::new(settings);
    for (i, remote) in remotes.into_iter().enumerate() {
        match remote {
            Some(remote) => {
                let (h, p) = (hub.clone(), poke.clone());
                spawn("serve-github", move || github_loop(&h, i, &remote, &p));
            }
            None => hub.set_github(
                i,
                GitHubSide {
                    runners: Side::Unknown("not asked: the fleet has no GH_PAT".into()),
                    last_ok_ms: None,
                    asked: false,
                },
            ),
        }
    }
    let h = hub.clone();
    spawn("serve-docker", move || {
        docker_loop(&h, &settings, poke, pokes)
    });
}

fn spawn(name: &str, f: impl FnOnce() + Send + 'static) {
    thread::Builder::new()
        .name(name.into())
        .stack_size(256 * 1024)
        .spawn(f)
        .expect("start a refresher thread");
}

// ------------------------------------------------------------------ lock directories

/// (length, mtime) of the ledger's files: the ledger is re-read only when they change.
type LedgerStamp = Vec<Option<(u64, SystemTime)>>;

fn ledger_stamp(dir: &Path) -> LedgerStamp {
    ["grants.log", "grants.log.1", "totals"]
        .iter()
        .map(|f| {
            let m = std::fs::metadata(dir.join(".ledger").join(f)).ok()?;
            Some((m.len(), m.modified().ok()?))
        })
        .collect()
}

fn locks_loop(hub: &Hub, dirs: &[PathBuf]) {
    let mut ledgers: BTreeMap<PathBuf, (LedgerStamp, Result<Ledger, String>)> = BTreeMap::new();
    while !hub.stopped() {
        hub.set_locks(read_locks(dirs, &mut ledgers));
        thread::sleep(LOCK_POLL);
    }
}

/// Every directory's resources and ledger together (most hosts have one directory).
fn read_locks(
    dirs: &[PathBuf],
    ledgers: &mut BTreeMap<PathBuf, (LedgerStamp, Result<Ledger, String>)>,
) -> LockView {
    let mut resources = Vec::new();
    let mut error = None;
    let mut ledger = Ledger::default();
    let mut ledger_error = None;
    for dir in dirs {
        match runner_wrapper::read_lock_dir(dir) {
            Ok(list) => resources.extend(list),
            Err(e) => {
                error = Some(format!(
                    "cannot read the lock directory {}: {e}",
                    dir.display()
                ))
            }
        }
        let stamp = ledger_stamp(dir);
        let fresh = match ledgers.get(dir) {
            Some((s, _)) => *s != stamp,
            None => true,
        };
        if fresh {
            let read = ledger::read(dir)
                .map_err(|e| format!("cannot read the ledger in {}: {e}", dir.display()));
            ledgers.insert(dir.clone(), (stamp, read));
        }
        match &ledgers[dir].1 {
            Ok(l) => {
                ledger.entries.extend(l.entries.iter().cloned());
                ledger.counters.extend(l.counters.iter().cloned());
                ledger.skipped += l.skipped;
            }
            Err(e) => ledger_error = Some(e.clone()),
        }
    }
    ledger.entries.sort_by_key(|e| e.granted_ms);
    LockView {
        resources: match error {
            Some(e) => Side::Unknown(e),
            None => Side::Known(resources),
        },
        ledger: match ledger_error {
            Some(e) => Side::Unknown(e),
            None => Side::Known(ledger),
        },
        read_ms: now_epoch_ms(),
    }
}

// ------------------------------------------------------------------ GitHub

fn github_loop(hub: &Hub, fleet: usize, remote: &Remote, poke: &Sender<()>) {
    let interval = hub.infos[fleet].github_refresh;
    let stats = remote.stats();
    let mut failures = 0u32;
    while !hub.stopped() {
        let mut side = hub.github_side(fleet);
        match remote.list() {
            Ok(list) => {
                failures = 0;
                side.runners = Side::Known(list);
                side.last_ok_ms = Some(now_epoch_ms());
            }
            Err(e) => {
                failures += 1;
                side.runners = Side::Unknown(describe(&e));
            }
        }
        hub.set_github(fleet, side);
        // The Docker side re-reads the registrations GitHub's answer leaves open.
        let _ = poke.send(());
        let (remaining, reset) = stats
            .map(|s| {
                let s = s.snapshot();
                (s.rate_remaining, s.rate_reset)
            })
            .unwrap_or_default();
        let now = (now_epoch_ms() / 1000) as i64;
        sleep_unless_stopped(hub, github_wait(interval, failures, remaining, reset, now));
    }
}

fn describe(e: &Error) -> String {
    match e {
        Error::GitHub(GitHubError::RateLimited { .. }) => format!("{e} (serve waits for it)"),
        other => other.to_string(),
    }
}

fn sleep_unless_stopped(hub: &Hub, d: Duration) {
    let end = std::time::Instant::now() + d;
    while !hub.stopped() {
        let left = end.saturating_duration_since(std::time::Instant::now());
        if left.is_zero() {
            return;
        }
        thread::sleep(left.min(Duration::from_millis(250)));
    }
}

// ------------------------------------------------------------------ Docker

/// The `docker events` child, killed when serve stops.
static EVENTS: Mutex<Option<Child>> = Mutex::new(None);

pub fn stop_children() {
    if let Some(mut child) = EVENTS.lock().unwrap_or_else(|e| e.into_inner()).take() {
        let _ = child.kill();
        let _ = child.wait();
    }
}

/// Starts `docker events` for ghr's containers; each event pokes the Docker refresher. The
/// reader thread ends (and says so through `alive`) when the stream ends.
fn watch_events(poke: Sender<()>, alive: Arc<std::sync::atomic::AtomicBool>) -> bool {
    let child = Command::new("docker")
        .args([
            "events",
            "--format",
            "{{.Type}}",
            "--filter",
            "type=container",
            "--filter",
            "label=ghr.prefix",
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn();
    let Ok(mut child) = child else {
        return false;
    };
    let Some(out) = child.stdout.take() else {
        return false;
    };
    *EVENTS.lock().unwrap_or_else(|e| e.into_inner()) = Some(child);
    alive.store(true, std::sync::atomic::Ordering::SeqCst);
    spawn("serve-events", move || {
        for line in BufReader::new(out).lines() {
            if line.is_err() || poke.send(()).is_err() {
                break;
            }
        }
        alive.store(false, std::sync::atomic::Ordering::SeqCst);
        let _ = poke.send(());
    });
    true
}

fn docker_loop(hub: &Hub, settings: &[Settings], poke: Sender<()>, pokes: Receiver<()>) {
    use std::sync::atomic::{AtomicBool, Ordering};
    let docker = Docker::new();
    let alive = Arc::new(AtomicBool::new(false));
    let mut last_read = std::time::Instant::now() - DOCKER_RESYNC;
    let mut next_events_try = std::time::Instant::now();
    while !hub.stopped() {
        if !alive.load(Ordering::SeqCst) && std::time::Instant::now() >= next_events_try {
            stop_children();
            watch_events(poke.clone(), alive.clone());
            next_events_try = std::time::Instant::now() + Duration::from_secs(10);
        }
        let wait = if alive.load(Ordering::SeqCst) {
            DOCKER_RESYNC
        } else {
            DOCKER_POLL
        };
        let due = (last_read + wait).saturating_duration_since(std::time::Instant::now());
        match pokes.recv_timeout(due.min(Duration::from_millis(500))) {
            Ok(()) => {
                // Let a burst settle, then read once.
                thread::sleep(DOCKER_SETTLE);
                while pokes.try_recv().is_ok() {}
            }
            Err(RecvTimeoutError::Timeout) if due > Duration::from_millis(500) => continue,
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => return,
        }
        for (i, s) in settings.iter().enumerate() {
            hub.set_docker(i, read_docker(hub, i, s, &docker));
        }
        last_read = std::time::Instant::now();
    }
}

fn read_docker(
    hub: &Hub,
    fleet: usize,
    settings: &Settings,
    docker: &Docker,
) -> Side<crate::world::observe::Local> {
    let mut local = match crate::world::observe::local(settings, docker) {
        Ok(l) => l,
        Err(e) => return Side::Unknown(e.to_string()),
    };
    if let Side::Known(github) = hub.github_side(fleet).runners {
        let checks = crate::plan::registration_checks(&settings.prefix, &local.runners, &github);
        if let Err(e) =
            crate::world::observe::read_registrations(docker, &mut local.runners, &checks)
        {
            return Side::Unknown(e.to_string());
        }
    }
    Side::Known(local)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn github_is_asked_at_the_interval_later_on_failures_and_never_before_a_reset() {
        let i = Duration::from_secs(30);
        assert_eq!(github_wait(i, 0, Some(4000), Some(0), 100), i);
        assert_eq!(github_wait(i, 1, None, None, 100), Duration::from_secs(60));
        assert_eq!(github_wait(i, 3, None, None, 100), Duration::from_secs(240));
        assert_eq!(
            github_wait(i, 30, None, None, 100),
            Duration::from_secs(600)
        );
        // Exhausted: wait for the reset (plus a second), not less than the interval.
        assert_eq!(
            github_wait(i, 0, Some(0), Some(1000), 100),
            Duration::from_secs(901)
        );
        assert_eq!(github_wait(i, 0, Some(0), Some(110), 100), i);
        // A long interval stays long.
        let long = Duration::from_secs(3600);
        assert_eq!(github_wait(long, 5, None, None, 0), long);
    }

    #[test]
    fn lock_directories_are_read_together_and_the_ledger_only_on_change() {
        let dir = std::env::temp_dir().join(format!("ghr-serve-locks-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        runner_wrapper::lockdir::ensure_resource(
            &dir,
            "b1",
            runner_wrapper::contract::DEFAULT_LOCK_GROUP,
        )
        .unwrap();
        let mut cache = BTreeMap::new();
        let v = read_locks(std::slice::from_ref(&dir), &mut cache);
        assert_eq!(v.resources.known().unwrap().len(), 1);
        assert_eq!(v.ledger.known().unwrap().entries.len(), 0);
        let e = runner_wrapper::ledger::Entry {
            resource: "b1".into(),
            requested_ms: 1,
            granted_ms: 2,
            released_ms: 3,
            ..Default::default()
        };
        runner_wrapper::ledger::append(&dir, &e).unwrap();
        let v = read_locks(std::slice::from_ref(&dir), &mut cache);
        assert_eq!(v.ledger.known().unwrap().entries.len(), 1);
        let missing = dir.join("nope");
        let v = read_locks(&[missing], &mut cache);
        assert_eq!(
            v.resources.known().map(Vec::len),
            Some(0),
            "a missing dir has none"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }
}
