//! Health gating: real wrappers running real checks (`/bin/sh -c`) under the lock.

mod support;

use std::path::Path;

use runner_wrapper::health::Health;
use support::*;

const R: &str = "board-h";

fn health_of(lock_dir: &Path) -> (Health, String) {
    let st = runner_wrapper::read_lock_dir(lock_dir).unwrap();
    let r = st
        .iter()
        .find(|r| r.resource == R)
        .expect("resource listed");
    (
        r.health_state(),
        r.health
            .as_ref()
            .map(|h| h.output.clone())
            .unwrap_or_default(),
    )
}

fn wait_health(lock_dir: &Path, want: Health) {
    wait_status(lock_dir, R, &format!("health {want:?}"), |st| {
        st.health_state() == want
    });
}

/// A fails its check while B's job runs and A's own job waits: the waiting job fails fast with
/// the check's output, both runners go offline (B runs no check: it follows the shared record),
/// and a passing check brings both back.
#[test]
fn a_failing_check_fails_the_waiting_job_stops_the_runners_and_a_passing_one_heals() {
    let s = Scratch::new("health");
    let broken = s.path.join("broken");
    let check = format!(
        "echo \"console of $GHR_RESOURCE\"; if [ -e {0} ]; then echo \"no answer on $SERIAL\" >&2; exit 3; fi",
        broken.display()
    );
    let mut a = Wrapper::spawn(
        &s,
        Spec::new("A", R)
            .env("RUNNER_HEALTHCHECK", check)
            .env("RUNNER_HEALTHCHECK_INTERVAL", "1")
            .env("RESOURCE_ENV_BOARD_H", "SERIAL=/dev/ttyH"),
    );
    // A's runner started only after its first check passed, under the lock.
    let (h, out) = health_of(&s.lock_dir());
    assert_eq!(h, Health::Healthy);
    assert_eq!(out, "console of board-h");
    let mut b = Wrapper::spawn(&s, Spec::new("B", R));

    b.job("b1 2.5");
    b.wait_event("start", "b1", secs(10));
    // A's next check (due after 1 s) queues behind b1; then the board breaks and A takes a job,
    // which queues behind the check.
    wait_status(&s.lock_dir(), R, "A's check queued", |st| {
        st.live_waiters()
            .any(|w| w.record.kind == runner_wrapper::record::HolderKind::Check)
    });
    std::fs::write(&broken, "").unwrap();
    a.job("a1 0.1");
    wait_status(&s.lock_dir(), R, "a1 queued", |st| {
        st.live_waiters().count() == 2
    });
    let b1_end = b.wait_event("end", "b1", secs(10));
    let fail = a.wait_event("startfail", "a1", secs(10));
    assert!(
        fail.t() - b1_end.t() < 2.0,
        "a1 failed fast: {}",
        fail.t() - b1_end.t()
    );
    assert!(a
        .events()
        .iter()
        .all(|e| !(e.kind == "start" && e.job == "a1")));
    let log = a.job_log("a1");
    assert!(
        log.contains("board-h is unhealthy: its health check failed at"),
        "{log}"
    );
    assert!(log.contains("  console of board-h"), "{log}");
    assert!(log.contains("  no answer on /dev/ttyH"), "{log}");
    assert!(log.contains("not running this job"), "{log}");
    let (h, out) = health_of(&s.lock_dir());
    assert_eq!(h, Health::Unhealthy);
    assert!(out.contains("no answer on /dev/ttyH"), "{out}");

    // Both runners go offline (SIGINT -> the runner's offline path).
    a.wait_event("offline", "-", secs(10));
    b.wait_event("offline", "-", secs(10));
    assert!(
        a.child.try_wait().unwrap().is_none(),
        "A's wrapper stays to re-check"
    );
    assert!(b.child.try_wait().unwrap().is_none());

    // Fixed: A's re-check passes and both runners come back by themselves.
    std::fs::remove_file(&broken).unwrap();
    wait_health(&s.lock_dir(), Health::Healthy);
    a.out.wait_n("A listening again", 2, secs(10), |l| {
        l.contains("Listening for Jobs")
    });
    b.out.wait_n("B listening again", 2, secs(10), |l| {
        l.contains("Listening for Jobs")
    });
    b.job("b2 0.05");
    b.wait_event("end", "b2", secs(10));
    a.job("a2 0.05");
    a.wait_event("end", "a2", secs(10));
    assert!(a
        .err
        .all()
        .iter()
        .any(|l| l.contains("healthy again: starting the runner")));
}

/// A runner that runs no check follows the shared record: another org's failed check takes it
/// offline, and a passing one brings it back (noticed through inotify, not by polling).
#[test]
fn another_orgs_check_result_takes_the_runner_offline_and_back() {
    let s = Scratch::new("health-shared");
    let mut a = Wrapper::spawn(&s, Spec::new("A", R));
    let paths = runner_wrapper::lockdir::ResourcePaths::new(&s.lock_dir(), R);
    let record = |healthy: bool| runner_wrapper::health::HealthRecord {
        resource: R.into(),
        healthy,
        checked_at_ms: runner_wrapper::contract::now_epoch_ms(),
        exit_code: if healthy { 0 } else { 1 },
        output: if healthy { "" } else { "relay stuck" }.into(),
        runner: "other-org-runner".into(),
        ..Default::default()
    };
    let t0 = std::time::Instant::now();
    record(false).write_atomic(&paths.health).unwrap();
    a.wait_event("offline", "-", secs(10));
    assert!(
        t0.elapsed() < secs(3),
        "noticed at once: {:?}",
        t0.elapsed()
    );
    assert_eq!(health_of(&s.lock_dir()).0, Health::Unhealthy);
    record(true).write_atomic(&paths.health).unwrap();
    a.out.wait_n("listening again", 2, secs(10), |l| {
        l.contains("Listening for Jobs")
    });
    a.job("a1 0.05");
    a.wait_event("end", "a1", secs(10));
}

/// A one-job runner's JIT configuration (its credentials, in the wrapper's environment for the
/// runner) is not passed to the health check.
#[test]
fn a_check_does_not_see_the_runners_jit_configuration() {
    let s = Scratch::new("health-jit");
    let _a = Wrapper::spawn(
        &s,
        Spec::new("A", R)
            .env(
                "RUNNER_HEALTHCHECK",
                "echo \"jit=${ACTIONS_RUNNER_INPUT_JITCONFIG:-none}\"",
            )
            .env("ACTIONS_RUNNER_INPUT_JITCONFIG", "c2VjcmV0LWppdA=="),
    );
    let (h, out) = health_of(&s.lock_dir());
    assert_eq!(h, Health::Healthy);
    assert_eq!(out, "jit=none");
}
