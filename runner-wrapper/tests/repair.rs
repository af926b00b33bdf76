//! Repair: real wrappers, a real check that fails until a real repair command ran, all under
//! the resource's lock.

mod support;

use std::path::Path;

use runner_wrapper::health::Health;
use runner_wrapper::record::HolderKind;
use support::*;

const R: &str = "board-r";

fn health(lock_dir: &Path) -> Health {
    runner_wrapper::read_lock_dir(lock_dir)
        .unwrap()
        .iter()
        .find(|r| r.resource == R)
        .expect("resource listed")
        .health_state()
}

fn ledger_of(lock_dir: &Path, kind: HolderKind) -> Vec<runner_wrapper::ledger::Entry> {
    runner_wrapper::ledger::read(lock_dir)
        .unwrap()
        .entries
        .into_iter()
        .filter(|e| e.kind == kind)
        .collect()
}

/// The board breaks while the runner is idle: the next check fails, the repair runs under the
/// lock (`ghr locks` sees "repair"), a job taken meanwhile waits, and it starts only after the
/// repair and a passing check.
#[test]
fn a_failed_check_is_repaired_and_a_waiting_job_runs_after_the_passing_check() {
    let s = Scratch::new("repair");
    let broken = s.path.join("broken");
    let repaired_at = s.path.join("repaired-at");
    let mut a = Wrapper::spawn(
        &s,
        Spec::new("A", R)
            .env(
                "RUNNER_HEALTHCHECK",
                format!("test ! -e {}", broken.display()),
            )
            .env("RUNNER_HEALTHCHECK_INTERVAL", "1")
            // Slow enough to be seen holding the lock; records when it fixed the board.
            .env(
                "RUNNER_REPAIR",
                format!(
                    "echo \"power-cycling $GHR_RESOURCE\"; sleep 1.5; rm -f {0}; date +%s.%N > {1}",
                    broken.display(),
                    repaired_at.display()
                ),
            )
            .env("RUNNER_REPAIR_ATTEMPTS", "2"),
    );
    assert_eq!(health(&s.lock_dir()), Health::Healthy);
    std::fs::write(&broken, "").unwrap();
    let st = wait_status(&s.lock_dir(), R, "the repair holds the lock", |st| {
        st.live_holder()
            .is_some_and(|h| h.record.kind == HolderKind::Repair)
    });
    assert!(
        st.live_holder()
            .unwrap()
            .record
            .describe()
            .starts_with("repairing"),
        "{st:?}"
    );
    a.job("a1 0.1");
    let start = a.wait_event("start", "a1", secs(15));
    a.wait_event("end", "a1", secs(10));
    let fixed: f64 = std::fs::read_to_string(&repaired_at)
        .expect("the repair ran")
        .trim()
        .parse()
        .unwrap();
    assert!(
        start.t() > fixed,
        "the job started after the repair: {} <= {fixed}",
        start.t()
    );
    assert_eq!(health(&s.lock_dir()), Health::Healthy);
    let repairs = ledger_of(&s.lock_dir(), HolderKind::Repair);
    assert_eq!(repairs.len(), 1, "{repairs:?}");
    assert_eq!(repairs[0].cause, "repair 1 of 2 exit 0");
    assert!(repairs[0].held_ms() >= 1400, "{repairs:?}");
    let checks = ledger_of(&s.lock_dir(), HolderKind::Check);
    assert!(
        checks
            .iter()
            .any(|e| e.cause == "health check done: healthy after 1 repair(s)"),
        "{checks:?}"
    );
    assert!(a.err.all().iter().any(|l| l.contains("repairing (1 of 2)")));
}

/// Repairs that do not help: exactly RUNNER_REPAIR_ATTEMPTS of them, then the board is
/// unhealthy (the runner goes offline) and the ledger says so.
#[test]
fn repairs_that_do_not_help_leave_the_board_unhealthy() {
    let s = Scratch::new("repair-fails");
    let count = s.path.join("repairs");
    let a = Wrapper::spawn(
        &s,
        Spec::new("A", R)
            .env("RUNNER_HEALTHCHECK", "echo no console; exit 3")
            .env(
                "RUNNER_REPAIR",
                format!("echo x >> {}; echo relay stuck; exit 1", count.display()),
            )
            .env("RUNNER_REPAIR_ATTEMPTS", "2")
            .no_wait(),
    );
    wait_status(&s.lock_dir(), R, "unhealthy", |st| {
        st.health_state() == Health::Unhealthy
    });
    let ran = std::fs::read_to_string(&count).unwrap();
    assert_eq!(ran.lines().count(), 2, "two repairs: {ran:?}");
    let repairs = ledger_of(&s.lock_dir(), HolderKind::Repair);
    let causes: Vec<&str> = repairs.iter().map(|e| e.cause.as_str()).collect();
    assert_eq!(causes, ["repair 1 of 2 exit 1", "repair 2 of 2 exit 1"]);
    // The health record is written before the check lets go of the lock, and the ledger
    // entry comes with the release: wait for it rather than race it.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let checks = loop {
        let checks = ledger_of(&s.lock_dir(), HolderKind::Check);
        if !checks.is_empty() || std::time::Instant::now() > deadline {
            break checks;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    };
    assert_eq!(
        checks.first().map(|c| c.cause.as_str()),
        Some("health check done: still unhealthy after 2 repair(s)")
    );
    assert!(
        !a.out.all().iter().any(|l| l.contains("Listening for Jobs")),
        "the runner never started"
    );
}
