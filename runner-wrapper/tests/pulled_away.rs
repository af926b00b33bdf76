//! The lock directory pulled away under a holder (`rm -rf`, a rename and a new directory, a
//! cleaner of /tmp): the holder takes its lock back at the path at once, and nobody else is
//! granted the board until the holder's job ends; a holder that cannot says so and stops taking
//! jobs. Wrappers on one host share the path, like runners in containers share what is inside
//! the bind-mounted directory.

mod support;

use std::ffi::CString;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use runner_wrapper::lockdir::ResourcePaths;
use support::*;

const R: &str = "board-p";

/// A holds for `hold` seconds; `pull` pulls the lock directory away under it; then B (running
/// before) and C (started after, making what is missing itself) ask for the board. Neither may
/// start before A's job ended, and A says what happened. `dir_moved`: the resource directory A
/// watches for health records is no longer at its path, so A re-reads them instead.
fn pulled_away_under_a_holder(tag: &str, dir_moved: bool, pull: fn(&Path)) {
    let s = Scratch::new(tag);
    let dir = s.lock_dir();
    let mut a = Wrapper::spawn(&s, Spec::new("A", R).uid(1001));
    let mut b = Wrapper::spawn(&s, Spec::new("B", R));
    a.job("a1 4");
    a.wait_event("start", "a1", secs(10));
    pull(&dir);
    b.job("b1 0.2");
    // C is new: it finds no (or a new) lock directory and makes what it needs.
    let mut c = Wrapper::spawn(&s, Spec::new("C", R).uid(1002).groups(&[LOCK_GID]).fresh());
    c.job("c1 0.2");

    // While a1 runs, the path shows A again, re-established (looked at now, asserted below,
    // after the main property).
    let deadline = std::time::Instant::now() + secs(3);
    let mut shown = false;
    while !shown && std::time::Instant::now() < deadline {
        let all = runner_wrapper::read_lock_dir(&dir).unwrap_or_default();
        shown = all.iter().any(|st| {
            st.resource == R
                && st.locked
                && st
                    .live_holder()
                    .is_some_and(|h| h.record.runner == "A" && h.record.relocked > 0)
        });
        std::thread::sleep(std::time::Duration::from_millis(10));
    }

    // Never two holders: B and C asked while a1 ran, and started only after it ended.
    let a1_end = a.wait_event("end", "a1", secs(10)).t();
    for (w, job) in [(&b, "b1"), (&c, "c1")] {
        let asked = w.wait_event("asking", job, secs(1)).t();
        assert!(
            asked < a1_end,
            "{job} asked while a1 ran (else the test shows nothing)"
        );
        let start = w.wait_event("start", job, secs(15)).t();
        assert!(
            start >= a1_end,
            "{job} started {:.3}s before a1 ended: two holders",
            a1_end - start
        );
    }
    assert_no_overlap(&intervals(&[&a, &b, &c]));

    // And it is visible: A's record at the path while a1 ran, and A's log.
    assert!(shown, "A's re-established record was not at the path");
    assert!(
        a.err.all().iter().any(|l| {
            l.contains(&format!(
                "WARNING: the lock file {}/{R}/lock was",
                dir.display()
            )) && l.contains("while this runner held board-p")
        }),
        "{:#?}",
        a.err.all()
    );
    if dir_moved {
        a.err.wait("A re-reads the health records", secs(5), |l| {
            l.contains("cannot watch the health records (a resource directory was removed or moved); re-reading them every 5s")
        });
    }
    let log = a.err.all().join("\n");
    assert!(!log.contains("ERROR"), "{log}");
}

#[test]
fn a_resource_directory_removed_under_a_holder() {
    pulled_away_under_a_holder("pull-resource", true, |dir| {
        std::fs::remove_dir_all(dir.join(R)).unwrap();
    });
}

#[test]
fn a_lock_file_removed_under_a_holder() {
    pulled_away_under_a_holder("pull-file", false, |dir| {
        std::fs::remove_file(dir.join(R).join("lock")).unwrap();
    });
}

/// The runners may make the lock directory again where its parent lets them, like the default
/// /tmp/github-runner-locks in /tmp (mode 1777).
#[test]
fn the_whole_lock_directory_removed_under_a_holder() {
    pulled_away_under_a_holder("pull-root", true, |dir| {
        let parent = dir.parent().unwrap();
        std::fs::set_permissions(parent, std::os::unix::fs::PermissionsExt::from_mode(0o1777))
            .unwrap();
        std::fs::remove_dir_all(dir).unwrap();
    });
}

#[test]
fn the_lock_directory_replaced_under_a_holder() {
    pulled_away_under_a_holder("pull-replace", true, |dir| {
        let old = dir.with_extension("old");
        std::fs::rename(dir, &old).unwrap();
        // A new one, as `ghr start` makes it, before anyone asks.
        runner_wrapper::lockdir::ensure_root(dir, LOCK_GID).unwrap();
    });
}

/// Swap two paths atomically (so the holder never sees the path empty).
fn exchange(a: &Path, b: &Path) {
    let (a, b) = (
        CString::new(a.as_os_str().as_bytes()).unwrap(),
        CString::new(b.as_os_str().as_bytes()).unwrap(),
    );
    // SAFETY: two valid NUL-terminated paths.
    let rc = unsafe {
        libc::renameat2(
            libc::AT_FDCWD,
            a.as_ptr(),
            libc::AT_FDCWD,
            b.as_ptr(),
            libc::RENAME_EXCHANGE,
        )
    };
    assert_eq!(rc, 0, "{}", std::io::Error::last_os_error());
}

/// The new lock file is already held by somebody that did not wait (an older wrapper): the
/// holder cannot take its lock back. It says so, takes no more jobs, goes offline once its job
/// ended and exits 1 (its container then restarts).
#[test]
fn a_holder_that_cannot_take_its_lock_back_stops_taking_jobs() {
    let s = Scratch::new("pull-taken");
    let dir = s.lock_dir();
    let mut a = Wrapper::spawn(&s, Spec::new("A", R).uid(1001));
    a.job("a1 2");
    a.wait_event("start", "a1", secs(10));
    // Another directory for the resource, its lock held by this test, swapped in at once.
    let other = ResourcePaths::new(&dir, "other");
    runner_wrapper::lockdir::ensure_resource(&dir, "other", LOCK_GID).unwrap();
    let taken = other.open_lock().unwrap();
    taken.lock().unwrap();
    exchange(&dir.join(R), &other.dir);
    a.job("a2 0.1");
    let line = a
        .err
        .wait("A says it cannot", secs(5), |l| l.contains("ERROR:"));
    for want in [
        format!("the lock file {}/{R}/lock was replaced", dir.display()),
        "is locked by another process already".into(),
        "this runner takes no more jobs".into(),
    ] {
        assert!(line.contains(&want), "{want}: {line}");
    }
    // a1 finishes; the runner goes offline instead of taking a2.
    a.wait_event("end", "a1", secs(10));
    a.wait_event("offline", "-", secs(10));
    assert!(
        a.events().iter().all(|e| e.job != "a2"),
        "{:#?}",
        a.events()
    );
    assert_eq!(a.wait_exit(secs(15)), 1, "{:#?}", a.err.all());
    drop(taken);
}

/// In containers the lock directory is a bind mount of the host's. Removed on the host, it
/// stays visible (empty, removed) inside the running containers; renamed, the mount follows it;
/// and a new one made by `ghr start` is not visible either way: those runners can no longer
/// take turns with the others. Every wrapper there says so and takes no more jobs; the idle one
/// goes offline and exits 1 at once (its container restarts onto the new directory), the
/// holder once its job ended.
fn a_container_loses_its_lock_directory(tag: &str, pull: fn(&Path), says: &str) {
    let s = Scratch::new(tag);
    let host = s.path.join("host-locks");
    prepare_lock_dir(&host, R);
    std::fs::create_dir_all(s.lock_dir()).unwrap();
    // Root on purpose: a mount namespace of its own per wrapper, like a container's, needs root.
    let mut a = Wrapper::spawn(&s, Spec::new("A", R).bind(&host).fresh());
    let mut b = Wrapper::spawn(&s, Spec::new("B", R).bind(&host).fresh());
    a.job("a1 2");
    a.wait_event("start", "a1", secs(10));
    pull(&host);
    runner_wrapper::lockdir::ensure_root(&host, LOCK_GID).unwrap(); // ghr start makes a new one

    let said = b.err.wait("B says why", secs(5), |l| l.contains("ERROR:"));
    assert!(
        said.contains(says) && said.contains("this runner takes no more jobs"),
        "{said}"
    );
    b.wait_event("offline", "-", secs(10));
    assert_eq!(b.wait_exit(secs(10)), 1);
    let said = a.err.wait("A says why", secs(5), |l| l.contains("ERROR:"));
    assert!(said.contains("this runner takes no more jobs"), "{said}");
    let end = a.wait_event("end", "a1", secs(10)).t();
    let offline = a.wait_event("offline", "-", secs(10)).t();
    assert!(offline >= end, "the holder's job ran to its end");
    assert_eq!(a.wait_exit(secs(10)), 1);
}

#[test]
fn a_container_whose_lock_directory_was_removed_on_the_host_stops_taking_jobs() {
    a_container_loses_its_lock_directory(
        "pull-mount",
        |host| std::fs::remove_dir_all(host).unwrap(),
        "was removed on the host: this container still sees the removed directory",
    );
}

#[test]
fn a_container_whose_lock_directory_was_moved_on_the_host_stops_taking_jobs() {
    a_container_loses_its_lock_directory(
        "move-mount",
        |host| std::fs::rename(host, host.with_extension("old")).unwrap(),
        "was moved or removed on the host (its mount was",
    );
}

/// A maintenance hold is a holder too: the whole lock directory removed under it, the keeper
/// takes its lock back (and binds its control socket again), a runner that asks waits behind
/// it, and `ghr release` still reaches it.
#[test]
fn a_hold_takes_its_lock_back_and_can_still_be_released() {
    use runner_wrapper::control::{self, Released};
    use runner_wrapper::hold::{self, HoldSpec};
    use runner_wrapper::record::HolderKind;
    let s = Scratch::new("pull-hold");
    let dir = s.lock_dir();
    prepare_lock_dir(&dir, R);
    let spec = HoldSpec {
        dir: dir.clone(),
        resource: R.into(),
        user: "alice".into(),
        reason: "reflash".into(),
        until: None,
        no_wait: false,
        status_interval: std::time::Duration::from_millis(200),
    };
    // Root on purpose: the keeper runs as the admin who ran `sudo ghr hold`.
    let mut keeper = std::process::Command::new(wrapper_bin());
    keeper.arg("keep-hold");
    hold::request(keeper, &spec, &mut |_| {}).unwrap();

    std::fs::remove_dir_all(&dir).unwrap();
    let mut b = Wrapper::spawn(&s, Spec::new("B", R).fresh());
    b.job("b1 0.1");
    let st = wait_status(&dir, R, "the hold back at the path, b1 behind it", |st| {
        st.live_holder()
            .is_some_and(|h| h.record.kind == HolderKind::Hold && h.record.relocked > 0)
            && st.live_waiters().count() == 1
    });
    assert!(st.locked);
    assert!(b.events().iter().all(|e| e.kind != "start"), "b1 waits");

    let r = control::release(&dir, R, false, "root in the test").unwrap();
    assert!(matches!(r, Released::Released { .. }), "{r:?}");
    b.wait_event("start", "b1", secs(10));
}
