//! The wrapper's decisions as a pure state machine: [`Input`]s in, [`Effect`]s out, no I/O and
//! no clock of its own (each input comes with a [`Now`]). Everything around it (the hook socket,
//! the threads that wait in the ticket queues and block on flock, the runner child, the health
//! check process, the lock-directory files) lives in `wrapper` and only carries effects out.
//!
//! What it decides:
//! - **Queue and lock.** A job asks through its started hook; the request joins the FIFO queue
//!   of every usable member of the runner's resource list (one member, or a pool) and is granted
//!   the first member whose lock it gets; its places in the other queues are withdrawn at once.
//!   A request ends granted, failed (timeout, unhealthy, lock error) or withdrawn (the hook went
//!   away, the job ended, a newer job started).
//! - **Release** on the completed hook, the Listener's completion line, the runner's exit, a
//!   newer job of the same runner, or `ghr release` (a job's lock only with force).
//! - **Health.** Unhealthy members are skipped; a job with no usable member fails fast with the
//!   checks' output. With a check configured, each member is checked under its lock before the
//!   runner takes its first job and then, while the runner is idle, whenever its record is older
//!   than the interval (by any wrapper: the record is shared). While every member is unhealthy
//!   the runner is stopped (it goes offline on GitHub) and it is started again once one heals.
//! - **Repair.** With `CheckPolicy::repairs`, a failed check keeps the lock: the repair runs,
//!   then the check again, up to that many times; only the last verdict is written, so no job
//!   (this runner's or another's) gets the member between a failed check and a passing one.
//! - **Queue at GitHub** (opt-in, see [`crate::park`]): while every member is held by another
//!   holder the idle runner is parked (stopped: offline on GitHub) and started again when one
//!   is free; after its own job it may step aside for the runners parked meanwhile.
//! - **A lock pulled away.** When a held lock file is no longer the one at its path, the shell
//!   takes the new one at once ([`Input::Relocked`]: the grant goes on under it); when it cannot
//!   ([`Input::LockLost`]), this runner takes no more jobs: waiting jobs fail with the reason,
//!   the runner is stopped once no job runs, and then the wrapper exits (its container restarts
//!   with the lock directory as it is now). See `lockfile`.
//!
//! `H` is the held lock (a `File` in the wrapper, a token in tests): the machine owns it while
//! the lock is held and hands it back in [`Effect::Release`] / [`Effect::Drop`].

use std::time::{Duration, Instant};

use crate::contract::env;
use crate::health::{tail, Health, HealthRecord, OUTPUT_LIMIT};
use crate::ledger::Entry;
use crate::messages::{self, PREFIX};
use crate::park::{self, Gate, Occupancy};
use crate::protocol::Reply;
use crate::record::{HolderKind, OwnerRecord};

pub type ReqId = u64;
pub type ConnId = u64;

/// The time of an input: monotonic for timers, wall clock (epoch ms) for records.
#[derive(Debug, Clone, Copy)]
pub struct Now {
    pub mono: Instant,
    pub wall_ms: u64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckPolicy {
    /// Re-check an idle member whose record is older than this.
    pub interval: Duration,
    /// Kill a check (or a repair) running longer than this (it then counts as failed).
    pub timeout: Duration,
    /// Repairs (`RUNNER_REPAIR`) one failed check may get, each followed by the check again;
    /// 0: no repair configured.
    pub repairs: u32,
}

/// What the machine is configured with.
#[derive(Debug, Clone)]
pub struct Setup {
    /// The runner's resource list: one id, or the members of a pool, in configured order.
    pub members: Vec<String>,
    /// `RESOURCE_ENV_<MEMBER>` of each member, appended to a granted job's `$GITHUB_ENV`.
    pub member_env: Vec<Vec<(String, String)>>,
    pub lock_timeout: Option<Duration>,
    pub status_interval: Duration,
    /// `None`: this runner runs no checks (it still honours the shared health records).
    pub check: Option<CheckPolicy>,
    /// Template of this wrapper's records: runner, org, repo, pid, host, control socket.
    pub me: OwnerRecord,
    /// How long the runner may take to go offline after SIGINT before it is killed.
    pub stop_grace: Duration,
    /// Queue at GitHub: `Some(RUNNER_QUEUE_COURTESY)` when on, `None` (today's FIFO on the
    /// runner) when off.
    pub queue_courtesy: Option<Duration>,
    /// The runner takes one job per start (JIT, ephemeral, `--once`): once its job ended it is
    /// never parked or restarted; its exit ends the wrapper with 0.
    pub one_job: bool,
}

/// What a started hook tells about its job.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct JobInfo {
    pub runner: String,
    pub repository: String,
    pub run_id: String,
    pub run_attempt: String,
    pub job: String,
}

#[derive(Debug)]
pub enum Input<H> {
    /// A job's started hook asks for the lock; `health` is each member's record, just read.
    Started {
        conn: ConnId,
        job: JobInfo,
        health: Vec<Option<HealthRecord>>,
    },
    /// A job's completed hook.
    Completed {
        conn: ConnId,
    },
    /// A started hook's connection closed (it was killed, gave up, or finished).
    ClientGone {
        conn: ConnId,
    },
    /// The grant could not be written to the started hook: it is gone.
    Undelivered {
        conn: ConnId,
    },
    /// A queue thread got a member's lock; `health` is the member's record read under it.
    Acquired {
        req: ReqId,
        member: usize,
        lock: H,
        health: Option<HealthRecord>,
    },
    AcquireFailed {
        req: ReqId,
        member: usize,
        error: String,
    },
    /// A member's health record changed (written by any wrapper, or removed).
    HealthChanged {
        member: usize,
        record: Option<HealthRecord>,
    },
    /// Our health check of `member` ended (-1: it could not run or was killed).
    CheckDone {
        member: usize,
        exit_code: i32,
        output: String,
    },
    /// The Listener printed `Running job: X`.
    RunningJob,
    /// The Listener printed `Job X completed with result: Y`.
    JobLine,
    RunnerExited {
        code: i32,
    },
    /// A signal for the wrapper (INT, TERM, HUP, QUIT).
    Signal(i32),
    /// `ghr release` through the control socket.
    Release {
        conn: ConnId,
        resource: String,
        force: bool,
        by: String,
    },
    /// A held lock file was removed or replaced, and the shell took the new one at its path
    /// (`what`: what happened, for the log).
    Relocked {
        member: usize,
        lock: H,
        what: String,
    },
    /// The lock directory cannot be used safely any more (a held lock could not be re-established,
    /// or the directory was removed under a container's bind mount); `why` says so.
    LockLost {
        why: String,
    },
    /// What the lock directory shows of a member now (queue at GitHub only).
    Occupancy {
        member: usize,
        occupancy: Occupancy,
    },
    /// [`Effect::ParkRunner`] found a job's Worker process: the runner was not stopped.
    ParkRefused,
    /// A deadline from [`Core::next_deadline`] passed.
    Tick,
}

#[derive(Debug, PartialEq)]
pub enum Effect<H> {
    /// Draw a ticket in `member`'s queue for `req`, wait for the turn and the lock, then report
    /// `Acquired` (or `AcquireFailed`). `waiter` is the ticket's record.
    Queue {
        req: ReqId,
        member: usize,
        waiter: OwnerRecord,
    },
    /// Give up `req`'s place in `member`'s queue (successors move up at once).
    Withdraw {
        req: ReqId,
        member: usize,
    },
    /// A lock that was acquired but is not wanted: close it and drop the ticket.
    Drop {
        req: ReqId,
        member: usize,
        lock: H,
    },
    /// Granted: write the owner record, then drop the ticket.
    Grant {
        req: ReqId,
        member: usize,
        owner: OwnerRecord,
    },
    /// A held lock was re-established: write the owner record at the path again. (The old lock
    /// comes back in [`Effect::Close`].)
    Relocked {
        member: usize,
        owner: OwnerRecord,
    },
    /// Close a lock that locks nothing any more (its file was removed).
    Close(H),
    /// Remove the owner record, close the lock, append the ledger entry.
    Release {
        member: usize,
        lock: H,
        entry: Entry,
    },
    Reply {
        conn: ConnId,
        reply: Reply,
    },
    /// Tell a waiting job who holds its members and its place in the queues (read from the lock
    /// directory); with `timed_out`, as the failure that ends its wait.
    WaitStatus {
        conn: ConnId,
        req: ReqId,
        waiting: Vec<usize>,
        waited: Duration,
        timed_out: Option<Duration>,
    },
    /// Run the health check of `member` (the lock is held).
    RunCheck {
        member: usize,
    },
    /// Run the repair command of `member` (the lock is held); it ends as [`Input::CheckDone`].
    RunRepair {
        member: usize,
    },
    /// Rewrite the owner record of a held member (a check turned into a repair, or back).
    Reown {
        member: usize,
        owner: OwnerRecord,
    },
    /// Append a ledger entry for something that is not a release (a repair).
    Ledger(Entry),
    KillCheck {
        member: usize,
    },
    /// Write the member's health record (still under the lock).
    WriteHealth {
        member: usize,
        record: HealthRecord,
    },
    StartRunner,
    /// SIGINT to the runner: it goes offline on GitHub and exits.
    StopRunner,
    /// Queue at GitHub: SIGINT to the runner unless a job's Worker process runs (then report
    /// [`Input::ParkRefused`] instead).
    ParkRunner,
    /// Queue at GitHub: show (`true`) or stop showing that this runner is parked waiting for
    /// its members (a live `parked.*` marker in each member's directory).
    Parked(bool),
    /// Queue at GitHub: a job on `members` ended; leave the turn file (see [`crate::turn`])
    /// so a new generation of this org honours the courtesy (`courtesy_until_ms` 0: none).
    Turn {
        members: Vec<usize>,
        courtesy_until_ms: u64,
    },
    /// Send a signal to the runner.
    Signal(i32),
    /// A line for the wrapper's own log (stderr).
    Log(String),
    Exit(i32),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunnerState {
    /// Waiting for a usable member (the first checks) before the first start.
    NotStarted,
    Running,
    /// Told to stop because every member is unhealthy.
    Stopping {
        since: Instant,
        killed: bool,
    },
    /// Stopped because every member is unhealthy; starts again once one heals.
    Stopped,
}

#[derive(Debug, Clone, PartialEq)]
enum Purpose {
    Job { conn: ConnId, job: JobInfo },
    Check,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum CheckState {
    Idle,
    Waiting,
    /// The check, or with `repairing` the repair, runs.
    Running {
        since: Instant,
        killed: bool,
        repairing: bool,
    },
}

#[derive(Debug)]
struct Grant<H> {
    lock: H,
    purpose: Purpose,
    owner: OwnerRecord,
    requested_ms: u64,
    granted_ms: u64,
}

#[derive(Debug)]
struct Member<H> {
    health: Option<HealthRecord>,
    grant: Option<Grant<H>>,
    check: CheckState,
    /// After a check could not even queue: not before this (epoch ms).
    check_retry_ms: u64,
    /// Repairs run since this member's check was granted.
    repairs: u32,
}

#[derive(Debug)]
struct Request {
    id: ReqId,
    purpose: Purpose,
    /// Members whose queue it still waits in.
    waiting: Vec<usize>,
    requested: Now,
    deadline: Option<Instant>,
    next_status: Instant,
}

/// A started request that is granted at once is not worth a "waiting" line in the job log.
const FIRST_STATUS_AFTER: Duration = Duration::from_millis(50);

pub struct Core<H> {
    setup: Setup,
    members: Vec<Member<H>>,
    requests: Vec<Request>,
    next_req: ReqId,
    runner: RunnerState,
    /// Between the Listener's `Running job` and the job's end.
    job_running: bool,
    shutting_down: bool,
    exited: bool,
    /// Why this wrapper takes no more jobs (the lock directory cannot be used safely).
    lost: Option<String>,
    /// Queue at GitHub: the gate, why the runner is parked (if it is), whether our marker shows.
    gate: Gate,
    parked: Option<park::Reason>,
    marked: bool,
    /// A job's Worker may run: from `Running job` or a started hook to the Listener's
    /// completion line (the completed hook runs inside the job, so it is not the end).
    worker: bool,
    /// Not parked before this: the runner went idle or started only just now (see
    /// `park::SETTLE`).
    settle_until: Option<Instant>,
    /// A one-job runner's job ended: what is left is its exit.
    one_job_done: bool,
}

impl<H> Core<H> {
    /// `health`: each member's record as read at start-up.
    pub fn new(setup: Setup, health: Vec<Option<HealthRecord>>) -> Self {
        let members = (0..setup.members.len())
            .map(|i| Member {
                health: health.get(i).cloned().flatten(),
                grant: None,
                check: CheckState::Idle,
                check_retry_ms: 0,
                repairs: 0,
            })
            .collect();
        let gate = Gate::new(setup.queue_courtesy, setup.members.len());
        Core {
            gate,
            parked: None,
            marked: false,
            worker: false,
            settle_until: None,
            one_job_done: false,
            setup,
            members,
            requests: Vec::new(),
            next_req: 0,
            runner: RunnerState::NotStarted,
            job_running: false,
            shutting_down: false,
            exited: false,
            lost: None,
        }
    }

    /// Why this wrapper takes no more jobs, if it does not.
    pub fn lost(&self) -> Option<&str> {
        self.lost.as_deref()
    }

    /// The first decisions: queue the due checks, start the runner if a member is usable.
    pub fn start(&mut self, now: Now) -> Vec<Effect<H>> {
        let mut fx = Vec::new();
        self.evaluate(now, &mut fx);
        fx
    }

    /// What the lock directory shows of `member` (queue at GitHub), without deciding anything
    /// yet: for the state before [`Core::start`].
    pub fn observe(&mut self, member: usize, occupancy: Occupancy) {
        let ours = self.members.get(member).is_some_and(|m| m.grant.is_some());
        self.gate.observe(member, occupancy, ours);
    }

    /// Queue at GitHub, before [`Core::observe`] and [`Core::start`]: each member's turn file
    /// (see [`crate::turn`]). A new generation whose org had the last job while others were
    /// parked begins with the rest of that courtesy.
    pub fn inherit_turns(&mut self, now: Now, turns: &[Option<crate::turn::Turn>]) {
        if !self.gate.enabled() {
            return;
        }
        let me = crate::turn::key(&self.setup.me.org, &self.setup.me.runner);
        if let Some(rest) = crate::turn::inherited(turns, &me, now.wall_ms) {
            self.gate.inherit(now.mono, rest);
        }
    }

    pub fn runner(&self) -> RunnerState {
        self.runner
    }

    /// Names of the members this wrapper holds for a job.
    pub fn held_for_jobs(&self) -> Vec<&str> {
        self.members
            .iter()
            .enumerate()
            .filter(|(_, m)| {
                matches!(
                    m.grant,
                    Some(Grant {
                        purpose: Purpose::Job { .. },
                        ..
                    })
                )
            })
            .map(|(i, _)| self.setup.members[i].as_str())
            .collect()
    }

    pub fn health(&self, member: usize) -> Health {
        Health::of(self.members[member].health.as_ref())
    }

    pub fn handle(&mut self, now: Now, input: Input<H>) -> Vec<Effect<H>> {
        let mut fx = Vec::new();
        if self.exited {
            // Only give locks back; nothing else happens after the exit was decided.
            if let Input::Acquired {
                req, member, lock, ..
            } = input
            {
                fx.push(Effect::Drop { req, member, lock });
            }
            return fx;
        }
        match input {
            Input::Started { conn, job, health } => self.started(now, conn, job, health, &mut fx),
            Input::Completed { conn } => {
                let released = self.end_job(now, "the job's completed hook ran", &mut fx);
                let text = if released.is_empty() {
                    format!(
                        "{PREFIX} {} was not held",
                        messages::what(&self.setup.members)
                    )
                } else {
                    format!("{PREFIX} released {}", released.join(","))
                };
                fx.push(Effect::Reply {
                    conn,
                    reply: Reply::Info(text),
                });
                fx.push(Effect::Reply {
                    conn,
                    reply: Reply::Ok,
                });
            }
            Input::JobLine => {
                self.end_job(now, "the runner reported the job completed", &mut fx);
                self.worker = false;
                self.settle_until = Some(now.mono + park::SETTLE);
            }
            Input::RunningJob => {
                self.job_running = true;
                self.worker = true;
            }
            Input::Occupancy { member, occupancy } => self.observe(member, occupancy),
            Input::ParkRefused => {
                if let RunnerState::Stopping { .. } = self.runner {
                    if self.parked.is_some() {
                        fx.push(Effect::Log(
                            "not parking: the runner has taken a job (its Worker runs)".into(),
                        ));
                        self.runner = RunnerState::Running;
                        self.parked = None;
                        self.worker = true;
                        if self.marked {
                            self.marked = false;
                            fx.push(Effect::Parked(false));
                        }
                    }
                }
            }
            Input::ClientGone { conn } => {
                if let Some(i) = self.job_request_of(conn) {
                    let r = self.requests.remove(i);
                    withdraw(&r, &mut fx);
                    fx.push(Effect::Log(format!(
                        "started hook went away; withdrew the request for {}",
                        messages::what(&self.setup.members)
                    )));
                }
            }
            Input::Undelivered { conn } => {
                let granted = self.members.iter().position(|m| {
                    matches!(&m.grant, Some(Grant { purpose: Purpose::Job { conn: c, .. }, .. }) if *c == conn)
                });
                if let Some(m) = granted {
                    self.release(
                        m,
                        now,
                        "the started hook went away before it heard of the grant",
                        &mut fx,
                    );
                }
            }
            Input::Acquired {
                req,
                member,
                lock,
                health,
            } => self.acquired(now, req, member, lock, health, &mut fx),
            Input::AcquireFailed { req, member, error } => {
                self.acquire_failed(now, req, member, error, &mut fx)
            }
            Input::HealthChanged { member, record } => {
                let unhealthy = record.as_ref().is_some_and(|r| !r.healthy);
                self.members[member].health = record;
                if unhealthy {
                    self.skip_unhealthy(member, &mut fx);
                }
            }
            Input::CheckDone {
                member,
                exit_code,
                output,
            } => self.check_done(now, member, exit_code, output, &mut fx),
            Input::RunnerExited { code } => self.runner_exited(now, code, &mut fx),
            Input::Signal(sig) => self.signal(now, sig, &mut fx),
            Input::Release {
                conn,
                resource,
                force,
                by,
            } => self.release_request(now, conn, &resource, force, &by, &mut fx),
            Input::Relocked { member, lock, what } => {
                self.relocked(now, member, lock, &what, &mut fx)
            }
            Input::LockLost { why } => self.lock_lost(why, &mut fx),
            Input::Tick => self.tick(now, &mut fx),
        }
        self.evaluate(now, &mut fx);
        fx
    }

    /// When the machine next needs a `Tick`.
    pub fn next_deadline(&self, now: Now) -> Option<Instant> {
        let mut next: Option<Instant> = None;
        let mut at = |t: Instant| next = Some(next.map_or(t, |n| n.min(t)));
        for r in &self.requests {
            if let Purpose::Job { .. } = r.purpose {
                at(r.next_status);
                if let Some(d) = r.deadline {
                    at(d);
                }
            }
        }
        if let Some(policy) = &self.setup.check {
            for (i, m) in self.members.iter().enumerate() {
                match m.check {
                    CheckState::Running {
                        since,
                        killed: false,
                        ..
                    } => at(since + policy.timeout),
                    CheckState::Idle
                        if !self.busy()
                            && !self.shutting_down
                            && !self.exited
                            && self.lost.is_none() =>
                    {
                        let due = self.check_due_ms(i, policy);
                        at(now.mono + Duration::from_millis(due.saturating_sub(now.wall_ms)));
                    }
                    _ => {}
                }
            }
        }
        if let RunnerState::Stopping {
            since,
            killed: false,
        } = self.runner
        {
            at(since + self.setup.stop_grace);
        }
        if let Some(d) = self.gate.deadline() {
            at(d);
        }
        if let Some(t) = self.settle_until.filter(|t| *t > now.mono) {
            if self.gate.enabled() && self.runner == RunnerState::Running {
                at(t);
            }
        }
        next
    }

    // ------------------------------------------------------------ inputs

    fn started(
        &mut self,
        now: Now,
        conn: ConnId,
        job: JobInfo,
        health: Vec<Option<HealthRecord>>,
        fx: &mut Vec<Effect<H>>,
    ) {
        for (m, h) in self.members.iter_mut().zip(health) {
            m.health = h;
        }
        if let Some(why) = &self.lost {
            fx.push(Effect::Reply {
                conn,
                reply: Reply::Fail(format!("{PREFIX} this runner takes no more jobs: {why}")),
            });
            return;
        }
        // A lock still held from an earlier job (its completed hook never ran and no line was
        // seen): holding it into this job would starve the other orgs, and queueing behind
        // ourselves would deadlock. A request still waiting belongs to an earlier, cancelled
        // job (its hook was orphaned): the runner runs one job at a time.
        let leftover: Vec<usize> = self.job_grants();
        for m in leftover {
            self.release(
                m,
                now,
                "left over from the previous job (no completed hook)",
                fx,
            );
        }
        self.withdraw_jobs("a newer job of this runner asked for the lock", fx);
        self.job_running = true;
        self.worker = true;

        let usable: Vec<usize> = (0..self.members.len())
            .filter(|&m| self.health(m) != Health::Unhealthy)
            .collect();
        if usable.is_empty() {
            self.refuse_unhealthy(conn, fx);
            return;
        }
        let id = self.new_req();
        let purpose = Purpose::Job { conn, job };
        for &m in &usable {
            fx.push(Effect::Queue {
                req: id,
                member: m,
                waiter: self.record(m, &purpose, now),
            });
        }
        self.requests.push(Request {
            id,
            purpose,
            waiting: usable,
            requested: now,
            deadline: self.setup.lock_timeout.map(|t| now.mono + t),
            next_status: now.mono + FIRST_STATUS_AFTER,
        });
    }

    fn acquired(
        &mut self,
        now: Now,
        req: ReqId,
        member: usize,
        lock: H,
        health: Option<HealthRecord>,
        fx: &mut Vec<Effect<H>>,
    ) {
        self.members[member].health = health;
        let Some(ri) = self.requests.iter().position(|r| r.id == req) else {
            fx.push(Effect::Drop { req, member, lock });
            return;
        };
        match self.requests[ri].purpose.clone() {
            Purpose::Job { conn, .. } => {
                if self.health(member) == Health::Unhealthy {
                    // Checked under the lock: it turned unhealthy while we waited.
                    fx.push(Effect::Drop { req, member, lock });
                    let r = &mut self.requests[ri];
                    r.waiting.retain(|&m| m != member);
                    if r.waiting.is_empty() {
                        self.requests.remove(ri);
                        self.refuse_unhealthy(conn, fx);
                    } else {
                        fx.push(Effect::Reply {
                            conn,
                            reply: Reply::Info(format!(
                                "{PREFIX} {} is unhealthy: waiting for the other members only",
                                self.setup.members[member]
                            )),
                        });
                    }
                    return;
                }
                let r = self.requests.remove(ri);
                for &m in r.waiting.iter().filter(|&&m| m != member) {
                    fx.push(Effect::Withdraw { req, member: m });
                }
                let owner = self.record(member, &r.purpose, now);
                fx.push(Effect::Grant {
                    req,
                    member,
                    owner: owner.clone(),
                });
                fx.push(Effect::Reply {
                    conn,
                    reply: Reply::Env(
                        env::GRANTED_RESOURCE.into(),
                        self.setup.members[member].clone(),
                    ),
                });
                for (k, v) in self.setup.member_env.get(member).into_iter().flatten() {
                    fx.push(Effect::Reply {
                        conn,
                        reply: Reply::Env(k.clone(), v.clone()),
                    });
                }
                fx.push(Effect::Reply {
                    conn,
                    reply: Reply::Info(messages::acquired(
                        &self.setup.members[member],
                        &self.setup.members,
                        now.mono.saturating_duration_since(r.requested.mono),
                    )),
                });
                fx.push(Effect::Reply {
                    conn,
                    reply: Reply::Ok,
                });
                self.members[member].grant = Some(Grant {
                    lock,
                    purpose: r.purpose,
                    owner,
                    requested_ms: r.requested.wall_ms,
                    granted_ms: now.wall_ms,
                });
                // Coming back from parked: our marker stayed until now (see `evaluate`); the
                // owner record written by the grant above now says the board is taken.
                self.unmark(fx);
            }
            Purpose::Check => {
                let r = self.requests.remove(ri);
                let fresh = match (&self.setup.check, &self.members[member].health) {
                    (Some(p), Some(h)) => {
                        h.checked_at_ms + p.interval.as_millis() as u64 > now.wall_ms
                    }
                    _ => false,
                };
                if fresh {
                    // Another runner checked it while we waited our turn.
                    fx.push(Effect::Drop { req, member, lock });
                    self.members[member].check = CheckState::Idle;
                    return;
                }
                let owner = self.record(member, &r.purpose, now);
                fx.push(Effect::Grant {
                    req,
                    member,
                    owner: owner.clone(),
                });
                fx.push(Effect::RunCheck { member });
                self.members[member].grant = Some(Grant {
                    lock,
                    purpose: Purpose::Check,
                    owner,
                    requested_ms: r.requested.wall_ms,
                    granted_ms: now.wall_ms,
                });
                self.members[member].repairs = 0;
                self.members[member].check = CheckState::Running {
                    since: now.mono,
                    killed: false,
                    repairing: false,
                };
            }
        }
    }

    fn acquire_failed(
        &mut self,
        now: Now,
        req: ReqId,
        member: usize,
        error: String,
        fx: &mut Vec<Effect<H>>,
    ) {
        let Some(ri) = self.requests.iter().position(|r| r.id == req) else {
            return;
        };
        let name = self.setup.members[member].clone();
        match self.requests[ri].purpose.clone() {
            Purpose::Job { conn, .. } => {
                self.requests[ri].waiting.retain(|&m| m != member);
                fx.push(Effect::Log(format!("locking {name} failed: {error}")));
                if self.requests[ri].waiting.is_empty() {
                    self.requests.remove(ri);
                    fx.push(Effect::Reply {
                        conn,
                        reply: Reply::Fail(format!("{PREFIX} locking {name} failed: {error}")),
                    });
                }
            }
            Purpose::Check => {
                self.requests.remove(ri);
                let m = &mut self.members[member];
                m.check = CheckState::Idle;
                let interval = self
                    .setup
                    .check
                    .as_ref()
                    .map_or(60_000, |p| p.interval.as_millis() as u64);
                m.check_retry_ms = now.wall_ms + interval;
                fx.push(Effect::Log(format!(
                    "health check of {name} not run: locking failed: {error}"
                )));
            }
        }
    }

    fn check_done(
        &mut self,
        now: Now,
        member: usize,
        exit_code: i32,
        output: String,
        fx: &mut Vec<Effect<H>>,
    ) {
        let CheckState::Running {
            since,
            killed,
            repairing,
        } = self.members[member].check
        else {
            return;
        };
        if repairing {
            self.repair_done(now, member, since, killed, exit_code, output, fx);
            return;
        }
        let name = self.setup.members[member].clone();
        let timeout = self
            .setup
            .check
            .as_ref()
            .map(|p| p.timeout)
            .unwrap_or_default();
        let mut output = output;
        if killed {
            if !output.is_empty() && !output.ends_with('\n') {
                output.push('\n');
            }
            output.push_str(&format!(
                "(killed after {}: {})",
                crate::contract::format_duration(timeout),
                env::HEALTHCHECK_TIMEOUT
            ));
        }
        let healthy = exit_code == 0 && !killed;
        let repairs = self.members[member].repairs;
        let holds_for_check = matches!(
            self.members[member].grant,
            Some(Grant {
                purpose: Purpose::Check,
                ..
            })
        );
        let may_repair = self
            .setup
            .check
            .as_ref()
            .is_some_and(|p| repairs < p.repairs);
        if !healthy && holds_for_check && may_repair && !self.shutting_down {
            self.start_repair(now, member, exit_code, &output, fx);
            return;
        }
        let was = self.health(member);
        let record = HealthRecord {
            resource: name.clone(),
            healthy,
            checked_at_ms: now.wall_ms,
            duration_ms: now.mono.saturating_duration_since(since).as_millis() as u64,
            exit_code: if killed { -1 } else { exit_code },
            output: tail(output.trim_end(), OUTPUT_LIMIT),
            runner: self.setup.me.runner.clone(),
            org: self.setup.me.org.clone(),
            host: self.setup.me.host.clone(),
        };
        // A passing check is news only when it changes something; a failing one always is.
        if !healthy || was != Health::Healthy {
            fx.push(Effect::Log(format!(
                "health check of {name}: {}{}",
                if healthy { "healthy" } else { "UNHEALTHY" },
                if healthy {
                    String::new()
                } else {
                    format!(
                        " (exit {}): {}",
                        record.exit_code,
                        record.output.replace('\n', " | ")
                    )
                }
            )));
        }
        // Written while the lock is still held, so the next holder reads the new verdict.
        fx.push(Effect::WriteHealth {
            member,
            record: record.clone(),
        });
        self.members[member].health = Some(record);
        self.members[member].check = CheckState::Idle;
        if holds_for_check {
            let cause = match (repairs, healthy) {
                (0, _) => "health check done".to_string(),
                (n, true) => format!("health check done: healthy after {n} repair(s)"),
                (n, false) => format!("health check done: still unhealthy after {n} repair(s)"),
            };
            self.release(member, now, &cause, fx);
        }
        if !healthy {
            self.skip_unhealthy(member, fx);
        }
    }

    /// A check failed and a repair is left: keep the lock, say so in the owner record (so
    /// `ghr locks` shows "repairing"), run the repair.
    fn start_repair(
        &mut self,
        now: Now,
        member: usize,
        exit_code: i32,
        output: &str,
        fx: &mut Vec<Effect<H>>,
    ) {
        let name = self.setup.members[member].clone();
        let total = self.setup.check.as_ref().map_or(0, |p| p.repairs);
        let m = &mut self.members[member];
        m.repairs += 1;
        fx.push(Effect::Log(format!(
            "health check of {name}: failed (exit {exit_code}): {}; repairing ({} of {total})",
            tail(output.trim_end(), OUTPUT_LIMIT).replace('\n', " | "),
            m.repairs
        )));
        if let Some(g) = m.grant.as_mut() {
            g.owner.kind = HolderKind::Repair;
            g.owner.since = now.wall_ms / 1000;
            fx.push(Effect::Reown {
                member,
                owner: g.owner.clone(),
            });
        }
        m.check = CheckState::Running {
            since: now.mono,
            killed: false,
            repairing: true,
        };
        fx.push(Effect::RunRepair { member });
    }

    /// The repair ended (whatever its exit code): record it, then check again, still under
    /// the lock. The check decides; the repair's own exit code is only reported.
    #[allow(clippy::too_many_arguments)]
    fn repair_done(
        &mut self,
        now: Now,
        member: usize,
        since: Instant,
        killed: bool,
        exit_code: i32,
        output: String,
        fx: &mut Vec<Effect<H>>,
    ) {
        let name = self.setup.members[member].clone();
        let total = self.setup.check.as_ref().map_or(0, |p| p.repairs);
        let m = &mut self.members[member];
        let outcome = if killed {
            format!(
                "repair {} of {total} killed after {}",
                m.repairs,
                crate::contract::format_duration(
                    self.setup
                        .check
                        .as_ref()
                        .map(|p| p.timeout)
                        .unwrap_or_default()
                )
            )
        } else {
            format!("repair {} of {total} exit {exit_code}", m.repairs)
        };
        fx.push(Effect::Log(format!(
            "{outcome} on {name}: {}; checking again",
            tail(output.trim_end(), OUTPUT_LIMIT).replace('\n', " | ")
        )));
        let Some(g) = m.grant.as_mut() else {
            // Released meanwhile (`ghr release`): a check now would run without the lock; the
            // next due check takes the lock again.
            m.check = CheckState::Idle;
            return;
        };
        {
            let mut entry = entry_of(&g.owner, g.granted_ms, now.wall_ms, &outcome);
            // The repair's own span, not the whole grant's.
            entry.requested_ms = now
                .wall_ms
                .saturating_sub(now.mono.saturating_duration_since(since).as_millis() as u64);
            entry.granted_ms = entry.requested_ms;
            fx.push(Effect::Ledger(entry));
            g.owner.kind = HolderKind::Check;
            fx.push(Effect::Reown {
                member,
                owner: g.owner.clone(),
            });
        }
        m.check = CheckState::Running {
            since: now.mono,
            killed: false,
            repairing: false,
        };
        fx.push(Effect::RunCheck { member });
    }

    fn runner_exited(&mut self, now: Now, code: i32, fx: &mut Vec<Effect<H>>) {
        self.job_running = false;
        self.worker = false;
        let expected = matches!(self.runner, RunnerState::Stopping { .. }) && !self.shutting_down;
        if self.one_job_done && self.lost.is_none() {
            for m in self.job_grants() {
                self.release(m, now, "the runner exited", fx);
            }
            self.withdraw_jobs("the runner exited", fx);
            fx.push(Effect::Log(format!(
                "the runner took its one job and exited (exit {code}); the wrapper exits 0 (a new runner takes the next job)"
            )));
            self.exit(now, 0, fx);
            return;
        }
        if expected && self.parked.is_some() && self.lost.is_none() {
            for m in self.job_grants() {
                self.release(m, now, "the runner stopped (parked)", fx);
            }
            self.withdraw_jobs("the runner stopped (parked)", fx);
            self.runner = RunnerState::Stopped;
            fx.push(Effect::Log(format!(
                "runner offline (exit {code}); it starts again once {} is free",
                messages::what(&self.setup.members)
            )));
            return;
        }
        let cause = if expected {
            "the runner stopped (resource unhealthy)"
        } else {
            "the runner exited"
        };
        for m in self.job_grants() {
            self.release(m, now, cause, fx);
        }
        self.withdraw_jobs(cause, fx);
        if expected && self.lost.is_some() {
            self.exit(now, 1, fx);
        } else if expected {
            self.runner = RunnerState::Stopped;
            fx.push(Effect::Log(format!(
                "runner stopped (exit {code}); it starts again once {} is healthy",
                messages::what(&self.setup.members)
            )));
        } else {
            self.exit(now, code, fx);
        }
    }

    fn signal(&mut self, now: Now, sig: i32, fx: &mut Vec<Effect<H>>) {
        if sig == libc::SIGINT || sig == libc::SIGTERM {
            self.shutting_down = true;
        }
        match self.runner {
            RunnerState::Running | RunnerState::Stopping { .. } => fx.push(Effect::Signal(sig)),
            RunnerState::NotStarted | RunnerState::Stopped if self.shutting_down => {
                self.exit(now, 0, fx)
            }
            _ => {}
        }
    }

    fn release_request(
        &mut self,
        now: Now,
        conn: ConnId,
        resource: &str,
        force: bool,
        by: &str,
        fx: &mut Vec<Effect<H>>,
    ) {
        let fail = |text: String| Effect::Reply {
            conn,
            reply: Reply::Fail(format!("{PREFIX} {text}")),
        };
        let Some(m) = self.setup.members.iter().position(|n| n == resource) else {
            fx.push(fail(format!("{resource} is not a resource of this runner")));
            return;
        };
        let Some(g) = &self.members[m].grant else {
            fx.push(fail(format!("this runner does not hold {resource}")));
            return;
        };
        if matches!(g.purpose, Purpose::Job { .. }) && !force {
            fx.push(fail(format!(
                "{resource} is held by {}; only --force releases a job's lock",
                g.owner.describe()
            )));
            return;
        }
        let text = messages::forced(resource, &g.owner, by);
        self.release(m, now, &format!("released by {by}"), fx);
        fx.push(Effect::Log(text.clone()));
        fx.push(Effect::Reply {
            conn,
            reply: Reply::Info(text),
        });
        fx.push(Effect::Reply {
            conn,
            reply: Reply::Ok,
        });
    }

    fn relocked(&mut self, now: Now, member: usize, lock: H, what: &str, fx: &mut Vec<Effect<H>>) {
        let name = self.setup.members[member].clone();
        let Some(g) = self.members[member].grant.as_mut() else {
            // Released meanwhile: nothing to keep.
            fx.push(Effect::Close(lock));
            return;
        };
        let old = std::mem::replace(&mut g.lock, lock);
        g.owner.relocked = now.wall_ms / 1000;
        fx.push(Effect::Close(old));
        fx.push(Effect::Log(format!(
            "WARNING: {what} while this runner held {name} ({}); it took the new lock file at once, before anyone else could (nobody takes a new lock file for {}s); the lock directory must not be removed while runners use it",
            g.owner.describe(),
            crate::lockfile::SETTLE.as_secs()
        )));
        fx.push(Effect::Relocked {
            member,
            owner: g.owner.clone(),
        });
    }

    fn lock_lost(&mut self, why: String, fx: &mut Vec<Effect<H>>) {
        if self.lost.is_some() {
            return;
        }
        fx.push(Effect::Log(format!(
            "ERROR: {why}; this runner takes no more jobs: waiting jobs fail, the runner goes offline once no job runs, and then the wrapper exits (exit 1) so that its container restarts with the lock directory as it is now"
        )));
        self.lost = Some(why.clone());
        let (jobs, rest): (Vec<Request>, Vec<Request>) = std::mem::take(&mut self.requests)
            .into_iter()
            .partition(|r| matches!(r.purpose, Purpose::Job { .. }));
        for r in rest {
            withdraw(&r, fx);
            for &m in &r.waiting {
                self.members[m].check = CheckState::Idle;
            }
        }
        for r in jobs {
            withdraw(&r, fx);
            if let Purpose::Job { conn, .. } = r.purpose {
                fx.push(Effect::Reply {
                    conn,
                    reply: Reply::Fail(format!("{PREFIX} this runner takes no more jobs: {why}")),
                });
            }
        }
    }

    fn tick(&mut self, now: Now, fx: &mut Vec<Effect<H>>) {
        self.gate.tick(now.mono);
        let mut i = 0;
        while i < self.requests.len() {
            let r = &mut self.requests[i];
            let Purpose::Job { conn, .. } = r.purpose else {
                i += 1;
                continue;
            };
            let waited = now.mono.saturating_duration_since(r.requested.mono);
            if r.deadline.is_some_and(|d| now.mono >= d) {
                let r = self.requests.remove(i);
                fx.push(Effect::WaitStatus {
                    conn,
                    req: r.id,
                    waiting: r.waiting.clone(),
                    waited,
                    timed_out: self.setup.lock_timeout,
                });
                withdraw(&r, fx);
                continue;
            }
            if now.mono >= r.next_status {
                r.next_status = now.mono + self.setup.status_interval;
                fx.push(Effect::WaitStatus {
                    conn,
                    req: r.id,
                    waiting: r.waiting.clone(),
                    waited,
                    timed_out: None,
                });
            }
            i += 1;
        }
        if let Some(policy) = &self.setup.check {
            for (i, m) in self.members.iter_mut().enumerate() {
                if let CheckState::Running {
                    since,
                    killed: false,
                    repairing,
                } = m.check
                {
                    if now.mono >= since + policy.timeout {
                        m.check = CheckState::Running {
                            since,
                            killed: true,
                            repairing,
                        };
                        fx.push(Effect::KillCheck { member: i });
                    }
                }
            }
        }
        if let RunnerState::Stopping {
            since,
            killed: false,
        } = self.runner
        {
            if now.mono >= since + self.setup.stop_grace {
                self.runner = RunnerState::Stopping {
                    since,
                    killed: true,
                };
                fx.push(Effect::Log(
                    "the runner did not stop after SIGINT; killing it".into(),
                ));
                fx.push(Effect::Signal(libc::SIGKILL));
            }
        }
    }

    // ------------------------------------------------------------ decisions

    /// After every input: queue the checks that are due, start or stop the runner.
    fn evaluate(&mut self, now: Now, fx: &mut Vec<Effect<H>>) {
        if self.exited {
            return;
        }
        if let Some(policy) = self.setup.check.clone() {
            if !self.busy() && !self.shutting_down && self.lost.is_none() {
                for m in 0..self.members.len() {
                    let idle = self.members[m].check == CheckState::Idle
                        && self.members[m].grant.is_none();
                    if idle && now.wall_ms >= self.check_due_ms(m, &policy) {
                        let id = self.new_req();
                        fx.push(Effect::Queue {
                            req: id,
                            member: m,
                            waiter: self.record(m, &Purpose::Check, now),
                        });
                        self.requests.push(Request {
                            id,
                            purpose: Purpose::Check,
                            waiting: vec![m],
                            requested: now,
                            deadline: None,
                            next_status: now.mono,
                        });
                        self.members[m].check = CheckState::Waiting;
                    }
                }
            }
        }
        let usable = (0..self.members.len()).any(|m| self.usable(m));
        let all_unhealthy = (0..self.members.len()).all(|m| self.health(m) == Health::Unhealthy);
        if self.lost.is_some() {
            match self.runner {
                RunnerState::NotStarted | RunnerState::Stopped => self.exit(now, 1, fx),
                RunnerState::Running if !self.busy() => {
                    fx.push(Effect::Log(
                        "stopping the runner (it goes offline); the wrapper exits when it has"
                            .into(),
                    ));
                    self.runner = RunnerState::Stopping {
                        since: now.mono,
                        killed: false,
                    };
                    fx.push(Effect::StopRunner);
                }
                _ => {}
            }
            return;
        }
        if self.marked
            && self.parked.is_none()
            && self.runner == RunnerState::Running
            && !self.worker
            && !self.busy()
            && self.settle_until.is_none_or(|t| now.mono >= t)
        {
            // Back online and idle past the settle: nothing was queued for us.
            self.unmark(fx);
        }
        let ours: Vec<bool> = self.members.iter().map(|m| m.grant.is_some()).collect();
        let usable_each: Vec<bool> = (0..self.members.len()).map(|m| self.usable(m)).collect();
        let offline = self.gate.offline(now.mono, &ours, &usable_each);
        match self.runner {
            RunnerState::NotStarted | RunnerState::Stopped
                if usable && !self.shutting_down && offline.is_some() =>
            {
                // Parked (or parked before the first start): say so to the board's holder.
                self.parked = offline;
                if !self.marked {
                    self.marked = true;
                    fx.push(Effect::Parked(true));
                    if self.runner == RunnerState::NotStarted {
                        fx.push(Effect::Log(format!(
                            "{}: the runner stays offline (parked) before its first start",
                            match offline {
                                Some(park::Reason::Courtesy) => format!(
                                    "another org's turn on {} (our org had the last job while others waited; {})",
                                    messages::what(&self.setup.members),
                                    env::QUEUE_COURTESY
                                ),
                                _ => format!("{} is busy", messages::what(&self.setup.members)),
                            }
                        )));
                    }
                }
            }
            RunnerState::NotStarted | RunnerState::Stopped if usable && !self.shutting_down => {
                // A parked runner keeps its marker while it comes online, until its job is
                // granted the board or it has idled past `park::SETTLE` (nothing queued for
                // it): so a runner owing a courtesy keeps waiting for it meanwhile, and stops
                // waiting once nobody is parked or coming.
                if self.parked.take().is_some() {
                    fx.push(Effect::Log(format!(
                        "{} is free: starting the runner (it comes online on GitHub)",
                        messages::what(&self.setup.members)
                    )));
                } else if self.runner == RunnerState::Stopped {
                    fx.push(Effect::Log(format!(
                        "{} is healthy again: starting the runner",
                        messages::what(&self.setup.members)
                    )));
                }
                self.runner = RunnerState::Running;
                self.settle_until = Some(now.mono + park::SETTLE);
                fx.push(Effect::StartRunner);
            }
            RunnerState::Running if all_unhealthy && !self.busy() => {
                fx.push(Effect::Log(format!(
                    "{} is unhealthy: stopping the runner (it goes offline and takes no jobs until a check passes)",
                    messages::what(&self.setup.members)
                )));
                self.runner = RunnerState::Stopping {
                    since: now.mono,
                    killed: false,
                };
                fx.push(Effect::StopRunner);
            }
            RunnerState::Running
                if offline.is_some()
                    && !self.one_job_done
                    && !self.busy()
                    && !self.worker
                    && self.settle_until.is_none_or(|t| now.mono >= t) =>
            {
                fx.push(Effect::Log(match offline {
                    Some(park::Reason::Courtesy) => format!(
                        "stepping aside: other runners waited for {} during our job; the runner goes offline for up to {} ({})",
                        messages::what(&self.setup.members),
                        crate::contract::format_duration(self.setup.queue_courtesy.unwrap_or_default()),
                        env::QUEUE_COURTESY
                    ),
                    _ => format!(
                        "{} is busy: parking the runner (it goes offline, so jobs wait in GitHub's queue) until it is free",
                        messages::what(&self.setup.members)
                    ),
                }));
                self.parked = offline;
                self.runner = RunnerState::Stopping {
                    since: now.mono,
                    killed: false,
                };
                fx.push(Effect::ParkRunner);
                if !self.marked {
                    self.marked = true;
                    fx.push(Effect::Parked(true));
                }
            }
            _ => {}
        }
    }

    /// Stop showing our `parked.*` marker.
    fn unmark(&mut self, fx: &mut Vec<Effect<H>>) {
        if self.marked {
            self.marked = false;
            fx.push(Effect::Parked(false));
        }
    }

    /// May a job be given this member? Unhealthy never; unknown only when this runner does not
    /// check (with a check, the first one must pass before the first job).
    fn usable(&self, m: usize) -> bool {
        match self.health(m) {
            Health::Healthy => true,
            Health::Unhealthy => false,
            Health::Unknown => self.setup.check.is_none(),
        }
    }

    fn check_due_ms(&self, m: usize, policy: &CheckPolicy) -> u64 {
        let member = &self.members[m];
        let due = member
            .health
            .as_ref()
            .map_or(0, |h| h.checked_at_ms + policy.interval.as_millis() as u64);
        due.max(member.check_retry_ms)
    }

    fn busy(&self) -> bool {
        self.job_running
            || !self.job_grants().is_empty()
            || self
                .requests
                .iter()
                .any(|r| matches!(r.purpose, Purpose::Job { .. }))
    }

    /// A member turned unhealthy: waiting jobs leave its queue; a job left with no member fails.
    fn skip_unhealthy(&mut self, member: usize, fx: &mut Vec<Effect<H>>) {
        let mut i = 0;
        while i < self.requests.len() {
            let r = &mut self.requests[i];
            let Purpose::Job { conn, .. } = r.purpose else {
                i += 1;
                continue;
            };
            if r.waiting.contains(&member) {
                r.waiting.retain(|&m| m != member);
                fx.push(Effect::Withdraw { req: r.id, member });
                if r.waiting.is_empty() {
                    self.requests.remove(i);
                    self.refuse_unhealthy(conn, fx);
                    continue;
                }
                fx.push(Effect::Reply {
                    conn,
                    reply: Reply::Info(format!(
                        "{PREFIX} {} is unhealthy: waiting for the other members only",
                        self.setup.members[member]
                    )),
                });
            }
            i += 1;
        }
    }

    fn refuse_unhealthy(&self, conn: ConnId, fx: &mut Vec<Effect<H>>) {
        let records: Vec<Option<HealthRecord>> =
            self.members.iter().map(|m| m.health.clone()).collect();
        for reply in messages::unhealthy(&self.setup.members, &records) {
            fx.push(Effect::Reply { conn, reply });
        }
    }

    /// The job is over: release its lock and withdraw what it still waits for. Returns the
    /// members released.
    fn end_job(&mut self, now: Now, cause: &str, fx: &mut Vec<Effect<H>>) -> Vec<String> {
        let held = self.job_grants();
        self.one_job_done |= self.setup.one_job;
        let courtesy = self.gate.job_ended(now.mono, &held);
        if self.gate.enabled() && !held.is_empty() {
            let d = self.setup.queue_courtesy.unwrap_or_default();
            fx.push(Effect::Turn {
                members: held.clone(),
                courtesy_until_ms: if courtesy {
                    now.wall_ms + d.as_millis() as u64
                } else {
                    0
                },
            });
        }
        for &m in &held {
            self.release(m, now, cause, fx);
        }
        self.withdraw_jobs(cause, fx);
        self.job_running = false;
        held.iter()
            .map(|&m| self.setup.members[m].clone())
            .collect()
    }

    fn withdraw_jobs(&mut self, why: &str, fx: &mut Vec<Effect<H>>) {
        let (jobs, rest): (Vec<Request>, Vec<Request>) = std::mem::take(&mut self.requests)
            .into_iter()
            .partition(|r| matches!(r.purpose, Purpose::Job { .. }));
        self.requests = rest;
        for r in jobs {
            withdraw(&r, fx);
            if let Purpose::Job { conn, .. } = r.purpose {
                fx.push(Effect::Log(format!("withdrew a waiting request: {why}")));
                fx.push(Effect::Reply {
                    conn,
                    reply: Reply::Fail(format!("{PREFIX} request withdrawn: {why}")),
                });
            }
        }
    }

    fn release(&mut self, m: usize, now: Now, cause: &str, fx: &mut Vec<Effect<H>>) {
        let Some(g) = self.members[m].grant.take() else {
            return;
        };
        self.gate.released(m);
        let mut entry = entry_of(&g.owner, g.granted_ms, now.wall_ms, cause);
        entry.requested_ms = g.requested_ms;
        if matches!(g.purpose, Purpose::Job { .. }) {
            fx.push(Effect::Log(format!(
                "released {}: {cause}",
                self.setup.members[m]
            )));
        }
        fx.push(Effect::Release {
            member: m,
            lock: g.lock,
            entry,
        });
    }

    fn exit(&mut self, now: Now, code: i32, fx: &mut Vec<Effect<H>>) {
        for m in 0..self.members.len() {
            self.release(m, now, "the wrapper exits", fx);
        }
        for r in std::mem::take(&mut self.requests) {
            withdraw(&r, fx);
        }
        for (i, m) in self.members.iter().enumerate() {
            if matches!(m.check, CheckState::Running { .. }) {
                fx.push(Effect::KillCheck { member: i });
            }
        }
        if self.marked {
            self.marked = false;
            fx.push(Effect::Parked(false));
        }
        self.exited = true;
        fx.push(Effect::Exit(code));
    }

    // ------------------------------------------------------------ helpers

    fn new_req(&mut self) -> ReqId {
        self.next_req += 1;
        self.next_req
    }

    fn job_grants(&self) -> Vec<usize> {
        (0..self.members.len())
            .filter(|&m| {
                matches!(
                    self.members[m].grant,
                    Some(Grant {
                        purpose: Purpose::Job { .. },
                        ..
                    })
                )
            })
            .collect()
    }

    fn job_request_of(&self, conn: ConnId) -> Option<usize> {
        self.requests
            .iter()
            .position(|r| matches!(r.purpose, Purpose::Job { conn: c, .. } if c == conn))
    }

    /// The record of this wrapper holding (or waiting for) `member` for `purpose`.
    fn record(&self, member: usize, purpose: &Purpose, now: Now) -> OwnerRecord {
        let mut r = self.setup.me.clone();
        r.resource = self.setup.members[member].clone();
        r.pool = if self.setup.members.len() > 1 {
            self.setup.members.join(",")
        } else {
            String::new()
        };
        r.since = now.wall_ms / 1000;
        match purpose {
            Purpose::Check => r.kind = HolderKind::Check,
            Purpose::Job { job, .. } => {
                r.kind = HolderKind::Job;
                if !job.runner.is_empty() {
                    r.runner = job.runner.clone();
                }
                r.repository = job.repository.clone();
                r.run_id = job.run_id.clone();
                r.run_attempt = job.run_attempt.clone();
                r.job = job.job.clone();
                if r.org.is_empty() {
                    let (o, rest) = job
                        .repository
                        .split_once('/')
                        .unwrap_or((&job.repository, ""));
                    r.org = o.to_string();
                    r.repo = rest.to_string();
                }
            }
        }
        r
    }
}

/// The ledger entry of `o`'s grant from `granted_ms` to `released_ms`.
fn entry_of(o: &OwnerRecord, granted_ms: u64, released_ms: u64, cause: &str) -> Entry {
    Entry {
        kind: o.kind,
        resource: o.resource.clone(),
        pool: o.pool.clone(),
        runner: o.runner.clone(),
        org: o.org.clone(),
        repo: o.repo.clone(),
        repository: o.repository.clone(),
        run_id: o.run_id.clone(),
        run_attempt: o.run_attempt.clone(),
        job: o.job.clone(),
        user: o.user.clone(),
        reason: o.reason.clone(),
        requested_ms: granted_ms,
        granted_ms,
        released_ms,
        cause: cause.to_string(),
    }
}

fn withdraw<H>(r: &Request, fx: &mut Vec<Effect<H>>) {
    for &m in &r.waiting {
        fx.push(Effect::Withdraw {
            req: r.id,
            member: m,
        });
    }
}

#[cfg(test)]
#[path = "state_tests.rs"]
mod tests;
