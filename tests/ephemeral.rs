//! One-job (ephemeral) runners on the real engine with the faithful runner image and the fake
//! GitHub: `ghr init` starts one generation from JIT configurations (no registration token,
//! no config.sh); each runner takes one job and its container ends; nothing replaces it
//! without `ghr serve`; with serve, every ended runner is replaced by a fresh one on a new,
//! empty volume, so no job sees what another left (a marker each job writes is absent in
//! every other), GitHub never lists more runners than the fleet has, and `ghr rm -y` leaves
//! no registration.

mod serve_support;

use serve_support::{free_port, wait_for, Serve};
use std::time::Duration;
use testkit::lab::{docker_ready, Lab};
use testkit::{JobSpec, Scope};

const LABEL: &str = "eph";

/// A job that fails when anything of an earlier job is in its home or work folder, then
/// leaves its own marker in both.
fn job(name: &str) -> JobSpec {
    JobSpec {
        script: Some(format!(
            "for d in \"$HOME\" \"$PWD\"; do if ls \"$d\"/.marker-* 2>/dev/null; then echo \"STALE in $d\"; exit 1; fi; done; \
             touch \"$HOME/.marker-{name}\" \"$PWD/.marker-{name}\"; echo \"clean in $HOME and $PWD\""
        )),
        ..JobSpec::new(name)
    }
}

#[test]
fn ephemeral_runners_take_one_job_each_and_serve_replaces_them_fresh() {
    if !docker_ready("ephemeral_runners_take_one_job_each_and_serve_replaces_them_fresh") {
        return;
    }
    let lab = Lab::new(env!("CARGO_BIN_EXE_ghr"));
    let fleet = lab
        .fleet("eph")
        .env("RUNNER_EPHEMERAL=true")
        .env(&format!("RUNNER_LABELS={LABEL}"))
        .build();
    let scope = Scope::Org(&fleet.org);
    let gh = &lab.gh;
    let ours = |gh: &testkit::FakeGitHub| {
        gh.runners(&scope)
            .into_iter()
            .filter(|r| r.name.starts_with(&fleet.prefix))
            .collect::<Vec<_>>()
    };

    let plan = fleet.ghr(&["plan", "-n", "3"]).ok();
    assert!(
        plan.stdout.contains("ephemeral") && plan.stdout.contains("ghr serve"),
        "plan says what the runners are and what replaces them: {}",
        plan.stdout
    );
    let init = fleet.ghr(&["init", "-n", "3", "-y"]).ok();
    assert!(
        gh.wait_until(Duration::from_secs(60), |gh| {
            let r = ours(gh);
            r.len() == 3 && r.iter().all(|r| r.status == "online")
        }),
        "3 ephemeral runners online: {}\n{}",
        init.stdout,
        init.stderr
    );
    // JIT configurations, not registration tokens; GitHub lists them as ephemeral.
    let requests = gh.requests();
    assert_eq!(
        requests
            .iter()
            .filter(|r| r.path.ends_with("/generate-jitconfig") && r.status == 201)
            .count(),
        3
    );
    assert!(!requests
        .iter()
        .any(|r| r.path.ends_with("/registration-token")));
    let first = fleet.name("1");
    let env = fleet.inspect(&first, "{{json .Config.Env}}");
    assert!(
        !env.contains("JITCONFIG"),
        "the JIT configuration is not in docker inspect: {env}"
    );
    let restart = fleet.inspect(&first, "{{.HostConfig.RestartPolicy.Name}}");
    assert!(
        ["", "no"].contains(&restart.as_str()),
        "the container does not restart: {restart}"
    );

    // Without serve: one job, and its runner is gone for good.
    let id = gh.dispatch_job(&scope, &[LABEL], job("alone"));
    let done = gh.wait_job(id, Duration::from_secs(60)).unwrap();
    assert_eq!(done.result.as_deref(), Some("Succeeded"), "{}", done.log);
    let ran = done.runner_name.clone().unwrap();
    assert!(
        fleet.wait(Duration::from_secs(30), || fleet
            .inspect(&ran, "{{.State.Status}}")
            == "exited"),
        "its container ended with its job"
    );
    assert!(
        gh.wait_until(Duration::from_secs(30), |gh| ours(gh).len() == 2),
        "GitHub forgot it"
    );
    let list = fleet.ghr(&["list"]).ok();
    assert!(list.stdout.contains("ghr serve"), "{}", list.stdout);
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(fleet.inspect(&ran, "{{.State.Status}}"), "exited");

    // serve replaces it, then keeps three through ten jobs.
    let port = free_port();
    let listen = format!("127.0.0.1:{port}");
    let serve = Serve::start(
        fleet.ghr.command(&["serve", "--listen", &listen]),
        port,
        None,
    );
    assert!(
        gh.wait_until(Duration::from_secs(30), |gh| {
            let r = ours(gh);
            r.len() == 3 && r.iter().all(|r| r.status == "online")
        }),
        "serve replaced the runner that ended: {}",
        serve.stderr()
    );
    assert!(
        serve.stderr().contains(&format!(
            "replaced {ran} with a fresh runner: it ran its one job"
        )),
        "{}",
        serve.stderr()
    );
    let ids: Vec<u64> = (1..=10)
        .map(|i| gh.dispatch_job(&scope, &[LABEL], job(&format!("j{i}"))))
        .collect();
    let mut most = 0;
    let all_done = wait_for(Duration::from_secs(240), || {
        most = most.max(ours(gh).len());
        ids.iter()
            .all(|id| gh.job(*id).is_some_and(|j| j.is_finished()))
    });
    assert!(all_done, "ten jobs ran: {}", serve.stderr());
    for id in &ids {
        let j = gh.job(*id).unwrap();
        assert_eq!(
            j.result.as_deref(),
            Some("Succeeded"),
            "job {} found nothing of another job: {}",
            j.name,
            j.log
        );
        assert!(j.log.contains("clean in"), "{}", j.log);
    }
    assert!(most <= 3, "GitHub never listed more than 3 ({most})");
    assert!(
        gh.wait_until(Duration::from_secs(30), |gh| {
            let r = ours(gh);
            r.len() == 3 && r.iter().all(|r| r.status == "online" && !r.busy)
        }),
        "three fresh runners wait for the next jobs: {}",
        serve.stderr()
    );
    drop(serve);
    fleet.ghr(&["rm", "-y"]).ok();
    assert!(ours(gh).is_empty(), "no registration left");
}
