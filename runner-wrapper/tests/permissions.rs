//! Runners of different uids sharing one lock directory through its lock group (ghr creates it
//! 2770 root:1001; the stock image runs as uid 1001, custom images as root or other uids, which
//! are then members of the lock group), lock directories a runner cannot use, and the runner's
//! own `.env`. The tests run as root and start wrappers as other uids (`Command::uid`,
//! `setpriv` for supplementary groups).

mod support;

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use support::*;

const R: &str = "board-u";

fn mode(p: &Path) -> u32 {
    std::fs::metadata(p).unwrap().mode() & 0o7777
}

/// Hand-offs between uids 1001, 1002 (a member of the lock group 1001) and root: a killed
/// holder's record is replaced by another uid, a dead waiter's ticket is removed by another uid,
/// everyone appends to the ledger.
#[test]
fn runners_of_different_uids_share_a_lock_group() {
    let s = Scratch::new("uids");
    let dir = s.lock_dir();
    let mut a = Wrapper::spawn(&s, Spec::new("A", R).uid(1001));
    let mut b = Wrapper::spawn(&s, Spec::new("B", R).uid(1002).groups(&[LOCK_GID]));
    // Root on purpose: custom images run the runner as root.
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
    // Only directories at the top, each the lock group's, 2770.
    for e in std::fs::read_dir(&dir).unwrap() {
        let e = e.unwrap();
        assert!(e.file_type().unwrap().is_dir(), "{:?}", e.path());
        assert_eq!(mode(&e.path()), 0o2770, "{:?}", e.path());
        assert_eq!(e.metadata().unwrap().gid(), LOCK_GID, "{:?}", e.path());
    }
    assert_eq!(mode(&dir), 0o2770);
    // The ledger took lines from uids 1002 and 0 (A was killed while holding: no line).
    let ledger = runner_wrapper::ledger::read(&dir).unwrap();
    let runners: Vec<&str> = ledger.entries.iter().map(|e| e.runner.as_str()).collect();
    assert!(
        runners.contains(&"B") && runners.contains(&"C"),
        "{runners:?}"
    );
}

/// A lock directory the wrapper must not or cannot use: the runner is never started (its jobs
/// would run unlocked, or locked where anybody could break in) and the one line says which
/// directory, which uid, what is wrong and the fix.
/// What is wrong, how to make it so, what the one line must say.
type Case = (&'static str, fn(&Path), &'static [&'static str]);

#[test]
fn an_unusable_lock_dir_stops_the_wrapper_with_one_line() {
    let cases: [Case; 4] = [
        (
            "the old world-writable layout",
            |dir| {
                std::fs::create_dir_all(dir).unwrap();
                std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o1777)).unwrap();
            },
            &[
                "has mode 1777 owner 0:0",
                "any local user could release, steal or delete its locks",
                "chown -R root:1001 RUNNER_LOCK_HOST_PATH && chmod 2770 RUNNER_LOCK_HOST_PATH",
            ],
        ),
        (
            "made by Docker for a missing bind mount",
            |dir| {
                std::fs::create_dir_all(dir).unwrap();
                std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o755)).unwrap();
            },
            &["has mode 0755 owner 0:0", "chmod 2770"],
        ),
        (
            "a lock group the runner is not in",
            |dir| {
                std::fs::create_dir_all(dir).unwrap();
                std::os::unix::fs::chown(dir, Some(0), Some(3000)).unwrap();
                std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o2770)).unwrap();
            },
            &[
                "Permission denied",
                "uid 1001 is not in the lock group (gid 3000)",
                "group_add",
            ],
        ),
        (
            "a resource directory of another uid left by an older version",
            |dir| {
                runner_wrapper::lockdir::ensure_root(dir, LOCK_GID).unwrap();
                let r = dir.join(R);
                std::fs::create_dir(&r).unwrap();
                std::fs::write(r.join("lock"), "").unwrap();
                std::os::unix::fs::chown(&r, Some(1002), Some(1002)).unwrap();
                std::fs::set_permissions(&r, std::fs::Permissions::from_mode(0o777)).unwrap();
            },
            &[
                "securing",
                "Operation not permitted",
                "chgrp -R 1001 RUNNER_LOCK_HOST_PATH/board-u && chmod -R g+rwX RUNNER_LOCK_HOST_PATH/board-u",
            ],
        ),
    ];
    for (what, make, wants) in cases {
        let s = Scratch::new("nodir");
        let dir = s.lock_dir();
        make(&dir);
        let mut w = Wrapper::spawn(&s, Spec::new("A", R).uid(1001).no_wait().fresh());
        assert_eq!(w.wait_exit(secs(10)), 1, "{what}");
        let err = w.err.all();
        assert_eq!(err.len(), 1, "{what}: {err:#?}");
        let line = &err[0];
        let head = format!(
            "runner-wrapper: cannot use the lock directory {} as uid 1001: ",
            dir.display()
        );
        assert!(line.starts_with(&head), "{what}: {line}");
        for want in wants {
            assert!(line.contains(want), "{what}: {want}: {line}");
        }
        assert!(
            w.out.all().iter().all(|l| !l.contains("Listening")),
            "{what}: runner never started"
        );
    }
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
