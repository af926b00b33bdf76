//! ghr's effects under pressure, end to end with the real engine, real compose and the fake
//! GitHub: what an interrupted run leaves is repaired, a signal stops everything ghr started,
//! every wait has a limit, retries ride out a blip, compose gets no file another user could
//! have written, Docker's reasons are kept, and leftovers are shown and can be removed when
//! GitHub cannot help.

use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};
use testkit::background::{poll, Background};
use testkit::lab::{docker, docker_ready, running, Fleet, Lab, TempDir, ORG, PAT};
use testkit::FakeGitHub;

fn lab() -> Lab {
    Lab::new(env!("CARGO_BIN_EXE_ghr"))
}

/// Where `tool` is on this machine's PATH.
fn which(tool: &str) -> Option<String> {
    let out = Command::new("sh")
        .args(["-c", &format!("command -v {tool}")])
        .output()
        .ok()?;
    let path = String::from_utf8_lossy(&out.stdout).trim().to_string();
    (out.status.success() && !path.is_empty()).then_some(path)
}

/// A PATH whose `docker` and `docker-compose` write, for every `--env-file F` they are
/// given, `F <mode of F> <owner of F> <mode of F's dir> <owner of F's dir>` to `log`, then run
/// the real tools.
fn spying_path(bin: &Path, log: &Path) -> String {
    for tool in ["docker", "docker-compose"] {
        let Some(real) = which(tool) else { continue };
        let script = format!(
            "#!/bin/sh\nprev=\nfor a in \"$@\"; do\n  if [ \"$prev\" = --env-file ]; then\n    \
             echo \"$a $(stat -c '%a %u' \"$a\") $(stat -c '%a %u' \"$(dirname \"$a\")\")\" >> {log}\n  \
             fi\n  prev=$a\ndone\nexec {real} \"$@\"\n",
            log = log.display()
        );
        let path = bin.join(tool);
        std::fs::write(&path, script).unwrap();
        let mut perms = std::fs::metadata(&path).unwrap().permissions();
        std::os::unix::fs::PermissionsExt::set_mode(&mut perms, 0o755);
        std::fs::set_permissions(&path, perms).unwrap();
    }
    format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    )
}

/// Issue 15.5: compose's `--env-file` is a file of this run's own (a fresh 0700 directory,
/// a 0600 file, both gone afterwards), never the fixed `$TMPDIR/ghr-empty.env` another local
/// user could create or fill first; a file planted there is neither read nor touched.
#[test]
fn compose_gets_a_private_env_file_never_a_shared_one() {
    if !docker_ready("compose_gets_a_private_env_file_never_a_shared_one") {
        return;
    }
    let lab = lab();
    let fleet = lab.fleet("tmpenv").build();
    let tmp = TempDir::new("tmpenv-tmpdir");
    let planted = tmp.path().join("ghr-empty.env");
    let evil = "DOCKER_HOST=tcp://127.0.0.1:9\nCOMPOSE_PROJECT_NAME=stolen\n";
    std::fs::write(&planted, evil).unwrap();
    let bin = TempDir::new("tmpenv-bin");
    let log = bin.path().join("env-files.log");
    let path = spying_path(bin.path(), &log);
    let tmpdir = tmp.path().display().to_string();
    fleet
        .ghr_with(
            &[("PATH", &path), ("TMPDIR", &tmpdir)],
            &["init", "-n", "1"],
        )
        .ok();
    assert_eq!(fleet.containers().len(), 1);
    assert_eq!(
        std::fs::read_to_string(&planted).unwrap(),
        evil,
        "the planted file is left alone"
    );
    let me = std::fs::metadata(tmp.path()).unwrap().uid().to_string();
    let seen = std::fs::read_to_string(&log).unwrap_or_default();
    assert!(!seen.is_empty(), "compose was never given an env file");
    for line in seen.lines() {
        let f: Vec<&str> = line.split(' ').collect();
        assert_eq!(f.len(), 5, "{line}");
        let file = Path::new(f[0]);
        assert_ne!(file, planted, "the shared fixed path");
        assert_eq!(
            file.parent().unwrap().parent().unwrap(),
            tmp.path(),
            "{line}"
        );
        assert_eq!((f[1], f[2]), ("600", me.as_str()), "the file: {line}");
        assert_eq!((f[3], f[4]), ("700", me.as_str()), "its directory: {line}");
        assert!(!file.exists(), "{} is left behind", file.display());
        assert!(
            !file.parent().unwrap().exists(),
            "its directory is left behind"
        );
    }
}

/// Issue 15.9: after `GITHUB_SERVER_URL` (and the API) moved to another server, `init`
/// registers there at once: the token cached for the old server is not used for the new one.
#[test]
fn a_new_github_server_gets_a_token_of_its_own() {
    if !docker_ready("a_new_github_server_gets_a_token_of_its_own") {
        return;
    }
    let lab = lab();
    let fleet = lab.fleet("server").build();
    fleet.ghr(&["init", "-n", "1"]).ok();
    let moved = FakeGitHub::start();
    moved.add_org(ORG);
    moved.add_pat(PAT, &["admin:org", "repo"]);
    moved.set_poll_timeout(Duration::from_secs(5));
    fleet.set_env(&format!("GITHUB_API_URL={}", moved.url()));
    fleet.set_env(&format!("GITHUB_SERVER_URL={}", moved.url()));
    fleet.ghr(&["init", "-n", "2"]).ok();
    let mut names: Vec<String> = moved
        .runners(&testkit::Scope::Org(ORG))
        .into_iter()
        .map(|r| r.name)
        .collect();
    names.sort();
    assert_eq!(names, [fleet.name("1"), fleet.name("2")]);
}

/// What GitHub has of this fleet that a command changes: (name, id, custom labels), sorted.
/// (Whether a runner is online is left out: a runner started before the signal comes
/// online by itself, as it should.)
fn registrations(gh: &FakeGitHub, fleet: &Fleet) -> Vec<(String, u64, Vec<String>)> {
    let mut v: Vec<(String, u64, Vec<String>)> = gh
        .runners(&testkit::Scope::Org(ORG))
        .into_iter()
        .filter(|r| r.name.starts_with(&fleet.prefix))
        .map(|r| (r.name, r.id, r.labels))
        .collect();
    v.sort();
    v
}

/// Issue 15.2: SIGINT at several moments of a real `init`. After ghr exited (130), no
/// one-off of its exists and GitHub's registrations do not change any more (checked 3 s
/// later); the next `init` finishes the fleet. `-n 10` is more runners than registrations
/// run at once (8), so workers would start new one-offs after the cleanup if nothing stopped
/// them.
#[test]
fn sigint_at_any_moment_stops_everything_ghr_started() {
    if !docker_ready("sigint_at_any_moment_stops_everything_ghr_started") {
        return;
    }
    let lab = lab();
    let gh = &lab.gh;
    type Reached<'a> = &'a dyn Fn(&Fleet) -> bool;
    let creating: Reached = &|f| !f.containers().is_empty();
    // Registration is the runners' first start: a running container, config.sh in it.
    let registering: Reached = &|f| f.containers().iter().any(|(_, s)| s == "running");
    let listed: Reached = &|f| !registrations(gh, f).is_empty();
    let starting: Reached = &|f| f.containers().iter().any(|(_, s)| s == "running");
    let (none, slow) = (Duration::ZERO, Duration::from_secs(2));
    // (moment, GitHub's delay of config.sh's first call, of adding its runner, when)
    let moments: [(&str, Duration, Duration, Reached); 6] = [
        ("while compose creates", none, none, creating),
        (
            "as the first runner starts registering",
            none,
            none,
            registering,
        ),
        ("during registration", slow, none, registering),
        ("once GitHub listed a runner", none, slow, listed),
        ("while runners start", none, none, starting),
        ("at once", none, none, &|_| true),
    ];
    let mut finished = 0;
    for (i, (moment, first_call, agent, reached)) in moments.into_iter().enumerate() {
        let fleet = lab.fleet(&format!("sig{i}")).build();
        gh.set_registration_latency(first_call);
        gh.set_agent_latency(agent);
        let init = Background::start(&fleet, &["init", "-n", "10"]);
        assert!(
            poll(Duration::from_secs(90), || reached(&fleet)),
            "init never got {moment}:\n{}",
            init.stderr()
        );
        let (code, said) = init.signal("-INT");
        let at_exit = registrations(gh, &fleet);
        let oneoffs = fleet.oneoffs();
        std::thread::sleep(Duration::from_secs(3));
        gh.set_registration_latency(none);
        gh.set_agent_latency(none);
        assert_eq!(code, Some(130), "SIGINT {moment}:\n{said}");
        assert_eq!(
            oneoffs,
            Vec::<String>::new(),
            "one-offs at exit, SIGINT {moment}:\n{said}"
        );
        assert_eq!(
            fleet.oneoffs(),
            Vec::<String>::new(),
            "one-offs 3 s after exit, SIGINT {moment}:\n{said}"
        );
        assert_eq!(
            registrations(gh, &fleet),
            at_exit,
            "GitHub changed after ghr exited, SIGINT {moment}:\n{said}"
        );
        let out = fleet.ghr(&["init", "-n", "10"]);
        assert_eq!(
            out.code,
            Some(0),
            "init after SIGINT {moment}:\n--- interrupted init said:\n{said}\n--- next:\n{}",
            out.stderr
        );
        let names: Vec<String> = (1..=10).map(|n| fleet.name(&n.to_string())).collect();
        assert_eq!(fleet.containers(), running(&names), "after SIGINT {moment}");
        assert_eq!(
            registrations(gh, &fleet).len(),
            10,
            "one registration each, after SIGINT {moment}"
        );
        finished += 1;
    }
    eprintln!("SIGINT at {finished} moments: {finished} reruns finish");
}

/// `docker run --rm --user 0 -v VOLUME:/v <test image> sh -c SCRIPT`: shapes a volume as an
/// interrupted run leaves it. Root on purpose: this stands in for Docker's own seeding of a
/// volume (root-owned), not for a runner; no runner runs here.
fn shape_volume(volume: &str, script: &str) {
    let out = Command::new("docker")
        .args([
            "run",
            "--rm",
            "--user",
            "0:0",
            "-v",
            &format!("{volume}:/v"),
        ])
        .args([
            "--entrypoint",
            "/bin/sh",
            &testkit::lab::test_image(),
            "-c",
            script,
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Issue 15.1: whatever an interrupted run leaves in a runner's volume, `init` finishes: a
/// volume compose made but never seeded (empty and root's, what `docker volume create`
/// makes), one half copied as root, one half copied by the runner's user.
#[test]
fn init_repairs_what_an_interrupted_run_left_in_a_volume() {
    if !docker_ready("init_repairs_what_an_interrupted_run_left_in_a_volume") {
        return;
    }
    let lab = lab();
    let gh = &lab.gh;
    let fleet = lab.fleet("volumes").build();
    let names: Vec<String> = (1..=3).map(|n| fleet.name(&n.to_string())).collect();
    let volume = |n: usize| format!("{}-data", names[n]);
    let created = docker(&["volume", "create", &volume(0)]);
    assert_eq!(created.trim(), volume(0));
    shape_volume(
        &volume(1),
        "mkdir /v/bin && ln -s bin/Runner.Listener /v/config.sh",
    );
    shape_volume(
        &volume(2),
        "mkdir /v/bin && ln -s bin/Runner.Listener /v/config.sh && chown -R 1001:123 /v",
    );
    let out = fleet.ghr(&["init", "-n", "3"]);
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    assert_eq!(fleet.containers(), running(&names));
    assert!(
        gh.wait_until(Duration::from_secs(60), |gh| {
            let r = registrations(gh, &fleet);
            r.len() == 3
                && names.iter().all(|n| {
                    gh.runner(&testkit::Scope::Org(ORG), n)
                        .is_some_and(|r| r.status == "online")
                })
        }),
        "{:?}",
        registrations(gh, &fleet)
    );
    for n in 0..3 {
        // Root on purpose: it only reads the volume's top directory, as an admin would.
        let top = docker(&[
            "run",
            "--rm",
            "--user",
            "0:0",
            "-v",
            &format!("{}:/v", volume(n)),
            "--entrypoint",
            "/bin/sh",
            &testkit::lab::test_image(),
            "-c",
            "stat -c '%u %a' /v",
        ]);
        assert_eq!(
            top.trim(),
            "1001 777",
            "{} is the runner's, as Docker seeds it",
            volume(n)
        );
    }
}

/// Issue 15.3: GitHub stops answering in the middle of registrations. Each registration ends
/// at `RUNNER_REGISTER_TIMEOUT`: said once while it waits (what for, and the limit), then
/// one line per runner that it did not register because GitHub did not answer in time; its
/// container is stopped (not restarting) and `ghr list` says why. Once GitHub answers again,
/// `init` finishes.
#[test]
fn a_registration_github_does_not_answer_ends_at_its_limit() {
    if !docker_ready("a_registration_github_does_not_answer_ends_at_its_limit") {
        return;
    }
    let lab = lab();
    let gh = &lab.gh;
    let fleet = lab.fleet("hang").env("RUNNER_REGISTER_TIMEOUT=17s").build();
    let names = [fleet.name("1"), fleet.name("2")];
    gh.hang_registrations(true);
    let started = Instant::now();
    let out = fleet.ghr(&["init", "-n", "2"]);
    let took = started.elapsed();
    gh.hang_registrations(false);
    assert_eq!(out.code, Some(1), "{}", out.stderr);
    // 17 s, then the one-offs are removed; far from config.sh's own waits.
    assert!(
        took < Duration::from_secs(40),
        "took {took:?}:\n{}",
        out.stderr
    );
    for name in &names {
        let said: Vec<&str> = out
            .stderr
            .lines()
            .filter(|l| {
                l.contains(name.as_str())
                    && !l.starts_with("created ")
                    && !l.starts_with("started ")
            })
            .collect();
        assert_eq!(
            said,
            [
                format!("still registering {name} after 15s (ghr waits at most 17s)").as_str(),
                format!("error: {name} did not register: GitHub did not answer within 17s (RUNNER_REGISTER_TIMEOUT), so its first start (config.sh) was stopped; run the command again when GitHub answers").as_str(),
            ],
            "{}",
            out.stderr
        );
    }
    assert_eq!(fleet.oneoffs(), Vec::<String>::new());
    // Stopped, not crash-looping, and `ghr list` says why.
    std::thread::sleep(Duration::from_secs(2));
    for (name, state) in fleet.containers() {
        assert_eq!(state, "exited", "{name}");
    }
    let list = fleet.ghr(&["list", "--json"]).ok();
    let json: serde_json::Value = serde_json::from_str(&list.stdout).unwrap();
    for runner in json["runners"].as_array().unwrap() {
        assert_eq!(
            runner["container"]["registration_failed"], "stopped while config.sh registered it",
            "{}",
            list.stdout
        );
    }
    let table = fleet.ghr(&["list"]).ok().stdout;
    assert!(table.contains("not registered: stopped while"), "{table}");
    fleet.ghr(&["init", "-n", "2"]).ok();
    assert_eq!(fleet.containers(), running(&names));
    assert_eq!(registrations(gh, &fleet).len(), 2);
}

/// Issue 16.5: `ghr list` shows everything of the prefix `ghr rm` would find: a volume a
/// failed first `init` left (no container, no registration), and a one-off container an
/// interrupted ghr left. Issue 16.11: a refused PAT during `list` is said once.
#[test]
fn list_shows_every_leftover_and_says_a_refusal_once() {
    if !docker_ready("list_shows_every_leftover_and_says_a_refusal_once") {
        return;
    }
    let lab = lab();
    let fleet = lab.fleet("leftover").build();
    let runner = fleet.name("1");
    let volume = format!("{runner}-data");
    docker(&["volume", "create", &volume]);
    let oneoff = format!("{runner}-register");
    let made = docker(&[
        "create",
        "--name",
        &oneoff,
        "--label",
        "ghr.oneoff=register",
        "--label",
        &format!("ghr.prefix={}", fleet.prefix),
        "--label",
        &format!("ghr.runner={runner}"),
        &testkit::lab::test_image(),
        "/bin/sh",
    ]);
    assert!(!made.trim().is_empty(), "the one-off is made");
    let out = fleet.ghr(&["list"]).ok();
    assert!(
        !out.stdout.contains("no runners of prefix"),
        "{}",
        out.stdout
    );
    let row = out
        .stdout
        .lines()
        .find(|l| l.contains(&runner))
        .unwrap_or_else(|| panic!("no row of {runner}:\n{}", out.stdout));
    for cell in ["no container", "not registered", " data "] {
        assert!(row.contains(cell), "{cell:?} missing in {row}");
    }
    assert!(
        out.stdout.contains(&format!(
            "one-off container {oneoff}: left by an interrupted ghr"
        )),
        "{}",
        out.stdout
    );
    let json: serde_json::Value =
        serde_json::from_str(&fleet.ghr(&["list", "--json"]).ok().stdout).unwrap();
    assert_eq!(json["runners"][0]["name"], runner.as_str());
    assert_eq!(json["runners"][0]["volumes"], serde_json::json!([volume]));
    assert_eq!(json["runners"][0]["container"], serde_json::Value::Null);
    assert_eq!(json["oneoffs"], serde_json::json!([oneoff]));
    // `rm` finds exactly what `list` showed.
    fleet.ghr(&["rm", "-y"]).ok();
    assert!(fleet.volumes().is_empty() && fleet.oneoffs().is_empty());
    // A PAT GitHub refuses: the table says `unknown` for GitHub, the refusal is one line.
    fleet.set_env("GH_PAT=fakepat_revokedRevokedRevoked000");
    docker(&["volume", "create", &volume]);
    let out = fleet.ghr(&["list"]).code(4);
    out.clone()
        .error_line("GitHub rejected the PAT (GH_PAT): bad credentials (HTTP 401)");
    assert!(out.stdout.contains("unknown"), "{}", out.stdout);
}

/// Issue 15.4: five 502s in a row (they failed `init` after 2 s) are ridden out, said on
/// one line (printed once off a terminal).
#[test]
fn five_502s_in_a_row_do_not_fail_init() {
    if !docker_ready("five_502s_in_a_row_do_not_fail_init") {
        return;
    }
    let lab = lab();
    let fleet = lab.fleet("blip").build();
    lab.gh.inject_errors(5, 502);
    let out = fleet.ghr(&["init", "-n", "1"]);
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    let retries: Vec<&str> = out
        .stderr
        .lines()
        .filter(|l| l.contains("trying again"))
        .collect();
    assert_eq!(retries.len(), 1, "{}", out.stderr);
    assert!(
        retries[0].contains("GitHub answered HTTP 502; trying again in"),
        "{}",
        retries[0]
    );
    assert_eq!(registrations(&lab.gh, &fleet).len(), 1);
}

/// Issue 16.11: a GitHub that accepts connections and never answers ends `ghr list` within
/// 30 s with its error said once (the retry line printed once before it, off a terminal).
#[test]
fn an_unresponsive_github_ends_within_30_s_in_one_line() {
    if !docker_ready("an_unresponsive_github_ends_within_30_s_in_one_line") {
        return;
    }
    let lab = lab();
    let fleet = lab.fleet("silent").build();
    lab.gh.set_latency(Duration::from_secs(120));
    let started = Instant::now();
    let out = fleet.ghr(&["list"]).code(4);
    let took = started.elapsed();
    lab.gh.set_latency(Duration::ZERO);
    assert!(took < Duration::from_secs(30), "took {took:?}");
    let lines: Vec<&str> = out.stderr.lines().collect();
    assert_eq!(lines.len(), 2, "{}", out.stderr);
    assert!(
        lines[0].contains("timed out") && lines[0].contains("trying again"),
        "{}",
        out.stderr
    );
    assert!(
        lines[1].starts_with("error: cannot reach the GitHub API at")
            && lines[1].contains("timed out")
            && lines[1].contains(" attempts in "),
        "{}",
        out.stderr
    );
}

/// Issue 16.4: a Docker failure keeps the lines that say why (not Docker's closing advice)
/// and exits 5, also when it failed one runner's step rather than the whole command.
#[test]
fn docker_failures_keep_their_reason_and_exit_5() {
    if !docker_ready("docker_failures_keep_their_reason_and_exit_5") {
        return;
    }
    let lab = lab();
    // An image no registry has (nothing can be pulled here): twice, as a newcomer would.
    let fleet = lab
        .fleet("noimage")
        .env("RUNNER_IMAGE=ghr-test-does-not-exist.invalid/none:1")
        .build();
    for _ in 0..2 {
        let out = fleet.ghr(&["init", "-n", "1"]).code(5);
        let lines: Vec<&str> = out.stderr.lines().collect();
        assert_eq!(lines.len(), 2, "{}", out.stderr);
        assert_eq!(
            lines[0],
            "pulling image ghr-test-does-not-exist.invalid/none:1"
        );
        assert!(
            lines[1].starts_with("error: cannot pull image ghr-test-does-not-exist.invalid/none:1: Error response from daemon: "),
            "{}",
            out.stderr
        );
        assert!(!out.stderr.contains("--help"), "{}", out.stderr);
        assert!(!fleet.path(&format!("docker-compose.{ORG}.yml")).exists());
        assert!(
            fleet.volumes().is_empty(),
            "a volume before the image is there"
        );
        assert!(fleet.containers().is_empty());
    }
    // An image that is here but cannot run a one-off (no shell in it), on a volume a failed
    // run left: the runner's line says why, and the command exits 5. Its missing USER is root
    // on purpose: nothing in it can run, which is the point.
    let scratch = TempDir::new("noshell");
    std::fs::write(scratch.path().join("x"), "x").unwrap();
    std::fs::write(
        scratch.path().join("Dockerfile"),
        "FROM scratch\nCOPY x /home/runner/x\nCMD [\"/x\"]\n",
    )
    .unwrap();
    let tag = format!("ghr-test-noshell-{}:1", std::process::id());
    let built = Command::new("docker")
        .args(["build", "-q", "-t", &tag])
        .arg(scratch.path())
        .output()
        .unwrap();
    assert!(
        built.status.success(),
        "{}",
        String::from_utf8_lossy(&built.stderr)
    );
    let fleet = lab
        .fleet("noshell")
        .env(&format!("RUNNER_IMAGE={tag}"))
        .build();
    docker(&["volume", "create", &format!("{}-data", fleet.name("1"))]);
    let out = fleet.ghr(&["init", "-n", "1"]);
    docker(&["rmi", "-f", &tag]);
    assert_eq!(out.code, Some(5), "{}", out.stderr);
    let line = out
        .stderr
        .lines()
        .find(|l| {
            l.starts_with(&format!(
                "error: {}: copying the runner install",
                fleet.name("1")
            ))
        })
        .unwrap_or_else(|| panic!("no line for the runner:\n{}", out.stderr));
    assert!(
        line.contains("/bin/sh") && line.contains("no such file or directory"),
        "{line}"
    );
    assert!(!line.contains("--help"), "{line}");
}

/// Issue 16.6: when GitHub cannot help (a revoked PAT, an unreachable GitHub), `rm` and
/// `purge` remove nothing and say that `--local` exists; with `--local` they remove the
/// containers and volumes and say which registrations stay on GitHub and what GitHub does
/// with them.
#[test]
fn rm_and_purge_clean_up_locally_when_github_cannot_help() {
    if !docker_ready("rm_and_purge_clean_up_locally_when_github_cannot_help") {
        return;
    }
    let lab = lab();
    let gh = &lab.gh;
    let fleet = lab.fleet("leaving").build();
    let names = [fleet.name("1"), fleet.name("2")];
    fleet.ghr(&["init", "-n", "2"]).ok();
    fleet.set_env("GH_PAT=fakepat_revokedRevokedRevoked000");
    let out = fleet.ghr(&["rm", "-y"]).code(4);
    out.error_line("GitHub rejected the PAT (GH_PAT): bad credentials (HTTP 401); check that GH_PAT holds a valid, unexpired token; `ghr rm --local` removes the containers and volumes without GitHub (their registrations stay on GitHub)");
    assert_eq!(fleet.containers().len(), 2, "nothing is removed");
    let out = fleet.ghr(&["rm", "-y", "--local"]).ok();
    assert!(fleet.containers().is_empty() && fleet.volumes().is_empty());
    assert!(out.stderr.contains("removed 2 volumes"), "{}", out.stderr);
    let warned: Vec<&str> = out
        .stderr
        .lines()
        .filter(|l| l.starts_with("warning: "))
        .collect();
    assert_eq!(warned.len(), 1, "{}", out.stderr);
    assert!(
        warned[0].starts_with(&format!(
            "warning: these registrations stay on GitHub (acme): {}, {}; GitHub deletes self-hosted runners that were offline for 14 days",
            names[0], names[1]
        )),
        "{}",
        warned[0]
    );
    assert_eq!(registrations(gh, &fleet).len(), 2, "GitHub was not asked");

    // purge, with GitHub unreachable.
    let fleet = lab.fleet("purging").build();
    fleet.ghr(&["init", "-n", "1"]).ok();
    fleet.set_env("GITHUB_API_URL=http://127.0.0.1:1");
    let out = fleet.ghr(&["purge", "-y"]).code(4);
    let last = out.stderr.lines().last().unwrap_or_default();
    assert!(
        last.starts_with("error: cannot reach the GitHub API at http://127.0.0.1:1")
            && last.ends_with("`ghr purge --local` removes them without GitHub (their registrations stay on GitHub)"),
        "{}",
        out.stderr
    );
    assert!(fleet.path(&format!("docker-compose.{ORG}.yml")).exists());
    assert_eq!(fleet.containers().len(), 1);
    let out = fleet.ghr(&["purge", "-y", "--local"]).ok();
    assert!(out.stderr.contains("removed 1 volume\n"), "{}", out.stderr);
    assert!(fleet.containers().is_empty() && fleet.volumes().is_empty());
    assert!(!fleet.path(&format!("docker-compose.{ORG}.yml")).exists());
    assert!(!fleet.path(&format!(".reg_token.cache.{ORG}")).exists());
    assert!(out.stderr.contains(&fleet.name("1")), "{}", out.stderr);
    // No PAT at all: the settings error names --local too.
    fleet.set_env("GH_PAT=");
    fleet.ghr(&["rm", "-y"]).code(3).error_line(
        "GH_PAT is not set; add GH_PAT=... to .env or export GH_PAT; or `ghr rm --local` removes",
    );
}

/// The processes whose command line names the fleet (its compose project, its docker
/// filters), as `pid command`.
fn fleet_processes(fleet: &Fleet) -> Vec<String> {
    let out = Command::new("pgrep")
        .args(["-a", "-f", fleet.prefix.trim_end_matches('-')])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| !l.contains("pgrep"))
        .map(String::from)
        .collect()
}

/// Issue 15.1/15.2: `kill -9` of ghr while compose creates takes ghr's docker and compose
/// processes along (none goes on creating while the next command runs), and the next
/// `init` finishes from whatever was left.
#[test]
fn kill_9_while_compose_creates_leaves_nothing_running_and_init_finishes() {
    if !docker_ready("kill_9_while_compose_creates_leaves_nothing_running_and_init_finishes") {
        return;
    }
    let lab = lab();
    let trials = 3;
    for trial in 0..trials {
        let fleet = lab.fleet(&format!("kill9c{trial}")).build();
        let mut init = Background::start(&fleet, &["init", "-n", "6"]);
        assert!(
            poll(Duration::from_secs(60), || fleet_processes(&fleet)
                .iter()
                .any(|p| p.contains("up --no-start"))),
            "compose never started:\n{}",
            init.stderr()
        );
        // Later trials a little later: volumes, then containers being made.
        std::thread::sleep(Duration::from_millis(150 * trial as u64));
        let pid = init.child.id();
        init.child.kill().unwrap();
        init.child.wait().unwrap();
        assert!(
            poll(Duration::from_millis(500), || fleet_processes(&fleet)
                .is_empty()),
            "still running after ghr was killed: {:?}",
            fleet_processes(&fleet)
        );
        let out = fleet.ghr(&["init", "-n", "6"]);
        assert_eq!(
            out.code,
            Some(0),
            "init after kill -9 (trial {trial}):\n{}",
            out.stderr
        );
        let names: Vec<String> = (1..=6).map(|n| fleet.name(&n.to_string())).collect();
        assert_eq!(fleet.containers(), running(&names), "trial {trial}");
        // The killed ghr's private env directory is gone too (the next one swept it).
        let left: Vec<String> = std::fs::read_dir(std::env::temp_dir())
            .unwrap()
            .filter_map(|e| e.ok())
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| n.starts_with(&format!("ghr-{pid}-")))
            .collect();
        assert!(left.is_empty(), "{left:?}");
    }
    eprintln!("kill -9 while compose creates, {trials} trials: {trials} reruns finish");
}
