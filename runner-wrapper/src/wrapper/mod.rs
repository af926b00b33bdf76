//! The supervisor around the state machine ([`crate::state`]): it turns what happens (hook
//! connections, queue threads getting locks, the runner's lines and exit, signals, health
//! records changing, `ghr release`) into inputs, runs the machine on one thread, and carries its
//! effects out (files in the lock directory, replies, the runner child, the check process).
//!
//! Threads: this one (the event loop), the signal thread (sigwait: forwards signals, reaps every
//! child as PID 1 must), the runner's output pump, the two socket servers (one thread per
//! connection), one thread per (request, member) blocked in the ticket queue or on the lock,
//! the health-record watcher, the guard of the held locks (see `lockfile`), and a reader per
//! running check.

mod checks;
mod guard;
mod parking;
mod queue;
mod runner;
mod server;
mod watch;

use std::collections::{HashMap, VecDeque};
use std::fs::{self, File};
use std::io::{self, Write};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicU64;
use std::sync::mpsc::{self, RecvTimeoutError, Sender};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::config::Config;
use crate::contract::now_epoch_ms;
use crate::control;
use crate::dotenv;
use crate::health::HealthRecord;
use crate::hooks::RuntimeDir;
use crate::ledger;
use crate::lockdir::{self, ResourcePaths};
use crate::lockfile::{self, FileId};
use crate::messages::{self, MemberView};
use crate::output::OutputPump;
use crate::protocol::Reply;
use crate::record::OwnerRecord;
use crate::signals;
use crate::state::{CheckPolicy, ConnId, Core, Effect, Input, JobInfo, Now, ReqId, Setup};
use crate::status;

/// The current runner's output pump, for `sync()` before a started request.
pub(crate) type PumpSlot = Arc<Mutex<Option<Arc<OutputPump>>>>;

/// A connection's writing end; status lines are written from other threads too.
type Conn = Arc<Mutex<UnixStream>>;

/// How long the runner gets to go offline after SIGINT before SIGKILL.
const STOP_GRACE: Duration = Duration::from_secs(60);

/// What the threads report to the event loop.
pub(crate) enum Raw {
    Started {
        conn: ConnId,
        job: JobInfo,
        writer: UnixStream,
    },
    Completed {
        conn: ConnId,
        writer: UnixStream,
    },
    Gone {
        conn: ConnId,
    },
    Control {
        conn: ConnId,
        resource: String,
        force: bool,
        by: String,
        writer: UnixStream,
    },
    Acquired {
        req: ReqId,
        member: usize,
        lock: File,
        id: FileId,
        health: Option<HealthRecord>,
    },
    /// The guard took the new lock file of a held member whose file (`from`) was pulled away.
    Relocked {
        member: usize,
        from: FileId,
        lock: File,
        what: String,
    },
    /// The guard could not re-establish the lock of a held member.
    RelockFailed {
        member: usize,
        from: FileId,
        why: String,
    },
    /// The lock directory cannot be used any more (removed under this container's mount).
    Lost {
        why: String,
    },
    AcquireFailed {
        req: ReqId,
        member: usize,
        error: String,
    },
    Line(runner::Line),
    Reaped {
        pid: u32,
        code: i32,
    },
    Signal(i32),
    CheckOutput {
        member: usize,
        output: String,
    },
    HealthFile {
        member: usize,
    },
    /// A member's owner record or a `parked.*` marker changed (queue at GitHub).
    Occupancy {
        member: usize,
    },
}

fn now() -> Now {
    Now {
        mono: Instant::now(),
        wall_ms: now_epoch_ms(),
    }
}

fn hostname() -> String {
    fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|s| s.trim().to_string())
        .unwrap_or_default()
}

/// Supervise the runner with locking on `members` (one resource or a pool); returns the exit
/// code. `Err` is a one-line reason the wrapper cannot run jobs safely (exit code 1).
pub fn run_locked(cfg: &Config, members: &[String]) -> Result<i32, String> {
    signals::block().map_err(|e| format!("cannot block signals: {e}"))?;
    signals::become_subreaper();
    // The hook scripts exec this very binary, wherever it is mounted.
    let exe = std::env::current_exe()
        .ok()
        .or_else(|| std::env::args_os().next().map(Into::into))
        .ok_or("cannot find my own executable")?;

    // Jobs must never run unlocked: any problem with the lock directory stops us here.
    let root = cfg.lock_dir.clone();
    let gid = lockdir::ensure_root(&root, cfg.lock_group).map_err(|e| e.to_string())?;
    let mut paths = Vec::new();
    for m in members {
        paths.push(lockdir::ensure_resource(&root, m, gid).map_err(|e| e.to_string())?);
    }
    let control = control::bind(&root, gid).map_err(|e| e.to_string())?;
    // Held open, to notice the directory being removed under a bind mount (see `guard`).
    let root_dir =
        File::open(&root).map_err(|e| lockdir::annotate(&root, &root, "opening", e).to_string())?;

    let rt =
        RuntimeDir::create().map_err(|e| format!("cannot create my runtime directory: {e}"))?;
    let listener = UnixListener::bind(&rt.socket)
        .map_err(|e| format!("cannot listen on {}: {e}", rt.socket.display()))?;
    let (tx, rx) = mpsc::channel();
    let ids = Arc::new(AtomicU64::new(1));
    let pump: PumpSlot = Arc::default();
    server::serve_hooks(listener, tx.clone(), pump.clone(), ids.clone());
    let control_listener = control
        .listener
        .try_clone()
        .map_err(|e| format!("control socket: {e}"))?;
    server::serve_control(control_listener, tx.clone(), ids.clone());
    watch::spawn(paths.iter().map(|p| p.dir.clone()).collect(), tx.clone());
    let held: guard::Held = Arc::new(Mutex::new(vec![None; paths.len()]));
    guard::spawn(
        root.clone(),
        root_dir,
        paths.clone(),
        gid,
        held.clone(),
        tx.clone(),
    );
    spawn_signal_thread(tx.clone());

    let health: Vec<Option<HealthRecord>> = paths
        .iter()
        .map(|p| HealthRecord::read(&p.health).unwrap_or(None))
        .collect();
    let setup = Setup {
        members: members.to_vec(),
        member_env: cfg.member_env.clone(),
        lock_timeout: cfg.timeout,
        status_interval: cfg.status_interval,
        check: cfg.healthcheck.as_ref().map(|_| CheckPolicy {
            interval: cfg.check_interval,
            timeout: cfg.check_timeout,
            repairs: if cfg.repair.is_some() {
                cfg.repair_attempts
            } else {
                0
            },
        }),
        me: OwnerRecord {
            runner: cfg.runner_name.clone(),
            org: cfg.org.clone(),
            repo: cfg.repo.clone(),
            pid: std::process::id(),
            host: hostname(),
            control: control.relative.clone(),
            ..Default::default()
        },
        stop_grace: STOP_GRACE,
        queue_courtesy: cfg.queue_at_github.then_some(cfg.queue_courtesy),
        one_job: cfg.one_job,
    };
    let mut core: Core<File> = Core::new(setup, health.clone());
    let mut shell = Shell {
        cfg,
        members,
        root,
        gid,
        control,
        ids,
        held,
        acquired_ids: HashMap::new(),
        relock_ids: HashMap::new(),
        paths,
        exe,
        rt,
        tx,
        pump,
        seen_health: health,
        conns: HashMap::new(),
        waits: HashMap::new(),
        checks: HashMap::new(),
        runner: None,
        last_output: None,
        markers: parking::Markers::default(),
    };
    if cfg.queue_at_github {
        // A new generation of a one-job runner: whose turn it is (before the first look, so a
        // board already taken by another org ends the inherited courtesy as usual).
        let turns: Vec<_> = shell.paths.iter().map(parking::read_turn).collect();
        core.inherit_turns(now(), &turns);
        // Before the first start: a busy board keeps the runner offline from the outset.
        for member in 0..shell.paths.len() {
            let occupancy = parking::occupancy(&shell.paths[member], &[]);
            core.observe(member, occupancy);
        }
    }

    let mut inputs: VecDeque<Input<File>> = VecDeque::new();
    let fx = core.start(now());
    if let Some(code) = shell.execute(fx, &mut inputs) {
        return Ok(code);
    }
    loop {
        let input = match inputs.pop_front() {
            Some(i) => i,
            None => {
                let deadline = core.next_deadline(now());
                let raw = match deadline {
                    Some(d) if d <= Instant::now() => None,
                    Some(d) => match rx.recv_timeout(d.saturating_duration_since(Instant::now())) {
                        Ok(r) => Some(r),
                        Err(RecvTimeoutError::Timeout) => None,
                        Err(RecvTimeoutError::Disconnected) => return Ok(1),
                    },
                    None => match rx.recv() {
                        Ok(r) => Some(r),
                        Err(_) => return Ok(1),
                    },
                };
                match raw {
                    None => Input::Tick,
                    Some(raw) => match shell.translate(raw) {
                        Some(i) => i,
                        None => continue,
                    },
                }
            }
        };
        let fx = core.handle(now(), input);
        if let Some(code) = shell.execute(fx, &mut inputs) {
            return Ok(code);
        }
    }
}

fn spawn_signal_thread(tx: Sender<Raw>) {
    std::thread::spawn(move || loop {
        let Ok(sig) = signals::wait() else { continue };
        let sent = if sig == libc::SIGCHLD {
            signals::reap()
                .into_iter()
                .try_for_each(|(pid, code)| tx.send(Raw::Reaped { pid, code }).map_err(drop))
        } else {
            tx.send(Raw::Signal(sig)).map_err(drop)
        };
        if sent.is_err() {
            return;
        }
    });
}

struct CheckProc {
    pid: u32,
    code: Option<i32>,
    output: Option<String>,
}

/// The I/O half: what the state machine's effects mean on this machine.
struct Shell<'a> {
    cfg: &'a Config,
    members: &'a [String],
    root: PathBuf,
    /// The lock group (the lock directory's group).
    gid: u32,
    /// Our control socket (bound again if the lock directory was replaced).
    control: control::ControlSocket,
    ids: server::ConnIds,
    /// The file each held member's lock is on (for the guard).
    held: guard::Held,
    /// Files of locks acquired but not yet granted, and of re-established ones.
    acquired_ids: HashMap<(ReqId, usize), FileId>,
    relock_ids: HashMap<usize, FileId>,
    paths: Vec<ResourcePaths>,
    exe: PathBuf,
    rt: RuntimeDir,
    tx: Sender<Raw>,
    pump: PumpSlot,
    /// The health records as last told to the machine (to pass on changes only).
    seen_health: Vec<Option<HealthRecord>>,
    /// Open hook and control connections that will get a reply (shared with status writers).
    conns: HashMap<ConnId, Conn>,
    /// Places in queues, by (request, member).
    waits: HashMap<(ReqId, usize), Arc<queue::Waiting>>,
    checks: HashMap<usize, CheckProc>,
    runner: Option<u32>,
    last_output: Option<mpsc::Receiver<()>>,
    /// Our `parked.*` markers while the runner is parked (queue at GitHub).
    markers: parking::Markers,
}

enum StartError {
    /// Starting would let jobs run unlocked: the wrapper must stop.
    Refuse(String),
    Spawn(io::Error),
}

impl Shell<'_> {
    fn read_health(&mut self, member: usize) -> Option<HealthRecord> {
        HealthRecord::read(&self.paths[member].health).unwrap_or(None)
    }

    fn translate(&mut self, raw: Raw) -> Option<Input<File>> {
        Some(match raw {
            Raw::Started { conn, job, writer } => {
                self.conns.insert(conn, Arc::new(Mutex::new(writer)));
                let health: Vec<_> = (0..self.paths.len()).map(|m| self.read_health(m)).collect();
                self.seen_health = health.clone();
                Input::Started { conn, job, health }
            }
            Raw::Completed { conn, writer } => {
                self.conns.insert(conn, Arc::new(Mutex::new(writer)));
                Input::Completed { conn }
            }
            Raw::Gone { conn } => {
                self.conns.remove(&conn);
                Input::ClientGone { conn }
            }
            Raw::Control {
                conn,
                resource,
                force,
                by,
                writer,
            } => {
                self.conns.insert(conn, Arc::new(Mutex::new(writer)));
                Input::Release {
                    conn,
                    resource,
                    force,
                    by,
                }
            }
            Raw::Acquired {
                req,
                member,
                lock,
                id,
                health,
            } => {
                self.acquired_ids.insert((req, member), id);
                self.seen_health[member] = health.clone();
                Input::Acquired {
                    req,
                    member,
                    lock,
                    health,
                }
            }
            Raw::AcquireFailed { req, member, error } => {
                Input::AcquireFailed { req, member, error }
            }
            Raw::Relocked {
                member,
                from,
                lock,
                what,
            } => {
                // Only for the lock we still hold; one released meanwhile needs no new file.
                if self.held_id(member) != Some(from) {
                    return None;
                }
                let id = lockfile::id_of(&lock).ok()?;
                self.relock_ids.insert(member, id);
                Input::Relocked { member, lock, what }
            }
            Raw::RelockFailed { member, from, why } => {
                if self.held_id(member) != Some(from) {
                    return None;
                }
                Input::LockLost { why }
            }
            Raw::Lost { why } => Input::LockLost { why },
            Raw::Line(runner::Line::RunningJob) => Input::RunningJob,
            Raw::Line(runner::Line::JobCompleted) => Input::JobLine,
            Raw::Reaped { pid, code } => {
                if self.runner == Some(pid) {
                    self.runner = None;
                    return Some(Input::RunnerExited { code });
                }
                let member = self
                    .checks
                    .iter()
                    .find(|(_, c)| c.pid == pid)
                    .map(|(m, _)| *m)?;
                let c = self.checks.get_mut(&member)?;
                c.code = Some(code);
                if c.output.is_none() {
                    // Something the check started still holds its output open: the check is
                    // over, so end its process group (it cannot have been reused: it has a
                    // live member).
                    signals::kill_group(pid, libc::SIGKILL);
                }
                return self.check_done(member);
            }
            Raw::Signal(sig) => Input::Signal(sig),
            Raw::CheckOutput { member, output } => {
                self.checks.get_mut(&member)?.output = Some(output);
                return self.check_done(member);
            }
            Raw::Occupancy { member } => {
                if !self.cfg.queue_at_github {
                    return None;
                }
                let occupancy = parking::occupancy(self.paths.get(member)?, &self.markers.paths());
                Input::Occupancy { member, occupancy }
            }
            Raw::HealthFile { member } => {
                let record = self.read_health(member);
                if record == self.seen_health[member] {
                    return None;
                }
                self.seen_health[member] = record.clone();
                Input::HealthChanged { member, record }
            }
        })
    }

    fn check_done(&mut self, member: usize) -> Option<Input<File>> {
        let c = self.checks.get(&member)?;
        let (Some(code), Some(_)) = (c.code, &c.output) else {
            return None;
        };
        let c = self.checks.remove(&member)?;
        Some(Input::CheckDone {
            member,
            exit_code: code,
            output: c.output.unwrap_or_default(),
        })
    }

    /// Carry out the effects in order; replies are collected per connection and written once
    /// at the end (one wake-up of the hook). Returns the exit code when the wrapper must exit.
    fn execute(
        &mut self,
        fx: Vec<Effect<File>>,
        inputs: &mut VecDeque<Input<File>>,
    ) -> Option<i32> {
        let mut out: Vec<(ConnId, String, bool)> = Vec::new();
        let mut exit = None;
        for e in fx {
            let effect_is_repair = matches!(e, Effect::RunRepair { .. });
            match e {
                Effect::Queue {
                    req,
                    member,
                    waiter,
                } => match queue::start(
                    self.paths[member].clone(),
                    self.gid,
                    req,
                    member,
                    &self.ours(waiter),
                    self.tx.clone(),
                ) {
                    Ok(w) => {
                        self.waits.insert((req, member), w);
                    }
                    Err(e) => inputs.push_back(Input::AcquireFailed {
                        req,
                        member,
                        error: e.to_string(),
                    }),
                },
                Effect::Withdraw { req, member } => {
                    if let Some(w) = self.waits.remove(&(req, member)) {
                        w.cancel();
                    }
                }
                Effect::Drop { req, member, lock } => {
                    self.acquired_ids.remove(&(req, member));
                    drop(lock);
                    if let Some(w) = self.waits.remove(&(req, member)) {
                        w.cancel();
                    }
                }
                Effect::Grant { req, member, owner } => {
                    let id = self.acquired_ids.remove(&(req, member));
                    self.set_held(member, id);
                    self.write_owner(member, owner);
                    // Unlink the ticket only now: a ticket or an owner record always shows.
                    if let Some(w) = self.waits.remove(&(req, member)) {
                        w.drop_ticket();
                    }
                }
                Effect::Release {
                    member,
                    lock,
                    entry,
                } => {
                    // Record first, lock second: the record never names a holder that let go.
                    // Not another holder's record, though: only while the path leads to ours.
                    let at = lockfile::id_at(&self.paths[member].lock).ok().flatten();
                    if at.is_some() && at == self.held_id(member) {
                        let _ = fs::remove_file(&self.paths[member].owner);
                    }
                    self.set_held(member, None);
                    drop(lock);
                    if let Err(e) = ledger::append(&self.root, &entry) {
                        log(&format!("cannot append to the ledger: {e}"));
                    }
                }
                Effect::Relocked { member, owner } => {
                    let id = self.relock_ids.remove(&member);
                    self.set_held(member, id);
                    self.write_owner(member, owner);
                }
                Effect::Close(lock) => drop(lock),
                Effect::Reply { conn, reply } => push_reply(&mut out, conn, &reply),
                Effect::WaitStatus {
                    conn,
                    req,
                    waiting,
                    timed_out: Some(t),
                    ..
                } => {
                    let views = views(&self.view_inputs(req, &waiting));
                    let reply = Reply::Fail(messages::timed_out(self.members, t, &views));
                    push_reply(&mut out, conn, &reply);
                }
                Effect::WaitStatus {
                    conn,
                    req,
                    waiting,
                    waited,
                    timed_out: None,
                } => {
                    // Reading the lock directory takes a while with many waiters: not on this
                    // thread, where it would delay the grants.
                    if let Some(w) = self.conns.get(&conn).cloned() {
                        let inputs = self.view_inputs(req, &waiting);
                        let members = self.members.to_vec();
                        std::thread::spawn(move || {
                            let line =
                                Reply::Info(messages::waiting(&members, waited, &views(&inputs)));
                            let mut w = w.lock().unwrap_or_else(|e| e.into_inner());
                            let _ = w.write_all(line.to_line().as_bytes());
                        });
                    }
                }
                Effect::RunCheck { member } | Effect::RunRepair { member } => {
                    let cmd = if effect_is_repair {
                        self.cfg.repair.clone()
                    } else {
                        self.cfg.healthcheck.clone()
                    }
                    .unwrap_or_default();
                    let env = self.cfg.member_env.get(member).cloned().unwrap_or_default();
                    match checks::spawn(&cmd, &self.members[member], &env, member, self.tx.clone())
                    {
                        Ok(pid) => {
                            self.checks.insert(
                                member,
                                CheckProc {
                                    pid,
                                    code: None,
                                    output: None,
                                },
                            );
                        }
                        Err(e) => inputs.push_back(Input::CheckDone {
                            member,
                            exit_code: -1,
                            output: format!("cannot run /bin/sh -c: {e}"),
                        }),
                    }
                }
                Effect::Reown { member, owner } => self.write_owner(member, owner),
                Effect::Ledger(entry) => {
                    if let Err(e) = ledger::append(&self.root, &entry) {
                        log(&format!("cannot append to the ledger: {e}"));
                    }
                }
                Effect::KillCheck { member } => {
                    if let Some(c) = self.checks.get(&member) {
                        signals::kill_group(c.pid, libc::SIGKILL);
                    }
                }
                Effect::WriteHealth { member, record } => {
                    let path = &self.paths[member].health;
                    if let Err(e) = record.write_atomic(path) {
                        let e = lockdir::annotate(&self.root, path, "writing", e);
                        log(&format!(
                            "cannot write the health record of {}: {e}",
                            self.members[member]
                        ));
                    }
                    self.seen_health[member] = Some(record);
                }
                Effect::StartRunner => match self.start_runner() {
                    Ok(pid) => self.runner = Some(pid),
                    Err(StartError::Refuse(msg)) => {
                        eprintln!("runner-wrapper: {msg}");
                        exit = Some(1);
                        break;
                    }
                    Err(StartError::Spawn(e)) => {
                        log(&e.to_string());
                        inputs.push_back(Input::RunnerExited { code: 127 });
                    }
                },
                Effect::StopRunner => {
                    if let Some(pid) = self.runner {
                        signals::kill(pid, libc::SIGINT);
                    }
                }
                Effect::ParkRunner => match self.runner {
                    // The last look before the signal: a job's Worker means a job.
                    Some(pid) if parking::has_worker(pid) => inputs.push_back(Input::ParkRefused),
                    Some(pid) => signals::kill(pid, libc::SIGINT),
                    None => {}
                },
                Effect::Parked(true) => {
                    let dirs: Vec<PathBuf> = self.paths.iter().map(|p| p.dir.clone()).collect();
                    let me = OwnerRecord {
                        runner: self.cfg.runner_name.clone(),
                        org: self.cfg.org.clone(),
                        ..Default::default()
                    };
                    if let Err(e) = self.markers.show(&dirs, &me) {
                        log(&format!("cannot show that this runner is parked: {e}"));
                    }
                }
                Effect::Parked(false) => self.markers.clear(),
                Effect::Turn {
                    members,
                    courtesy_until_ms,
                } => {
                    let turn = crate::turn::Turn {
                        org: crate::turn::key(&self.cfg.org, &self.cfg.runner_name),
                        courtesy_until_ms,
                    };
                    for m in members {
                        if let Some(p) = self.paths.get(m) {
                            if let Err(e) = parking::write_turn(p, &turn) {
                                log(&format!(
                                    "cannot write {}: {e}",
                                    p.dir.join(crate::turn::FILE).display()
                                ));
                            }
                        }
                    }
                }
                Effect::Signal(sig) => {
                    if let Some(pid) = self.runner {
                        signals::kill(pid, sig);
                    }
                }
                Effect::Log(text) => log(&text),
                Effect::Exit(code) => {
                    exit = Some(code);
                    break;
                }
            }
        }
        for (conn, text, last) in out {
            let Some(w) = self.conns.get(&conn).cloned() else {
                continue;
            };
            let failed = {
                let mut w = w.lock().unwrap_or_else(|e| e.into_inner());
                w.write_all(text.as_bytes())
                    .and_then(|()| w.flush())
                    .is_err()
            };
            if failed && text.ends_with("ok\n") {
                inputs.push_back(Input::Undelivered { conn });
            }
            if last || failed {
                self.conns.remove(&conn);
            }
        }
        if exit.is_some() {
            for c in self.checks.values() {
                signals::kill_group(c.pid, libc::SIGKILL);
            }
            // Let the runner's last lines through, but do not hang on a grandchild that kept
            // the pipe open.
            if let Some(done) = self.last_output.take() {
                let _ = done.recv_timeout(Duration::from_millis(500));
            }
        }
        exit
    }

    fn held_id(&self, member: usize) -> Option<FileId> {
        self.held.lock().unwrap_or_else(|e| e.into_inner())[member]
    }

    fn set_held(&self, member: usize, id: Option<FileId>) {
        self.held.lock().unwrap_or_else(|e| e.into_inner())[member] = id;
    }

    /// A record of ours names our control socket as it is now.
    fn ours(&self, mut record: OwnerRecord) -> OwnerRecord {
        record.control = self.control.relative.clone();
        record
    }

    /// Write a holder's owner record; if the lock directory was replaced, first bind our
    /// control socket again, so `ghr release` can still reach us.
    fn write_owner(&mut self, member: usize, owner: OwnerRecord) {
        if !self.control.in_place() {
            match control::bind(&self.root, self.gid) {
                Ok(c) => {
                    if let Ok(l) = c.listener.try_clone() {
                        server::serve_control(l, self.tx.clone(), self.ids.clone());
                    }
                    self.control = c;
                }
                Err(e) => log(&format!("cannot bind the control socket again: {e}")),
            }
        }
        let owner = self.ours(owner);
        if let Err(e) = owner.write_atomic(&self.paths[member].owner) {
            let e = lockdir::annotate(&self.root, &self.paths[member].owner, "writing", e);
            log(&format!(
                "cannot write the owner record of {}: {e}",
                self.members[member]
            ));
        }
    }

    /// What a status line needs: each waited-for member's name, paths and our ticket there.
    fn view_inputs(
        &self,
        req: ReqId,
        waiting: &[usize],
    ) -> Vec<(String, ResourcePaths, Option<u64>)> {
        waiting
            .iter()
            .map(|&m| {
                let ticket = self.waits.get(&(req, m)).map(|w| w.ticket_number);
                (self.members[m].clone(), self.paths[m].clone(), ticket)
            })
            .collect()
    }

    /// Point the runner's `.env` hooks at ours (or refuse), write our hook scripts (chaining
    /// the user's), start the runner.
    fn start_runner(&mut self) -> Result<u32, StartError> {
        let ours = [
            self.rt.started.to_string_lossy().into_owned(),
            self.rt.completed.to_string_lossy().into_owned(),
        ];
        let from_dotenv = match dotenv::runner_root(Path::new(&self.cfg.command[0])) {
            Some(root) => dotenv::apply(&root, [&ours[0], &ours[1]]).map_err(StartError::Refuse)?,
            None => [None, None],
        };
        let [s, c] = from_dotenv;
        let started = s.or_else(|| self.cfg.user_started.clone());
        let completed = c.or_else(|| self.cfg.user_completed.clone());
        self.rt
            .write_scripts(&self.exe, started.as_deref(), completed.as_deref())
            .map_err(|e| {
                StartError::Refuse(format!(
                    "cannot write the hook scripts in {}: {e}",
                    self.rt.dir.display()
                ))
            })?;
        let p = runner::spawn(&self.cfg.command, &self.rt, self.tx.clone(), &self.pump)
            .map_err(StartError::Spawn)?;
        self.last_output = Some(p.output_done);
        Ok(p.pid)
    }
}

/// Collect a reply; consecutive replies to one connection become one write.
fn push_reply(out: &mut Vec<(ConnId, String, bool)>, conn: ConnId, reply: &Reply) {
    let last = matches!(reply, Reply::Ok | Reply::Fail(_));
    match out.iter_mut().find(|(c, _, _)| *c == conn) {
        Some((_, text, done)) => {
            text.push_str(&reply.to_line());
            *done |= last;
        }
        None => out.push((conn, reply.to_line(), last)),
    }
}

fn log(text: &str) {
    eprintln!("runner-wrapper: {text}");
}

/// No resource: behave as if unwrapped (exec keeps pid, signals and exit code).
pub fn passthrough(command: &[std::ffi::OsString]) -> i32 {
    use std::os::unix::process::CommandExt;
    let err = std::process::Command::new(&command[0])
        .args(&command[1..])
        .exec();
    eprintln!("runner-wrapper: cannot run {:?}: {err}", command[0]);
    127
}

/// How each member looks to a waiter (reads the lock directory).
fn views(inputs: &[(String, ResourcePaths, Option<u64>)]) -> Vec<MemberView> {
    inputs
        .iter()
        .map(|(name, paths, ticket)| match status::read_resource(paths) {
            Ok(st) => MemberView::from_status(name, &st, *ticket),
            Err(_) => MemberView {
                name: name.clone(),
                holder: None,
                place: None,
            },
        })
        .collect()
}
