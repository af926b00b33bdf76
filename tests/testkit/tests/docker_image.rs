//! The faithful test image: as strict as `ghcr.io/actions/actions-runner` wherever ghr or
//! runner-wrapper can see it, and the fake runner in it against the fake GitHub.

use std::process::Command;
use std::time::{Duration, Instant};
use testkit::lab::docker_ready;
use testkit::{FakeGitHub, JobSpec, Scope};

fn docker(args: &[&str]) -> std::process::Output {
    Command::new("docker").args(args).output().expect("docker")
}

fn text(o: &std::process::Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// `docker run --rm <args> <image> <command...>`, as the image's user unless args say otherwise.
fn run(args: &[&str], command: &[&str]) -> std::process::Output {
    let image = testkit::docker::test_image().expect("test image");
    let mut all = vec!["run", "--rm", "--network", "host"];
    all.extend_from_slice(args);
    all.push(&image);
    all.extend_from_slice(command);
    docker(&all)
}

/// A container and the volume of the same name holding its /home/runner.
struct Container(String);

impl Drop for Container {
    fn drop(&mut self) {
        let _ = docker(&["rm", "-f", &self.0]);
        let _ = docker(&["volume", "rm", "-f", &self.0]);
    }
}

fn gh() -> FakeGitHub {
    let gh = FakeGitHub::start();
    gh.add_org("acme");
    gh.set_poll_timeout(Duration::from_secs(3));
    gh
}

const ORG: Scope = Scope::Org("acme");

#[test]
fn the_image_is_as_strict_as_the_official_one() {
    if !docker_ready("the_image_is_as_strict_as_the_official_one") {
        return;
    }
    let image = testkit::docker::test_image().expect("test image");
    assert_eq!(testkit::docker::test_image().unwrap(), image, "reused");
    let config = text(&docker(&[
        "inspect",
        "--format",
        "{{json .Config}}",
        &image,
    ]));
    let config: serde_json::Value = serde_json::from_str(config.trim()).unwrap();
    assert_eq!(config["User"], "runner");
    assert_eq!(config["WorkingDir"], "/home/runner");
    assert!(config["Entrypoint"].is_null(), "no ENTRYPOINT: {config}");
    assert!(config["Cmd"].is_null(), "no CMD: {config}");
    let env: Vec<&str> = config["Env"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|v| v.as_str())
        .collect();
    assert!(env.contains(&"RUNNER_MANUALLY_TRAP_SIG=1"), "{env:?}");
    assert!(
        env.contains(&"ACTIONS_RUNNER_PRINT_LOG_TO_STDOUT=1"),
        "{env:?}"
    );
    let o = run(&[], &[]);
    assert!(
        !o.status.success(),
        "no command, no container: {}",
        text(&o)
    );

    let o = run(
        &[],
        &[
            "/bin/bash",
            "-c",
            "id; stat -c '%a %U' /home/runner; grep -c '^dialout:' /etc/group; echo HOME=$HOME; \
             ls /usr/local/bin/runner-wrapper /opt/ghr 2>&1 | wc -l; \
             command -v runner-wrapper || echo no-wrapper",
        ],
    );
    let out = text(&o);
    assert!(o.status.success(), "{out}");
    assert!(
        out.contains("uid=1001(runner) gid=1001(runner) groups=27(sudo),123(docker),1001(runner)"),
        "{out}"
    );
    assert!(out.contains("777 runner"), "{out}");
    assert!(out.contains("\n1\n"), "a dialout group: {out}");
    assert!(out.contains("HOME=/home/runner"), "{out}");
    assert!(out.contains("no-wrapper"), "{out}");

    // config.sh refuses root unless RUNNER_ALLOW_RUNASROOT is set (and not empty): `--user 0`
    // is root on purpose, to prove the image's config.sh refuses it as the real one does.
    for (env, refused) in [
        ("X=1", true),
        ("RUNNER_ALLOW_RUNASROOT=", true),
        ("RUNNER_ALLOW_RUNASROOT=1", false),
    ] {
        let o = run(
            &["--user", "0", "-e", env],
            &["/home/runner/config.sh", "--help"],
        );
        assert_eq!(
            text(&o).contains("Must not run with sudo"),
            refused,
            "{env}: {}",
            text(&o)
        );
    }
    let o = run(&[], &["/home/runner/config.sh", "--help"]);
    assert!(o.status.success() && text(&o).contains("--runnergroup"));
}

#[test]
fn config_inputs_names_and_files_follow_the_real_runner() {
    if !docker_ready("config_inputs_names_and_files_follow_the_real_runner") {
        return;
    }
    let gh = gh();
    let url = format!("{}/acme", gh.url());
    let vol = format!("ghr-testkit-cfg-{}", std::process::id());
    struct Volume(String);
    impl Drop for Volume {
        fn drop(&mut self) {
            let _ = docker(&["volume", "rm", "-f", &self.0]);
        }
    }
    let _vol = Volume(vol.clone());
    let home = format!("{vol}:/home/runner");
    let config = |envs: &[String], args: &[&str]| {
        let mut a: Vec<&str> = vec!["-v", &home];
        for e in envs {
            a.extend(["-e", e.as_str()]);
        }
        let mut c = vec!["/home/runner/config.sh"];
        c.extend_from_slice(args);
        run(&a, &c)
    };
    // Every argument also comes from ACTIONS_RUNNER_INPUT_<NAME>, the name in any case,
    // the value trimmed.
    let token = gh.registration_token(&ORG);
    let o = config(
        &[
            format!("ACTIONS_RUNNER_INPUT_url={url}"),
            format!("ACTIONS_RUNNER_INPUT_Token=  {token}  "),
            "ACTIONS_RUNNER_INPUT_NAME=in-container".into(),
        ],
        &["--unattended"],
    );
    assert!(o.status.success(), "{}", text(&o));
    assert!(gh.runner(&ORG, "in-container").is_some());
    // Configured means `.runner` (or `.runner_migrated`) exists.
    let o = config(&[], &["--url", &url, "--token", "x", "--unattended"]);
    assert!(text(&o).contains("already configured"), "{}", text(&o));

    // Flags from the environment only as true/false: `1` is not true.
    let fresh = |name: &str, replace: &str| {
        let token = gh.registration_token(&ORG);
        run(
            &["-e", &format!("ACTIONS_RUNNER_INPUT_REPLACE={replace}")],
            &[
                "/home/runner/config.sh",
                "--url",
                &url,
                "--token",
                &token,
                "--name",
                name,
                "--unattended",
            ],
        )
    };
    let o = fresh("in-container", "1");
    assert!(
        text(&o).contains("A runner exists with the same name"),
        "{}",
        text(&o)
    );
    let o = fresh("in-container", "True");
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(gh.runners(&ORG).len(), 1, "replaced, not added");

    // GitHub refuses names over 64 characters.
    let long = "n".repeat(65);
    let o = fresh(&long, "false");
    assert!(!o.status.success());
    assert!(text(&o).contains("at most 64"), "{}", text(&o));
    assert!(fresh(&"n".repeat(64), "false").status.success());
}

/// Configures a runner on the volume `name` (one-off container), then runs run.sh in the
/// container `name` on it (detached), as ghr does.
fn start_runner(gh: &FakeGitHub, name: &str, extra: &[&str]) -> Container {
    let image = testkit::docker::test_image().expect("test image");
    let token = gh.registration_token(&ORG);
    let url = format!("{}/acme", gh.url());
    let c = Container(name.to_string());
    let home = format!("{name}:/home/runner");
    let script = format!(
        "/home/runner/config.sh --url {url} --token {token} --name {name} --unattended --labels docker \
         && printf 'echo hook on $RUNNER_NAME\\n' > /home/runner/started.sh"
    );
    let o = run(&["-v", &home], &["/bin/bash", "-c", &script]);
    assert!(o.status.success(), "{}", text(&o));
    let mut args = vec![
        "run",
        "-d",
        "--name",
        name,
        "--network",
        "host",
        "-v",
        &home,
        "-e",
        "ACTIONS_RUNNER_HOOK_JOB_STARTED=/home/runner/started.sh",
    ];
    args.extend_from_slice(extra);
    args.extend([image.as_str(), "/home/runner/run.sh"]);
    let o = docker(&args);
    assert!(o.status.success(), "{}", text(&o));
    let up = gh.wait_until(Duration::from_secs(20), |gh| {
        gh.runner(&ORG, name).is_some_and(|r| r.status == "online")
    });
    assert!(up, "not online: {}", text(&docker(&["logs", name])));
    c
}

#[test]
fn docker_stop_takes_the_runner_offline_only_with_the_trap_variable() {
    if !docker_ready("docker_stop_takes_the_runner_offline_only_with_the_trap_variable") {
        return;
    }
    let gh = gh();
    let name = format!("testkit-trap-{}", std::process::id());
    let c = start_runner(&gh, &name, &[]);
    let job = gh.dispatch_job(&ORG, &["docker"], JobSpec::new("in-container"));
    let rec = gh.wait_job(job, Duration::from_secs(20)).expect("job done");
    assert_eq!(rec.result.as_deref(), Some("Succeeded"), "{}", rec.log);
    assert!(rec.log.contains(&format!("hook on {name}")), "{}", rec.log);
    let o = docker(&["stop", "-t", "10", &name]);
    assert!(o.status.success());
    assert_eq!(gh.runner(&ORG, &name).unwrap().status, "offline", "at once");
    let logs = text(&docker(&["logs", &name]));
    assert!(
        logs.contains("Job in-container completed with result: Succeeded"),
        "{logs}"
    );
    assert!(
        logs.contains("INFO JobDispatcher]"),
        "trace lines on stdout: {logs}"
    );
    let exit = text(&docker(&[
        "inspect",
        "--format",
        "{{.State.ExitCode}}",
        &name,
    ]));
    assert_eq!(exit.trim(), "0", "{logs}");
    drop(c);

    // An empty variable counts as unset: run.sh (PID 1) ignores SIGTERM, Docker kills it
    // after the grace period, and GitHub shows the runner online until its poll lapses.
    let name = format!("testkit-notrap-{}", std::process::id());
    let _c = start_runner(&gh, &name, &["-e", "RUNNER_MANUALLY_TRAP_SIG="]);
    let t = Instant::now();
    assert!(docker(&["stop", "-t", "2", &name]).status.success());
    assert!(
        t.elapsed() >= Duration::from_secs(2),
        "killed after the grace period"
    );
    assert_eq!(gh.runner(&ORG, &name).unwrap().status, "online");
    assert!(gh.wait_until(Duration::from_secs(20), |gh| gh
        .runner(&ORG, &name)
        .is_some_and(|r| r.status == "offline")));
}

#[test]
fn a_registration_deleted_on_github_ends_run_sh_with_0() {
    if !docker_ready("a_registration_deleted_on_github_ends_run_sh_with_0") {
        return;
    }
    let gh = gh();
    let name = format!("testkit-expired-{}", std::process::id());
    let _c = start_runner(&gh, &name, &[]);
    assert!(docker(&["stop", "-t", "10", &name]).status.success());
    // GitHub deletes runners that were offline for 14 days.
    assert!(gh.expire_runner(&ORG, &name));
    let o = docker(&["start", "-a", &name]);
    let out = text(&o);
    assert!(o.status.success(), "run.sh exits 0: {out}");
    assert!(
        out.contains(
            "The runner registration has been deleted from the server, please re-configure."
        ),
        "{out}"
    );
    assert!(gh.runner(&ORG, &name).is_none());
}
