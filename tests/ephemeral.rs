//! One-job (ephemeral) runners on the real engine with the faithful runner image and the fake
//! GitHub: `ghr init` starts one generation from JIT configurations (no registration token,
//! no config.sh); each runner takes one job and its container ends; nothing replaces it
//! without `ghr serve`; with serve, every ended runner is replaced by a fresh one on a new,
//! empty volume, so no job sees what another left (a marker each job writes is absent in
//! every other), GitHub never lists more runners than the fleet has, and `ghr rm -y` leaves
//! no registration.

mod serve_support;

use serve_support::{wait_for, Serve};
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
    let json: serde_json::Value =
        serde_json::from_str(&fleet.ghr(&["list", "--json"]).ok().stdout).unwrap();
    let marked = json["runners"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["github"]["ephemeral"] == true)
        .count();
    assert_eq!(marked, 2, "GitHub's one-job runners are marked: {json}");
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(fleet.inspect(&ran, "{{.State.Status}}"), "exited");

    // serve replaces it, then keeps three through ten jobs.
    let serve = Serve::on(&fleet.ghr);
    assert!(
        gh.wait_until(Duration::from_secs(30), |gh| {
            let r = ours(gh);
            r.len() == 3 && r.iter().all(|r| r.status == "online")
        }),
        "serve replaced the runner that ended: {}",
        serve.stderr()
    );
    // Its new generation can come online a moment before serve says what it did.
    assert!(
        wait_for(Duration::from_secs(10), || serve.stderr().contains(
            &format!("replaced {ran} with a fresh runner: it ran its one job")
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
    // A runner whose job just ended is still listed, online and idle, until its session
    // ends: fresh ones are those after every replacement (the first runner's and ten jobs').
    let replaced = || {
        serve
            .stderr()
            .matches("with a fresh runner: it ran its one job")
            .count()
    };
    assert!(
        gh.wait_until(Duration::from_secs(30), |gh| {
            let r = ours(gh);
            replaced() == 11 && r.len() == 3 && r.iter().all(|r| r.status == "online" && !r.busy)
        }),
        "three fresh runners wait for the next jobs: {}",
        serve.stderr()
    );
    // `ghr stop` of an idle one: its registration goes, and serve leaves it stopped.
    let stopped = fleet.name("2");
    let stop = fleet.ghr(&["stop", &stopped]).ok();
    assert!(
        stop.stdout
            .contains(&format!("removed the registration of {stopped}")),
        "{}\n{}",
        stop.stdout,
        stop.stderr
    );
    assert!(!ours(gh).iter().any(|r| r.name == stopped));
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(
        fleet.inspect(&stopped, "{{.State.Status}}"),
        "exited",
        "a runner someone stopped stays stopped: {}",
        serve.stderr()
    );
    // One that dies before taking a job (killed, as a crash or a host restart ends it): its
    // registration is removed and a fresh runner takes its place under the same name.
    let dies = fleet.name("3");
    let old = gh.runner(&scope, &dies).unwrap().id;
    testkit::lab::docker(&["kill", &dies]);
    assert!(
        gh.wait_until(Duration::from_secs(30), |gh| gh
            .runner(&scope, &dies)
            .is_some_and(|r| r.id != old && r.status == "online")),
        "replaced: {}",
        serve.stderr()
    );
    // (online a moment before serve says so, as above)
    assert!(
        wait_for(Duration::from_secs(10), || serve.stderr().contains(
            &format!("replaced {dies} with a fresh runner: it ended before taking a job")
        )),
        "{}",
        serve.stderr()
    );
    assert_eq!(
        ours(gh).len(),
        2,
        "the dead one's registration is gone, not left offline"
    );
    drop(serve);
    fleet.ghr(&["rm", "-y"]).ok();
    assert!(ours(gh).is_empty(), "no registration left");
}

/// The JIT configurations this test's fake GitHub issued for `name`.
fn jit_calls(gh: &testkit::FakeGitHub) -> usize {
    gh.requests()
        .iter()
        .filter(|r| r.path.ends_with("/generate-jitconfig") && r.status == 201)
        .count()
}

#[test]
fn a_mixed_fleet_says_what_each_runner_is_and_a_flipped_key_registers_it_again() {
    if !docker_ready("a_mixed_fleet_says_what_each_runner_is_and_a_flipped_key_registers_it_again")
    {
        return;
    }
    let lab = Lab::new(env!("CARGO_BIN_EXE_ghr"));
    // Generic runners ephemeral, the board long-lived.
    let fleet = lab
        .fleet("mixed")
        .env("RUNNER_EPHEMERAL=true")
        .env("BOARD_RUNNERS=pi:pi-board")
        .env("BOARD_EPHEMERAL_PI=false")
        .env(&format!("RUNNER_LABELS={LABEL}"))
        .build();
    let scope = Scope::Org(&fleet.org);
    let gh = &lab.gh;
    let (generic, board) = (fleet.name("1"), fleet.name("pi"));
    let plan = fleet.ghr(&["plan", "-n", "1"]).ok();
    let line = |name: &str, out: &str| {
        out.lines()
            .filter(|l| l.contains(name) && l.contains("note"))
            .count()
    };
    let says = |name: &str, words: &str, out: &str| {
        out.lines().any(|l| l.contains(name) && l.contains(words))
    };
    assert_eq!(line(&generic, &plan.stdout), 1, "{}", plan.stdout);
    assert!(
        says(&generic, "ephemeral: runs one job", &plan.stdout),
        "{}",
        plan.stdout
    );
    assert!(
        says(&board, "long-lived: keeps its registration", &plan.stdout),
        "{}",
        plan.stdout
    );
    fleet.ghr(&["init", "-n", "1", "-y"]).ok();
    let online = |gh: &testkit::FakeGitHub, name: &str| {
        gh.runner(&scope, name)
            .is_some_and(|r| r.status == "online")
    };
    assert!(
        gh.wait_until(Duration::from_secs(60), |gh| online(gh, &generic)
            && online(gh, &board))
    );
    assert_eq!(jit_calls(gh), 1, "only the generic runner is a JIT runner");
    assert_eq!(
        fleet.inspect(&board, "{{.HostConfig.RestartPolicy.Name}}"),
        "unless-stopped"
    );
    let json: serde_json::Value =
        serde_json::from_str(&fleet.ghr(&["plan", "-n", "1", "--json"]).ok().stdout).unwrap();
    assert_eq!(json["steps"], serde_json::json!([]), "converged: {json}");

    // The reverse: the board becomes ephemeral, the generic runner long-lived.
    fleet.set_env("RUNNER_EPHEMERAL=false");
    fleet.set_env("BOARD_EPHEMERAL_PI=true");
    let plan = fleet.ghr(&["plan", "-n", "1"]).ok();
    let says = |name: &str, words: &str| {
        plan.stdout
            .lines()
            .any(|l| l.contains(name) && l.contains(words))
    };
    assert!(
        says(&generic, "it becomes long-lived") && says(&board, "it becomes ephemeral"),
        "{}",
        plan.stdout
    );
    assert!(
        says(&generic, "recreate") && says(&board, "recreate"),
        "{}",
        plan.stdout
    );
    let old_board = gh.runner(&scope, &board).unwrap().id;
    let init = fleet.ghr(&["init", "-n", "1", "-y"]).ok();
    assert!(
        gh.wait_until(Duration::from_secs(60), |gh| online(gh, &generic)
            && online(gh, &board)
            && gh.runner(&scope, &board).unwrap().id != old_board),
        "{}\n{}",
        init.stdout,
        init.stderr
    );
    assert_eq!(jit_calls(gh), 2, "the board's JIT configuration");
    assert_eq!(
        fleet.inspect(&generic, "{{.HostConfig.RestartPolicy.Name}}"),
        "unless-stopped"
    );
    // Only the two runners: the board's long-lived registration was removed first.
    assert_eq!(
        gh.runners(&scope)
            .iter()
            .filter(|r| r.name.starts_with(&fleet.prefix))
            .count(),
        2
    );
    let json: serde_json::Value =
        serde_json::from_str(&fleet.ghr(&["plan", "-n", "1", "--json"]).ok().stdout).unwrap();
    assert_eq!(
        json["steps"],
        serde_json::json!([]),
        "converged again: {json}"
    );
    fleet.ghr(&["rm", "-y"]).ok();
    assert!(gh
        .runners(&scope)
        .iter()
        .all(|r| !r.name.starts_with(&fleet.prefix)));
}

#[test]
fn ephemeral_board_runners_of_two_orgs_still_take_turns_on_the_shared_board() {
    if !docker_ready("ephemeral_board_runners_of_two_orgs_still_take_turns_on_the_shared_board") {
        return;
    }
    let lab = Lab::new(env!("CARGO_BIN_EXE_ghr"));
    let label = "board-eph";
    let (a, b) = lab.board_pair(
        "ebd",
        &[
            &format!("BOARD_RUNNERS=pi:{label}"),
            "RUNNER_RESOURCE_ID=shared-eph",
            "BOARD_EPHEMERAL_PI=true",
        ],
    );
    let gh = &lab.gh;
    let online = |gh: &testkit::FakeGitHub, f: &testkit::lab::Fleet| {
        gh.runner(&Scope::Org(&f.org), &f.name("pi"))
            .is_some_and(|r| r.status == "online" && !r.busy)
    };
    let serves: Vec<Serve> = [&a, &b].iter().map(|f| Serve::on(&f.ghr)).collect();
    let mut jobs = Vec::new();
    for i in 0..3u64 {
        for f in [&a, &b] {
            let spec = JobSpec {
                duration: Duration::from_millis(600),
                run_id: 200 + i,
                ..job(&format!("flash-{i}"))
            };
            jobs.push(gh.dispatch_job(&Scope::Org(&f.org), &[label], spec));
        }
    }
    let mut spans = Vec::new();
    for id in jobs {
        let Some(j) = gh.wait_job(id, Duration::from_secs(120)) else {
            panic!(
                "job {id} did not finish: {:?}\n{}\n{}",
                gh.job(id),
                serves[0].stderr(),
                serves[1].stderr()
            );
        };
        assert_eq!(j.result.as_deref(), Some("Succeeded"), "{}", j.log);
        spans.push((
            j.steps_started_at.unwrap(),
            j.steps_finished_at.unwrap(),
            j.runner_name.unwrap_or_default(),
        ));
    }
    spans.sort();
    for pair in spans.windows(2) {
        assert!(
            pair[1].0 >= pair[0].1,
            "jobs overlap on the board: {pair:?}"
        );
    }
    // Every job was granted the board, across runner generations, and the history says so.
    let history = a.ghr(&["locks", "--history", "--json"]).ok();
    let history: serde_json::Value = serde_json::from_str(&history.stdout).unwrap();
    let grants = history["grants"].as_array().unwrap();
    for f in [&a, &b] {
        assert_eq!(
            grants
                .iter()
                .filter(|g| g["org"] == f.org.as_str() && g["kind"] == "job")
                .count(),
            3,
            "{history}"
        );
    }
    for (serve, f) in serves.iter().zip([&a, &b]) {
        assert!(
            serve
                .stderr()
                .contains(&format!("replaced {} with a fresh runner", f.name("pi"))),
            "{}",
            serve.stderr()
        );
    }
    assert!(gh.wait_until(Duration::from_secs(60), |gh| online(gh, &a)
        && online(gh, &b)));
    drop(serves);
    for f in [&a, &b] {
        f.ghr(&["rm", "-y"]).ok();
        assert!(gh.runner(&Scope::Org(&f.org), &f.name("pi")).is_none());
    }
}

#[test]
fn ephemeral_runners_without_api_access_are_a_settings_error_that_changes_nothing() {
    if !docker_ready(
        "ephemeral_runners_without_api_access_are_a_settings_error_that_changes_nothing",
    ) {
        return;
    }
    let lab = Lab::new(env!("CARGO_BIN_EXE_ghr"));
    let fleet = lab
        .fleet("ephtok")
        .env("GH_PAT=")
        .env("REG_TOKEN=fake-reg-eph")
        .env("BOARD_RUNNERS=pi:pi")
        .env("BOARD_EPHEMERAL_PI=true")
        .build();
    let out = fleet.ghr(&["init", "-n", "1", "-y"]).code(3);
    assert!(
        out.stderr.lines().any(|l| l.starts_with(
            "error: BOARD_EPHEMERAL_PI=true: ephemeral runners get their JIT configuration from GitHub's API"
        ) && l.contains("set GH_PAT or a GitHub App")),
        "{}",
        out.stderr
    );
    assert!(fleet.containers().is_empty(), "nothing was created");
    assert!(fleet.volumes().is_empty(), "nothing was created");
}

/// A new generation waits while its board is unhealthy (another org's live runner keeps
/// checking it), and starts once a check passes.
#[test]
fn a_new_generation_waits_while_its_shared_board_is_unhealthy() {
    if !docker_ready("a_new_generation_waits_while_its_shared_board_is_unhealthy") {
        return;
    }
    let lab = Lab::new(env!("CARGO_BIN_EXE_ghr"));
    let gh = &lab.gh;
    let flags = lab.scratch().join("flags");
    std::fs::create_dir(&flags).unwrap();
    std::fs::set_permissions(&flags, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    std::fs::write(flags.join("ok"), "").unwrap();
    let (a, b) = lab.board_pair(
        "sick",
        &[
            "BOARD_RUNNERS=pi:sick-board",
            "RUNNER_RESOURCE_ID=sick-pi",
            "BOARD_EPHEMERAL_PI=true",
            "BOARD_HEALTHCHECK_PI=test -e /flags/ok",
            "RUNNER_HEALTHCHECK_INTERVAL=1s",
            &format!("BOARD_VOLUMES_PI={}:/flags:ro", flags.display()),
        ],
    );
    let online = |gh: &testkit::FakeGitHub, f: &testkit::lab::Fleet| {
        gh.runner(&Scope::Org(&f.org), &f.name("pi"))
            .is_some_and(|r| r.status == "online")
    };
    let health = || -> String {
        let out = a.ghr(&["locks", "--json"]).ok();
        let v: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
        v.as_array()
            .and_then(|r| r.iter().find(|r| r["resource"] == "sick-pi").cloned())
            .map(|r| r["health"].as_str().unwrap_or_default().to_string())
            .unwrap_or_default()
    };
    let serve = Serve::on(&a.ghr);

    std::fs::remove_file(flags.join("ok")).unwrap();
    assert!(a.wait(Duration::from_secs(30), || health() == "unhealthy"));
    let runner = a.name("pi");
    testkit::lab::docker(&["kill", &runner]);
    assert!(
        wait_for(Duration::from_secs(20), || serve
            .stderr()
            .contains(&format!("{runner} waits: its board is unhealthy"))),
        "{}",
        serve.stderr()
    );
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(
        a.inspect(&runner, "{{.State.Status}}"),
        "exited",
        "no new generation on an unhealthy board: {}",
        serve.stderr()
    );

    std::fs::write(flags.join("ok"), "").unwrap();
    assert!(
        wait_for(Duration::from_secs(30), || a
            .inspect(&runner, "{{.State.Status}}")
            == "running"),
        "started once a check passed: {}",
        serve.stderr()
    );
    assert!(gh.wait_until(Duration::from_secs(60), |gh| online(gh, &a)));
    drop(serve);
    for f in [&a, &b] {
        f.ghr(&["rm", "-y"]).ok();
    }
}

/// Issue 19.4 with ghr's own one-job runners: two orgs with full queues on one board, queue at
/// GitHub on. Each job ends its runner; `ghr serve` brings the next generation, whose wrapper
/// stays offline (parked, before its first start) while the other org has the board. So the
/// orgs take turns and no job waits for the board "in progress" on a runner, except once at
/// the start, when both orgs' first runners were online together (as today).
#[test]
fn one_job_board_runners_of_two_orgs_with_full_queues_alternate_without_waiting_in_progress() {
    if !docker_ready(
        "one_job_board_runners_of_two_orgs_with_full_queues_alternate_without_waiting_in_progress",
    ) {
        return;
    }
    let lab = Lab::new(env!("CARGO_BIN_EXE_ghr"));
    let label = "board-alt";
    let (a, b) = lab.board_pair(
        "alt",
        &[
            &format!("BOARD_RUNNERS=pi:{label}"),
            "RUNNER_RESOURCE_ID=shared-alt",
            "BOARD_EPHEMERAL_PI=true",
            "RUNNER_QUEUE_AT_GITHUB=true",
        ],
    );
    let gh = &lab.gh;
    let serves: Vec<Serve> = [&a, &b].iter().map(|f| Serve::on(&f.ghr)).collect();
    // Full queues: every job of both orgs queued at once. A job outlasts a replacement
    // (about 2 s), so the next generation is parked before the board frees.
    let per_org = 4u64;
    let mut jobs = Vec::new();
    for i in 0..per_org {
        for f in [&a, &b] {
            let spec = JobSpec {
                duration: Duration::from_secs(3),
                run_id: 300 + i,
                ..JobSpec::new(&format!("flash-{i}"))
            };
            jobs.push((
                f.org.clone(),
                gh.dispatch_job(&Scope::Org(&f.org), &[label], spec),
            ));
        }
    }
    let mut runs = Vec::new();
    for (org, id) in jobs {
        let Some(j) = gh.wait_job(id, Duration::from_secs(180)) else {
            panic!(
                "job {id} did not finish: {:?}\n{}\n{}",
                gh.job(id),
                serves[0].stderr(),
                serves[1].stderr()
            );
        };
        assert_eq!(j.result.as_deref(), Some("Succeeded"), "{}", j.log);
        assert!(!j.cancel_requested);
        let in_progress_wait = j
            .steps_started_at
            .unwrap()
            .duration_since(j.started_at.unwrap())
            .unwrap_or_default();
        runs.push((j.steps_started_at.unwrap(), org, in_progress_wait));
    }
    runs.sort();
    let order: Vec<&str> = runs.iter().map(|(_, org, _)| org.as_str()).collect();
    let waited: Vec<Duration> = runs.iter().map(|(_, _, w)| *w).collect();
    let report = format!(
        "grant order {order:?}, waits in progress {waited:?}\n{}\n{}",
        serves[0].stderr(),
        serves[1].stderr()
    );
    assert!(
        order.windows(2).all(|w| w[0] != w[1]),
        "the orgs take turns: {report}"
    );
    // The first pair's runners were both online before any job: one of those two jobs waits
    // on its runner, as today. Every later job found the board free when its runner took it.
    assert!(
        waited[2..].iter().all(|w| *w < Duration::from_millis(600)),
        "no job after the first pair waits for the board in progress: {report}"
    );
    drop(serves);
    for f in [&a, &b] {
        f.ghr(&["rm", "-y"]).ok();
        assert!(gh.runner(&Scope::Org(&f.org), &f.name("pi")).is_none());
    }
}
