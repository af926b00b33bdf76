//! Runners of different uids sharing one lock directory (ghr creates it 1777, sticky like /tmp;
//! the stock image runs as uid 1001, custom images may run as root), an unusable lock
//! directory, and the runner's own `.env`. The tests run as root and start wrappers as other
//! uids (`Command::uid`).

mod support;

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use support::*;

const R: &str = "board-u";

/// The lock directory as ghr creates it on the host: mode 1777.
fn sticky_lock_dir(s: &Scratch) -> PathBuf {
    let d = s.lock_dir();
    std::fs::create_dir_all(&d).unwrap();
    std::fs::set_permissions(&d, std::fs::Permissions::from_mode(0o1777)).unwrap();
    d
}

fn mode(p: &Path) -> u32 {
    std::fs::metadata(p).unwrap().mode() & 0o7777
}

/// Hand-offs between uids 1001, 1002 and root: a killed holder's record is replaced by another
/// uid, a dead waiter's ticket is removed by another uid, everyone appends to the ledger.
#[test]
fn runners_of_different_uids_share_a_sticky_lock_dir() {
    let s = Scratch::new("uids");
    let dir = sticky_lock_dir(&s);
    let mut a = Wrapper::spawn(&s, Spec::new("A", R).uid(1001));
    let mut b = Wrapper::spawn(&s, Spec::new("B", R).uid(1002));
    let mut c = Wrapper::spawn(&s, Spec::new("C", R));

    // 1. A (1001) holds; B (1002) and C (root) wait. A is killed: B takes over and replaces
    //    A's stale owner record (a file of uid 1001) by rename.
    a.job("a1 30");
    a.wait_event("start", "a1", secs(10));
    b.job("b1 0.3");
    wait_status(&dir, R, "B queued", |st| st.live_waiters().count() == 1);
    c.job("c1 0.3");
    wait_status(&dir, R, "C queued", |st| st.live_waiters().count() == 2);
    let paths = runner_wrapper::lockdir::ResourcePaths::new(&dir, R);
    assert_eq!(std::fs::metadata(&paths.owner).unwrap().uid(), 1001);
    a.signal(libc::SIGKILL);
    a.wait_exit(secs(5));
    b.wait_event("start", "b1", secs(5));
    c.wait_event("end", "c1", secs(10));

    // 2. C (root) holds; a new A (1001) waits, then B (1002) behind it. A is killed while it
    //    waits: B must remove A's dead ticket (uid 1001) to move up.
    let mut a = Wrapper::spawn(&s, Spec::new("A2", R).uid(1001));
    c.job("c2 1");
    c.wait_event("start", "c2", secs(10));
    a.job("a2 0.2");
    wait_status(&dir, R, "A2 queued", |st| st.live_waiters().count() == 1);
    let dead_ticket = runner_wrapper::tickets::list(&paths.dir).unwrap()[0]
        .1
        .clone();
    assert_eq!(std::fs::metadata(&dead_ticket).unwrap().uid(), 1001);
    b.job("b2 0.2");
    wait_status(&dir, R, "B queued behind A2", |st| {
        st.live_waiters().count() == 2
    });
    a.signal(libc::SIGKILL);
    a.wait_exit(secs(5));
    let c2_end = c.wait_event("end", "c2", secs(10));
    let b2 = b.wait_event("start", "b2", secs(5));
    assert!(b2.t() - c2_end.t() < 2.0);
    b.wait_event("completed", "b2", secs(5));
    assert!(
        !dead_ticket.exists(),
        "uid 1002 removed uid 1001's dead ticket"
    );

    let iv = intervals(&[&b, &c]);
    assert_no_overlap(&iv);
    // Only directories at the top of the sticky directory; 0777 inside.
    for e in std::fs::read_dir(&dir).unwrap() {
        let e = e.unwrap();
        assert!(e.file_type().unwrap().is_dir(), "{:?}", e.path());
        assert_eq!(mode(&e.path()), 0o777, "{:?}", e.path());
    }
    assert_eq!(mode(&dir), 0o1777);
    // The ledger took lines from uids 1002 and 0 (A was killed while holding: no line).
    let ledger = runner_wrapper::ledger::read(&dir).unwrap();
    let runners: Vec<&str> = ledger.entries.iter().map(|e| e.runner.as_str()).collect();
    assert!(
        runners.contains(&"B") && runners.contains(&"C"),
        "{runners:?}"
    );
}

/// A lock directory this uid cannot write: the runner is never started (its jobs would run
/// unlocked) and the one line says which directory, which uid and the fix.
#[test]
fn an_unusable_lock_dir_stops_the_wrapper_with_one_line() {
    let s = Scratch::new("nodir");
    let dir = s.lock_dir();
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    let mut w = Wrapper::spawn(&s, Spec::new("A", R).uid(1001).no_wait());
    assert_eq!(w.wait_exit(secs(10)), 1);
    let err = w.err.all();
    assert_eq!(err.len(), 1, "{err:#?}");
    let line = &err[0];
    for want in [
        &dir.display().to_string(),
        "uid 1001",
        "chmod 1777",
        "RUNNER_LOCK_HOST_PATH",
        "Permission denied",
    ] {
        assert!(line.contains(want), "{want}: {line}");
    }
    assert!(
        w.out.all().iter().all(|l| !l.contains("Listening")),
        "runner never started"
    );

    // A resource directory left narrow (made by hand, or by an old version) names that one.
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o1777)).unwrap();
    std::fs::create_dir(dir.join(R)).unwrap();
    std::fs::write(dir.join(R).join("lock"), "").unwrap();
    let mut w = Wrapper::spawn(&s, Spec::new("B", R).uid(1001).no_wait());
    assert_eq!(w.wait_exit(secs(10)), 1);
    let err = w.err.all();
    assert_eq!(err.len(), 1, "{err:#?}");
    assert!(
        err[0].contains(&format!("chmod -R a+rwX RUNNER_LOCK_HOST_PATH/{R}")),
        "{}",
        err[0]
    );
}

fn user_hooks(s: &Scratch) -> (PathBuf, PathBuf) {
    let started = s.script(
        "user-started.sh",
        &format!(
            "echo \"USER STARTED $GITHUB_JOB on $GHR_RESOURCE\"\ngrep -q \"job=$GITHUB_JOB\" {}/{R}/owner\n",
            s.lock_dir().display()
        ),
    );
    let completed = s.script(
        "user-completed.sh",
        &format!(
            "echo \"USER COMPLETED $GITHUB_JOB\"\ngrep -q \"job=$GITHUB_JOB\" {}/{R}/owner\n",
            s.lock_dir().display()
        ),
    );
    (started, completed)
}

/// Hooks set in the runner's own `.env` (which the Listener loads over its environment) would
/// replace the wrapper's: they are chained instead, and stay chained across restarts.
#[test]
fn hooks_in_the_runners_env_file_are_chained_not_a_way_around_the_lock() {
    let s = Scratch::new("dotenv");
    sticky_lock_dir(&s);
    let (started, completed) = user_hooks(&s);
    let dotenv = format!(
        "LANG=C.UTF-8\nACTIONS_RUNNER_HOOK_JOB_STARTED={}\nACTIONS_RUNNER_HOOK_JOB_COMPLETED={}\n",
        started.display(),
        completed.display()
    );
    let mut a = Wrapper::spawn(&s, Spec::new("A", R).uid(1001).dotenv(dotenv));
    a.job("j1 0.05");
    let done = a.wait_event("completed", "j1", secs(10));
    assert_eq!(done.rest[0], "0");
    let log = a.job_log("j1");
    let acquired = log.find("acquired board-u").expect(&log);
    let user = log.find("USER STARTED j1 on board-u").expect(&log);
    let user_done = log.find("USER COMPLETED j1").expect(&log);
    let released = log.find("released board-u").expect(&log);
    assert!(
        acquired < user && user < user_done && user_done < released,
        "{log}"
    );

    let env_file = Wrapper::root_of(&s, "A").join(".env");
    let text = std::fs::read_to_string(&env_file).unwrap();
    assert!(text.starts_with("LANG=C.UTF-8\n"), "{text}");
    assert!(
        text.contains(&format!(
            "RUNNER_WRAPPER_USER_HOOK_JOB_STARTED={}\n",
            started.display()
        )),
        "{text}"
    );
    assert_eq!(
        text.matches("ACTIONS_RUNNER_HOOK_JOB_STARTED=").count(),
        1,
        "{text}"
    );
    assert!(!text.contains(&format!(
        "ACTIONS_RUNNER_HOOK_JOB_STARTED={}",
        started.display()
    )));

    // Restart (the runner exits, so does the wrapper; the container restarts it).
    a.close_stdin();
    assert_eq!(a.wait_exit(secs(10)), 0);
    let mut a = Wrapper::spawn(&s, Spec::new("A", R).uid(1001));
    a.job("j2 0.05");
    a.wait_event("completed", "j2", secs(10));
    let log = a.job_log("j2");
    assert!(log.contains("USER STARTED j2 on board-u"), "{log}");
    let text2 = std::fs::read_to_string(&env_file).unwrap();
    assert_eq!(text2.lines().count(), text.lines().count(), "{text2}");
    assert_eq!(
        text2
            .matches("RUNNER_WRAPPER_USER_HOOK_JOB_STARTED=")
            .count(),
        1
    );
}

/// When the `.env` cannot be rewritten, the runner is not started: one line says why.
#[test]
fn a_runner_env_file_that_cannot_be_rewritten_refuses_to_start() {
    let s = Scratch::new("dotenv-ro");
    sticky_lock_dir(&s);
    let mut spec = Spec::new("A", R)
        .uid(1001)
        .no_wait()
        .dotenv("ACTIONS_RUNNER_HOOK_JOB_STARTED=/opt/hooks/mine.sh\n");
    spec.chown_root = false; // the root dir and .env stay root's: uid 1001 cannot replace it
    let mut w = Wrapper::spawn(&s, spec);
    assert_eq!(w.wait_exit(secs(10)), 1);
    let err = w.err.all();
    assert_eq!(err.len(), 1, "{err:#?}");
    for want in [
        ".env as uid 1001",
        "ACTIONS_RUNNER_HOOK_JOB_STARTED",
        "not started",
    ] {
        assert!(err[0].contains(want), "{want}: {}", err[0]);
    }
    assert!(w.out.all().iter().all(|l| !l.contains("Listening")));
}
