//! Pools: `RUNNER_RESOURCE_ID=a,b`. Real wrappers, real flock, the simulated runner.

mod support;

use support::*;

const POOL: &str = "rk-a,rk-b";

fn pool_spec(name: &str) -> Spec<'_> {
    Spec::new(name, POOL)
        .env("RESOURCE_ENV_RK_A", "SERIAL=/dev/ttyA;RELAY=1")
        .env("RESOURCE_ENV_RK_B", "SERIAL=/dev/ttyB;RELAY=2")
}

#[test]
fn a_pool_of_two_with_three_runners_runs_two_jobs_at_once_never_two_on_one_member() {
    let s = Scratch::new("pool");
    let mut ws: Vec<Wrapper> = ["A", "B", "C"]
        .iter()
        .map(|n| Wrapper::spawn(&s, pool_spec(n).env("GHR_ORG", format!("org-{n}"))))
        .collect();
    for round in 0..4 {
        for w in ws.iter_mut() {
            let job = format!("{}{round}", w.name.to_lowercase());
            w.job(&format!("{job} 0.4"));
        }
    }
    for w in &ws {
        let last = format!("{}3", w.name.to_lowercase());
        w.wait_event("completed", &last, secs(60));
    }
    let refs: Vec<&Wrapper> = ws.iter().collect();
    let iv = member_intervals(&refs);
    assert_eq!(iv.len(), 12, "{iv:#?}");
    // Each job read its member from $GITHUB_ENV, and it is one of the pool.
    for i in &iv {
        assert!(["rk-a", "rk-b"].contains(&i.4.as_str()), "{i:?}");
    }
    // Never two jobs on one member.
    for member in ["rk-a", "rk-b"] {
        let on: Vec<(f64, f64, String, String)> = iv
            .iter()
            .filter(|i| i.4 == member)
            .map(|i| (i.0, i.1, i.2.clone(), i.3.clone()))
            .collect();
        assert!(!on.is_empty(), "{member} was never used: {iv:#?}");
        assert_no_overlap(&on);
    }
    // Two at once (three runners want it all the time), never three.
    assert_eq!(max_concurrency(&iv), 2, "{iv:#?}");
    // The member's own environment reached the job's later steps.
    for (_, _, runner, job, member) in &iv {
        let w = ws.iter().find(|w| &w.name == runner).unwrap();
        let log = w.job_log(job);
        let (serial, relay) = if member == "rk-a" {
            ("/dev/ttyA", "1")
        } else {
            ("/dev/ttyB", "2")
        };
        assert!(
            log.contains(&format!("STEP GHR_RESOURCE={member}")),
            "{log}"
        );
        assert!(log.contains(&format!("STEP SERIAL={serial}")), "{log}");
        assert!(log.contains(&format!("STEP RELAY={relay}")), "{log}");
        assert!(
            log.contains(&format!("acquired {member} of pool {POOL}")),
            "{log}"
        );
    }
    for w in ws.iter_mut() {
        w.close_stdin();
        assert_eq!(w.wait_exit(secs(10)), 0);
    }
    // Every grant is in the ledger, with its member and pool.
    let ledger = runner_wrapper::ledger::read(&s.lock_dir()).unwrap();
    let jobs: Vec<_> = ledger
        .entries
        .iter()
        .filter(|e| e.kind == runner_wrapper::record::HolderKind::Job)
        .collect();
    assert_eq!(jobs.len(), 12);
    assert!(jobs.iter().all(|e| e.pool == POOL));
}

/// A waiter of a pool shows where it stands in each member's queue.
#[test]
fn a_waiting_pool_job_says_who_holds_each_member() {
    let s = Scratch::new("pool-wait");
    let mut a = Wrapper::spawn(&s, pool_spec("A"));
    let mut b = Wrapper::spawn(&s, pool_spec("B"));
    let mut c = Wrapper::spawn(&s, pool_spec("C"));
    a.job("a1 1.5");
    b.job("b1 1.5");
    a.wait_event("start", "a1", secs(10));
    b.wait_event("start", "b1", secs(10));
    c.job("c1 0.05");
    c.wait_event("end", "c1", secs(20));
    let log = c.job_log("c1");
    assert!(
        log.contains("waiting for a member of pool rk-a,rk-b"),
        "{log}"
    );
    assert!(log.contains("rk-a held by runner "), "{log}");
    assert!(log.contains("rk-b held by runner "), "{log}");
    assert!(
        log.contains("place in queue 1 of 1 on rk-a, 1 of 1 on rk-b"),
        "{log}"
    );
}
