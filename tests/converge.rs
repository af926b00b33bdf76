//! End to end, issue 9: `ghr init` converges the fleet on every setting, `ghr plan` says what
//! it would do and changes nothing, a second `init` writes nothing, and an `init` killed with
//! SIGKILL at any point is finished by the next one. The real `ghr`, the machine's Docker
//! engine and compose, runner containers of the FROM-scratch test image, the fake GitHub.
//!
//! Without Docker these tests fail, unless GHR_SKIP_DOCKER_TESTS=1 (then they say "skipped").

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;
use testkit::background::{poll, Background};
use testkit::lab::{docker, docker_ready, running, test_image, Fleet, Lab, Out};
use testkit::{FakeGitHub, RunnerInfo, Scope};

const ORG: &str = testkit::lab::ORG;
const SCOPE: Scope<'static> = Scope::Org(ORG);

fn lab() -> Lab {
    Lab::new(env!("CARGO_BIN_EXE_ghr"))
}

/// ghr's calls to GitHub's REST API, `METHOD path`, in order. The runners' own protocol
/// (`/actions/runner-registration`, `/_services/...`) is left out: running runners poll.
fn rest_calls(gh: &FakeGitHub) -> Vec<String> {
    gh.requests()
        .iter()
        .filter(|r| r.path.starts_with("/orgs/") || r.path.starts_with("/repos/"))
        .map(|r| format!("{} {}", r.method, r.path))
        .collect()
}

/// The REST calls that change something on GitHub (POST, PUT, PATCH, DELETE).
fn rest_writes(gh: &FakeGitHub) -> Vec<String> {
    rest_calls(gh)
        .into_iter()
        .filter(|c| !c.starts_with("GET "))
        .collect()
}

/// `config.sh` runs that reached GitHub (each one a registration).
fn registrations(gh: &FakeGitHub) -> usize {
    gh.count("POST", "/actions/runner-registration")
}

/// GitHub's runners of this fleet, by name. Panics on two runners with one name.
fn on_github(gh: &FakeGitHub, fleet: &Fleet) -> BTreeMap<String, RunnerInfo> {
    let mut by_name = BTreeMap::new();
    for r in gh.runners(&SCOPE) {
        if r.name.starts_with(&fleet.prefix) {
            let name = r.name.clone();
            assert!(
                by_name.insert(name.clone(), r).is_none(),
                "{name} is registered twice on GitHub"
            );
        }
    }
    by_name
}

/// The labels a runner registered with or was given (GitHub's read-only ones left out).
fn custom_labels(r: &RunnerInfo) -> Vec<String> {
    r.labels
        .iter()
        .filter(|l| !["self-hosted", "Linux", "X64"].contains(&l.as_str()))
        .cloned()
        .collect()
}

/// Waits until GitHub lists exactly `names` of the fleet, all online.
#[track_caller]
fn wait_online(gh: &FakeGitHub, fleet: &Fleet, names: &[String]) {
    let mut want = names.to_vec();
    want.sort();
    let ok = gh.wait_until(Duration::from_secs(60), |gh| {
        let now = on_github(gh, fleet);
        now.keys().cloned().collect::<Vec<_>>() == want
            && now.values().all(|r| r.status == "online")
    });
    let logs: String = names.iter().map(|n| fleet.logs(n, 15)).collect();
    assert!(
        ok,
        "GitHub shows {:?}, expected {want:?} online\n{logs}",
        on_github(gh, fleet)
            .values()
            .map(|r| (&r.name, &r.status))
            .collect::<Vec<_>>()
    );
}

/// Container id and start time of each runner: equal means neither recreated nor restarted.
fn incarnations(fleet: &Fleet, names: &[String]) -> Vec<String> {
    names.iter().map(|n| fleet.container_id(n)).collect()
}

/// GitHub's id of each runner: equal means not registered again.
fn github_ids(gh: &FakeGitHub, fleet: &Fleet, names: &[String]) -> Vec<u64> {
    let now = on_github(gh, fleet);
    names
        .iter()
        .map(|n| now.get(n).unwrap_or_else(|| panic!("{n} on GitHub")).id)
        .collect()
}

/// `ghr plan --json`'s steps as (runner, action), in order; `-` for the fleet's own steps.
fn plan_steps(out: &Out) -> Vec<(String, String)> {
    let plan: serde_json::Value = serde_json::from_str(&out.stdout)
        .unwrap_or_else(|e| panic!("{}: not JSON ({e}):\n{}", out.what, out.stdout));
    plan["steps"]
        .as_array()
        .expect("steps")
        .iter()
        .map(|s| {
            (
                s["runner"].as_str().unwrap_or("-").to_string(),
                s["action"].as_str().expect("action").to_string(),
            )
        })
        .collect()
}

fn steps(v: &[(&str, &str)]) -> Vec<(String, String)> {
    v.iter()
        .map(|(r, a)| (r.to_string(), a.to_string()))
        .collect()
}

/// What Docker and the fleet directory hold: containers (with their incarnations), volumes,
/// and every file ghr writes (compose file, token cache, Dockerfile hash), by content hash
/// (the files hold secrets). One-offs are left out: a killed ghr's go on by themselves.
fn local_state(fleet: &Fleet, names: &[String]) -> String {
    use std::hash::{Hash, Hasher};
    let files: Vec<(String, u64)> = fleet
        .ghr
        .files()
        .into_iter()
        .filter(|f| !f.ends_with(".lock"))
        .map(|f| {
            let mut h = std::collections::hash_map::DefaultHasher::new();
            fleet.ghr.file(&f).hash(&mut h);
            (f, h.finish())
        })
        .collect();
    format!(
        "{:?}\n{:?}\n{:?}\n{files:?}",
        fleet.containers(),
        incarnations(fleet, names),
        fleet.volumes()
    )
}

/// `ghr plan` and `ghr plan --json` with the current settings: they make no write call to
/// GitHub and change nothing in Docker or the fleet's files; returns the JSON plan's steps.
#[track_caller]
fn plan(gh: &FakeGitHub, fleet: &Fleet, args: &[&str], names: &[String]) -> Vec<(String, String)> {
    let before = local_state(fleet, names);
    gh.clear_requests();
    let mut text_args = vec!["plan"];
    text_args.extend(args);
    let text = fleet.ghr(&text_args).ok();
    text_args.push("--json");
    let json = fleet.ghr(&text_args).ok();
    assert_eq!(
        rest_writes(gh),
        Vec::<String>::new(),
        "ghr plan writes nothing"
    );
    assert_eq!(registrations(gh), 0, "ghr plan registers nothing");
    assert_eq!(
        local_state(fleet, names),
        before,
        "ghr plan changes nothing in Docker or the fleet's files"
    );
    let steps = plan_steps(&json);
    if steps.is_empty() {
        assert_eq!(
            text.stdout.lines().next(),
            Some("nothing to do"),
            "{}",
            text.stdout
        );
    }
    // One line per action: the runner, the action and why.
    for (runner, action) in &steps {
        assert!(
            text.stdout
                .lines()
                .any(|l| l.contains(runner.as_str()) && l.contains(action.as_str())),
            "no line for {runner} {action} in:\n{}",
            text.stdout
        );
    }
    steps
}

/// A second `init` with the same settings: no write call to GitHub, no registration, no
/// container recreated or restarted, no file or volume changed.
#[track_caller]
fn init_is_a_no_op(gh: &FakeGitHub, fleet: &Fleet, names: &[String]) {
    let before = local_state(fleet, names);
    gh.clear_requests();
    fleet.ghr(&["init"]).ok().stdout_line(&format!(
        "{} runners of {ORG} are as the settings say; nothing to do",
        names.len()
    ));
    assert_eq!(
        rest_writes(gh),
        Vec::<String>::new(),
        "a no-op init writes nothing"
    );
    assert_eq!(registrations(gh), 0, "a no-op init registers nothing");
    assert_eq!(
        local_state(fleet, names),
        before,
        "a no-op init changes nothing in Docker or the fleet's files"
    );
}

/// One fleet, every setting: labels, runner group, a registration GitHub deleted, `--force`,
/// and `-n` down (asked, refused without a terminal, busy runners kept), each followed by
/// `ghr plan` before and a no-op `init` after.
#[test]
fn init_converges_on_every_setting() {
    if !docker_ready("init_converges_on_every_setting") {
        return;
    }
    let lab = lab();
    let gh = &lab.gh;
    let fleet = lab
        .fleet("every")
        .env("RUNNER_LABELS=intel")
        .env("BOARD_RUNNERS=pi:board,pi")
        .build();
    let generic: Vec<String> = (1..=3).map(|i| fleet.name(&i.to_string())).collect();
    let board = fleet.name("pi");
    let mut all = generic.clone();
    all.push(board.clone());

    fleet.ghr(&["init", "-n", "3"]).ok();
    assert_eq!(fleet.containers(), running(&all));
    wait_online(gh, &fleet, &all);
    assert!(plan(gh, &fleet, &[], &all).is_empty());
    init_is_a_no_op(gh, &fleet, &all);

    // Labels: set through GitHub's labels API, nothing registered or recreated; the board
    // runner keeps only its own labels.
    let ids = github_ids(gh, &fleet, &all);
    let containers = incarnations(&fleet, &all);
    fleet.set_env("RUNNER_LABELS=intel,gpu");
    let want: Vec<(String, String)> = generic
        .iter()
        .map(|n| (n.clone(), "set-labels".to_string()))
        .collect();
    assert_eq!(plan(gh, &fleet, &[], &all), want);
    gh.clear_requests();
    fleet.ghr(&["init"]).ok();
    // ids[..3] are the generic runners', ids[3] the board runner's.
    let mut puts: Vec<String> = ids[..3]
        .iter()
        .map(|id| format!("PUT /orgs/{ORG}/actions/runners/{id}/labels"))
        .collect();
    puts.sort();
    let mut writes = rest_writes(gh);
    writes.sort();
    assert_eq!(
        writes, puts,
        "one labels PUT per generic runner, nothing else"
    );
    assert_eq!(registrations(gh), 0);
    assert_eq!(github_ids(gh, &fleet, &all), ids, "nobody registered again");
    assert_eq!(
        incarnations(&fleet, &all),
        containers,
        "no container touched"
    );
    let now = on_github(gh, &fleet);
    for name in &generic {
        assert_eq!(custom_labels(&now[name]), ["intel", "gpu"], "{name}");
    }
    assert_eq!(custom_labels(&now[&board]), ["board", "pi"]);
    init_is_a_no_op(gh, &fleet, &all);
    // A board's own labels: only the board runner changes.
    fleet.set_env("BOARD_RUNNERS=pi:board,pi,arm64");
    assert_eq!(
        plan(gh, &fleet, &[], &all),
        [(board.clone(), "set-labels".to_string())]
    );
    gh.clear_requests();
    fleet.ghr(&["init"]).ok();
    assert_eq!(
        rest_writes(gh),
        [format!("PUT /orgs/{ORG}/actions/runners/{}/labels", ids[3])]
    );
    let now = on_github(gh, &fleet);
    assert_eq!(custom_labels(&now[&board]), ["board", "pi", "arm64"]);
    assert_eq!(custom_labels(&now[&generic[0]]), ["intel", "gpu"]);
    assert_eq!(incarnations(&fleet, &all), containers);

    // A runner group that does not exist: a clear error before anything changes.
    fleet.set_env("RUNNER_GROUP=nope");
    gh.clear_requests();
    fleet
        .ghr(&["init"])
        .code(3)
        .error_line("RUNNER_GROUP=nope: organization `acme` has no runner group of that name");
    fleet
        .ghr(&["plan"])
        .code(3)
        .error_line("RUNNER_GROUP=nope: organization `acme` has no runner group of that name");
    assert_eq!(rest_writes(gh), Vec::<String>::new());
    assert_eq!(incarnations(&fleet, &all), containers);
    // One that exists: every runner ends up in it, still without registering again.
    let lab_group = gh.add_runner_group("lab");
    fleet.set_env("RUNNER_GROUP=lab");
    let want: Vec<(String, String)> = all
        .iter()
        .map(|n| (n.clone(), "set-group".to_string()))
        .collect();
    assert_eq!(plan(gh, &fleet, &[], &all), want);
    gh.clear_requests();
    fleet.ghr(&["init"]).ok();
    let mut moves: Vec<String> = ids
        .iter()
        .map(|id| format!("PUT /orgs/{ORG}/actions/runner-groups/{lab_group}/runners/{id}"))
        .collect();
    moves.sort();
    let mut writes = rest_writes(gh);
    writes.sort();
    assert_eq!(writes, moves);
    assert!(on_github(gh, &fleet)
        .values()
        .all(|r| r.runner_group_id == lab_group));
    assert_eq!(github_ids(gh, &fleet, &all), ids);
    assert_eq!(incarnations(&fleet, &all), containers);
    init_is_a_no_op(gh, &fleet, &all);

    // GitHub deletes a runner that was offline for 14 days: its volume still holds the
    // registration. `list` says so, and init registers that runner again (in the right
    // group, with the right labels) and touches nothing else.
    fleet.ghr(&["stop", "2"]).ok();
    let offline = gh.wait_until(Duration::from_secs(30), |gh| {
        on_github(gh, &fleet)[&generic[1]].status == "offline"
    });
    assert!(offline, "{} goes offline when stopped", generic[1]);
    assert!(gh.expire_runner(&SCOPE, &generic[1]));
    let table = fleet.ghr(&["list"]).ok().stdout;
    let row = table
        .lines()
        .find(|l| l.contains(generic[1].as_str()))
        .unwrap_or_default();
    assert!(
        row.contains("exited") && row.contains("deleted on GitHub"),
        "{table}"
    );
    assert_eq!(
        plan(gh, &fleet, &[], &all),
        steps(&[(&generic[1], "reregister"), (&generic[1], "start")])
    );
    gh.clear_requests();
    fleet.ghr(&["init"]).ok();
    assert_eq!(registrations(gh), 1);
    wait_online(gh, &fleet, &all);
    let now = on_github(gh, &fleet);
    assert_ne!(now[&generic[1]].id, ids[1], "registered anew");
    assert_eq!(now[&generic[1]].runner_group_id, lab_group);
    assert_eq!(custom_labels(&now[&generic[1]]), ["intel", "gpu"]);
    let others = [0, 2, 3].map(|i| all[i].clone());
    assert_eq!(
        incarnations(&fleet, &others),
        [0, 2, 3].map(|i| containers[i].clone())
    );
    let table = fleet.ghr(&["list"]).ok().stdout;
    assert!(!table.contains("deleted on GitHub"), "{table}");
    init_is_a_no_op(gh, &fleet, &all);
    // Deleted while online, the runner drops its own configuration (as the real one does):
    // then it is simply not registered, and init registers it.
    assert!(gh.expire_runner(&SCOPE, &generic[2]));
    let dropped = fleet.wait(Duration::from_secs(30), || {
        let list = fleet.ghr(&["list", "--json"]).ok().stdout;
        let list: serde_json::Value = serde_json::from_str(&list).unwrap();
        list["runners"][2]["registration"] == "not registered"
    });
    assert!(dropped, "{}", fleet.logs(&generic[2], 20));
    gh.clear_requests();
    fleet.ghr(&["init"]).ok();
    assert_eq!(registrations(gh), 1);
    wait_online(gh, &fleet, &all);
    init_is_a_no_op(gh, &fleet, &all);

    // --force: registered again on purpose (new credentials; `--replace` keeps GitHub's
    // runner, as GitHub does), still one registration per name, the others untouched.
    let ids = github_ids(gh, &fleet, &all);
    let credentials: Vec<String> = all.iter().map(|n| home_file(n, ".credentials")).collect();
    gh.clear_requests();
    fleet.ghr(&["init", "--force", "1", "pi"]).ok();
    assert_eq!(registrations(gh), 2);
    wait_online(gh, &fleet, &all);
    assert_eq!(github_ids(gh, &fleet, &all), ids);
    let renewed: Vec<bool> = all
        .iter()
        .zip(&credentials)
        .map(|(n, c)| home_file(n, ".credentials") != *c)
        .collect();
    assert_eq!(renewed, [true, false, false, true]);
    init_is_a_no_op(gh, &fleet, &all);

    // -n down: `plan -n 2` says what goes (and records no new size); nobody to ask off a
    // terminal and no -y: nothing changes, exit 130, and the message names the runner.
    assert_eq!(
        plan(gh, &fleet, &["-n", "2"], &all),
        steps(&[
            ("-", "write-compose"),
            (&generic[2], "unregister"),
            (&generic[2], "remove-container"),
            (&generic[2], "remove-volumes")
        ])
    );
    assert!(
        plan(gh, &fleet, &[], &all).is_empty(),
        "the size is still 3"
    );
    gh.clear_requests();
    let refused = fleet.ghr(&["init", "-n", "2"]).code(130);
    assert!(
        refused.stderr.contains(generic[2].as_str()) && refused.stderr.contains("pass -y"),
        "{}",
        refused.stderr
    );
    assert_eq!(rest_writes(gh), Vec::<String>::new());
    assert_eq!(fleet.containers(), running(&all));
    // On a terminal ghr asks, listing them by name; "no" changes nothing either.
    let (code, asked) = on_a_terminal(&fleet, &["init", "-n", "2"], "n");
    assert_eq!(code, Some(130), "{asked}");
    assert!(
        asked.contains(&format!(
            "Unregister from {ORG} and remove 1 runner(s): {}?",
            generic[2]
        )),
        "{asked}"
    );
    assert!(
        asked.contains("cancelled; nothing was changed") && !asked.contains("no terminal"),
        "{asked}"
    );
    assert_eq!(fleet.containers(), running(&all));
    assert_eq!(on_github(gh, &fleet).len(), 4);
    // A busy runner is kept and reported (exit 1); the idle surplus goes.
    let busy = on_github(gh, &fleet)[&generic[1]].id;
    gh.set_busy(&SCOPE, busy, true);
    let kept = fleet.ghr(&["init", "-n", "1", "-y"]).code(1);
    assert!(
        kept.stderr
            .lines()
            .any(|l| l.starts_with(&format!("warning: {}: busy with a job", generic[1]))),
        "{}",
        kept.stderr
    );
    let left = [generic[0].clone(), generic[1].clone(), board.clone()];
    assert_eq!(fleet.containers(), running(&left));
    assert_eq!(
        on_github(gh, &fleet).keys().cloned().collect::<Vec<_>>(),
        left.to_vec()
    );
    assert!(
        !fleet
            .volumes()
            .iter()
            .any(|v| v.starts_with(generic[2].as_str())),
        "{:?}",
        fleet.volumes()
    );
    // Once idle it goes too: the -n given once is still the fleet's size.
    gh.set_busy(&SCOPE, busy, false);
    let now = [generic[0].clone(), board.clone()];
    assert_eq!(
        plan(gh, &fleet, &[], &left),
        steps(&[
            (&generic[1], "unregister"),
            (&generic[1], "remove-container"),
            (&generic[1], "remove-volumes")
        ])
    );
    fleet.ghr(&["init", "-y"]).ok();
    assert_eq!(fleet.containers(), running(&now));
    wait_online(gh, &fleet, &now);
    // compose, start, list and init agree on that size.
    fleet.ghr(&["compose"]).ok().stdout_line(&format!(
        "Unchanged: docker-compose.{ORG}.yml (1 generic, 1 board runners)"
    ));
    fleet.ghr(&["start"]).ok();
    assert_eq!(fleet.containers(), running(&now));
    let listed: serde_json::Value =
        serde_json::from_str(&fleet.ghr(&["list", "--json"]).ok().stdout).unwrap();
    let listed: Vec<&str> = listed["runners"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].as_str().unwrap())
        .collect();
    assert_eq!(listed, now.iter().map(String::as_str).collect::<Vec<_>>());
    init_is_a_no_op(gh, &fleet, &now);
}

/// Runs ghr on a pseudo-terminal (util-linux `script`) and types `answer` once it asks;
/// returns its exit code and what the terminal showed.
fn on_a_terminal(fleet: &Fleet, args: &[&str], answer: &str) -> (Option<i32>, String) {
    let mut line = shell_quote(&fleet.ghr.bin().display().to_string());
    for a in args {
        line.push(' ');
        line.push_str(&shell_quote(a));
    }
    // ghr's own hermetic environment, for the shell `script` starts it from.
    let cmd = fleet.ghr.command(&[]);
    let ghr_env: Vec<(String, String)> = cmd
        .get_envs()
        .filter_map(|(k, v)| Some((k.to_str()?.to_string(), v?.to_str()?.to_string())))
        .collect();
    let mut child = Command::new("script")
        .args(["-qec", &line, "/dev/null"])
        .current_dir(fleet.path(""))
        .env_clear()
        .envs(ghr_env)
        .env("TERM", "dumb")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("script runs");
    let (shown, reader) = testkit::background::collect(child.stdout.take().unwrap());
    let asked = poll(Duration::from_secs(30), || {
        shown.lock().unwrap().contains("[y/N]")
    });
    if asked {
        use std::io::Write;
        let mut stdin = child.stdin.take().unwrap();
        let _ = stdin.write_all(answer.as_bytes());
        let _ = stdin.flush();
    }
    let status = child.wait().expect("script ends");
    let _ = reader.join();
    let shown = shown.lock().unwrap().clone();
    (status.code(), shown)
}

fn shell_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "'\\''"))
}

/// A runner image "with another runner version": the test image plus
/// `/home/runner/bin/runner-version` (owned by the runner, as the real image's install is)
/// and `ballast_mb` MB more of install (the real runner's is about 200 MB).
fn runner_image(tag: &str, version: &str, ballast_mb: usize, scratch: &Path) {
    let dir = scratch.join(format!("image-{version}"));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("runner-version"), format!("{version}\n")).unwrap();
    let mut dockerfile = runner_dockerfile();
    if ballast_mb > 0 {
        std::fs::write(dir.join("externals.bin"), vec![7u8; ballast_mb << 20]).unwrap();
        dockerfile.push_str("COPY --chown=1001:123 externals.bin /home/runner/externals.bin\n");
    }
    std::fs::write(dir.join("Dockerfile"), dockerfile).unwrap();
    let out = Command::new("docker")
        .args(["build", "-q", "-t", tag])
        .arg(&dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "docker build {tag}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn runner_dockerfile() -> String {
    format!(
        "FROM {}\nCOPY --chown=1001:123 runner-version /home/runner/bin/runner-version\n",
        test_image()
    )
}

/// Removes the images a test built, also when it failed.
struct Images(Vec<String>);

impl Drop for Images {
    fn drop(&mut self) {
        let _ = Command::new("docker")
            .args(["rmi", "-f"])
            .args(&self.0)
            .output();
    }
}

/// `cat` of a file in the runner's /home/runner (its volume), through the running container.
fn home_file(runner: &str, file: &str) -> String {
    let out = Command::new("docker")
        .args(["exec", runner, "cat", &format!("/home/runner/{file}")])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{runner}:{file}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// After a new image, a rebuilt one, or a runner upgrade in the image: every runner runs the
/// image's files and keeps its registration (`.runner`, `.credentials`) and work directory.
#[test]
fn the_runner_install_follows_the_image() {
    if !docker_ready("the_runner_install_follows_the_image") {
        return;
    }
    let lab = lab();
    let gh = &lab.gh;
    let fleet = lab.fleet("install").build();
    let repo = format!("ghr-test-runner-{}", fleet.prefix.trim_end_matches('-'));
    let latest = format!("{repo}:latest");
    let next = format!("{repo}:next");
    let _images = Images(vec![latest.clone(), next.clone()]);
    runner_image(&latest, "2.330.0", 0, lab.scratch());
    fleet.set_env(&format!("RUNNER_IMAGE={latest}"));
    let names = vec![fleet.name("1"), fleet.name("2")];

    fleet.ghr(&["init", "-n", "2"]).ok();
    wait_online(gh, &fleet, &names);
    let mut kept = BTreeMap::new();
    for name in &names {
        assert_eq!(home_file(name, "bin/runner-version"), "2.330.0\n");
        let work = Command::new("docker")
            .args(["exec", name, "sh", "-c"])
            .arg("mkdir -p _work/acme/ci && echo checkout > _work/acme/ci/state")
            .status()
            .unwrap();
        assert!(work.success());
        kept.insert(
            name.clone(),
            (home_file(name, ".runner"), home_file(name, ".credentials")),
        );
    }
    let ids = github_ids(gh, &fleet, &names);

    // Each way a new runner install comes: the image's files arrive, nothing else changes.
    let follows = |version: &str, image: &str, why: &str| {
        // Running runners are stopped first; the install goes in before the new container.
        let up = fleet.containers() == running(&names);
        let actions: &[&str] = if up {
            &["stop", "sync-install", "recreate", "start"]
        } else {
            &["sync-install", "recreate", "start"]
        };
        let want: Vec<(String, String)> = actions
            .iter()
            .flat_map(|a| names.iter().map(move |n| (n.clone(), a.to_string())))
            .collect();
        let planned = plan(gh, &fleet, &[], &names);
        let planned: Vec<(String, String)> =
            planned.into_iter().filter(|(r, _)| r != "-").collect();
        assert_eq!(planned, want, "{why}");
        gh.clear_requests();
        fleet.ghr(&["init"]).ok();
        assert_eq!(rest_writes(gh), Vec::<String>::new(), "{why}");
        assert_eq!(registrations(gh), 0, "{why}: nobody registers again");
        assert_eq!(fleet.containers(), running(&names), "{why}");
        wait_online(gh, &fleet, &names);
        assert_eq!(github_ids(gh, &fleet, &names), ids, "{why}");
        for name in &names {
            assert_eq!(
                home_file(name, "bin/runner-version"),
                format!("{version}\n"),
                "{why}: {name} runs the image's install"
            );
            let registration = (home_file(name, ".runner"), home_file(name, ".credentials"));
            assert_eq!(
                &registration, &kept[name],
                "{why}: {name} keeps its registration"
            );
            assert_eq!(
                home_file(name, "_work/acme/ci/state"),
                "checkout\n",
                "{why}: {name} keeps its work directory"
            );
            assert_eq!(fleet.inspect(name, "{{.Config.Image}}"), image, "{why}");
        }
        init_is_a_no_op(gh, &fleet, &names);
    };

    // A runner upgrade in the image: the same reference now names a newer image (a pull).
    runner_image(&latest, "2.331.0", 0, lab.scratch());
    follows("2.331.0", &latest, "runner upgrade under the same tag");
    // A new RUNNER_IMAGE, with an install big enough that an interrupt lands while it is
    // copied into the volumes: SIGTERM (as Ctrl-C: ghr removes its copying one-offs and
    // exits), then SIGKILL (the copy goes on until the next command removes it). The next
    // init still brings the whole install.
    runner_image(&next, "2.332.0", 128, lab.scratch());
    fleet.set_env(&format!("RUNNER_IMAGE={next}"));
    for (signal, code) in [("-TERM", Some(143)), ("-KILL", None)] {
        let interrupted = Background::start(&fleet, &["init"]);
        let copying = poll(Duration::from_secs(60), || {
            fleet.oneoffs().iter().any(|o| o.ends_with("-sync"))
        });
        assert!(copying, "no install copy seen:\n{}", interrupted.stderr());
        let sent = Command::new("kill")
            .args([signal, &interrupted.child.id().to_string()])
            .status()
            .unwrap();
        assert!(sent.success());
        let out = interrupted.finish();
        assert_eq!(out.code, code, "{}", out.stderr);
        if signal == "-TERM" {
            assert!(fleet.oneoffs().is_empty(), "{:?}", fleet.oneoffs());
        }
    }
    follows(
        "2.332.0",
        &next,
        "new RUNNER_IMAGE, after an interrupted copy",
    );
    // A custom image from ./Dockerfile, then the same Dockerfile rebuilt (`ghr image`) with
    // a newer runner in its context.
    std::fs::write(fleet.path("Dockerfile"), runner_dockerfile()).unwrap();
    fleet.set_env("RUNNER_DOCKERFILE=./Dockerfile");
    std::fs::write(fleet.path("runner-version"), "2.333.0\n").unwrap();
    follows("2.333.0", fleet.custom_image(), "custom image built");
    std::fs::write(fleet.path("runner-version"), "2.334.0\n").unwrap();
    fleet.ghr(&["image"]).ok();
    follows("2.334.0", fleet.custom_image(), "custom image rebuilt");
}

/// Containers whose name has the fleet's prefix, with their `ghr.prefix` label.
fn named_like_the_fleet(fleet: &Fleet) -> Vec<(String, String)> {
    docker(&[
        "ps",
        "-a",
        "--filter",
        &format!("name={}", fleet.prefix),
        "--format",
        "{{.Names}}\t{{.Label \"ghr.prefix\"}}",
    ])
    .lines()
    .filter_map(|l| l.split_once('\t'))
    .map(|(n, p)| (n.to_string(), p.to_string()))
    .collect()
}

/// The fleet is whole: every runner running and online, registered once, nothing else of
/// the prefix on GitHub or in Docker (no one-off, no unlabelled container, no stray volume);
/// and one more `init` changes nothing.
#[track_caller]
fn converged(gh: &FakeGitHub, fleet: &Fleet, names: &[String], point: &str) {
    assert_eq!(fleet.containers(), running(names), "after a kill {point}");
    assert_eq!(
        fleet.oneoffs(),
        Vec::<String>::new(),
        "after a kill {point}"
    );
    for (name, prefix) in named_like_the_fleet(fleet) {
        assert_eq!(
            prefix, fleet.prefix,
            "{name} is not labelled (after a kill {point})"
        );
    }
    let mut volumes: Vec<String> = names.iter().map(|n| format!("{n}-data")).collect();
    volumes.sort();
    assert_eq!(fleet.volumes(), volumes, "after a kill {point}");
    wait_online(gh, fleet, names);
    init_is_a_no_op(gh, fleet, names);
}

/// SIGKILL of ghr at several points of a real `init`, then `ghr init` again: it converges,
/// with no duplicate registration and nothing orphaned. Meanwhile a second mutating command
/// waits with a message, or fails fast with `--no-wait` (exit 6).
#[test]
fn init_killed_at_any_point_is_finished_by_the_next() {
    if !docker_ready("init_killed_at_any_point_is_finished_by_the_next") {
        return;
    }
    let lab = lab();
    let gh = &lab.gh;
    // A point: its name, how long GitHub takes to answer config.sh's first call and to answer
    // the adding of its runner (to widen the window), and how the test sees it is there.
    type Point<'a> = (&'a str, (Duration, Duration), &'a dyn Fn(&Fleet) -> bool);
    let creating: &dyn Fn(&Fleet) -> bool = &|f| !f.containers().is_empty();
    // Registration is the runners' first start: a running container, config.sh waiting.
    let registering: &dyn Fn(&Fleet) -> bool =
        &|f| f.containers().iter().any(|(_, s)| s == "running");
    let accepted: &dyn Fn(&Fleet) -> bool = &|f| !on_github(gh, f).is_empty();
    let starting: &dyn Fn(&Fleet) -> bool = &|f| f.containers().iter().any(|(_, s)| s == "running");
    let (none, slow) = (Duration::ZERO, Duration::from_secs(3));
    let points: [Point; 4] = [
        ("during create", (none, none), creating),
        ("during registration", (slow, none), registering),
        ("once GitHub listed a runner", (none, slow), accepted),
        ("during start", (none, none), starting),
    ];
    for (i, (point, (first_call, agent), reached)) in points.into_iter().enumerate() {
        let fleet = lab.fleet(&format!("kill{i}")).build();
        let names: Vec<String> = (1..=3).map(|i| fleet.name(&i.to_string())).collect();
        gh.set_registration_latency(first_call);
        gh.set_agent_latency(agent);
        let first = Background::start(&fleet, &["init", "-n", "3"]);
        assert!(
            poll(Duration::from_secs(60), || reached(&fleet)),
            "init never got {point}:\n{}",
            first.stderr()
        );
        // What there was when the point was reached, for the failure messages below.
        let at_kill = format!(
            "containers {:?}, one-offs {:?}, on GitHub {:?}",
            fleet.containers(),
            fleet.oneoffs(),
            on_github(gh, &fleet).keys().collect::<Vec<_>>()
        );
        let mut next = None;
        if point == "during registration" {
            // Another mutating command fails fast with --no-wait, or waits and says for whom.
            let pid = first.child.id();
            fleet
                .ghr(&["--no-wait", "init", "-n", "3"])
                .code(6)
                .error_line(&format!(
                    "another ghr (pid {pid}: ghr init) is changing this fleet"
                ));
            let waiting = Background::start(&fleet, &["init", "-n", "3"]);
            assert!(
                waiting.wait_stderr(
                    &format!(
                        "Waiting for another ghr (pid {pid}: ghr init) to finish with this fleet"
                    ),
                    Duration::from_secs(20)
                ),
                "{}",
                waiting.stderr()
            );
            next = Some(waiting);
        }
        let said = first.kill();
        gh.set_registration_latency(Duration::ZERO);
        gh.set_agent_latency(Duration::ZERO);
        // The next init: the one that waited gets the fleet, else a new one.
        let out = match next {
            Some(waiting) => waiting.finish(),
            None => fleet.ghr(&["init", "-n", "3"]),
        };
        assert_eq!(
            out.code,
            Some(0),
            "init after a kill {point} ({at_kill}) failed:\n--- killed init said:\n{said}\n--- next init said:\n{}",
            out.stderr
        );
        converged(gh, &fleet, &names, &format!("{point} ({at_kill})"));
    }
}
