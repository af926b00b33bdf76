//! Queue at GitHub, end to end: two orgs' fleets share one board (real flock locks in a shared
//! host directory, real containers of the test image, ghr's own binary as runner-wrapper) with
//! `RUNNER_QUEUE_AT_GITHUB=true`. While one org's job holds the board the other org's runner
//! is offline on the fake GitHub, so that org's job stays *queued* there (not assigned, no job
//! clock running); when the board frees that runner comes online and takes it. And with the
//! option off the runners stay online, as before.

use std::time::{Duration, SystemTime};
use testkit::lab::{docker_ready, Fleet, Lab};
use testkit::{FakeGitHub, JobSpec, Scope};

struct Board {
    lab: Lab,
    a: Fleet,
    b: Fleet,
    label: String,
}

fn board_runner(fleet: &Fleet) -> String {
    fleet.name("pi")
}

fn status(gh: &FakeGitHub, fleet: &Fleet) -> String {
    gh.runner(&Scope::Org(&fleet.org), &board_runner(fleet))
        .map(|r| r.status)
        .unwrap_or_default()
}

fn logs(a: &Fleet, b: &Fleet) -> String {
    format!(
        "--- a\n{}\n--- b\n{}",
        a.logs(&board_runner(a), 60),
        b.logs(&board_runner(b), 60)
    )
}

/// Two orgs' fleets with one board runner each, sharing one resource; both initialized and
/// online (the board is free).
fn setup(tag: &str, extra: &[&str]) -> Board {
    let lab = Lab::new(env!("CARGO_BIN_EXE_ghr"));
    let label = format!("board-{tag}");
    let board = [
        format!("BOARD_RUNNERS=pi:{label}"),
        format!("RUNNER_RESOURCE_ID=shared-{tag}"),
    ];
    let env: Vec<&str> = board
        .iter()
        .map(String::as_str)
        .chain(extra.iter().copied())
        .collect();
    let (a, b) = lab.board_pair(tag, &env);
    Board { lab, a, b, label }
}

fn job(name: &str, duration: Duration) -> JobSpec {
    JobSpec {
        name: name.into(),
        duration,
        ..JobSpec::default()
    }
}

#[test]
fn while_one_org_runs_the_other_orgs_job_waits_queued_at_github() {
    if !docker_ready("while_one_org_runs_the_other_orgs_job_waits_queued_at_github") {
        return;
    }
    let Board { lab, a, b, label } = setup(
        "qgh",
        &["RUNNER_QUEUE_AT_GITHUB=true", "RUNNER_QUEUE_COURTESY=2"],
    );
    let gh = &lab.gh;
    let first = gh.dispatch_job(
        &Scope::Org(&a.org),
        &[label.as_str()],
        job("flash", Duration::from_secs(8)),
    );
    assert!(
        gh.wait_until(Duration::from_secs(30), |gh| gh
            .job(first)
            .is_some_and(|j| j.steps_started_at.is_some())),
        "a's job gets the board:\n{}",
        logs(&a, &b)
    );
    assert!(
        gh.wait_until(Duration::from_secs(15), |gh| status(gh, &b) == "offline"),
        "b's runner goes offline while a's job holds the board:\n{}",
        logs(&a, &b)
    );
    let second = gh.dispatch_job(
        &Scope::Org(&b.org),
        &[label.as_str()],
        job("test", Duration::from_millis(300)),
    );
    // While a's job runs, b's job stays queued at GitHub: not assigned, its clock not running.
    std::thread::sleep(Duration::from_secs(2));
    let waiting = gh.job(second).unwrap();
    assert!(
        gh.job(first).unwrap().finished_at.is_none(),
        "the test must look while a's job still runs"
    );
    assert_eq!(
        (waiting.runner_name.as_deref(), waiting.assigned_at),
        (None, None),
        "b's job is queued, not on a runner:\n{}",
        logs(&a, &b)
    );
    assert_eq!(status(gh, &b), "offline");
    // `ghr locks` shows who waits offline for the board.
    let locks: serde_json::Value =
        serde_json::from_str(&a.ghr(&["locks", "--json"]).ok().stdout).unwrap();
    assert_eq!(locks[0]["state"], "held", "{locks}");
    assert_eq!(
        locks[0]["parked"][0]["runner"],
        board_runner(&b).as_str(),
        "{locks}"
    );
    assert_eq!(locks[0]["parked"][0]["org"], b.org.as_str(), "{locks}");
    let text = a.ghr(&["locks"]).ok().stdout;
    assert!(
        text.contains(&format!(
            "offline on GitHub until it is free (queue at GitHub): {}",
            board_runner(&b)
        )),
        "{text}"
    );

    let a_done = gh
        .wait_job(first, Duration::from_secs(30))
        .expect("a's job ends");
    let b_done = gh
        .wait_job(second, Duration::from_secs(60))
        .unwrap_or_else(|| panic!("b's job runs once the board is free:\n{}", logs(&a, &b)));
    assert_eq!(
        a_done.result.as_deref(),
        Some("Succeeded"),
        "{}",
        a_done.log
    );
    assert_eq!(
        b_done.result.as_deref(),
        Some("Succeeded"),
        "{}",
        b_done.log
    );
    assert_eq!(
        b_done.runner_name.as_deref(),
        Some(board_runner(&b).as_str())
    );
    assert!(
        b_done.assigned_at.unwrap() >= a_done.steps_finished_at.unwrap(),
        "b's job was assigned only after a's steps ended"
    );
    assert!(
        !b_done.log.contains("waiting for resource"),
        "b's job never waited on the runner: {}",
        b_done.log
    );
    // a's runner stepped aside (courtesy) and is back online afterwards.
    assert!(
        gh.wait_until(Duration::from_secs(30), |gh| status(gh, &a) == "online"
            && status(gh, &b) == "online"),
        "both online again once the board is free:\n{}",
        logs(&a, &b)
    );
}

#[test]
fn fifty_short_jobs_of_two_orgs_none_cancelled_by_the_gating() {
    if !docker_ready("fifty_short_jobs_of_two_orgs_none_cancelled_by_the_gating") {
        return;
    }
    let Board { lab, a, b, label } = setup(
        "qstress",
        &["RUNNER_QUEUE_AT_GITHUB=true", "RUNNER_QUEUE_COURTESY=1"],
    );
    let gh = &lab.gh;
    let mut jobs = Vec::new();
    for i in 0..25u64 {
        for fleet in [&a, &b] {
            let spec = JobSpec {
                run_id: 500 + i,
                ..job(&format!("quick-{i}"), Duration::from_millis(100))
            };
            jobs.push(gh.dispatch_job(&Scope::Org(&fleet.org), &[label.as_str()], spec));
        }
    }
    let mut spans: Vec<(SystemTime, SystemTime, String)> = Vec::new();
    for id in jobs {
        let Some(done) = gh.wait_job(id, Duration::from_secs(240)) else {
            panic!(
                "job {id} did not finish: {:?}\n{}",
                gh.job(id),
                logs(&a, &b)
            );
        };
        assert_eq!(
            done.result.as_deref(),
            Some("Succeeded"),
            "job {id} (none may be cancelled by the gating): {}\n{}",
            done.log,
            logs(&a, &b)
        );
        spans.push((
            done.steps_started_at.unwrap(),
            done.steps_finished_at.unwrap(),
            done.runner_name.unwrap_or_default(),
        ));
    }
    spans.sort();
    for pair in spans.windows(2) {
        assert!(
            pair[1].0 >= pair[0].1,
            "jobs overlap on the board: {pair:?}"
        );
    }
    for fleet in [&a, &b] {
        assert!(spans.iter().any(|s| s.2 == board_runner(fleet)));
    }
}

#[test]
fn with_the_option_off_runners_stay_online_and_jobs_wait_on_them() {
    if !docker_ready("with_the_option_off_runners_stay_online_and_jobs_wait_on_them") {
        return;
    }
    let Board { lab, a, b, label } = setup("qoff", &[]);
    let gh = &lab.gh;
    let first = gh.dispatch_job(
        &Scope::Org(&a.org),
        &[label.as_str()],
        job("flash", Duration::from_secs(6)),
    );
    assert!(gh.wait_until(Duration::from_secs(30), |gh| gh
        .job(first)
        .is_some_and(|j| j.steps_started_at.is_some())));
    let second = gh.dispatch_job(
        &Scope::Org(&b.org),
        &[label.as_str()],
        job("test", Duration::from_millis(300)),
    );
    // Today's behaviour: b's runner takes the job and it waits in the started hook.
    assert!(
        gh.wait_until(Duration::from_secs(20), |gh| gh
            .job(second)
            .is_some_and(|j| j.log.contains("waiting for resource"))),
        "b's job waits on its runner:\n{}",
        logs(&a, &b)
    );
    assert_eq!(status(gh, &b), "online");
    let done = gh.wait_job(second, Duration::from_secs(60)).unwrap();
    assert_eq!(done.result.as_deref(), Some("Succeeded"), "{}", done.log);
}
