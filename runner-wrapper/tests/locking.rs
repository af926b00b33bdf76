//! Host-level tests of runner-wrapper: real processes, real flock, real Unix sockets.

mod support;

use std::time::{Duration, Instant};

use support::*;

const R: &str = "board-1";

/// Wait until `n` live tickets are queued for R.
fn queued(s: &Scratch, names: &[&str]) {
    let want: Vec<String> = names.iter().map(|n| n.to_string()).collect();
    wait_status(&s.lock_dir(), R, &format!("queue {want:?}"), |st| {
        live_waiters(st) == want
    });
}

#[test]
fn two_wrappers_alternate_without_overlap_and_hand_off_fast() {
    let s = Scratch::new("two");
    let mut a = Wrapper::spawn(&s, Spec::new("A", R));
    let mut b = Wrapper::spawn(&s, Spec::new("B", R));
    for i in 0..10 {
        a.job(&format!("a{i} 0.05"));
        b.job(&format!("b{i} 0.05"));
    }
    a.wait_event("completed", "a9", secs(30));
    b.wait_event("completed", "b9", secs(30));
    let iv = intervals(&[&a, &b]);
    assert_eq!(iv.len(), 20, "{iv:?}");
    assert_no_overlap(&iv);
    let h = handoffs(&[&a, &b]);
    assert!(h.len() >= 10, "too few handoffs: {h:?}");
    let median = percentile(&h, 0.5);
    eprintln!("handoffs: n={} median={:.2}ms", h.len(), median * 1e3);
    // Generous bound for a loaded CI machine; the bench measures the real figure.
    assert!(median < 0.05, "median handoff {median}s: {h:?}");
}

#[test]
fn three_wrappers_are_served_first_come_first_served() {
    let s = Scratch::new("fifo");
    let mut a = Wrapper::spawn(&s, Spec::new("A", R));
    let mut b = Wrapper::spawn(&s, Spec::new("B", R));
    let mut c = Wrapper::spawn(&s, Spec::new("C", R));
    a.job("a1 0.5");
    a.wait_event("start", "a1", secs(10));
    c.job("c1 0.05");
    queued(&s, &["C"]);
    b.job("b1 0.05");
    queued(&s, &["C", "B"]);
    // A's runner asks again only after a1: the releaser must not jump the queue.
    a.job("a2 0.05");
    a.wait_event("end", "a2", secs(10));
    let iv = intervals(&[&a, &b, &c]);
    assert_no_overlap(&iv);
    let order: Vec<&str> = iv.iter().map(|i| i.3.as_str()).collect();
    assert_eq!(order, ["a1", "c1", "b1", "a2"]);
    // The waiting hook printed who held the resource and its place in the queue.
    let log = b.job_log("b1");
    assert!(log.contains("held by runner A"), "{log}");
    assert!(log.contains("place in queue 2 of 2"), "{log}");
}

#[test]
fn status_shows_holder_and_waiters_and_stale_records() {
    let s = Scratch::new("status");
    let mut a = Wrapper::spawn(&s, Spec::new("A", R).env("GHR_ORG", "acme"));
    let mut b = Wrapper::spawn(&s, Spec::new("B", R));
    a.job("a1 30");
    a.wait_event("start", "a1", secs(10));
    b.job("b1 0.01");
    queued(&s, &["B"]);
    let st = &runner_wrapper::read_lock_dir(&s.lock_dir()).unwrap()[0];
    assert_eq!(st.resource, R);
    assert!(st.locked);
    let h = st.live_holder().expect("holder");
    assert_eq!(h.record.runner, "A");
    assert_eq!(h.record.org, "acme");
    assert_eq!(h.record.repository, "org-A/repo-A");
    assert_eq!(h.record.job, "a1");
    assert_eq!(h.record.run_id, "10001");
    assert_eq!(st.waiters.len(), 1);
    assert_eq!(st.waiters[0].record.runner, "B");
    assert!(st.waiters[0].alive);

    // Kill both: A's owner record stays behind but the lock is free -> stale, not a holder.
    b.signal(libc::SIGKILL);
    b.wait_exit(secs(5));
    a.signal(libc::SIGKILL);
    a.wait_exit(secs(5));
    let st = &runner_wrapper::read_lock_dir(&s.lock_dir()).unwrap()[0];
    assert!(!st.locked);
    assert!(st.holder.as_ref().unwrap().stale, "{st:#?}");
    assert!(st.live_holder().is_none());
    assert_eq!(st.live_waiters().count(), 0, "{st:#?}");
}

#[test]
fn cancel_while_waiting_withdraws_and_the_next_waiter_proceeds() {
    let s = Scratch::new("cancel");
    let mut a = Wrapper::spawn(&s, Spec::new("A", R));
    let mut b = Wrapper::spawn(&s, Spec::new("B", R));
    let mut c = Wrapper::spawn(&s, Spec::new("C", R));
    a.job("a1 1");
    a.wait_event("start", "a1", secs(10));
    // No completed hook, no completion line: only the hook leaving can withdraw the request.
    b.job("b1 0.05 nocompleted noline");
    queued(&s, &["B"]);
    c.job("c1 0.05");
    queued(&s, &["B", "C"]);
    // The runner's cancel: the started hook is signalled.
    let hook = b.wait_event("hook-started", "b1", secs(5));
    let pid: i32 = hook.rest[0].parse().unwrap();
    kill(pid, libc::SIGTERM);
    b.wait_event("startfail", "b1", secs(5));
    queued(&s, &["C"]);
    b.err.wait("withdrawal", secs(5), |l| {
        l.contains("started hook went away")
    });
    let done = a.wait_event("completed", "a1", secs(10));
    let c_start = c.wait_event("start", "c1", secs(5));
    assert!(c_start.t() - done.t() < 1.0);
    assert!(b.events().iter().all(|e| e.kind != "start"));
    assert_no_overlap(&intervals(&[&a, &b, &c]));
}

#[test]
fn orphaned_started_hook_gives_up_and_leaves_the_queue() {
    let s = Scratch::new("orphan");
    let mut a = Wrapper::spawn(&s, Spec::new("A", R));
    let mut b = Wrapper::spawn(&s, Spec::new("B", R));
    a.job("a1 30");
    a.wait_event("start", "a1", secs(10));
    // No completed hook, no completion line: only the hook leaving can withdraw the request.
    b.job("b1 0.05 nocompleted noline");
    queued(&s, &["B"]);
    let hook: i32 = b.wait_event("hook-started", "b1", secs(5)).rest[0]
        .parse()
        .unwrap();
    // The runner kills the Worker after a cancel; the hook is orphaned, not killed.
    let worker: i32 = b.wait_event("worker-started", "b1", secs(5)).rest[0]
        .parse()
        .unwrap();
    kill(worker, libc::SIGKILL);
    b.wait_event("startfail", "b1", secs(5));
    b.err.wait("withdrawal", secs(5), |l| {
        l.contains("started hook went away")
    });
    queued(&s, &[]);
    let deadline = Instant::now() + secs(2);
    while alive(hook) {
        assert!(
            Instant::now() < deadline,
            "orphaned hook {hook} still running"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    assert!(
        b.child.try_wait().unwrap().is_none(),
        "B's wrapper keeps running"
    );
}

/// Alive and not a zombie.
fn alive(pid: i32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map(|s| {
            !s.rsplit(')')
                .next()
                .unwrap_or("")
                .trim_start()
                .starts_with('Z')
        })
        .unwrap_or(false)
}

#[test]
fn missing_completed_hook_is_covered_by_the_completion_line() {
    let s = Scratch::new("line");
    let mut a = Wrapper::spawn(&s, Spec::new("A", R));
    let mut b = Wrapper::spawn(&s, Spec::new("B", R));
    a.job("a1 0.3 nocompleted");
    a.wait_event("start", "a1", secs(10));
    b.job("b1 0.05");
    queued(&s, &["B"]);
    b.wait_event("start", "b1", secs(5));
    a.err.wait("release by line", secs(5), |l| {
        l.contains("runner reported the job completed")
    });
    assert_no_overlap(&intervals(&[&a, &b]));
}

#[test]
fn missing_completed_hook_and_line_is_covered_by_the_runner_exit() {
    let s = Scratch::new("exit");
    let mut a = Wrapper::spawn(&s, Spec::new("A", R));
    let mut b = Wrapper::spawn(&s, Spec::new("B", R));
    a.job("a1 0.3 nocompleted noline exit=3");
    a.wait_event("start", "a1", secs(10));
    b.job("b1 0.05");
    queued(&s, &["B"]);
    assert_eq!(a.wait_exit(secs(10)), 3, "exit code passes through");
    b.wait_event("start", "b1", secs(5));
}

#[test]
fn next_job_on_the_same_runner_does_not_deadlock_on_a_leftover_lock() {
    let s = Scratch::new("same");
    let mut a = Wrapper::spawn(&s, Spec::new("A", R));
    a.job("a1 0.05 nocompleted noline");
    a.job("a2 0.05");
    a.wait_event("completed", "a2", secs(10));
    assert_no_overlap(&intervals(&[&a]));
}

#[test]
fn wrapper_killed_while_holding_frees_the_lock_within_a_second() {
    let s = Scratch::new("kill9");
    let mut a = Wrapper::spawn(&s, Spec::new("A", R));
    let mut b = Wrapper::spawn(&s, Spec::new("B", R));
    a.job("a1 30");
    a.wait_event("start", "a1", secs(10));
    b.job("b1 0.05");
    queued(&s, &["B"]);
    let t0 = Instant::now();
    a.signal(libc::SIGKILL);
    b.wait_event("start", "b1", secs(1));
    assert!(t0.elapsed() < secs(1));
}

#[test]
fn lock_timeout_fails_the_job_with_a_clear_message() {
    let s = Scratch::new("timeout");
    let mut a = Wrapper::spawn(&s, Spec::new("A", R));
    let mut b = Wrapper::spawn(&s, Spec::new("B", R).env("RUNNER_LOCK_TIMEOUT", "0.5"));
    a.job("a1 3");
    a.wait_event("start", "a1", secs(10));
    let t0 = Instant::now();
    b.job("b1 0.05");
    b.wait_event("startfail", "b1", secs(5));
    let waited = t0.elapsed();
    assert!(
        waited >= Duration::from_millis(500) && waited < secs(2),
        "{waited:?}"
    );
    let log = b.job_log("b1");
    assert!(log.contains("RUNNER_LOCK_TIMEOUT"), "{log}");
    assert!(log.contains("held by runner A"), "{log}");
    queued(&s, &[]);
}

#[test]
fn user_hooks_run_inside_the_lock_and_their_failure_fails_the_job() {
    let s = Scratch::new("user");
    let lock_dir = s.lock_dir();
    let started = s.script(
        "user-started.sh",
        &format!(
            "echo \"USER STARTED $GITHUB_JOB\"\ngrep -q \"job=$GITHUB_JOB\" {}/{R}/owner\n[ \"$GITHUB_JOB\" != bad ]\n",
            lock_dir.display()
        ),
    );
    let completed = s.script(
        "user-completed.sh",
        &format!(
            "echo \"USER COMPLETED $GITHUB_JOB\"\ngrep -q \"job=$GITHUB_JOB\" {}/{R}/owner\n[ \"$GITHUB_JOB\" != badend ]\n",
            lock_dir.display()
        ),
    );
    let mut a = Wrapper::spawn(
        &s,
        Spec::new("A", R)
            .env(
                "ACTIONS_RUNNER_HOOK_JOB_STARTED",
                started.display().to_string(),
            )
            .env(
                "ACTIONS_RUNNER_HOOK_JOB_COMPLETED",
                completed.display().to_string(),
            ),
    );
    a.job("good 0.01");
    a.job("bad 0.01");
    a.job("badend 0.01");
    let good = a.wait_event("completed", "good", secs(10));
    assert_eq!(good.rest[0], "0");
    let log = a.job_log("good");
    let acquired = log.find("acquired").expect(&log);
    let user_started = log.find("USER STARTED good").expect(&log);
    let user_completed = log.find("USER COMPLETED good").expect(&log);
    let released = log.find("released").expect(&log);
    assert!(acquired < user_started && user_started < user_completed && user_completed < released);

    a.wait_event("startfail", "bad", secs(10));
    let bad = a.wait_event("completed", "bad", secs(10));
    assert_eq!(bad.rest[0], "0", "completed hook still runs and releases");
    let badend = a.wait_event("completed", "badend", secs(10));
    assert_ne!(
        badend.rest[0], "0",
        "a failing user completed hook fails the hook"
    );
    assert!(a.job_log("badend").contains("released"));
    let st = &runner_wrapper::read_lock_dir(&lock_dir).unwrap()[0];
    assert!(!st.locked && st.holder.is_none(), "{st:#?}");
}

#[test]
fn unlocked_passthrough_keeps_the_exit_code() {
    let s = Scratch::new("pass");
    let mut w = Wrapper::spawn_cmd(
        &s,
        Spec {
            resource: None,
            ..Spec::new("P", R)
        },
        &[
            "bash",
            "-c",
            "[ -z \"$ACTIONS_RUNNER_HOOK_JOB_STARTED\" ] && exit 7",
        ],
    );
    assert_eq!(w.wait_exit(secs(10)), 7);
    assert!(!s.lock_dir().exists());
}

#[test]
fn sigterm_is_forwarded_and_the_runner_exit_code_returned() {
    let s = Scratch::new("term");
    let mut w = Wrapper::spawn_cmd(
        &s,
        Spec::new("T", R),
        &[
            "bash",
            "-c",
            "trap 'echo got-term; exit 42' TERM; echo ready; while :; do sleep 0.05; done",
        ],
    );
    w.out.wait("ready", secs(10), |l| l == "ready");
    w.signal(libc::SIGTERM);
    assert_eq!(w.wait_exit(secs(10)), 42);
    assert!(w.out.all().iter().any(|l| l == "got-term"));
}

/// flock alone lets a newcomer that asks right at release time beat the blocked waiter; the
/// ticket queue must not. The test process is the holder and then the newcomer, using the lib.
#[test]
fn newcomer_cannot_jump_ahead_of_a_blocked_waiter() {
    use runner_wrapper::{tickets, OwnerRecord};
    let s = Scratch::new("jump");
    let paths = runner_wrapper::lockdir::ensure_resource(&s.lock_dir(), R, LOCK_GID).unwrap();
    let me = OwnerRecord {
        resource: R.into(),
        runner: "N".into(),
        ..Default::default()
    };
    // Hold the lock the way a wrapper does: our turn in the queue, then the flock.
    let t = tickets::draw(&paths, &me).unwrap();
    assert!(tickets::wait_turn(&paths, t.number, &|| false).unwrap());
    let held = paths.open_lock().unwrap();
    held.lock().unwrap();
    drop(t);

    let mut b = Wrapper::spawn(&s, Spec::new("B", R));
    b.job("b1 0.2");
    queued(&s, &["B"]);
    wait_blocked_on(&paths.lock);

    // The newcomer queues behind B, then asks the instant the lock is released.
    let t = tickets::draw(&paths, &me).unwrap();
    drop(held);
    assert!(tickets::wait_turn(&paths, t.number, &|| false).unwrap());
    let lock = paths.open_lock().unwrap();
    lock.lock().unwrap();
    let got = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64();
    drop(t);
    drop(lock);
    let start = b.wait_event("start", "b1", secs(5));
    let end = b.wait_event("end", "b1", secs(5));
    assert!(
        start.t() < got && end.t() <= got,
        "newcomer jumped ahead: got the lock at {got}, B ran {}..{}",
        start.t(),
        end.t()
    );
}

/// Wait until some process is blocked in flock on `path` (a "->" entry in /proc/locks).
fn wait_blocked_on(path: &std::path::Path) {
    use std::os::unix::fs::MetadataExt;
    let ino = format!(":{} ", std::fs::metadata(path).unwrap().ino());
    let deadline = Instant::now() + secs(5);
    loop {
        let locks = std::fs::read_to_string("/proc/locks").unwrap();
        if locks
            .lines()
            .any(|l| l.contains("-> FLOCK") && l.contains(&ino))
        {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "nobody blocked on {path:?}:\n{locks}"
        );
        std::thread::sleep(Duration::from_millis(2));
    }
}

/// As PID 1 (a container's entrypoint) the wrapper reaps orphans and passes the exit code on.
/// Needs a pid namespace (`unshare`, root); skipped with a note where that is not possible.
#[test]
fn as_pid_1_reaps_orphans() {
    let ok = std::process::Command::new("unshare")
        .args(["--pid", "--fork", "--mount-proc", "true"])
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    if !ok {
        eprintln!("SKIPPED: cannot create a pid namespace here");
        return;
    }
    let s = Scratch::new("pid1");
    let runner = s.script(
        "runner.sh",
        "#!/bin/bash\n\
         ( sleep 0.05 & )\n\
         sleep 0.5\n\
         echo \"pid1=$(cat /proc/1/comm) zombies=$(grep -l ') Z ' /proc/[0-9]*/stat 2>/dev/null | wc -l)\"\n\
         exit 5\n",
    );
    let out = std::process::Command::new("unshare")
        .args(["--pid", "--fork", "--mount-proc"])
        .arg(wrapper_bin())
        .arg("--")
        .arg(&runner)
        .env("RUNNER_RESOURCE_ID", R)
        .env("RUNNER_LOCK_DIR", s.lock_dir())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(5), "{stdout}");
    assert!(stdout.contains("pid1=runner-wrapper zombies=0"), "{stdout}");
}

/// A cancelled job's orphaned started hook must not take the lock ahead of, or away from, the
/// runner's next job.
#[test]
fn next_job_after_an_orphaned_waiting_hook_gets_the_lock() {
    let s = Scratch::new("orphan-next");
    let mut a = Wrapper::spawn(&s, Spec::new("A", R));
    let mut b = Wrapper::spawn(&s, Spec::new("B", R));
    a.job("a1 0.5");
    a.wait_event("start", "a1", secs(10));
    b.job("b1 0.05 nocompleted noline");
    queued(&s, &["B"]);
    let worker: i32 = b.wait_event("worker-started", "b1", secs(5)).rest[0]
        .parse()
        .unwrap();
    b.job("b2 0.05");
    kill(worker, libc::SIGKILL);
    let b2 = b.wait_event("start", "b2", secs(5));
    // The release happens inside a1's completed hook, so b2 may start before A's runner prints
    // that the hook returned; what matters is that b2 waited for a1's job to end.
    let a1 = a.wait_event("end", "a1", secs(5));
    assert!(b2.t() > a1.t());
    b.wait_event("completed", "b2", secs(5));
    assert!(b
        .events()
        .iter()
        .all(|e| !(e.kind == "start" && e.job == "b1")));
    assert_no_overlap(&intervals(&[&a, &b]));
    let st = &runner_wrapper::read_lock_dir(&s.lock_dir()).unwrap()[0];
    assert!(!st.locked && st.waiters.is_empty(), "{st:#?}");
}
