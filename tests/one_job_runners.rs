//! Queue at GitHub with one-job (JIT) runners, end to end with real processes: two orgs share
//! one board (real flock locks in a shared directory, ghr's own binary as runner-wrapper, the
//! fake runner started from a JIT configuration the fake GitHub issued), each org's runners
//! started one generation after another by a mini supervisor (testkit::one_job, standing in
//! for `ghr serve`'s ephemeral runners). With both queues full the orgs take turns on the
//! board, no job is ever "in progress" on a runner while the board is held for another job
//! (it waits queued at GitHub instead), and no job is cancelled.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use runner_wrapper::ledger;
use runner_wrapper::record::HolderKind;
use testkit::lab::{TempDir, PAT};
use testkit::one_job::{wrapper_copy, Generation, Spec, Supervisor};
use testkit::{FakeGitHub, JobSpec, Scope};

const RESOURCE: &str = "alt-board";

fn ms(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH).unwrap_or_default().as_millis() as u64
}

fn logs(gens: &[Generation]) -> String {
    gens.iter()
        .map(|g| {
            format!(
                "--- {} (exit {:?}{})\n{}",
                g.name,
                g.exit,
                if g.stopped { ", stopped" } else { "" },
                std::fs::read_to_string(&g.log).unwrap_or_default()
            )
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn online(gh: &FakeGitHub, org: &str, name: &str) -> bool {
    gh.runner(&Scope::Org(org), name)
        .is_some_and(|r| r.status == "online")
}

#[test]
fn one_job_runners_of_two_orgs_with_full_queues_alternate_and_no_job_waits_on_a_runner() {
    let fake_runner = match testkit::docker::static_binary("fake-runner") {
        Ok(p) => p,
        Err(e) => panic!("the static fake runner: {e:#}"),
    };
    let gh = FakeGitHub::start();
    let (org_a, org_b) = ("alt-org-a", "alt-org-b");
    gh.add_org(org_a);
    gh.add_org(org_b);
    gh.add_pat(PAT, &["admin:org"]);
    let tmp = TempDir::new("one-job");
    let wrapper = wrapper_copy(
        std::path::Path::new(env!("CARGO_BIN_EXE_ghr")),
        &tmp.path().join("bin"),
    )
    .expect("copy ghr as runner-wrapper");
    let lock_dir = tmp.path().join("locks");
    let label = "alt-board";
    let spec = |org: &str| {
        let work = tmp.path().join(org);
        std::fs::create_dir_all(&work).unwrap();
        Spec {
            github: gh.url(),
            pat: PAT.into(),
            org: org.into(),
            label: label.into(),
            wrapper: wrapper.clone(),
            fake_runner: fake_runner.clone(),
            lock_dir: lock_dir.clone(),
            resource: RESOURCE.into(),
            work,
            env: vec![("RUNNER_QUEUE_AT_GITHUB".into(), "true".into())],
        }
    };
    let sup_a = Supervisor::start(spec(org_a));
    let sup_b = Supervisor::start(spec(org_b));
    let up = gh.wait_until(Duration::from_secs(60), |gh| {
        online(gh, org_a, "alt-org-a-pi-1") && online(gh, org_b, "alt-org-b-pi-1")
    });
    if !up {
        let (a, b) = (sup_a.stop(), sup_b.stop());
        panic!(
            "both first generations come online:\n{}\n{}",
            logs(&a),
            logs(&b)
        );
    }
    // As in a lab, runners were up before the jobs came (a runner that has just started is
    // not parked for park::SETTLE).
    std::thread::sleep(Duration::from_secs(2));

    let per_org = 4u64;
    let dispatch = |org: &str, run_id: u64| {
        gh.dispatch_job(
            &Scope::Org(org),
            &[label],
            JobSpec {
                name: format!("job-{run_id}"),
                duration: Duration::from_secs(1),
                run_id,
                ..JobSpec::default()
            },
        )
    };
    // A's queue first; once A's first job holds the board, B's idle runner is parked (offline)
    // and B's whole queue arrives: from then on both queues are full.
    let mut ids: Vec<(char, u64)> = (0..per_org)
        .map(|i| ('A', dispatch(org_a, 100 + i)))
        .collect();
    let first = ids[0].1;
    let parked = gh.wait_until(Duration::from_secs(30), |gh| {
        gh.job(first).is_some_and(|j| j.steps_started_at.is_some())
            && !online(gh, org_b, "alt-org-b-pi-1")
    });
    let markers = runner_wrapper::parked::read(
        &runner_wrapper::lockdir::ResourcePaths::new(&lock_dir, RESOURCE).dir,
    );
    ids.extend((0..per_org).map(|i| ('B', dispatch(org_b, 200 + i))));

    let mut records = Vec::new();
    for (org, id) in &ids {
        records.push((*org, gh.wait_job(*id, Duration::from_secs(120))));
    }
    let (gens_a, gens_b) = (sup_a.stop(), sup_b.stop());
    let all_logs = format!("{}\n{}", logs(&gens_a), logs(&gens_b));
    assert!(
        parked,
        "B's runner goes offline while A's job holds the board:\n{all_logs}"
    );
    assert!(
        markers
            .iter()
            .any(|p| p.runner == "alt-org-b-pi-1" && p.org == org_b),
        "B's parked marker shows it: {markers:?}\n{all_logs}"
    );

    // Every job ran and succeeded: none cancelled by the parking.
    let mut jobs = Vec::new();
    for (org, rec) in records {
        let rec = rec.unwrap_or_else(|| panic!("a job of {org} did not finish:\n{all_logs}"));
        assert_eq!(
            rec.result.as_deref(),
            Some("Succeeded"),
            "{rec:?}\n{all_logs}"
        );
        jobs.push((org, rec));
    }

    // The board's grants, from the ledger: one per job, alternating orgs.
    let ledger = ledger::read(&lock_dir).expect("the ledger");
    let mut grants: Vec<_> = ledger
        .entries
        .iter()
        .filter(|e| e.kind == HolderKind::Job)
        .collect();
    grants.sort_by_key(|e| e.granted_ms);
    let order: String = grants
        .iter()
        .map(|e| if e.org == org_a { 'A' } else { 'B' })
        .collect();
    assert_eq!(grants.len(), 2 * per_org as usize, "{order}\n{all_logs}");
    assert_eq!(
        order,
        "AB".repeat(per_org as usize),
        "grants alternate:\n{all_logs}"
    );

    // No job was "in progress" on a runner while the board was held for another job: each
    // job's JobStarted (the fake GitHub's record) falls outside every other job's grant.
    for (org, rec) in &jobs {
        let started = ms(rec.started_at.expect("started"));
        let run_id = rec.name.trim_start_matches("job-");
        for g in &grants {
            if g.run_id == run_id {
                continue;
            }
            assert!(
                !(g.granted_ms <= started && started < g.released_ms),
                "{org}'s {} was in progress at {started} while the board was held for run {} ({}..{}):\n{all_logs}",
                rec.name,
                g.run_id,
                g.granted_ms,
                g.released_ms
            );
        }
    }

    // Each generation that was not stopped took its one job and exited 0; a new generation of
    // the org that had the board waited for the other org before its first start.
    for g in gens_a.iter().chain(&gens_b).filter(|g| !g.stopped) {
        assert_eq!(g.exit, Some(0), "{}:\n{all_logs}", g.name);
    }
    assert!(
        all_logs.contains("another org's turn"),
        "a new generation waited its turn:\n{all_logs}"
    );
}
