//! End to end: the real `ghr` binary, the machine's Docker engine and compose, runner
//! containers from the FROM-scratch test image, and the fake GitHub.
//!
//! Without Docker these tests fail, unless GHR_SKIP_DOCKER_TESTS=1 (then they say "skipped").

use std::time::{Duration, Instant};
use testkit::lab::{docker_ready, running, test_image, Lab};
use testkit::{FakeGitHub, Scope};

const ORG: &str = testkit::lab::ORG;
const SCOPE: Scope<'static> = Scope::Org(ORG);

fn lab() -> Lab {
    Lab::new(env!("CARGO_BIN_EXE_ghr"))
}

/// Runners of `prefix` on the fake GitHub: (name, status), sorted.
fn github_runners(gh: &FakeGitHub, prefix: &str) -> Vec<(String, String)> {
    let mut v: Vec<(String, String)> = gh
        .runners(&SCOPE)
        .into_iter()
        .filter(|r| r.name.starts_with(prefix))
        .map(|r| (r.name, r.status))
        .collect();
    v.sort();
    v
}

/// Waits until GitHub shows exactly `names` of `prefix`, each with `status`.
#[track_caller]
fn wait_github(gh: &FakeGitHub, prefix: &str, names: &[String], status: &str) {
    let mut want: Vec<(String, String)> = names
        .iter()
        .map(|n| (n.clone(), status.to_string()))
        .collect();
    want.sort();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let got = github_runners(gh, prefix);
        if got == want {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "GitHub shows {got:?}, expected {want:?}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// Registration tokens GitHub handed out (answers in error are not tokens).
fn token_requests(gh: &FakeGitHub) -> usize {
    gh.requests()
        .iter()
        .filter(|r| r.method == "POST" && r.path.contains("registration-token") && r.status < 300)
        .count()
}

#[test]
fn fleet_lifecycle_end_to_end() {
    if !docker_ready("fleet_lifecycle_end_to_end") {
        return;
    }
    let lab = lab();
    let gh = &lab.gh;
    let fleet = lab.fleet("life").build();
    let all: Vec<String> = (1..=4).map(|i| fleet.name(&i.to_string())).collect();

    // init -n 4: four containers running, four runners online, one token for all of them.
    fleet.ghr(&["init", "-n", "4"]).ok();
    assert_eq!(fleet.containers(), running(&all));
    wait_github(gh, &fleet.prefix, &all, "online");
    assert_eq!(token_requests(gh), 1);

    // init again: same containers (not recreated, not restarted), one look at GitHub.
    let before: Vec<String> = all.iter().map(|n| fleet.container_id(n)).collect();
    gh.clear_requests();
    fleet
        .ghr(&["init", "-n", "4"])
        .ok()
        .stdout_line("4 runners of acme are as the settings say; nothing to do");
    let after: Vec<String> = all.iter().map(|n| fleet.container_id(n)).collect();
    assert_eq!(
        before, after,
        "a second init must not recreate or restart containers"
    );
    let calls: Vec<String> = gh
        .requests()
        .iter()
        .map(|r| format!("{} {}", r.method, r.path))
        .collect();
    assert_eq!(
        calls,
        ["GET /orgs/acme/actions/runners"],
        "a second init makes one list call and no write"
    );
    wait_github(gh, &fleet.prefix, &all, "online");

    // list and list --json tell the truth.
    let table = fleet.ghr(&["list"]).ok().stdout;
    for name in &all {
        let line = table
            .lines()
            .find(|l| l.contains(name.as_str()))
            .unwrap_or_else(|| panic!("{name} in {table}"));
        assert!(
            line.contains("running") && line.contains("online"),
            "{line}"
        );
    }
    let json: serde_json::Value =
        serde_json::from_str(&fleet.ghr(&["ls", "--json"]).ok().stdout).unwrap();
    assert_eq!(
        (&json["docker"], &json["github"]),
        (&"known".into(), &"known".into())
    );
    let rows = json["runners"].as_array().unwrap();
    assert_eq!(rows.len(), 4);
    for (row, name) in rows.iter().zip(&all) {
        assert_eq!(row["name"], name.as_str());
        assert_eq!(row["container"]["state"], "running");
        assert_eq!(row["container"]["image"], test_image().as_str());
        assert_eq!(row["github"]["status"], "online");
        assert_eq!(row["github"]["busy"], false);
        assert!(row["github"]["id"].as_u64().is_some());
    }

    // stop / start / restart one runner, by its short names.
    fleet.ghr(&["stop", "2"]).ok();
    let states = fleet.containers();
    assert_eq!(
        states.iter().filter(|(_, s)| s == "running").count(),
        3,
        "{states:?}"
    );
    assert!(
        states.contains(&(all[1].clone(), "exited".into())),
        "{states:?}"
    );
    fleet.ghr(&["start", "runner-2"]).ok();
    assert_eq!(fleet.containers(), running(&all));
    let started = fleet.container_id(&all[2]);
    fleet.ghr(&["restart", &all[2]]).ok();
    assert_ne!(
        fleet.container_id(&all[2]),
        started,
        "restart starts the container anew"
    );
    assert_eq!(fleet.containers(), running(&all));
    wait_github(gh, &fleet.prefix, &all, "online");
    // Unknown names warn; none left fails.
    let out = fleet.ghr(&["stop", "nope"]);
    assert_ne!(out.code, Some(0));
    assert!(out.stderr.contains("nope"), "{}", out.stderr);

    // logs of one runner, without following.
    fleet
        .ghr(&["logs", "1", "--no-follow", "--tail", "50"])
        .ok();

    // Docker unreachable: GitHub's side still shows, the containers are "unknown" (not "no
    // container"), with a warning and a Docker exit code; --json marks the side.
    let out = fleet
        .ghr_with(
            &[("DOCKER_HOST", "unix:///nonexistent/docker.sock")],
            &["list"],
        )
        .code(5);
    let row = out
        .stdout
        .lines()
        .find(|l| l.contains(&all[0]))
        .unwrap_or("");
    assert!(
        row.contains("unknown") && row.contains("online"),
        "{}",
        out.stdout
    );
    assert!(!out.stdout.contains("no container"), "{}", out.stdout);
    // Said once, as the command's error.
    out.clone().error_line(
        "cannot read containers: docker ps failed: Cannot connect to the Docker daemon",
    );
    let out = fleet
        .ghr_with(
            &[("DOCKER_HOST", "unix:///nonexistent/docker.sock")],
            &["list", "--json"],
        )
        .code(5);
    let json: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(
        (&json["docker"], &json["github"]),
        (&"unknown".into(), &"known".into())
    );
    // GitHub unreachable: the other way round, with GitHub's exit code.
    let out = fleet
        .ghr_with(
            &[("GITHUB_API_URL", "http://127.0.0.1:9")],
            &["list", "--json"],
        )
        .code(4);
    let json: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(
        (&json["docker"], &json["github"]),
        (&"known".into(), &"unknown".into())
    );
    assert!(json["runners"]
        .as_array()
        .unwrap()
        .iter()
        .all(|r| r["registration"] == "unknown"));

    // A second fleet (another prefix) in the same org must survive everything below.
    let other = lab.fleet("other").build();
    other.ghr(&["init", "-n", "1"]).ok();
    let other_runner = vec![other.name("1")];
    wait_github(gh, &other.prefix, &other_runner, "online");

    // rm one by name.
    fleet.ghr(&["rm", "runner-2", "-y"]).ok();
    let rest: Vec<String> = all.iter().filter(|n| **n != all[1]).cloned().collect();
    assert_eq!(fleet.containers(), running(&rest));
    wait_github(gh, &fleet.prefix, &rest, "online");
    assert!(
        !fleet.volumes().iter().any(|v| v.contains(&all[1])),
        "{:?}",
        fleet.volumes()
    );

    // Off a terminal, rm without -y refuses and changes nothing.
    fleet.ghr(&["rm"]).code(130);
    assert_eq!(fleet.containers().len(), 3);

    // A busy runner keeps its container; the rest go; the exit code says so; a re-run converges.
    let busy = gh
        .runners(&SCOPE)
        .into_iter()
        .find(|r| r.name == all[0])
        .unwrap();
    gh.set_busy(&SCOPE, busy.id, true);
    fleet.ghr(&["rm", "-y"]).code(1);
    assert_eq!(fleet.containers(), running(&all[..1]));
    gh.set_busy(&SCOPE, busy.id, false);
    // A runner registered on GitHub without a container is removed too.
    gh.seed_runners(&SCOPE, &format!("{}runner-", fleet.prefix), 1);
    let table = fleet.ghr(&["list"]).ok().stdout;
    assert_eq!(table.matches("no container").count(), 1, "{table}");
    fleet.ghr(&["rm", "-y"]).ok();
    assert!(fleet.containers().is_empty());
    assert!(fleet.volumes().is_empty(), "{:?}", fleet.volumes());
    assert!(
        github_runners(gh, &fleet.prefix).is_empty(),
        "{:?}",
        github_runners(gh, &fleet.prefix)
    );

    // The other prefix is untouched.
    assert_eq!(other.containers(), running(&other_runner));
    wait_github(gh, &other.prefix, &other_runner, "online");
    assert_eq!(other.volumes().len(), 1);

    // purge: rm of everything plus the generated files; .env stays unless --env.
    fleet.ghr(&["init", "-n", "1"]).ok();
    let compose = fleet.path(&format!("docker-compose.{ORG}.yml"));
    assert!(compose.exists());
    fleet.ghr(&["purge", "-y"]).ok();
    assert!(!compose.exists());
    assert!(!fleet.path(&format!(".reg_token.cache.{ORG}")).exists());
    assert!(!fleet.path(&format!(".reg_token.cache.{ORG}.lock")).exists());
    assert!(fleet.path(".env").exists());
    assert!(fleet.containers().is_empty() && fleet.volumes().is_empty());
    assert!(github_runners(gh, &fleet.prefix).is_empty());
    fleet.ghr(&["purge", "-y", "--env"]).ok();
    assert!(!fleet.path(".env").exists());
    assert_eq!(other.containers(), running(&other_runner));
}

#[test]
fn two_inits_within_the_ttl_share_one_token() {
    if !docker_ready("two_inits_within_the_ttl_share_one_token") {
        return;
    }
    let lab = lab();
    let gh = &lab.gh;
    let fleet = lab.fleet("ttl").build();
    fleet.ghr(&["init", "-n", "1"]).ok();
    fleet.ghr(&["init", "-n", "2"]).ok();
    let names = vec![fleet.name("1"), fleet.name("2")];
    assert_eq!(fleet.containers(), running(&names));
    wait_github(gh, &fleet.prefix, &names, "online");
    assert_eq!(
        token_requests(gh),
        1,
        "the second init reuses the cached token"
    );
    let cache = std::fs::read_to_string(fleet.path(&format!(".reg_token.cache.{ORG}"))).unwrap();
    let mode = std::fs::metadata(fleet.path(&format!(".reg_token.cache.{ORG}"))).unwrap();
    assert_eq!(
        std::os::unix::fs::PermissionsExt::mode(&mode.permissions()) & 0o777,
        0o600
    );
    // The token never shows in ghr's output.
    let token = cache.lines().nth(1).unwrap().trim().to_string();
    let out = fleet.ghr(&["init", "-n", "2"]).ok();
    assert!(!out.stdout.contains(&token) && !out.stderr.contains(&token));
}

#[test]
fn github_5xx_burst_during_init_converges() {
    if !docker_ready("github_5xx_burst_during_init_converges") {
        return;
    }
    let lab = lab();
    let gh = &lab.gh;
    let fleet = lab.fleet("burst").build();
    let names = vec![fleet.name("1"), fleet.name("2")];
    // GitHub failing for longer than the client rides out (25 s): init says GitHub failed,
    // once, and creates nothing.
    gh.inject_errors(1_000_000, 502);
    let refused = fleet.ghr(&["init", "-n", "2"]).code(4);
    gh.inject_errors(0, 502);
    assert!(refused.stderr.contains("502"), "{}", refused.stderr);
    let lines: Vec<&str> = refused.stderr.lines().collect();
    assert_eq!(
        lines.len(),
        2,
        "the retry line once, then the error: {lines:?}"
    );
    assert!(lines[0].contains("trying again"), "{lines:?}");
    assert!(
        lines[1].starts_with("error: ") && lines[1].contains(" attempts in "),
        "{lines:?}"
    );
    assert!(
        fleet.containers().is_empty(),
        "nothing is created before GitHub answers"
    );
    assert!(!fleet.path(&format!("docker-compose.{ORG}.yml")).exists());
    gh.clear_requests();

    // A shorter burst is retried through; registrations themselves failing (the runner
    // protocol answering 5xx to config.sh in the runners' first start) are reported per
    // runner, whose containers are stopped, not crash-looping, with the reason in `list`.
    gh.inject_errors(2, 503);
    gh.inject_runner_errors(50, 500);
    let first = fleet.ghr(&["init", "-n", "2"]).code(1);
    for name in &names {
        assert!(
            first.stderr.lines().any(|l| l.starts_with(&format!(
                "error: {name} did not register: config.sh failed (exit 1):"
            ))),
            "{}",
            first.stderr
        );
    }
    assert_eq!(
        first.stderr.lines().last(),
        Some("error: 2 runner(s) failed; run the command again to finish")
    );
    gh.inject_runner_errors(0, 500);
    std::thread::sleep(std::time::Duration::from_secs(2));
    let stopped: Vec<(String, String)> =
        names.iter().map(|n| (n.clone(), "exited".into())).collect();
    assert_eq!(fleet.containers(), stopped, "stopped, not restarting");
    let json: serde_json::Value =
        serde_json::from_str(&fleet.ghr(&["list", "--json"]).ok().stdout).unwrap();
    for runner in json["runners"].as_array().unwrap() {
        assert_eq!(runner["registration"], "not registered", "{json}");
        let why = runner["container"]["registration_failed"].as_str().unwrap();
        assert!(why.starts_with("config.sh failed (exit 1): "), "{why}");
    }

    // register one by number: it registers and comes up; again: skipped, and says so.
    fleet
        .ghr(&["register", "1"])
        .ok()
        .stderr_line(&format!("registered {}", names[0]));
    assert_eq!(
        fleet.containers(),
        vec![
            (names[0].clone(), "running".into()),
            (names[1].clone(), "exited".into())
        ]
    );
    fleet
        .ghr(&["register", "1"])
        .ok()
        .stderr_line(&format!("{}: already registered; skipped", names[0]));

    // start registers what is not configured yet, then starts everything.
    fleet.ghr(&["start"]).ok();
    assert_eq!(fleet.containers(), running(&names));
    wait_github(gh, &fleet.prefix, &names, "online");
    // And init, run again, converges to the same.
    fleet.ghr(&["init", "-n", "2"]).ok();
    assert_eq!(fleet.containers(), running(&names));
    assert_eq!(
        token_requests(gh),
        2,
        "one token for the failed init (then forgotten, as registrations with it failed), \
         one cached for register, start and the last init"
    );
}

#[test]
fn dockerfile_change_rebuilds_once() {
    if !docker_ready("dockerfile_change_rebuilds_once") {
        return;
    }
    let lab = lab();
    let gh = &lab.gh;
    let fleet = lab
        .fleet("build")
        .env("RUNNER_DOCKERFILE=./Dockerfile")
        .build();
    let dockerfile = fleet.path("Dockerfile");
    std::fs::write(
        &dockerfile,
        format!("FROM {}\nLABEL ghr.test=one\n", test_image()),
    )
    .unwrap();
    let out = fleet.ghr(&["init", "-n", "1"]).ok();
    assert_eq!(out.stderr.matches("Building").count(), 1, "{}", out.stderr);
    let out = fleet.ghr(&["init", "-n", "1"]).ok();
    assert_eq!(
        out.stderr.matches("Building").count(),
        0,
        "no change, no build: {}",
        out.stderr
    );
    std::fs::write(
        &dockerfile,
        format!("FROM {}\nLABEL ghr.test=two\n", test_image()),
    )
    .unwrap();
    let out = fleet.ghr(&["init", "-n", "1"]).ok();
    assert_eq!(out.stderr.matches("Building").count(), 1, "{}", out.stderr);
    // The recreated container keeps its registration (it lives in the volume).
    let names = vec![fleet.name("1")];
    assert_eq!(fleet.containers(), running(&names));
    wait_github(gh, &fleet.prefix, &names, "online");
    assert_eq!(token_requests(gh), 1);
    let json: serde_json::Value =
        serde_json::from_str(&fleet.ghr(&["list", "--json"]).ok().stdout).unwrap();
    assert_eq!(
        json["runners"][0]["container"]["image"],
        fleet.custom_image()
    );
}

/// Exact GitHub API calls per command (they are deterministic): listing N runners costs
/// ceil(N/100) requests; unregistering N costs ceil(N/100) + N.
#[test]
fn api_calls_per_command_are_exact() {
    if !docker_ready("api_calls_per_command_are_exact") {
        return;
    }
    let lab = lab();
    let gh = &lab.gh;
    let fleet = lab.fleet("calls").build();
    // 250 runners of this prefix that exist only on GitHub, and 7 of another prefix.
    gh.seed_runners(&SCOPE, &format!("{}runner", fleet.prefix), 250);
    gh.seed_runners(&SCOPE, "someone-else-runner", 7);
    gh.clear_requests();

    let json: serde_json::Value =
        serde_json::from_str(&fleet.ghr(&["list", "--json"]).ok().stdout).unwrap();
    assert_eq!(
        json["runners"].as_array().unwrap().len(),
        250,
        "every page, only this prefix"
    );
    assert_eq!(
        gh.requests().len(),
        3,
        "list of 257 runners: ceil(257/100) requests"
    );

    gh.clear_requests();
    fleet.ghr(&["rm", "-y"]).ok();
    let lists = gh.count("GET", "/actions/runners");
    let deletes = gh.count("DELETE", "/actions/runners/");
    assert_eq!(
        (lists, deletes),
        (3, 250),
        "rm of 250: ceil(257/100) lists + 250 deletes"
    );
    assert_eq!(gh.requests().len(), 253, "and nothing else");
    assert_eq!(
        gh.runners(&SCOPE).len(),
        7,
        "the other prefix's runners survive"
    );
}
