//! Table-style tests of the state machine: inputs in, effects checked. Locks are `u32` tokens,
//! so a test sees exactly which lock is kept, handed back or released.

use super::*;
use crate::park::Occupancy;

const WALL0: u64 = 1_795_377_600_000;
const SEC: u64 = 1000;

type Fx = Vec<Effect<u32>>;

struct T {
    core: Core<u32>,
    t0: Instant,
    ms: u64,
}

fn setup(members: &[&str]) -> Setup {
    Setup {
        members: members.iter().map(|m| m.to_string()).collect(),
        member_env: members
            .iter()
            .map(|m| vec![("SERIAL".to_string(), format!("/dev/{m}"))])
            .collect(),
        lock_timeout: None,
        status_interval: Duration::from_secs(10),
        check: None,
        me: OwnerRecord {
            runner: "r1".into(),
            org: "acme".into(),
            pid: 1,
            host: "c1".into(),
            ..Default::default()
        },
        stop_grace: Duration::from_secs(30),
        queue_courtesy: None,
        one_job: false,
    }
}

fn checked(s: Setup) -> Setup {
    Setup {
        check: Some(CheckPolicy {
            interval: Duration::from_secs(60),
            timeout: Duration::from_secs(5),
            repairs: 0,
        }),
        ..s
    }
}

/// Checked, with `repairs` repairs per failed check.
fn repaired(s: Setup, repairs: u32) -> Setup {
    let s = checked(s);
    Setup {
        check: s.check.clone().map(|p| CheckPolicy { repairs, ..p }),
        ..s
    }
}

fn done(exit_code: i32, output: &str) -> Input<u32> {
    Input::CheckDone {
        member: 0,
        exit_code,
        output: output.into(),
    }
}

fn ledgered(fx: &Fx) -> Vec<Entry> {
    fx.iter()
        .filter_map(|e| match e {
            Effect::Ledger(entry) => Some(entry.clone()),
            _ => None,
        })
        .collect()
}

fn reowned(fx: &Fx) -> Vec<HolderKind> {
    fx.iter()
        .filter_map(|e| match e {
            Effect::Reown { owner, .. } => Some(owner.kind),
            _ => None,
        })
        .collect()
}

fn rec(healthy: bool, at_ms: u64) -> Option<HealthRecord> {
    Some(HealthRecord {
        resource: "x".into(),
        healthy,
        checked_at_ms: at_ms,
        exit_code: if healthy { 0 } else { 3 },
        output: if healthy {
            "ok"
        } else {
            "no console\nrelay off"
        }
        .into(),
        runner: "other".into(),
        ..Default::default()
    })
}

fn job(name: &str) -> JobInfo {
    JobInfo {
        runner: "r1".into(),
        repository: "acme/fw".into(),
        run_id: "12".into(),
        run_attempt: "1".into(),
        job: name.into(),
    }
}

impl T {
    fn new(s: Setup, health: Vec<Option<HealthRecord>>) -> (T, Fx) {
        let t0 = Instant::now();
        let mut core = Core::new(s, health);
        let fx = core.start(Now {
            mono: t0,
            wall_ms: WALL0,
        });
        (T { core, t0, ms: 0 }, fx)
    }

    fn now(&self) -> Now {
        Now {
            mono: self.t0 + Duration::from_millis(self.ms),
            wall_ms: WALL0 + self.ms,
        }
    }

    fn at(&mut self, ms: u64) -> &mut Self {
        self.ms = ms;
        self
    }

    fn feed(&mut self, input: Input<u32>) -> Fx {
        let now = self.now();
        self.core.handle(now, input)
    }

    fn started(&mut self, conn: ConnId, name: &str) -> Fx {
        let n = self.core.setup.members.len();
        let health = self.core.members.iter().map(|m| m.health.clone()).collect();
        let _ = n;
        self.feed(Input::Started {
            conn,
            job: job(name),
            health,
        })
    }

    fn acquired(&mut self, req: ReqId, member: usize, lock: u32) -> Fx {
        let health = self.core.members[member].health.clone();
        self.feed(Input::Acquired {
            req,
            member,
            lock,
            health,
        })
    }

    fn deadline_ms(&self) -> Option<u64> {
        self.core
            .next_deadline(self.now())
            .map(|d| d.duration_since(self.t0).as_millis() as u64)
    }
}

fn queued(fx: &Fx) -> Vec<(ReqId, usize)> {
    fx.iter()
        .filter_map(|e| match e {
            Effect::Queue { req, member, .. } => Some((*req, *member)),
            _ => None,
        })
        .collect()
}

fn replies(fx: &Fx, to: ConnId) -> Vec<Reply> {
    fx.iter()
        .filter_map(|e| match e {
            Effect::Reply { conn, reply } if *conn == to => Some(reply.clone()),
            _ => None,
        })
        .collect()
}

fn released(fx: &Fx) -> Vec<(usize, u32, Entry)> {
    fx.iter()
        .filter_map(|e| match e {
            Effect::Release {
                member,
                lock,
                entry,
            } => Some((*member, *lock, entry.clone())),
            _ => None,
        })
        .collect()
}

fn has(fx: &Fx, pred: impl Fn(&Effect<u32>) -> bool) -> bool {
    fx.iter().any(pred)
}

fn failed(fx: &Fx, conn: ConnId) -> Option<String> {
    replies(fx, conn).into_iter().find_map(|r| match r {
        Reply::Fail(t) => Some(t),
        _ => None,
    })
}

#[test]
fn a_single_resource_is_queued_granted_and_released() {
    let (mut t, fx) = T::new(setup(&["b1"]), vec![None]);
    assert_eq!(fx, vec![Effect::StartRunner], "no check: start at once");
    t.feed(Input::RunningJob);
    let fx = t.started(7, "build");
    assert_eq!(queued(&fx), [(1, 0)]);
    let Effect::Queue { waiter, .. } = &fx[0] else {
        panic!()
    };
    assert_eq!(
        (waiter.kind, waiter.resource.as_str(), waiter.job.as_str()),
        (HolderKind::Job, "b1", "build")
    );

    let fx = t.at(2 * SEC).acquired(1, 0, 100);
    let Effect::Grant { owner, .. } = &fx[0] else {
        panic!("{fx:?}")
    };
    assert_eq!(
        (
            owner.runner.as_str(),
            owner.org.as_str(),
            owner.repository.as_str()
        ),
        ("r1", "acme", "acme/fw")
    );
    assert_eq!(owner.since, (WALL0 + 2 * SEC) / 1000);
    assert_eq!(
        replies(&fx, 7),
        [
            Reply::Env("GHR_RESOURCE".into(), "b1".into()),
            Reply::Env("SERIAL".into(), "/dev/b1".into()),
            Reply::Info("runner-wrapper: acquired b1 after 2.0s".into()),
            Reply::Ok,
        ]
    );
    assert_eq!(t.core.held_for_jobs(), ["b1"]);

    let fx = t.at(5 * SEC).feed(Input::Completed { conn: 8 });
    let rel = released(&fx);
    assert_eq!(rel.len(), 1);
    let (member, lock, e) = &rel[0];
    assert_eq!((*member, *lock), (0, 100));
    assert_eq!((e.waited_ms(), e.held_ms()), (2 * SEC, 3 * SEC));
    assert_eq!(e.cause, "the job's completed hook ran");
    assert_eq!(
        replies(&fx, 8),
        [Reply::Info("runner-wrapper: released b1".into()), Reply::Ok]
    );
    // A second completed hook finds nothing to release.
    let fx = t.feed(Input::Completed { conn: 9 });
    assert_eq!(
        replies(&fx, 9)[0],
        Reply::Info("runner-wrapper: resource b1 was not held".into())
    );
}

#[test]
fn a_pool_request_waits_in_every_queue_and_takes_the_first_member() {
    let (mut t, _) = T::new(setup(&["a", "b", "c"]), vec![None, None, None]);
    let fx = t.started(1, "j");
    assert_eq!(queued(&fx), [(1, 0), (1, 1), (1, 2)]);
    let Effect::Queue { waiter, .. } = &fx[0] else {
        panic!()
    };
    assert_eq!(waiter.pool, "a,b,c");
    let fx = t.acquired(1, 1, 11);
    assert!(has(&fx, |e| *e == Effect::Withdraw { req: 1, member: 0 }));
    assert!(has(&fx, |e| *e == Effect::Withdraw { req: 1, member: 2 }));
    assert!(!has(&fx, |e| matches!(
        e,
        Effect::Withdraw { member: 1, .. }
    )));
    let r = replies(&fx, 1);
    assert_eq!(r[0], Reply::Env("GHR_RESOURCE".into(), "b".into()));
    assert_eq!(r[1], Reply::Env("SERIAL".into(), "/dev/b".into()));
    assert!(matches!(&r[2], Reply::Info(t) if t.contains("acquired b of pool a,b,c")));
    // A second member's lock arriving late is handed straight back.
    let fx = t.acquired(1, 2, 12);
    assert_eq!(
        fx,
        vec![Effect::Drop {
            req: 1,
            member: 2,
            lock: 12
        }]
    );
    assert_eq!(t.core.held_for_jobs(), ["b"]);
}

#[test]
fn unhealthy_members_are_skipped_and_a_job_with_none_left_fails_fast() {
    let (mut t, fx) = T::new(setup(&["a", "b"]), vec![rec(false, WALL0), None]);
    assert_eq!(fx, vec![Effect::StartRunner], "b is usable");
    let fx = t.started(1, "j");
    assert_eq!(queued(&fx), [(1, 1)], "a is skipped");

    // b turns unhealthy while the job waits: the job fails at once, with both outputs.
    let fx = t.feed(Input::HealthChanged {
        member: 1,
        record: rec(false, WALL0 + 1),
    });
    assert!(has(&fx, |e| *e == Effect::Withdraw { req: 1, member: 1 }));
    let r = replies(&fx, 1);
    let text: Vec<String> = r
        .iter()
        .map(|r| match r {
            Reply::Info(t) | Reply::Fail(t) => t.clone(),
            other => format!("{other:?}"),
        })
        .collect();
    assert_eq!(
        text.iter().filter(|l| l.as_str() == "  no console").count(),
        2,
        "{text:#?}"
    );
    assert!(failed(&fx, 1)
        .unwrap()
        .contains("every member of pool a,b is unhealthy"));
    // The job is over once its completion line comes; then, all unhealthy, the runner stops.
    assert!(
        !has(&fx, |e| *e == Effect::StopRunner),
        "not while the job runs"
    );
    let fx = t.feed(Input::JobLine);
    assert!(has(&fx, |e| *e == Effect::StopRunner));

    // The next job (a runner that was not stopped in time) fails before queueing.
    let fx = t.started(2, "k");
    assert!(queued(&fx).is_empty());
    assert!(failed(&fx, 2).is_some());
}

#[test]
fn a_member_found_unhealthy_under_its_lock_is_dropped() {
    let (mut t, _) = T::new(setup(&["a", "b"]), vec![None, None]);
    t.started(1, "j");
    let fx = t.feed(Input::Acquired {
        req: 1,
        member: 0,
        lock: 10,
        health: rec(false, WALL0),
    });
    assert_eq!(
        fx[0],
        Effect::Drop {
            req: 1,
            member: 0,
            lock: 10
        }
    );
    assert!(failed(&fx, 1).is_none(), "b is still possible");
    let fx = t.feed(Input::Acquired {
        req: 1,
        member: 1,
        lock: 11,
        health: rec(false, WALL0),
    });
    assert!(failed(&fx, 1).unwrap().contains("unhealthy"));
    assert!(t.core.held_for_jobs().is_empty());
}

#[test]
fn waiting_jobs_hear_who_holds_and_time_out() {
    let mut s = setup(&["b1"]);
    s.lock_timeout = Some(Duration::from_secs(30));
    let (mut t, _) = T::new(s, vec![None]);
    t.started(3, "j");
    assert_eq!(t.deadline_ms(), Some(50), "first status soon");
    let fx = t.at(50).feed(Input::Tick);
    assert!(matches!(
        fx[0],
        Effect::WaitStatus {
            conn: 3,
            timed_out: None,
            ..
        }
    ));
    assert_eq!(t.deadline_ms(), Some(10_050));
    let fx = t.at(30 * SEC).feed(Input::Tick);
    let Effect::WaitStatus {
        waiting, timed_out, ..
    } = &fx[0]
    else {
        panic!("{fx:?}")
    };
    assert_eq!(
        (waiting.as_slice(), *timed_out),
        (&[0][..], Some(Duration::from_secs(30)))
    );
    assert!(has(&fx, |e| *e == Effect::Withdraw { req: 1, member: 0 }));
    // Granted after giving up: handed back.
    let fx = t.acquired(1, 0, 5);
    assert!(matches!(fx[0], Effect::Drop { lock: 5, .. }));
}

#[test]
fn a_new_job_releases_a_leftover_lock_and_withdraws_an_orphaned_request() {
    let (mut t, _) = T::new(setup(&["b1"]), vec![None]);
    t.started(1, "a1");
    t.acquired(1, 0, 10);
    // a1's completed hook never ran and no line was seen.
    let fx = t.started(2, "a2");
    assert_eq!(released(&fx)[0].1, 10);
    assert_eq!(queued(&fx), [(2, 0)]);
    // a2's hook is orphaned (cancel) and a3 starts: a2's request is withdrawn.
    let fx = t.started(3, "a3");
    assert!(has(&fx, |e| *e == Effect::Withdraw { req: 2, member: 0 }));
    assert!(failed(&fx, 2).unwrap().contains("request withdrawn"));
    assert_eq!(queued(&fx), [(3, 0)]);
}

#[test]
fn a_hook_that_goes_away_withdraws_or_releases() {
    let (mut t, _) = T::new(setup(&["b1"]), vec![None]);
    t.started(1, "a");
    let fx = t.feed(Input::ClientGone { conn: 1 });
    assert!(has(&fx, |e| *e == Effect::Withdraw { req: 1, member: 0 }));
    assert!(has(
        &fx,
        |e| matches!(e, Effect::Log(l) if l.contains("started hook went away"))
    ));

    t.started(2, "b");
    t.acquired(2, 0, 20);
    // Closing after the grant is normal (the hook exits); nothing happens.
    assert!(t.feed(Input::ClientGone { conn: 2 }).is_empty());
    assert_eq!(t.core.held_for_jobs(), ["b1"]);
    // But a grant that could not be delivered is released.
    let fx = t.feed(Input::Undelivered { conn: 2 });
    assert_eq!(released(&fx)[0].1, 20);
}

#[test]
fn the_completion_line_releases_and_the_runner_exit_releases_and_exits() {
    let (mut t, _) = T::new(setup(&["b1"]), vec![None]);
    t.started(1, "a");
    t.acquired(1, 0, 10);
    let fx = t.feed(Input::JobLine);
    assert_eq!(
        released(&fx)[0].2.cause,
        "the runner reported the job completed"
    );
    t.started(2, "b");
    t.acquired(2, 0, 11);
    let fx = t.feed(Input::RunnerExited { code: 3 });
    assert_eq!(released(&fx)[0].1, 11);
    assert_eq!(fx.last(), Some(&Effect::Exit(3)));
    // After the exit, a straggling lock is handed back and nothing else happens.
    let fx = t.acquired(9, 0, 12);
    assert_eq!(
        fx,
        vec![Effect::Drop {
            req: 9,
            member: 0,
            lock: 12
        }]
    );
}

#[test]
fn signals_are_forwarded_and_stop_a_stopped_wrapper() {
    let (mut t, _) = T::new(setup(&["b1"]), vec![None]);
    assert_eq!(
        t.feed(Input::Signal(libc::SIGHUP)),
        vec![Effect::Signal(libc::SIGHUP)]
    );
    assert_eq!(
        t.feed(Input::Signal(libc::SIGTERM)),
        vec![Effect::Signal(libc::SIGTERM)]
    );
    assert_eq!(
        t.feed(Input::RunnerExited { code: 143 }),
        vec![Effect::Exit(143)]
    );

    // Unhealthy and stopped: a SIGTERM (docker stop) ends the wrapper itself.
    let (mut t, fx) = T::new(setup(&["b1"]), vec![rec(false, WALL0)]);
    assert!(fx.is_empty(), "not started: unhealthy");
    assert_eq!(t.feed(Input::Signal(libc::SIGTERM)), vec![Effect::Exit(0)]);
}

#[test]
fn release_through_the_control_socket() {
    let (mut t, _) = T::new(setup(&["b1"]), vec![None]);
    let fx = t.feed(Input::Release {
        conn: 50,
        resource: "b1".into(),
        force: true,
        by: "alice".into(),
    });
    assert!(failed(&fx, 50).unwrap().contains("does not hold b1"));
    t.started(1, "flash");
    t.acquired(1, 0, 10);
    let fx = t.feed(Input::Release {
        conn: 51,
        resource: "b1".into(),
        force: false,
        by: "alice".into(),
    });
    assert!(failed(&fx, 51).unwrap().contains("only --force"));
    assert!(released(&fx).is_empty());
    let fx = t.feed(Input::Release {
        conn: 52,
        resource: "b1".into(),
        force: true,
        by: "alice".into(),
    });
    let (_, lock, entry) = &released(&fx)[0];
    assert_eq!((*lock, entry.cause.as_str()), (10, "released by alice"));
    let r = replies(&fx, 52);
    assert!(matches!(&r[0], Reply::Info(t) if t.contains("keeps running on the board")));
    assert_eq!(r[1], Reply::Ok);
    // The job is still running: its completed hook later finds nothing to release.
    let fx = t.feed(Input::Completed { conn: 2 });
    assert!(released(&fx).is_empty());
}

#[test]
fn the_first_check_runs_under_the_lock_before_the_runner_starts() {
    let (mut t, fx) = T::new(checked(setup(&["b1"])), vec![None]);
    assert_eq!(queued(&fx), [(1, 0)]);
    assert!(
        !has(&fx, |e| *e == Effect::StartRunner),
        "unknown: check first"
    );
    let Effect::Queue { waiter, .. } = &fx[0] else {
        panic!()
    };
    assert_eq!(waiter.kind, HolderKind::Check);

    let fx = t.at(100).acquired(1, 0, 10);
    assert!(matches!(&fx[0], Effect::Grant { owner, .. } if owner.kind == HolderKind::Check));
    assert_eq!(fx[1], Effect::RunCheck { member: 0 });

    let fx = t.at(400).feed(Input::CheckDone {
        member: 0,
        exit_code: 0,
        output: "console ok\n".into(),
    });
    let write = fx
        .iter()
        .position(|e| matches!(e, Effect::WriteHealth { .. }))
        .unwrap();
    let release = fx
        .iter()
        .position(|e| matches!(e, Effect::Release { .. }))
        .unwrap();
    assert!(write < release, "the verdict is written under the lock");
    let Effect::WriteHealth { record, .. } = &fx[write] else {
        panic!()
    };
    assert!(record.healthy);
    assert_eq!(
        (record.output.as_str(), record.duration_ms),
        ("console ok", 300)
    );
    assert_eq!(released(&fx)[0].2.kind, HolderKind::Check);
    assert!(has(&fx, |e| *e == Effect::StartRunner));
    // Next check: one interval after this one, only while idle.
    assert_eq!(t.deadline_ms(), Some(60_400));
}

#[test]
fn a_failing_check_keeps_the_runner_offline_until_a_check_passes() {
    let (mut t, _) = T::new(checked(setup(&["b1"])), vec![None]);
    t.acquired(1, 0, 10);
    let fx = t.at(SEC).feed(Input::CheckDone {
        member: 0,
        exit_code: 2,
        output: "no console".into(),
    });
    assert!(has(
        &fx,
        |e| matches!(e, Effect::WriteHealth { record, .. } if !record.healthy)
    ));
    assert!(!has(&fx, |e| *e == Effect::StartRunner));
    assert_eq!(t.core.runner(), RunnerState::NotStarted);
    // Retried one interval later.
    assert_eq!(t.deadline_ms(), Some(61 * SEC));
    let fx = t.at(61 * SEC).feed(Input::Tick);
    assert_eq!(queued(&fx), [(2, 0)]);
    t.acquired(2, 0, 11);
    let fx = t.feed(Input::CheckDone {
        member: 0,
        exit_code: 0,
        output: String::new(),
    });
    assert!(has(&fx, |e| *e == Effect::StartRunner));
}

#[test]
fn a_periodic_check_that_fails_stops_the_running_runner_and_a_pass_restarts_it() {
    let (mut t, _) = T::new(checked(setup(&["b1"])), vec![rec(true, WALL0)]);
    assert_eq!(t.core.runner(), RunnerState::Running);
    // A job keeps the runner busy: no check is due meanwhile.
    t.at(59 * SEC).feed(Input::RunningJob);
    t.started(1, "j");
    t.acquired(1, 0, 10);
    let fx = t.at(70 * SEC).feed(Input::Tick);
    assert!(queued(&fx).is_empty(), "no check while busy");
    let fx = t.feed(Input::Completed { conn: 2 });
    assert_eq!(queued(&fx), [(2, 0)], "overdue: checked as soon as idle");
    t.acquired(2, 0, 11);
    let fx = t.feed(Input::CheckDone {
        member: 0,
        exit_code: 1,
        output: "dead".into(),
    });
    assert!(has(&fx, |e| *e == Effect::StopRunner));
    assert!(matches!(t.core.runner(), RunnerState::Stopping { .. }));
    let fx = t.feed(Input::RunnerExited { code: 0 });
    assert!(
        !has(&fx, |e| matches!(e, Effect::Exit(_))),
        "an expected stop: {fx:?}"
    );
    assert_eq!(t.core.runner(), RunnerState::Stopped);
    // Another org's wrapper re-checks and it passes: the record change brings us back.
    let fx = t.feed(Input::HealthChanged {
        member: 0,
        record: rec(true, WALL0 + 71 * SEC),
    });
    assert!(has(&fx, |e| *e == Effect::StartRunner));
}

#[test]
fn a_check_someone_else_just_ran_is_not_repeated() {
    let (mut t, fx) = T::new(checked(setup(&["b1"])), vec![rec(true, WALL0 - 120 * SEC)]);
    assert_eq!(queued(&fx), [(1, 0)]);
    assert!(
        has(&fx, |e| *e == Effect::StartRunner),
        "healthy (if old): start"
    );
    // Under the lock we find a fresh record written by another org's wrapper.
    let fx = t.at(SEC).feed(Input::Acquired {
        req: 1,
        member: 0,
        lock: 10,
        health: rec(true, WALL0 + 500),
    });
    assert_eq!(
        fx,
        vec![Effect::Drop {
            req: 1,
            member: 0,
            lock: 10
        }]
    );
}

#[test]
fn a_check_that_hangs_is_killed_and_counts_as_failed() {
    let (mut t, _) = T::new(checked(setup(&["b1"])), vec![None]);
    t.acquired(1, 0, 10);
    assert_eq!(t.deadline_ms(), Some(5 * SEC));
    let fx = t.at(5 * SEC).feed(Input::Tick);
    assert_eq!(fx, vec![Effect::KillCheck { member: 0 }]);
    let fx = t.feed(Input::CheckDone {
        member: 0,
        exit_code: 137,
        output: "booting".into(),
    });
    let Some(Effect::WriteHealth { record, .. }) =
        fx.iter().find(|e| matches!(e, Effect::WriteHealth { .. }))
    else {
        panic!()
    };
    assert!(!record.healthy);
    assert_eq!(record.exit_code, -1);
    assert_eq!(
        record.output,
        "booting\n(killed after 5s: RUNNER_HEALTHCHECK_TIMEOUT)"
    );
}

#[test]
fn a_runner_that_ignores_sigint_is_killed_after_the_grace() {
    let (mut t, _) = T::new(setup(&["b1"]), vec![None]);
    let fx = t.feed(Input::HealthChanged {
        member: 0,
        record: rec(false, WALL0),
    });
    assert!(has(&fx, |e| *e == Effect::StopRunner));
    assert_eq!(t.deadline_ms(), Some(30 * SEC));
    let fx = t.at(30 * SEC).feed(Input::Tick);
    assert!(has(&fx, |e| *e == Effect::Signal(libc::SIGKILL)));
    assert_eq!(t.deadline_ms(), None);
}

#[test]
fn a_check_that_cannot_queue_is_retried_an_interval_later() {
    let (mut t, _) = T::new(checked(setup(&["b1"])), vec![None]);
    let fx = t.feed(Input::AcquireFailed {
        req: 1,
        member: 0,
        error: "EACCES".into(),
    });
    assert!(queued(&fx).is_empty(), "no busy retry loop");
    assert_eq!(t.deadline_ms(), Some(60 * SEC));
}

#[test]
fn a_pulled_away_lock_is_re_established_and_the_grant_goes_on() {
    let (mut t, _) = T::new(setup(&["b1"]), vec![None]);
    t.started(1, "flash");
    t.acquired(1, 0, 10);
    let fx = t.at(3 * SEC).feed(Input::Relocked {
        member: 0,
        lock: 20,
        what: "the lock file /l/b1/lock was removed".into(),
    });
    assert!(has(&fx, |e| *e == Effect::Close(10)), "{fx:?}");
    let owner = fx
        .iter()
        .find_map(|e| match e {
            Effect::Relocked { member: 0, owner } => Some(owner.clone()),
            _ => None,
        })
        .expect("the owner record is written again");
    assert_eq!(
        (owner.job.as_str(), owner.relocked),
        ("flash", (WALL0 + 3 * SEC) / 1000)
    );
    assert!(has(&fx, |e| matches!(e, Effect::Log(l)
        if l.starts_with("WARNING: the lock file /l/b1/lock was removed while this runner held b1"))));
    // The job's end releases the new lock.
    let fx = t.feed(Input::Completed { conn: 2 });
    assert_eq!(released(&fx)[0].1, 20);
    // A re-established lock of a member released meanwhile is closed at once.
    let fx = t.feed(Input::Relocked {
        member: 0,
        lock: 30,
        what: "x".into(),
    });
    assert_eq!(fx, vec![Effect::Close(30)]);
}

/// When a lock cannot be re-established, the runner takes no more jobs: the waiting one fails,
/// the running one finishes, then the runner goes offline and the wrapper exits 1.
#[test]
fn a_lost_lock_directory_stops_granting_and_exits_once_idle() {
    let (mut t, _) = T::new(setup(&["a", "b"]), vec![None, None]);
    t.feed(Input::RunningJob);
    t.started(1, "one");
    t.acquired(1, 0, 10);
    let fx = t.feed(Input::LockLost {
        why: "the lock file /l/a/lock was removed and could not be re-established".into(),
    });
    assert!(has(
        &fx,
        |e| matches!(e, Effect::Log(l) if l.starts_with("ERROR: the lock file"))
    ));
    assert!(!has(&fx, |e| *e == Effect::StopRunner), "a job runs");
    // A later job (the runner may already have taken one) fails at once, naming the reason.
    let fx = t.started(2, "two");
    assert!(queued(&fx).is_empty());
    assert!(failed(&fx, 2)
        .unwrap()
        .contains("takes no more jobs: the lock file /l/a/lock"));
    // The running job ends: its lock is released, the runner is stopped, and then we exit 1.
    let fx = t.feed(Input::Completed { conn: 3 });
    assert_eq!(released(&fx)[0].1, 10);
    assert!(has(&fx, |e| *e == Effect::StopRunner), "{fx:?}");
    let fx = t.feed(Input::RunnerExited { code: 0 });
    assert_eq!(fx.last(), Some(&Effect::Exit(1)));
}

#[test]
fn a_lost_lock_directory_withdraws_waiting_jobs_and_checks() {
    let (mut t, _) = T::new(checked(setup(&["b1"])), vec![rec(true, WALL0)]);
    t.feed(Input::RunningJob);
    let fx = t.started(1, "j");
    assert_eq!(queued(&fx), [(1, 0)]);
    let fx = t.feed(Input::LockLost { why: "gone".into() });
    assert!(has(&fx, |e| *e == Effect::Withdraw { req: 1, member: 0 }));
    assert_eq!(
        failed(&fx, 1).as_deref(),
        Some("runner-wrapper: this runner takes no more jobs: gone")
    );
    // No check is ever due again (no busy loop of ticks), and the idle runner is stopped.
    t.feed(Input::JobLine);
    assert_eq!(
        t.core.runner(),
        RunnerState::Stopping {
            since: t.now().mono,
            killed: false
        }
    );
    assert_eq!(
        t.at(120 * SEC).deadline_ms(),
        Some(30 * SEC),
        "only the stop grace"
    );
}

#[test]
fn a_failed_check_is_repaired_under_the_lock_then_checked_again() {
    let (mut t, _) = T::new(repaired(setup(&["b1"]), 2), vec![None]);
    t.acquired(1, 0, 10);
    let fx = t.at(SEC).feed(done(2, "no console"));
    // Still held, no verdict written, the owner record says "repairing".
    assert_eq!(reowned(&fx), [HolderKind::Repair]);
    assert!(has(&fx, |e| *e == Effect::RunRepair { member: 0 }));
    assert!(released(&fx).is_empty(), "{fx:?}");
    assert!(!has(&fx, |e| matches!(e, Effect::WriteHealth { .. })));
    // A job that starts meanwhile queues behind the lock we hold.
    let fx = t.at(2 * SEC).started(1, "j");
    assert_eq!(queued(&fx), [(2, 0)]);
    assert!(!replies(&fx, 1).contains(&Reply::Ok));

    let fx = t.at(4 * SEC).feed(done(0, "relay cycled"));
    let entries = ledgered(&fx);
    assert_eq!(entries.len(), 1, "{fx:?}");
    assert_eq!(entries[0].kind, HolderKind::Repair);
    assert_eq!(entries[0].cause, "repair 1 of 2 exit 0");
    assert_eq!(entries[0].held_ms(), 3 * SEC, "the repair's own span");
    assert_eq!(reowned(&fx), [HolderKind::Check]);
    assert!(has(&fx, |e| *e == Effect::RunCheck { member: 0 }));
    assert!(released(&fx).is_empty());

    let fx = t.at(5 * SEC).feed(done(0, "console ok"));
    assert!(has(
        &fx,
        |e| matches!(e, Effect::WriteHealth { record, .. } if record.healthy)
    ));
    let rel = released(&fx);
    assert_eq!(rel[0].2.kind, HolderKind::Check);
    assert_eq!(
        rel[0].2.cause,
        "health check done: healthy after 1 repair(s)"
    );
    // Only now can the job's queue thread get the lock, and it is granted.
    let fx = t.acquired(2, 0, 11);
    assert!(replies(&fx, 1).contains(&Reply::Ok), "{fx:?}");
}

#[test]
fn repairs_stop_at_the_configured_attempts() {
    // (repairs allowed, check results in order) -> (repairs run, healthy at the end)
    let table: &[(u32, &[i32], u32, bool)] = &[
        (0, &[1], 0, false),
        (2, &[1, 1, 1], 2, false),
        (2, &[1, 1, 0], 2, true),
        (3, &[1, 0], 1, true),
        (1, &[0], 0, true),
    ];
    for &(allowed, results, want_repairs, want_healthy) in table {
        let (mut t, _) = T::new(repaired(setup(&["b1"]), allowed), vec![None]);
        t.acquired(1, 0, 10);
        let mut repairs = 0;
        let mut last = Vec::new();
        for (i, &code) in results.iter().enumerate() {
            let fx = t.at((i as u64 + 1) * SEC).feed(done(code, "x"));
            if has(&fx, |e| *e == Effect::RunRepair { member: 0 }) {
                repairs += 1;
                let fx = t.feed(done(0, "repaired"));
                assert!(has(&fx, |e| *e == Effect::RunCheck { member: 0 }));
            }
            last = fx;
        }
        let case = format!("{allowed} {results:?}");
        assert_eq!(repairs, want_repairs, "{case}");
        let Some(Effect::WriteHealth { record, .. }) = last
            .iter()
            .find(|e| matches!(e, Effect::WriteHealth { .. }))
        else {
            panic!("{case}: no verdict: {last:?}")
        };
        assert_eq!(record.healthy, want_healthy, "{case}");
        assert_eq!(released(&last).len(), 1, "{case}");
        assert_eq!(
            has(&last, |e| *e == Effect::StartRunner),
            want_healthy,
            "{case}"
        );
    }
}

#[test]
fn a_repair_that_hangs_is_killed_and_the_check_decides() {
    let (mut t, _) = T::new(repaired(setup(&["b1"]), 1), vec![None]);
    t.acquired(1, 0, 10);
    t.at(SEC).feed(done(1, "dead"));
    assert_eq!(
        t.deadline_ms(),
        Some(6 * SEC),
        "the check's timeout bounds a repair"
    );
    let fx = t.at(6 * SEC).feed(Input::Tick);
    assert_eq!(fx, vec![Effect::KillCheck { member: 0 }]);
    let fx = t.feed(done(137, ""));
    assert_eq!(ledgered(&fx)[0].cause, "repair 1 of 1 killed after 5s");
    assert!(has(&fx, |e| *e == Effect::RunCheck { member: 0 }));
    let fx = t.at(7 * SEC).feed(done(1, "dead"));
    assert!(!has(&fx, |e| *e == Effect::RunRepair { member: 0 }));
    assert_eq!(
        released(&fx)[0].2.cause,
        "health check done: still unhealthy after 1 repair(s)"
    );
}

#[test]
fn a_repair_released_by_hand_does_not_check_without_the_lock() {
    let (mut t, _) = T::new(repaired(setup(&["b1"]), 2), vec![None]);
    t.acquired(1, 0, 10);
    t.at(SEC).feed(done(1, "dead"));
    let fx = t.feed(Input::Release {
        conn: 9,
        resource: "b1".into(),
        force: false,
        by: "admin".into(),
    });
    assert_eq!(
        released(&fx).len(),
        1,
        "a repair is no job: no --force needed"
    );
    let fx = t.at(2 * SEC).feed(done(0, "cycled"));
    assert!(
        !has(&fx, |e| matches!(e, Effect::RunCheck { .. })),
        "{fx:?}"
    );
    assert!(ledgered(&fx).is_empty());
}

// ------------------------------------------------------------ queue at GitHub (park)

fn queueing(s: Setup) -> Setup {
    Setup {
        queue_courtesy: Some(Duration::from_secs(10)),
        ..s
    }
}

fn occupied(member: usize, held: bool, parked_others: usize) -> Input<u32> {
    Input::Occupancy {
        member,
        occupancy: Occupancy {
            held,
            parked_others,
        },
    }
}

const SETTLED: u64 = 1500;

#[test]
fn off_a_busy_board_keeps_the_runner_online() {
    let (mut t, _) = T::new(setup(&["b1"]), vec![None]);
    let fx = t.at(5 * SEC).feed(occupied(0, true, 0));
    assert!(
        fx.is_empty(),
        "today's behaviour: FIFO on the runner: {fx:?}"
    );
    assert_eq!(t.core.runner(), RunnerState::Running);
}

#[test]
fn a_busy_board_parks_the_idle_runner_and_its_release_brings_it_back() {
    let (mut t, fx) = T::new(queueing(setup(&["b1"])), vec![None]);
    assert_eq!(fx, vec![Effect::StartRunner]);
    // Just started: a job may be on its way; not yet.
    let fx = t.at(SEC).feed(occupied(0, true, 0));
    assert!(!has(&fx, |e| *e == Effect::ParkRunner), "{fx:?}");
    assert_eq!(t.deadline_ms(), Some(SETTLED));
    let fx = t.at(SETTLED).feed(Input::Tick);
    assert!(has(&fx, |e| *e == Effect::ParkRunner), "{fx:?}");
    assert!(has(&fx, |e| *e == Effect::Parked(true)));
    let fx = t.feed(Input::RunnerExited { code: 0 });
    assert_eq!(t.core.runner(), RunnerState::Stopped);
    assert!(!has(&fx, |e| matches!(e, Effect::Exit(_))), "{fx:?}");
    // Still busy: nothing; free: start again. The marker stays while the runner comes
    // online (a runner owing a courtesy keeps waiting for us), until our job is granted the
    // board or we idled past the settle (nothing was queued for us).
    assert!(t.feed(occupied(0, true, 0)).is_empty());
    let fx = t.at(5 * SEC).feed(occupied(0, false, 0));
    assert!(has(&fx, |e| *e == Effect::StartRunner), "{fx:?}");
    assert!(!has(&fx, |e| *e == Effect::Parked(false)), "{fx:?}");
    assert_eq!(t.core.runner(), RunnerState::Running);
    assert_eq!(t.deadline_ms(), Some(5 * SEC + SETTLED));
    let fx = t.at(5 * SEC + SETTLED).feed(Input::Tick);
    assert!(has(&fx, |e| *e == Effect::Parked(false)), "{fx:?}");
}

#[test]
fn a_runner_back_from_parked_shows_its_marker_until_its_job_has_the_board() {
    let (mut t, _) = T::new(queueing(setup(&["b1"])), vec![None]);
    t.at(SETTLED).feed(occupied(0, true, 0));
    t.feed(Input::RunnerExited { code: 0 });
    let fx = t.at(5 * SEC).feed(occupied(0, false, 0));
    assert!(has(&fx, |e| *e == Effect::StartRunner), "{fx:?}");
    // GitHub hands it a job at once: still marked until the grant...
    assert!(!has(&t.at(5 * SEC + 200).feed(Input::RunningJob), |e| {
        *e == Effect::Parked(false)
    }));
    t.started(7, "build");
    let fx = t.acquired(1, 0, 100);
    // ...whose owner record comes first, then the marker goes.
    let grant = fx.iter().position(|e| matches!(e, Effect::Grant { .. }));
    let unmark = fx.iter().position(|e| *e == Effect::Parked(false));
    assert!(grant.is_some() && unmark > grant, "{fx:?}");
}

#[test]
fn a_busy_board_at_start_up_keeps_the_runner_offline() {
    let t0 = Instant::now();
    let mut core: Core<u32> = Core::new(queueing(setup(&["b1"])), vec![None]);
    core.observe(
        0,
        Occupancy {
            held: true,
            parked_others: 0,
        },
    );
    let fx = core.start(Now {
        mono: t0,
        wall_ms: WALL0,
    });
    assert_eq!(fx[0], Effect::Parked(true));
    assert!(
        has(
            &fx,
            |e| matches!(e, Effect::Log(l) if l.contains("b1 is busy"))
        ),
        "{fx:?}"
    );
    assert!(!has(&fx, |e| *e == Effect::StartRunner), "{fx:?}");
    assert_eq!(core.runner(), RunnerState::NotStarted);
}

#[test]
fn a_runner_with_a_job_is_never_parked() {
    let (mut t, _) = T::new(queueing(setup(&["b1"])), vec![None]);
    // Assigned: the Listener's line comes before the started hook.
    t.at(2 * SEC).feed(Input::RunningJob);
    let fx = t.feed(occupied(0, true, 0));
    assert!(!has(&fx, |e| *e == Effect::ParkRunner), "{fx:?}");
    // Waiting in the lock queue (it was assigned before the board turned busy): FIFO as today.
    t.started(7, "build");
    assert!(!has(&t.feed(occupied(0, true, 0)), |e| *e == Effect::ParkRunner));
    t.acquired(1, 0, 100);
    // Its completed hook runs inside the job: still not before the Listener's line.
    let fx = t.at(3 * SEC).feed(Input::Completed { conn: 8 });
    assert_eq!(released(&fx).len(), 1);
    let fx = t.feed(occupied(0, true, 0));
    assert!(
        !has(&fx, |e| *e == Effect::ParkRunner),
        "Worker may still run: {fx:?}"
    );
    // The line: GitHub may hand the next job over right now, so only after the settle time.
    let fx = t.at(4 * SEC).feed(Input::JobLine);
    assert!(!has(&fx, |e| *e == Effect::ParkRunner), "{fx:?}");
    let fx = t.at(4 * SEC + SETTLED).feed(Input::Tick);
    assert!(has(&fx, |e| *e == Effect::ParkRunner), "{fx:?}");
}

#[test]
fn a_job_handed_over_right_after_the_last_one_keeps_the_runner_online() {
    let (mut t, _) = T::new(queueing(setup(&["b1"])), vec![None]);
    t.at(2 * SEC).feed(Input::RunningJob);
    t.started(7, "build");
    t.acquired(1, 0, 100);
    t.feed(occupied(0, true, 1));
    t.at(3 * SEC).feed(Input::Completed { conn: 8 });
    t.feed(Input::JobLine);
    // The next job of this runner's org, within the settle time: not parked, not ever while
    // it runs.
    let fx = t.at(3 * SEC + 200).feed(Input::RunningJob);
    assert!(!has(&fx, |e| *e == Effect::ParkRunner));
    let fx = t.at(9 * SEC).feed(Input::Tick);
    assert!(!has(&fx, |e| *e == Effect::ParkRunner), "{fx:?}");
}

#[test]
fn a_worker_found_just_before_the_signal_cancels_the_park() {
    let (mut t, _) = T::new(queueing(setup(&["b1"])), vec![None]);
    let fx = t.at(2 * SEC).feed(occupied(0, true, 0));
    assert!(has(&fx, |e| *e == Effect::ParkRunner));
    // The shell saw a Runner.Worker under the runner: the job was assigned meanwhile.
    let fx = t.feed(Input::ParkRefused);
    assert!(!has(&fx, |e| *e == Effect::ParkRunner), "{fx:?}");
    assert!(
        has(&fx, |e| *e == Effect::Parked(false)),
        "not parked after all: {fx:?}"
    );
    assert_eq!(t.core.runner(), RunnerState::Running);
    // The job's lines follow; once it is over (and settled) the runner parks.
    t.feed(Input::RunningJob);
    t.at(3 * SEC).feed(Input::JobLine);
    let fx = t.at(3 * SEC + SETTLED).feed(Input::Tick);
    assert!(has(&fx, |e| *e == Effect::ParkRunner), "{fx:?}");
}

#[test]
fn a_pool_parks_only_when_every_member_is_busy() {
    let (mut t, _) = T::new(queueing(setup(&["b1", "b2"])), vec![None, None]);
    t.at(2 * SEC);
    assert!(!has(&t.feed(occupied(0, true, 0)), |e| *e == Effect::ParkRunner));
    assert!(has(&t.feed(occupied(1, true, 0)), |e| *e == Effect::ParkRunner));
}

/// A runner that ran a job on b1 while another runner was parked for it; its line came at 3 s.
fn after_a_job_others_waited_for() -> T {
    let (mut t, _) = T::new(queueing(setup(&["b1"])), vec![None]);
    t.at(2 * SEC).feed(Input::RunningJob);
    t.started(7, "build");
    t.acquired(1, 0, 100);
    // Our own grant: held, but ours; another org's runner parked meanwhile.
    let fx = t.feed(occupied(0, true, 1));
    assert!(!has(&fx, |e| *e == Effect::ParkRunner));
    t.at(3 * SEC).feed(Input::Completed { conn: 8 });
    t.feed(occupied(0, false, 1));
    let fx = t.feed(Input::JobLine);
    assert!(!has(&fx, |e| *e == Effect::ParkRunner), "{fx:?}");
    t
}

#[test]
fn after_its_job_a_runner_steps_aside_for_parked_runners_then_comes_back() {
    let mut t = after_a_job_others_waited_for();
    let fx = t.at(3 * SEC + SETTLED).feed(Input::Tick);
    assert!(has(&fx, |e| *e == Effect::ParkRunner), "courtesy: {fx:?}");
    t.feed(Input::RunnerExited { code: 0 });
    assert_eq!(t.deadline_ms(), Some(13 * SEC));
    // The other runner takes the board and lets it go: our turn, before the 10 s.
    assert!(t.at(6 * SEC).feed(occupied(0, true, 1)).is_empty());
    let fx = t.at(8 * SEC).feed(occupied(0, false, 0));
    assert!(has(&fx, |e| *e == Effect::StartRunner), "{fx:?}");
}

#[test]
fn the_courtesy_ends_by_itself_when_nobody_takes_the_board() {
    let mut t = after_a_job_others_waited_for();
    t.at(3 * SEC + SETTLED).feed(Input::Tick);
    t.feed(Input::RunnerExited { code: 0 });
    assert!(t.at(8 * SEC).feed(occupied(0, false, 1)).is_empty());
    let fx = t.at(13 * SEC).feed(Input::Tick);
    assert!(has(&fx, |e| *e == Effect::StartRunner), "{fx:?}");
}

#[test]
fn no_courtesy_when_nobody_was_parked() {
    let (mut t, _) = T::new(queueing(setup(&["b1"])), vec![None]);
    t.at(2 * SEC).feed(Input::RunningJob);
    t.started(7, "build");
    t.acquired(1, 0, 100);
    t.feed(occupied(0, true, 0));
    t.feed(Input::Completed { conn: 8 });
    t.feed(Input::JobLine);
    let fx = t.at(9 * SEC).feed(Input::Tick);
    assert!(!has(&fx, |e| *e == Effect::ParkRunner), "{fx:?}");
}

#[test]
fn a_parked_runner_exits_on_sigterm() {
    let (mut t, _) = T::new(queueing(setup(&["b1"])), vec![None]);
    t.at(2 * SEC).feed(occupied(0, true, 0));
    t.feed(Input::RunnerExited { code: 0 });
    let fx = t.feed(Input::Signal(libc::SIGTERM));
    assert!(has(&fx, |e| *e == Effect::Parked(false)), "{fx:?}");
    assert!(has(&fx, |e| *e == Effect::Exit(0)), "{fx:?}");
}

// ---------------------------------------------------------------- one-job runners (turns)

fn turns(fx: &Fx) -> Vec<(Vec<usize>, u64)> {
    fx.iter()
        .filter_map(|e| match e {
            Effect::Turn {
                members,
                courtesy_until_ms,
            } => Some((members.clone(), *courtesy_until_ms)),
            _ => None,
        })
        .collect()
}

#[test]
fn a_job_end_leaves_the_turn_with_the_courtesy_owed() {
    // Others parked during the job: the courtesy's end (3 s + 10 s), for the next generation.
    let (mut t, _) = T::new(queueing(setup(&["b1"])), vec![None]);
    t.at(2 * SEC).feed(Input::RunningJob);
    t.started(7, "build");
    t.acquired(1, 0, 100);
    t.feed(occupied(0, true, 1));
    let fx = t.at(3 * SEC).feed(Input::Completed { conn: 8 });
    assert_eq!(turns(&fx), vec![(vec![0], WALL0 + 13 * SEC)], "{fx:?}");
    // The completion line afterwards ends nothing more: no second turn.
    assert!(turns(&t.feed(Input::JobLine)).is_empty());
    // Nobody parked: the turn says no courtesy is owed (0), so a stale one is overwritten.
    let (mut t, _) = T::new(queueing(setup(&["b1"])), vec![None]);
    t.at(2 * SEC).feed(Input::RunningJob);
    t.started(7, "build");
    t.acquired(1, 0, 100);
    t.feed(occupied(0, true, 0));
    let fx = t.at(3 * SEC).feed(Input::Completed { conn: 8 });
    assert_eq!(turns(&fx), vec![(vec![0], 0)], "{fx:?}");
    // The option off: no turn file at all.
    let (mut t, _) = T::new(setup(&["b1"]), vec![None]);
    t.started(7, "build");
    t.acquired(1, 0, 100);
    assert!(turns(&t.feed(Input::Completed { conn: 8 })).is_empty());
}

/// A new generation (a new wrapper) of org `org`'s runner on b1, whose turn file says `turn`;
/// the board is free and one runner of another org is parked for it.
fn new_generation(turn: crate::turn::Turn, courtesy: bool) -> (T, Fx) {
    let t0 = Instant::now();
    let s = if courtesy {
        queueing(setup(&["b1"]))
    } else {
        setup(&["b1"])
    };
    let mut core: Core<u32> = Core::new(s, vec![None]);
    let now = Now {
        mono: t0,
        wall_ms: WALL0,
    };
    core.inherit_turns(now, &[Some(turn)]);
    core.observe(
        0,
        Occupancy {
            held: false,
            parked_others: 1,
        },
    );
    let fx = core.start(now);
    (T { core, t0, ms: 0 }, fx)
}

fn turn(org: &str, until_ms: u64) -> crate::turn::Turn {
    crate::turn::Turn {
        org: org.into(),
        courtesy_until_ms: until_ms,
    }
}

#[test]
fn a_new_generation_of_the_org_that_had_the_board_waits_for_the_other_org() {
    let (mut t, fx) = new_generation(turn("acme", WALL0 + 6 * SEC), true);
    assert!(has(&fx, |e| *e == Effect::Parked(true)), "{fx:?}");
    assert!(!has(&fx, |e| *e == Effect::StartRunner), "{fx:?}");
    assert!(
        has(
            &fx,
            |e| matches!(e, Effect::Log(l) if l.contains("another org's turn"))
        ),
        "{fx:?}"
    );
    assert_eq!(t.core.runner(), RunnerState::NotStarted);
    assert_eq!(t.deadline_ms(), Some(6 * SEC));
    // The other org's runner comes online (its marker stays meanwhile), takes the board,
    // lets it go: our turn.
    assert!(!has(&t.at(SEC).feed(occupied(0, false, 1)), |e| {
        *e == Effect::StartRunner
    }));
    assert!(!has(&t.at(2 * SEC).feed(occupied(0, true, 0)), |e| {
        *e == Effect::StartRunner
    }));
    let fx = t.at(4 * SEC).feed(occupied(0, false, 0));
    assert!(has(&fx, |e| *e == Effect::StartRunner), "{fx:?}");
    // Our marker stays while we come online (the other org's next runner waits for us).
    assert!(!has(&fx, |e| *e == Effect::Parked(false)), "{fx:?}");
}

#[test]
fn an_inherited_courtesy_ends_once_nobody_is_parked_or_coming() {
    // The other org's runner came online and had nothing queued (it idled past the settle and
    // took its marker away), or there is none: nobody to step aside for.
    let (mut t, _) = new_generation(turn("acme", WALL0 + 6 * SEC), true);
    let fx = t.at(2 * SEC).feed(occupied(0, false, 0));
    assert!(has(&fx, |e| *e == Effect::StartRunner), "{fx:?}");
    let t0 = Instant::now();
    let mut core: Core<u32> = Core::new(queueing(setup(&["b1"])), vec![None]);
    let now = Now {
        mono: t0,
        wall_ms: WALL0,
    };
    core.inherit_turns(now, &[Some(turn("acme", WALL0 + 6 * SEC))]);
    core.observe(0, Occupancy::default());
    assert!(has(&core.start(now), |e| *e == Effect::StartRunner));
}

#[test]
fn an_inherited_courtesy_nobody_uses_runs_out() {
    let (mut t, _) = new_generation(turn("acme", WALL0 + 6 * SEC), true);
    assert!(!has(&t.at(5 * SEC).feed(Input::Tick), |e| {
        *e == Effect::StartRunner
    }));
    let fx = t.at(6 * SEC).feed(Input::Tick);
    assert!(has(&fx, |e| *e == Effect::StartRunner), "{fx:?}");
}

#[test]
fn a_new_generation_starts_at_once_when_it_is_its_turn() {
    // (turn, queue at GitHub on)
    let rows = [
        (turn("globex", WALL0 + 6 * SEC), true), // the other org had the last job
        (turn("acme", 0), true),                 // nobody waited during ours
        (turn("acme", WALL0), true),             // the courtesy is over
        (turn("acme", WALL0 + 6 * SEC), false),  // the option off
    ];
    for (i, (tn, on)) in rows.into_iter().enumerate() {
        let (t, fx) = new_generation(tn, on);
        assert!(has(&fx, |e| *e == Effect::StartRunner), "row {i}: {fx:?}");
        assert_eq!(t.core.runner(), RunnerState::Running, "row {i}");
    }
}

#[test]
fn a_one_job_runner_is_never_parked_after_its_job_and_its_exit_ends_the_wrapper_with_0() {
    let one_job = |s: Setup| Setup { one_job: true, ..s };
    let (mut t, _) = T::new(one_job(queueing(setup(&["b1"]))), vec![None]);
    t.at(2 * SEC).feed(Input::RunningJob);
    t.started(7, "build");
    t.acquired(1, 0, 100);
    t.feed(occupied(0, true, 1));
    let fx = t.at(3 * SEC).feed(Input::Completed { conn: 8 });
    assert_eq!(turns(&fx), vec![(vec![0], WALL0 + 13 * SEC)], "{fx:?}");
    t.feed(Input::JobLine);
    // Courtesy owed and another org's runner takes the board: a persistent runner would be
    // parked (SIGINT, restarted later); a one-job runner is left to exit by itself.
    t.feed(occupied(0, true, 1));
    let fx = t.at(3 * SEC + SETTLED + 1).feed(Input::Tick);
    assert!(!has(&fx, |e| *e == Effect::ParkRunner), "{fx:?}");
    // Whatever its exit code (a JIT runner's session teardown may fail), one job was done:
    // exit 0, so its container ends and a new generation takes the next job.
    let fx = t.at(4 * SEC).feed(Input::RunnerExited { code: 1 });
    assert!(has(&fx, |e| *e == Effect::Exit(0)), "{fx:?}");
    assert!(!has(&fx, |e| *e == Effect::StartRunner), "{fx:?}");
    // Before its job it is parked like any runner (it is offline, so GitHub keeps its job
    // queued); a persistent runner's exit is still its own code.
    let (mut t, _) = T::new(one_job(queueing(setup(&["b1"]))), vec![None]);
    let fx = t.at(2 * SEC).feed(occupied(0, true, 0));
    assert!(has(&fx, |e| *e == Effect::ParkRunner), "{fx:?}");
    let fx = t.feed(Input::RunnerExited { code: 0 });
    assert!(!has(&fx, |e| matches!(e, Effect::Exit(_))), "{fx:?}");
    let (mut t, _) = T::new(queueing(setup(&["b1"])), vec![None]);
    t.at(2 * SEC).feed(Input::RunningJob);
    t.feed(Input::JobLine);
    let fx = t.feed(Input::RunnerExited { code: 3 });
    assert!(has(&fx, |e| *e == Effect::Exit(3)), "{fx:?}");
}
