//! The grant ledger against what really happened: real wrappers, jobs with known lengths.

mod support;

use runner_wrapper::history::{summarize, Window};
use runner_wrapper::record::HolderKind;
use support::*;

const R: &str = "board-l";

#[test]
fn the_ledger_records_every_grant_and_the_summary_matches_it() {
    let s = Scratch::new("ledger");
    let mut a = Wrapper::spawn(&s, Spec::new("A", R).env("GHR_ORG", "org-a"));
    let mut b = Wrapper::spawn(&s, Spec::new("B", R).env("GHR_ORG", "org-b"));
    for i in 0..3 {
        // a holds 0.6 s; b asks right after a started, so it waits about that long.
        a.job(&format!("a{i} 0.6"));
        a.wait_event("start", &format!("a{i}"), secs(10));
        b.job(&format!("b{i} 0.1"));
        b.wait_event("completed", &format!("b{i}"), secs(10));
    }
    let ledger = runner_wrapper::ledger::read(&s.lock_dir()).unwrap();
    let jobs: Vec<_> = ledger
        .entries
        .iter()
        .filter(|e| e.kind == HolderKind::Job)
        .collect();
    assert_eq!(jobs.len(), 6, "{jobs:#?}");
    assert_eq!(ledger.skipped, 0);

    // Each grant covers its job as the runner saw it, and grants never overlap.
    for e in &jobs {
        let w = if e.org == "org-a" { &a } else { &b };
        assert_eq!(e.runner, w.name);
        assert_eq!(e.resource, R);
        assert_eq!(e.cause, "the job's completed hook ran");
        let start = w.wait_event("start", &e.job, secs(1)).t();
        let end = w.wait_event("end", &e.job, secs(1)).t();
        assert!(
            (e.granted_ms as f64) / 1e3 <= start + 0.001,
            "{e:?} start {start}"
        );
        assert!(
            (e.released_ms as f64) / 1e3 >= end - 0.001,
            "{e:?} end {end}"
        );
        assert!(e.requested_ms <= e.granted_ms && e.granted_ms <= e.released_ms);
    }
    let mut by_grant = jobs.clone();
    by_grant.sort_by_key(|e| e.granted_ms);
    for pair in by_grant.windows(2) {
        assert!(pair[0].released_ms <= pair[1].granted_ms, "{pair:#?}");
    }
    // b's waits: it asked while a held the board for 0.6 s.
    for e in jobs.iter().filter(|e| e.org == "org-b") {
        let a_grant = jobs
            .iter()
            .filter(|x| x.org == "org-a" && x.released_ms <= e.granted_ms)
            .max_by_key(|x| x.released_ms)
            .unwrap();
        assert!(e.requested_ms >= a_grant.granted_ms, "{e:?}");
        assert!(
            e.granted_ms - a_grant.released_ms < 500,
            "handoff {e:?} {a_grant:?}"
        );
        assert!(
            e.waited_ms() >= 300 && e.waited_ms() <= a_grant.held_ms() + 500,
            "{e:?}"
        );
    }

    // The summary is the ledger's: per org, percentiles and busy share over the window.
    let now = runner_wrapper::contract::now_epoch_ms();
    let window = Window::all(&ledger.entries, now);
    let rows = summarize(&ledger.entries, window);
    let b_row = rows.iter().find(|r| r.group == "org-b").unwrap();
    let mut waits: Vec<u64> = jobs
        .iter()
        .filter(|e| e.org == "org-b")
        .map(|e| e.waited_ms())
        .collect();
    waits.sort_unstable();
    assert_eq!((b_row.jobs, b_row.grants), (3, 3));
    assert_eq!(b_row.wait_p50_ms, waits[1]);
    assert_eq!(b_row.wait_max_ms, waits[2]);
    assert_eq!(b_row.wait_p95_ms, waits[2]);
    let a_row = rows.iter().find(|r| r.group == "org-a").unwrap();
    assert!(a_row.held_ms >= 1800, "{a_row:?}");
    let total: f64 = rows
        .iter()
        .filter(|r| r.resource == R)
        .map(|r| r.busy_share)
        .sum();
    assert!(total > 0.5 && total <= 1.0, "{rows:#?}");
}
