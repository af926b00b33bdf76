//! Two orgs, one board, end to end: two fleets (one `.env` per org) whose board runners share
//! a resource id and a host lock directory, on the real engine and the faithful runner image
//! (no runner-wrapper in it: ghr mounts itself), with the fake GitHub dispatching jobs to
//! both orgs.

use std::time::{Duration, Instant, SystemTime};
use testkit::lab::{docker, docker_ready, Fleet, Lab};
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

/// `ghr locks --json` on the host, read from the shared lock directory.
fn locks_json(fleet: &Fleet) -> serde_json::Value {
    let out = fleet.ghr(&["locks", "--json"]).ok();
    serde_json::from_str(&out.stdout).expect("ghr locks --json prints JSON")
}

fn both_online(gh: &FakeGitHub, fleets: &[&Fleet]) -> bool {
    gh.wait_until(Duration::from_secs(60), |gh| {
        fleets.iter().all(|f| {
            gh.runner(&Scope::Org(&f.org), &board_runner(f))
                .is_some_and(|r| r.status == "online")
        })
    })
}

/// Two orgs' fleets with one board runner each, sharing `resource`; both initialized.
fn setup(tag: &str) -> Board {
    let lab = Lab::new(env!("CARGO_BIN_EXE_ghr"));
    let label = format!("board-{tag}");
    let (a, b) = lab.board_pair(
        tag,
        &[
            &format!("BOARD_RUNNERS=pi:{label}"),
            &format!("RUNNER_RESOURCE_ID=shared-{tag}"),
        ],
    );
    Board { lab, a, b, label }
}

#[test]
fn jobs_of_two_orgs_take_turns_on_the_shared_board() {
    if !docker_ready("jobs_of_two_orgs_take_turns_on_the_shared_board") {
        return;
    }
    let Board { lab, a, b, label } = setup("turns");
    let gh = &lab.gh;
    let mut jobs = Vec::new();
    for i in 0..4u64 {
        for fleet in [&a, &b] {
            let spec = JobSpec {
                name: format!("flash-{i}"),
                duration: Duration::from_millis(600),
                run_id: 100 + i,
                ..JobSpec::default()
            };
            jobs.push(gh.dispatch_job(&Scope::Org(&fleet.org), &[label.as_str()], spec));
        }
    }
    let mut spans: Vec<(SystemTime, SystemTime, String)> = Vec::new();
    let mut waited_in_log = false;
    for id in jobs {
        let Some(job) = gh.wait_job(id, Duration::from_secs(90)) else {
            panic!(
                "job {id} did not finish: {:?}\n{}\n{}",
                gh.job(id),
                a.logs(&board_runner(&a), 60),
                b.logs(&board_runner(&b), 60)
            );
        };
        assert_eq!(
            job.result.as_deref(),
            Some("Succeeded"),
            "job {id}: {}",
            job.log
        );
        waited_in_log |= job.log.contains("waiting for resource");
        spans.push((
            job.steps_started_at.expect("steps started"),
            job.steps_finished_at.expect("steps finished"),
            job.runner_name.unwrap_or_default(),
        ));
    }
    spans.sort();
    for pair in spans.windows(2) {
        assert!(
            pair[1].0 >= pair[0].1,
            "jobs overlap on the board: {} ran {:?}..{:?}, {} started {:?}",
            pair[0].2,
            pair[0].0,
            pair[0].1,
            pair[1].2,
            pair[1].0
        );
    }
    for fleet in [&a, &b] {
        assert!(
            spans.iter().any(|s| s.2 == board_runner(fleet)),
            "{} ran jobs",
            fleet.org
        );
    }
    assert!(
        waited_in_log,
        "a waiting job says in its log who holds the board"
    );

    // The lock is free again, and `ghr locks` on the host says so.
    let locks = locks_json(&a);
    assert_eq!(locks[0]["state"], "free", "{locks}");
    // The board containers never restarted (the wrapper runs in the stock image).
    for fleet in [&a, &b] {
        assert_eq!(
            fleet.inspect(&board_runner(fleet), "{{.RestartCount}}"),
            "0"
        );
    }
}

#[test]
fn docker_kill_of_the_holder_lets_the_other_org_proceed() {
    if !docker_ready("docker_kill_of_the_holder_lets_the_other_org_proceed") {
        return;
    }
    let Board { lab, a, b, label } = setup("kill");
    let gh = &lab.gh;
    let long = JobSpec {
        name: "hold".into(),
        duration: Duration::from_secs(120),
        ..JobSpec::default()
    };
    let holder = gh.dispatch_job(&Scope::Org(&a.org), &[label.as_str()], long);
    assert!(
        gh.wait_until(Duration::from_secs(30), |gh| gh
            .job(holder)
            .is_some_and(|j| j.steps_started_at.is_some())),
        "org a's job gets the board"
    );
    let short = JobSpec {
        name: "next".into(),
        duration: Duration::from_millis(200),
        ..JobSpec::default()
    };
    let waiter = gh.dispatch_job(&Scope::Org(&b.org), &[label.as_str()], short);

    // While a holds the board, b's job waits in its started hook, and `ghr locks` shows both.
    assert!(
        gh.wait_until(Duration::from_secs(30), |gh| gh
            .job(waiter)
            .is_some_and(|j| j.log.contains("waiting for resource"))),
        "org b's job waits for the board"
    );
    assert!(
        gh.job(waiter).unwrap().steps_started_at.is_none(),
        "b must not run while a holds the board"
    );
    let locks = locks_json(&a);
    assert_eq!(locks[0]["state"], "held", "{locks}");
    assert_eq!(
        locks[0]["holder"]["runner"],
        board_runner(&a).as_str(),
        "{locks}"
    );
    assert_eq!(
        locks[0]["waiters"][0]["runner"],
        board_runner(&b).as_str(),
        "{locks}"
    );

    let killed_at = Instant::now();
    docker(&["kill", &board_runner(&a)]);
    let job = gh
        .wait_job(waiter, Duration::from_secs(30))
        .expect("b's job runs once a is killed");
    assert_eq!(job.result.as_deref(), Some("Succeeded"), "{}", job.log);
    let waited = killed_at.elapsed();
    assert!(
        waited < Duration::from_secs(15),
        "b waited {waited:?} after the kill"
    );
}

/// A pool of two identical boards shared by two orgs, each org with two indexed board runners
/// (`RUNNER_BOARD_COUNT`): jobs of both orgs run two at a time, never two on one member, each
/// job finds its member and the member's own environment in `$GITHUB_ENV`.
#[test]
fn a_pool_of_two_boards_serves_two_orgs_one_job_per_member() {
    if !docker_ready("a_pool_of_two_boards_serves_two_orgs_one_job_per_member") {
        return;
    }
    let lab = Lab::new(env!("CARGO_BIN_EXE_ghr"));
    let gh = &lab.gh;
    let label = "rk3568-pool";
    let (a, b) = lab.two_orgs(
        "pool",
        &[
            "RUNNER_BOARD_COUNT=2",
            &format!("BOARD_RUNNER_LABELS={label}"),
            "RUNNER_RESOURCE_ID=rk-a,rk-b",
            "RESOURCE_ENV_RK_A=SERIAL=/dev/ttyUSB0;RELAY=1",
            "RESOURCE_ENV_RK_B=SERIAL=/dev/ttyUSB1;RELAY=2",
        ],
    );
    let runners = |f: &Fleet| [f.name("board-1"), f.name("board-2")];
    for f in [&a, &b] {
        f.ghr(&["init", "-n", "0"]).ok();
        assert_eq!(
            f.inspect(
                &f.name("board-2"),
                "{{range .Config.Env}}{{println .}}{{end}}"
            )
            .lines()
            .filter(|l| l.starts_with("RUNNER_BOARD_INDEX=") || l.starts_with("RESOURCE_ENV_"))
            .collect::<Vec<_>>(),
            [
                "RUNNER_BOARD_INDEX=2",
                "RESOURCE_ENV_RK_A=SERIAL=/dev/ttyUSB0;RELAY=1",
                "RESOURCE_ENV_RK_B=SERIAL=/dev/ttyUSB1;RELAY=2"
            ]
        );
    }
    assert!(
        gh.wait_until(Duration::from_secs(60), |gh| [&a, &b].iter().all(|f| {
            runners(f).iter().all(|n| {
                gh.runner(&Scope::Org(&f.org), n)
                    .is_some_and(|r| r.status == "online")
            })
        })),
        "four board runners online:\n{}",
        a.logs(&a.name("board-1"), 40)
    );

    let script = "echo \"member=$GHR_RESOURCE serial=$SERIAL relay=$RELAY\"";
    let mut jobs = Vec::new();
    for i in 0..4u64 {
        for f in [&a, &b] {
            let spec = JobSpec {
                name: format!("flash-{i}"),
                duration: Duration::from_millis(800),
                run_id: 200 + i,
                script: Some(script.into()),
                ..JobSpec::default()
            };
            jobs.push(gh.dispatch_job(&Scope::Org(&f.org), &[label], spec));
        }
    }
    // (member, steps started, steps finished, runner)
    let mut spans: Vec<(String, SystemTime, SystemTime, String)> = Vec::new();
    for id in jobs {
        let job = gh
            .wait_job(id, Duration::from_secs(120))
            .unwrap_or_else(|| panic!("job {id} did not finish: {:?}", gh.job(id)));
        assert_eq!(job.result.as_deref(), Some("Succeeded"), "{}", job.log);
        let line = job
            .log
            .lines()
            .find(|l| l.contains("member="))
            .unwrap_or_else(|| panic!("the job printed its member: {}", job.log));
        let member = if line.contains("member=rk-a serial=/dev/ttyUSB0 relay=1") {
            "rk-a"
        } else if line.contains("member=rk-b serial=/dev/ttyUSB1 relay=2") {
            "rk-b"
        } else {
            panic!("a member with its own environment: {line}")
        };
        spans.push((
            member.to_string(),
            job.steps_started_at.unwrap(),
            job.steps_finished_at.unwrap(),
            job.runner_name.unwrap_or_default(),
        ));
    }
    spans.sort();
    for pair in spans.windows(2).filter(|p| p[0].0 == p[1].0) {
        assert!(
            pair[1].1 >= pair[0].2,
            "two jobs on {} at once: {} and {}",
            pair[0].0,
            pair[0].3,
            pair[1].3
        );
    }
    for member in ["rk-a", "rk-b"] {
        assert!(spans.iter().any(|s| s.0 == member), "{member} was used");
    }
    for f in [&a, &b] {
        assert!(
            spans.iter().any(|s| s.3.starts_with(&f.prefix)),
            "{} ran jobs",
            f.org
        );
    }
    // Two members: at some moment two jobs ran at once.
    let parallel = spans
        .iter()
        .any(|x| spans.iter().any(|y| x.0 != y.0 && x.1 < y.2 && y.1 < x.2));
    assert!(parallel, "the pool ran two jobs at once: {spans:?}");
}

/// `BOARD_HEALTHCHECK_<BOARD>` end to end: a board whose check fails keeps its runner off
/// GitHub (the job waits in GitHub's queue), `ghr locks` says why, and the board coming back
/// (the check passing) brings the runner back by itself.
#[test]
fn a_failing_health_check_keeps_the_board_runner_offline_until_it_passes() {
    if !docker_ready("a_failing_health_check_keeps_the_board_runner_offline_until_it_passes") {
        return;
    }
    let lab = Lab::new(env!("CARGO_BIN_EXE_ghr"));
    let gh = &lab.gh;
    // What the check looks at: a host directory the board container sees read-only.
    let flags = lab.scratch().join("flags");
    std::fs::create_dir(&flags).unwrap();
    std::fs::set_permissions(&flags, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let label = "hc-board";
    let f = lab
        .fleet("health")
        .env(&format!("BOARD_RUNNERS=pi:{label}"))
        .env("RUNNER_RESOURCE_ID=hc-pi")
        .env("BOARD_HEALTHCHECK_PI=echo probing $GHR_RESOURCE; test -e /flags/ok")
        .env("RUNNER_HEALTHCHECK_INTERVAL=1s")
        .env(&format!("BOARD_VOLUMES_PI={}:/flags:ro", flags.display()))
        .build();
    let runner = f.name("pi");
    let scope = Scope::Org(&f.org);
    f.ghr(&["init", "-n", "0"]).ok();

    let health = |f: &Fleet| -> serde_json::Value {
        locks_json(f)
            .as_array()
            .and_then(|a| a.iter().find(|r| r["resource"] == "hc-pi").cloned())
            .unwrap_or_default()
    };
    assert!(
        f.wait(Duration::from_secs(30), || health(&f)["health"]
            == "unhealthy"),
        "the failing check marks the board unhealthy: {}\n{}",
        health(&f),
        f.logs(&runner, 40)
    );
    assert_eq!(health(&f)["health_check"]["output"], "probing hc-pi");
    let job = gh.dispatch_job(&scope, &[label], JobSpec::new("flash"));
    std::thread::sleep(Duration::from_secs(3));
    assert!(
        gh.runner(&scope, &runner)
            .is_some_and(|r| r.status == "offline"),
        "an unhealthy board's runner is not online"
    );
    assert!(
        gh.job(job).unwrap().runner_name.is_none(),
        "the job waits in GitHub's queue"
    );

    std::fs::write(flags.join("ok"), "").unwrap();
    let done = gh
        .wait_job(job, Duration::from_secs(60))
        .unwrap_or_else(|| {
            panic!(
                "the board came back: {}\n{}",
                health(&f),
                f.logs(&runner, 40)
            )
        });
    assert_eq!(done.result.as_deref(), Some("Succeeded"), "{}", done.log);
    assert_eq!(health(&f)["health"], "healthy");
}

/// An older ghr made the lock directory 1777 (its resources 0777, files 0666). `init` gives it
/// and what is inside to the lock group, here one the image's runner user is not in
/// (`RUNNER_LOCK_GROUP=3456`): the board runner gets it through `group_add`, and its jobs run.
#[test]
fn an_older_open_lock_directory_is_secured_for_the_lock_group() {
    if !docker_ready("an_older_open_lock_directory_is_secured_for_the_lock_group") {
        return;
    }
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    let lab = Lab::new(env!("CARGO_BIN_EXE_ghr"));
    let dir = lab.lock_dir();
    let resource = dir.join("shared-sec");
    std::fs::create_dir_all(&resource).unwrap();
    std::fs::write(resource.join("lock"), "").unwrap();
    for (path, mode) in [
        (&dir, 0o1777),
        (&resource, 0o777),
        (&resource.join("lock"), 0o666),
    ] {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
    }
    let label = "board-sec";
    let fleet = lab
        .fleet("sec")
        .org("sec-org")
        .env(&format!("BOARD_RUNNERS=pi:{label}"))
        .env("RUNNER_RESOURCE_ID=shared-sec")
        .env("RUNNER_LOCK_GROUP=3456")
        .build();
    let out = fleet.ghr(&["init", "-n", "0"]).ok();
    let said = format!("{}{}", out.stdout, out.stderr);
    assert!(
        said.contains(&format!(
            "Secured the lock directory {} (owner 0:0 mode 1777 -> root:3456 mode 2770",
            dir.display()
        )),
        "{said}"
    );
    let meta = |p: &std::path::Path| {
        let m = std::fs::metadata(p).unwrap();
        (m.gid(), m.mode() & 0o7777)
    };
    assert_eq!(meta(&dir), (3456, 0o2770));
    assert_eq!(meta(&resource), (3456, 0o2770));
    assert_eq!(meta(&resource.join("lock")), (3456, 0o660));
    let board = board_runner(&fleet);
    assert!(
        fleet
            .inspect(&board, "{{.HostConfig.GroupAdd}}")
            .contains("3456"),
        "the board runner is in the lock group"
    );
    let gh = &lab.gh;
    assert!(both_online(gh, &[&fleet]), "{}", fleet.logs(&board, 40));
    let id = gh.dispatch_job(
        &Scope::Org(&fleet.org),
        &[label],
        JobSpec {
            name: "flash".into(),
            duration: Duration::from_millis(200),
            ..JobSpec::default()
        },
    );
    let job = gh
        .wait_job(id, Duration::from_secs(60))
        .unwrap_or_else(|| panic!("{}", fleet.logs(&board, 60)));
    assert_eq!(job.result.as_deref(), Some("Succeeded"), "{}", job.log);
    assert!(job.log.contains("acquired shared-sec"), "{}", job.log);
}

/// Repair end to end: the first check fails, the board's repair runs in its container under
/// the lock (`ghr locks` shows "repairing"), the check after it passes, and the job that was
/// queued meanwhile runs; the ledger has the repair.
#[test]
fn a_failed_check_is_repaired_under_the_lock_and_the_queued_job_runs() {
    if !docker_ready("a_failed_check_is_repaired_under_the_lock_and_the_queued_job_runs") {
        return;
    }
    let lab = Lab::new(env!("CARGO_BIN_EXE_ghr"));
    let gh = &lab.gh;
    // The board's "power": a host directory the container's runner user (uid 1001) may write.
    let flags = lab.scratch().join("power");
    std::fs::create_dir(&flags).unwrap();
    std::fs::set_permissions(&flags, std::os::unix::fs::PermissionsExt::from_mode(0o777)).unwrap();
    let label = "rp-board";
    let f = lab
        .fleet("repair")
        .env(&format!("BOARD_RUNNERS=pi:{label}"))
        .env("RUNNER_RESOURCE_ID=rp-pi")
        .env("BOARD_HEALTHCHECK_PI=test -e /power/on")
        .env("BOARD_REPAIR_PI=echo cycling; sleep 3; touch /power/on")
        .env(&format!("BOARD_VOLUMES_PI={}:/power", flags.display()))
        .build();
    let runner = f.name("pi");
    let scope = Scope::Org(&f.org);
    let job = gh.dispatch_job(&scope, &[label], JobSpec::new("flash"));
    f.ghr(&["init", "-n", "0"]).ok();
    let resource = |f: &Fleet| -> serde_json::Value {
        locks_json(f)
            .as_array()
            .and_then(|a| a.iter().find(|r| r["resource"] == "rp-pi").cloned())
            .unwrap_or_default()
    };
    assert!(
        f.wait(Duration::from_secs(30), || resource(&f)["health"]
            == "repairing"),
        "ghr locks shows the repair: {}\n{}",
        resource(&f),
        f.logs(&runner, 40)
    );
    assert_eq!(resource(&f)["holder"]["kind"], "repair");
    assert!(
        gh.job(job).unwrap().runner_name.is_none(),
        "no job before the check after the repair passed"
    );
    let done = gh
        .wait_job(job, Duration::from_secs(60))
        .unwrap_or_else(|| panic!("repaired: {}\n{}", resource(&f), f.logs(&runner, 40)));
    assert_eq!(done.result.as_deref(), Some("Succeeded"), "{}", done.log);
    assert_eq!(resource(&f)["health"], "healthy");
    let history = f.ghr(&["locks", "--history", "--json"]).ok();
    let history: serde_json::Value = serde_json::from_str(&history.stdout).unwrap();
    let causes: Vec<&str> = history["grants"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|g| g["kind"] == "repair")
        .filter_map(|g| g["cause"].as_str())
        .collect();
    assert_eq!(causes, ["repair 1 of 2 exit 0"]);
}
