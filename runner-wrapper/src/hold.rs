//! Maintenance holds: the keeper process behind `ghr hold`. It takes the resource in its turn
//! (the same FIFO ticket queue as jobs, so it waits behind the running job and the jobs queued
//! before it), holds the lock like a granted wrapper (owner record of kind `hold`: user,
//! reason, since, until; a control socket), and lets go at `until`, on `ghr release`, or on
//! SIGTERM/SIGINT. It runs in its own session, so closing the terminal does not end it.
//!
//! While it waits it reports on stdout with the hook protocol's replies (`info` lines, then
//! `ok` or `fail`) to the `ghr hold` that started it, which shows them; if that process goes
//! away before the grant (its end of our stdin closes: Ctrl-C, kill -9), the keeper withdraws.
//! After the grant it closes stdout and lives on alone.
//!
//! A hold lives in its keeper: a reboot (or `kill -9` of the keeper) ends it; the kernel drops
//! the flock and the owner record is left stale until the next holder replaces it. Like a
//! wrapper, the keeper watches its lock file (see `lockfile`): if it is removed or replaced, the
//! keeper takes the new one at once; if it cannot, the hold ends (and says so in the ledger).

use std::fs::File;
use std::io::{self, BufRead, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError, Sender};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use crate::contract::{format_duration, now_epoch, now_epoch_ms};
use crate::control::{self, ReleaseRequest};
use crate::health::HealthRecord;
use crate::ledger::{self, Entry};
use crate::lockdir;
use crate::lockfile::{self, Got, Wait, Watch, GUARD_EVERY};
use crate::messages::{self, MemberView};
use crate::protocol::Reply;
use crate::record::{HolderKind, OwnerRecord};
use crate::signals;
use crate::status;
use crate::tickets;

/// What to hold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HoldSpec {
    /// The lock directory (ghr's RUNNER_LOCK_HOST_PATH).
    pub dir: PathBuf,
    pub resource: String,
    /// Who holds it (the host user).
    pub user: String,
    pub reason: String,
    /// End of the hold, epoch seconds; `None`: until `ghr release`.
    pub until: Option<u64>,
    /// Fail at once when the resource is held or has waiters.
    pub no_wait: bool,
    /// How often the waiting `ghr hold` hears who holds the resource.
    pub status_interval: Duration,
}

impl HoldSpec {
    /// The keeper's command-line arguments (after the subcommand), and back.
    pub fn to_args(&self) -> Vec<String> {
        let mut a = vec![
            "--dir".into(),
            self.dir.display().to_string(),
            "--resource".into(),
            self.resource.clone(),
            "--user".into(),
            self.user.clone(),
            "--reason".into(),
            self.reason.clone(),
            "--until".into(),
            self.until.unwrap_or(0).to_string(),
            "--status-ms".into(),
            self.status_interval.as_millis().to_string(),
        ];
        if self.no_wait {
            a.push("--no-wait".into());
        }
        a
    }
}

enum Event {
    Acquired(File),
    AcquireFailed(String),
    ParentGone,
    Signal(i32),
    Release(ReleaseRequest, UnixStream),
}

/// The user running this (`SUDO_USER` when root through sudo), for records.
pub fn current_user() -> String {
    let uid = lockdir::euid();
    if uid == 0 {
        if let Some(u) = std::env::var("SUDO_USER").ok().filter(|u| !u.is_empty()) {
            return u;
        }
    }
    let name = std::fs::read_to_string("/etc/passwd").ok().and_then(|t| {
        t.lines().find_map(|l| {
            let f: Vec<&str> = l.split(':').collect();
            (f.len() > 2 && f[2] == uid.to_string()).then(|| f[0].to_string())
        })
    });
    name.or_else(|| std::env::var("USER").ok().filter(|u| !u.is_empty()))
        .unwrap_or_else(|| format!("uid {uid}"))
}

fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|s| s.trim().to_string())
        .unwrap_or_default()
}

/// Run the keeper (the process `ghr hold` starts). Returns the exit code.
pub fn keep(spec: &HoldSpec) -> i32 {
    let mut out = io::stdout();
    let say = |out: &mut io::Stdout, r: Reply| {
        let _ = out.write_all(r.to_line().as_bytes());
        let _ = out.flush();
    };
    // Our own session: the terminal's Ctrl-C and hang-up are not ours any more.
    // SAFETY: setsid has no memory effects; it fails harmlessly if we lead a group already.
    unsafe {
        libc::setsid();
    }
    if let Err(e) = signals::block() {
        say(&mut out, Reply::Fail(format!("cannot block signals: {e}")));
        return 1;
    }
    let (tx, rx) = mpsc::channel();
    match run(spec, &tx, rx, &mut out) {
        Ok(code) => code,
        Err(msg) => {
            say(&mut out, Reply::Fail(msg));
            1
        }
    }
}

fn run(
    spec: &HoldSpec,
    tx: &Sender<Event>,
    rx: mpsc::Receiver<Event>,
    out: &mut io::Stdout,
) -> Result<i32, String> {
    // The lock directory exists (a hold is only for a resource there): its group is the lock
    // group, for anything the keeper has to create again.
    let gid = lockdir::ensure_root(&spec.dir, crate::contract::DEFAULT_LOCK_GROUP)
        .map_err(|e| e.to_string())?;
    let paths =
        lockdir::ensure_resource(&spec.dir, &spec.resource, gid).map_err(|e| e.to_string())?;
    let mut socket = control::bind(&spec.dir, gid).map_err(|e| e.to_string())?;
    let requested_ms = now_epoch_ms();
    let mut who = OwnerRecord {
        resource: spec.resource.clone(),
        kind: HolderKind::Hold,
        user: spec.user.clone(),
        reason: spec.reason.clone(),
        until: spec.until.unwrap_or(0),
        since: now_epoch(),
        pid: std::process::id(),
        host: hostname(),
        control: socket.relative.clone(),
        ..Default::default()
    };
    let ticket = tickets::draw(&paths, &who)
        .map_err(|e| format!("cannot queue for {}: {e}", spec.resource))?;
    let number = ticket.number;

    if spec.no_wait {
        let busy = || -> io::Result<Option<String>> {
            let st = status::read_resource(&paths)?;
            if tickets::anyone_ahead(&paths, number)? {
                let n = st.live_waiters().filter(|w| w.ticket < number).count();
                return Ok(Some(format!(
                    "{n} waiting before us; {}",
                    messages::holder_text(
                        &MemberView::from_status(&spec.resource, &st, None).holder
                    )
                )));
            }
            Ok(None)
        };
        if let Some(why) = busy().map_err(|e| e.to_string())? {
            return Err(format!(
                "{} is busy ({why}); not waiting (--no-wait)",
                spec.resource
            ));
        }
        match lockfile::acquire(&paths, gid, Wait::Try).map_err(|e| e.to_string())? {
            Got::Lock(lock) => {
                let _ = tx.send(Event::Acquired(lock));
            }
            Got::Busy | Got::Cancelled => {
                let st = status::read_resource(&paths).map_err(|e| e.to_string())?;
                let v = MemberView::from_status(&spec.resource, &st, None);
                return Err(format!(
                    "{} is busy ({}); not waiting (--no-wait)",
                    spec.resource,
                    messages::holder_text(&v.holder)
                ));
            }
        }
    } else {
        let cancelled = Arc::new(AtomicBool::new(false));
        let (p, c, t) = (paths.clone(), cancelled.clone(), tx.clone());
        thread::spawn(move || {
            let cancelled = || c.load(Ordering::SeqCst);
            let got = (|| -> io::Result<Option<File>> {
                tickets::wait_turn(&p, number, &cancelled)?;
                match lockfile::acquire(&p, gid, Wait::Block(&cancelled))? {
                    Got::Lock(l) => Ok(Some(l)),
                    Got::Busy | Got::Cancelled => Ok(None),
                }
            })();
            let _ = t.send(match got {
                Ok(Some(l)) => Event::Acquired(l),
                Ok(None) => return,
                Err(e) => Event::AcquireFailed(e.to_string()),
            });
        });
    }
    // `ghr hold` closing our stdin before the grant means: give up.
    let t = tx.clone();
    thread::spawn(move || {
        let mut sink = String::new();
        let stdin = io::stdin();
        while matches!(stdin.lock().read_line(&mut sink), Ok(n) if n > 0) {
            sink.clear();
        }
        let _ = t.send(Event::ParentGone);
    });
    let t = tx.clone();
    thread::spawn(move || loop {
        match signals::wait() {
            Ok(libc::SIGCHLD) | Ok(libc::SIGHUP) | Err(_) => continue,
            Ok(sig) => {
                if t.send(Event::Signal(sig)).is_err() {
                    return;
                }
            }
        }
    });

    // Wait for the turn, telling `ghr hold` who holds the resource meanwhile.
    let start = Instant::now();
    let mut next_status = start + Duration::from_millis(200);
    let mut lock = loop {
        let wait = next_status.saturating_duration_since(Instant::now());
        match rx.recv_timeout(wait) {
            Ok(Event::Acquired(lock)) => break lock,
            Ok(Event::AcquireFailed(e)) => {
                return Err(format!("locking {} failed: {e}", spec.resource))
            }
            Ok(Event::ParentGone) | Ok(Event::Signal(_)) => return Ok(1), // withdraws: drops the ticket
            Ok(Event::Release(..)) => {}
            Err(RecvTimeoutError::Timeout) => {
                let views = status::read_resource(&paths)
                    .map(|st| vec![MemberView::from_status(&spec.resource, &st, Some(number))])
                    .unwrap_or_default();
                let line = messages::waiting(
                    std::slice::from_ref(&spec.resource),
                    start.elapsed(),
                    &views,
                )
                .replacen(messages::PREFIX, "ghr hold:", 1);
                let _ = out.write_all(Reply::Info(line).to_line().as_bytes());
                let _ = out.flush();
                next_status = Instant::now() + spec.status_interval;
            }
            Err(RecvTimeoutError::Disconnected) => return Ok(1),
        }
    };
    let granted_ms = now_epoch_ms();
    who.since = now_epoch();
    who.write_atomic(&paths.owner).map_err(|e| {
        let e = lockdir::annotate(&spec.dir, &paths.owner, "writing", e);
        format!("cannot write the owner record: {e}")
    })?;
    drop(ticket);
    let health = HealthRecord::read(&paths.health).ok().flatten();
    let mut text = format!("held {}: {}", spec.resource, who.describe());
    if let Some(h) = health.filter(|h| !h.healthy) {
        text.push_str(&format!(
            " (note: its last health check failed: {})",
            h.output.lines().last().unwrap_or("")
        ));
    }
    let _ = out.write_all((Reply::Info(text).to_line() + &Reply::Ok.to_line()).as_bytes());
    let _ = out.flush();
    detach_stdio();

    // Serve releases until the end of the hold.
    serve_releases(&socket, tx)?;
    let deadline = spec
        .until
        .map(|u| Instant::now() + Duration::from_secs(u.saturating_sub(now_epoch())));
    let (cause, reply_to) = loop {
        // Wake at least every GUARD_EVERY to look after the lock file (see `lockfile`).
        let wake = Instant::now() + GUARD_EVERY;
        let until = deadline.map_or(wake, |d| d.min(wake));
        let ev = match rx.recv_timeout(until.saturating_duration_since(Instant::now())) {
            Ok(ev) => ev,
            Err(RecvTimeoutError::Disconnected) => {
                break ("the keeper lost its channel".to_string(), None)
            }
            Err(RecvTimeoutError::Timeout) if deadline.is_some_and(|d| Instant::now() >= d) => {
                break ("the hold ended (--for)".to_string(), None)
            }
            Err(RecvTimeoutError::Timeout) => {
                let held = lockfile::id_of(&lock).map_err(|e| e.to_string())?;
                match lockfile::watch(&paths, gid, held) {
                    Watch::Fine | Watch::Unknown(_) => {}
                    Watch::Relocked { file, .. } => {
                        lock = file;
                        if !socket.in_place() {
                            if let Ok(s) = control::bind(&spec.dir, gid) {
                                socket = s;
                                serve_releases(&socket, tx)?;
                            }
                        }
                        who.control = socket.relative.clone();
                        who.relocked = now_epoch();
                        let _ = who.write_atomic(&paths.owner);
                    }
                    Watch::Failed { why } => break (format!("the hold ended: {why}"), None),
                }
                continue;
            }
        };
        match ev {
            Event::Release(r, stream) if r.resource == spec.resource => {
                break (format!("released by {}", r.by), Some(stream));
            }
            Event::Release(_, mut stream) => {
                let _ =
                    stream.write_all(Reply::Fail("not this resource".into()).to_line().as_bytes());
            }
            Event::Signal(sig) => break (format!("the keeper got signal {sig}"), None),
            _ => {}
        }
    };
    if lockfile::id_at(&paths.lock).ok().flatten() == lockfile::id_of(&lock).ok() {
        let _ = std::fs::remove_file(&paths.owner);
    }
    drop(lock);
    let held = Duration::from_millis(now_epoch_ms().saturating_sub(granted_ms));
    if let Some(mut s) = reply_to {
        let msg = format!(
            "released the maintenance hold of {} on {} after {}",
            spec.user,
            spec.resource,
            format_duration(held)
        );
        let _ = s.write_all((Reply::Info(msg).to_line() + &Reply::Ok.to_line()).as_bytes());
    }
    let _ = ledger::append(
        &spec.dir,
        &Entry {
            kind: HolderKind::Hold,
            resource: spec.resource.clone(),
            user: spec.user.clone(),
            reason: spec.reason.clone(),
            requested_ms,
            granted_ms,
            released_ms: now_epoch_ms(),
            cause,
            ..Default::default()
        },
    );
    drop(socket);
    Ok(0)
}

/// Hear `ghr release` on the control socket: root and our own uid only (see `peer`).
fn serve_releases(socket: &control::ControlSocket, tx: &Sender<Event>) -> Result<(), String> {
    let t = tx.clone();
    let listener = socket.listener.try_clone().map_err(|e| e.to_string())?;
    thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            if let Ok(Some(r)) = control::read_request(&stream) {
                if let Err(text) = control::caller(&stream) {
                    control::refuse(&stream, &text);
                    continue;
                }
                if t.send(Event::Release(r, stream)).is_err() {
                    return;
                }
            }
        }
    });
    Ok(())
}

/// After the grant nobody reads our output: point stdin/stdout/stderr at /dev/null.
fn detach_stdio() {
    if let Ok(null) = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/null")
    {
        use std::os::fd::AsRawFd;
        for fd in [1, 2] {
            // SAFETY: dup2 onto our own standard descriptors.
            unsafe {
                libc::dup2(null.as_raw_fd(), fd);
            }
        }
    }
}

/// The `ghr hold` side: start the keeper (`keeper` is the command up to its arguments, e.g.
/// `ghr __hold-keeper` or `runner-wrapper keep-hold`), pass each progress line to `progress`
/// while it waits, and return its "held ..." line once it holds the resource. The keeper's
/// stdin stays open until this returns: if this process dies first, the keeper withdraws.
pub fn request(
    mut keeper: std::process::Command,
    spec: &HoldSpec,
    progress: &mut dyn FnMut(&str),
) -> Result<String, String> {
    use std::process::Stdio;
    let mut child = keeper
        .args(spec.to_args())
        .current_dir("/")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("cannot start the hold keeper: {e}"))?;
    let _stdin = child.stdin.take();
    let stdout = child.stdout.take().ok_or("no keeper output")?;
    let mut held = String::new();
    for line in io::BufReader::new(stdout).lines() {
        let line = line.map_err(|e| format!("reading the keeper's output: {e}"))?;
        match Reply::parse(&line) {
            Some(Reply::Info(t)) if t.starts_with("held ") => held = t,
            Some(Reply::Info(t)) => progress(&t),
            Some(Reply::Ok) => return Ok(held),
            Some(Reply::Fail(t)) => {
                let _ = child.wait();
                return Err(t);
            }
            _ => {}
        }
    }
    let _ = child.wait();
    Err(format!(
        "the hold keeper exited without holding {}",
        spec.resource
    ))
}

/// Parse the keeper's arguments (see [`HoldSpec::to_args`]).
pub fn parse_args(args: &[String]) -> Result<HoldSpec, String> {
    let mut spec = HoldSpec {
        dir: PathBuf::new(),
        resource: String::new(),
        user: String::new(),
        reason: String::new(),
        until: None,
        no_wait: false,
        status_interval: Duration::from_secs(5),
    };
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let mut val = || it.next().cloned().ok_or(format!("{a} needs a value"));
        match a.as_str() {
            "--dir" => spec.dir = PathBuf::from(val()?),
            "--resource" => spec.resource = val()?,
            "--user" => spec.user = val()?,
            "--reason" => spec.reason = val()?,
            "--until" => {
                let v: u64 = val()?.parse().map_err(|_| "--until needs epoch seconds")?;
                spec.until = (v > 0).then_some(v);
            }
            "--status-ms" => {
                let v: u64 = val()?
                    .parse()
                    .map_err(|_| "--status-ms needs milliseconds")?;
                spec.status_interval = Duration::from_millis(v.max(100));
            }
            "--no-wait" => spec.no_wait = true,
            other => return Err(format!("unknown keeper argument {other}")),
        }
    }
    if spec.dir.as_os_str().is_empty() || spec.resource.is_empty() {
        return Err("the keeper needs --dir and --resource".into());
    }
    Ok(spec)
}

/// Does `dir` hold `resource`? (`ghr hold` refuses unknown names: a typo would hold nothing.)
pub fn known(dir: &Path, resource: &str) -> io::Result<bool> {
    Ok(status::find(dir, resource)?.is_some())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeper_arguments_round_trip() {
        let spec = HoldSpec {
            dir: "/tmp/locks dir".into(),
            resource: "board-1".into(),
            user: "alice".into(),
            reason: "new firmware; --no-wait in text".into(),
            until: Some(1_795_377_600),
            no_wait: true,
            status_interval: Duration::from_millis(500),
        };
        assert_eq!(parse_args(&spec.to_args()), Ok(spec.clone()));
        let open = HoldSpec {
            until: None,
            no_wait: false,
            ..spec
        };
        assert_eq!(parse_args(&open.to_args()), Ok(open));
        assert!(parse_args(&["--dir".into()]).is_err());
        assert!(parse_args(&["--bogus".into()]).is_err());
    }
}
