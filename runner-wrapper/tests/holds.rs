//! Maintenance holds (the keeper process `ghr hold` starts: here `runner-wrapper keep-hold`)
//! and `ghr release` (the control sockets), with real wrappers and jobs.

mod support;

use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use runner_wrapper::control::{self, ReleaseError, Released};
use runner_wrapper::hold::{self, HoldSpec};
use runner_wrapper::record::HolderKind;
use support::*;

const R: &str = "board-m";

fn spec(s: &Scratch, until: Option<u64>, no_wait: bool) -> HoldSpec {
    HoldSpec {
        dir: s.lock_dir(),
        resource: R.into(),
        user: "tester".into(),
        reason: "reflash the bootloader".into(),
        until,
        no_wait,
        status_interval: Duration::from_millis(200),
    }
}

fn keeper() -> Command {
    let mut c = Command::new(wrapper_bin());
    c.arg("keep-hold");
    c
}

/// `ghr hold` in a thread: (result, progress lines).
fn hold_in_thread(spec: HoldSpec) -> mpsc::Receiver<(Result<String, String>, Vec<String>)> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut lines = Vec::new();
        let r = hold::request(keeper(), &spec, &mut |l| lines.push(l.to_string()));
        let _ = tx.send((r, lines));
    });
    rx
}

/// Ends any hold still kept on the scratch lock dir when a test ends (also when it fails), so no
/// keeper outlives its test.
struct EndHolds(std::path::PathBuf);

impl Drop for EndHolds {
    fn drop(&mut self) {
        let _ = control::release(&self.0, R, true, "test cleanup");
    }
}

fn holder_kind(s: &Scratch) -> Option<HolderKind> {
    let st = runner_wrapper::read_lock_dir(&s.lock_dir()).unwrap();
    st.iter()
        .find(|r| r.resource == R)
        .and_then(|r| r.live_holder().map(|h| h.record.kind))
}

#[test]
fn a_hold_waits_behind_the_job_blocks_the_next_with_its_reason_and_release_frees_it() {
    let s = Scratch::new("hold");
    let _end = EndHolds(s.lock_dir());
    let mut a = Wrapper::spawn(&s, Spec::new("A", R));
    let mut b = Wrapper::spawn(
        &s,
        Spec::new("B", R).env("RUNNER_LOCK_STATUS_INTERVAL", "0.3"),
    );
    a.job("a1 1");
    a.wait_event("start", "a1", secs(10));
    // The hold queues behind a1 and says so while it waits.
    let held = hold_in_thread(spec(&s, None, false));
    wait_status(&s.lock_dir(), R, "hold queued", |st| {
        st.live_waiters().any(|w| w.record.kind == HolderKind::Hold)
    });
    // A job that comes after the hold waits behind it.
    b.job("b1 0.05");
    wait_status(&s.lock_dir(), R, "b1 queued", |st| {
        st.live_waiters().count() == 2
    });
    let (result, progress) = held.recv_timeout(secs(10)).unwrap();
    let text = result.unwrap();
    let a1_end = a.wait_event("end", "a1", secs(5));
    assert!(
        text.starts_with(
            "held board-m: maintenance hold by tester (reason: reflash the bootloader)"
        ),
        "{text}"
    );
    assert!(
        progress
            .iter()
            .any(|l| l.starts_with("ghr hold: waiting for resource board-m")
                && l.contains("held by runner A")),
        "{progress:#?}"
    );
    assert_eq!(holder_kind(&s), Some(HolderKind::Hold));

    // ghr exited; the hold stays. b1 waits, and its log says who holds it, why and since when.
    let want = "held by maintenance hold by tester (reason: reflash the bootloader) since ";
    let deadline = Instant::now() + secs(5);
    while !b.job_log("b1").contains(want) {
        assert!(Instant::now() < deadline, "{}", b.job_log("b1"));
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(b.events().iter().all(|e| e.kind != "start"), "b1 must wait");

    // ghr release: a hold needs no --force.
    let t0 = Instant::now();
    let r = control::release(&s.lock_dir(), R, false, "tester on lab1 (ghr release)").unwrap();
    let Released::Released { holder, text } = r else {
        panic!("{r:?}")
    };
    assert_eq!(holder.kind, HolderKind::Hold);
    assert!(
        text.contains("released the maintenance hold of tester on board-m"),
        "{text}"
    );
    let b1 = b.wait_event("start", "b1", secs(5));
    assert!(t0.elapsed() < secs(2));
    assert!(b1.t() > a1_end.t());
    b.wait_event("completed", "b1", secs(5));
    assert_eq!(
        control::release(&s.lock_dir(), R, false, "x"),
        Ok(Released::NotHeld)
    );

    let ledger = runner_wrapper::ledger::read(&s.lock_dir()).unwrap();
    let h = ledger
        .entries
        .iter()
        .find(|e| e.kind == HolderKind::Hold)
        .expect("hold in the ledger");
    assert_eq!(
        (h.user.as_str(), h.reason.as_str()),
        ("tester", "reflash the bootloader")
    );
    assert!(h.waited_ms() >= 500, "the hold waited for a1: {h:?}");
    assert!(h.cause.starts_with("released by tester"), "{h:?}");
}

#[test]
fn a_hold_ends_by_itself_at_its_end() {
    let s = Scratch::new("hold-for");
    let _end = EndHolds(s.lock_dir());
    let mut a = Wrapper::spawn(&s, Spec::new("A", R));
    let until = runner_wrapper::contract::now_epoch() + 2;
    let (r, _) = hold_in_thread(spec(&s, Some(until), false))
        .recv_timeout(secs(10))
        .unwrap();
    r.unwrap();
    a.job("a1 0.05");
    let start = a.wait_event("start", "a1", secs(10));
    assert!(
        start.t() >= (until - 1) as f64,
        "a1 started before the hold ended"
    );
    assert!(holder_kind(&s).is_none() || holder_kind(&s) == Some(HolderKind::Job));
}

#[test]
fn a_waiting_hold_withdraws_when_ghr_goes_away_and_no_wait_refuses_a_busy_resource() {
    let s = Scratch::new("hold-gone");
    let _end = EndHolds(s.lock_dir());
    let mut a = Wrapper::spawn(&s, Spec::new("A", R));
    a.job("a1 30");
    a.wait_event("start", "a1", secs(10));

    // --no-wait: fails at once, naming the holder; nothing queued.
    let t0 = Instant::now();
    let r = hold::request(keeper(), &spec(&s, None, true), &mut |_| {});
    let e = r.unwrap_err();
    assert!(t0.elapsed() < secs(3));
    assert!(
        e.contains("board-m is busy") && e.contains("held by runner A") && e.contains("--no-wait"),
        "{e}"
    );
    assert_eq!(
        runner_wrapper::read_lock_dir(&s.lock_dir()).unwrap()[0]
            .live_waiters()
            .count(),
        0
    );

    // The keeper of a waiting `ghr hold` that is killed (its stdin closes) withdraws.
    let mut k = keeper()
        .args(spec(&s, None, false).to_args())
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    wait_status(&s.lock_dir(), R, "hold queued", |st| {
        st.live_waiters().count() == 1
    });
    drop(k.stdin.take());
    let deadline = Instant::now() + secs(5);
    while k.try_wait().unwrap().is_none() {
        assert!(Instant::now() < deadline, "keeper did not give up");
        std::thread::sleep(Duration::from_millis(20));
    }
    wait_status(&s.lock_dir(), R, "queue empty", |st| {
        st.live_waiters().count() == 0
    });
    assert_eq!(holder_kind(&s), Some(HolderKind::Job));
}

/// `ghr release` of a job's lock: refused without --force; with it the lock is really released
/// (the job keeps running on the board while the next job starts) and both sides say so.
#[test]
fn release_of_a_job_lock_needs_force_and_says_what_it_breaks() {
    let s = Scratch::new("force");
    let mut a = Wrapper::spawn(&s, Spec::new("A", R));
    let mut b = Wrapper::spawn(&s, Spec::new("B", R));
    a.job("a1 3");
    a.wait_event("start", "a1", secs(10));
    b.job("b1 0.05");
    wait_status(&s.lock_dir(), R, "b1 queued", |st| {
        st.live_waiters().count() == 1
    });

    let e = control::release(&s.lock_dir(), R, false, "tester").unwrap_err();
    let ReleaseError::NeedsForce(holder) = e else {
        panic!("{e:?}")
    };
    assert_eq!(holder.runner, "A");
    std::thread::sleep(Duration::from_millis(300));
    assert!(
        b.events().iter().all(|e| e.kind != "start"),
        "not released without --force"
    );

    let r = control::release(
        &s.lock_dir(),
        R,
        true,
        "tester on lab1 (ghr release --force)",
    )
    .unwrap();
    let Released::Released { text, .. } = r else {
        panic!("{r:?}")
    };
    assert!(
        text.contains("keeps running on the board while the next job may start"),
        "{text}"
    );
    let b1 = b.wait_event("start", "b1", secs(5));
    let a1_end = a.wait_event("end", "a1", secs(10));
    assert!(
        b1.t() < a1_end.t(),
        "b1 started while a1 still ran: what --force breaks"
    );
    a.err.wait("forced release logged", secs(5), |l| {
        l.contains("at the request of tester on lab1")
    });
    a.wait_event("completed", "a1", secs(5));
    assert!(
        a.job_log("a1").contains("was not held"),
        "{}",
        a.job_log("a1")
    );
    let ledger = runner_wrapper::ledger::read(&s.lock_dir()).unwrap();
    assert!(ledger
        .entries
        .iter()
        .any(|e| e.job == "a1" && e.cause == "released by tester on lab1 (ghr release --force)"));
}
