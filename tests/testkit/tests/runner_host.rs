//! The fake actions runner end to end on the host (no Docker) against the fake GitHub.

use std::io::{BufRead, BufReader};
use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use testkit::runner_layout::{TempRoot, AS_ROOT, PROXY_VARS};
use testkit::{FakeGitHub, JobSpec, Scope};

const ORG: Scope = Scope::Org("acme");

fn gh() -> FakeGitHub {
    let gh = FakeGitHub::start();
    gh.add_org("acme");
    gh.add_repo("acme", "widgets");
    gh.add_pat("fakepat_x", &["admin:org", "repo"]);
    gh.set_poll_timeout(Duration::from_secs(2));
    gh
}

/// A fake runner root for one test.
fn temp_root(tag: &str) -> TempRoot {
    TempRoot::new(tag, Path::new(env!("CARGO_BIN_EXE_fake-runner")))
}

fn config(root: &Path, args: &[&str]) -> Output {
    let mut cmd = Command::new(root.join("config.sh"));
    for var in PROXY_VARS {
        cmd.env_remove(var);
    }
    cmd.args(args)
        .env_remove("RUNNER_ROOT")
        .env(AS_ROOT.0, AS_ROOT.1)
        .output()
        .unwrap()
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn register(gh: &FakeGitHub, root: &Path, name: &str, extra: &[&str]) -> Output {
    let token = gh.registration_token(&ORG);
    let url = format!("{}/acme", gh.url());
    let mut args = vec![
        "--url",
        &url,
        "--token",
        &token,
        "--name",
        name,
        "--unattended",
    ];
    args.extend_from_slice(extra);
    config(root, &args)
}

struct Run {
    child: Child,
    lines: Arc<Mutex<Vec<String>>>,
}

impl Run {
    /// run.sh as the official image runs it: with `RUNNER_MANUALLY_TRAP_SIG=1`.
    fn start(root: &Path, envs: &[(&str, String)]) -> Run {
        let mut envs = envs.to_vec();
        envs.push(("RUNNER_MANUALLY_TRAP_SIG", "1".into()));
        Run::start_with(root, &envs)
    }

    /// run.sh as images without `RUNNER_MANUALLY_TRAP_SIG` run it.
    fn start_with(root: &Path, envs: &[(&str, String)]) -> Run {
        let mut cmd = Command::new(root.join("run.sh"));
        for var in PROXY_VARS {
            cmd.env_remove(var);
        }
        let mut child = cmd
            .env_remove("RUNNER_ROOT")
            .env_remove("RUNNER_MANUALLY_TRAP_SIG")
            .env(AS_ROOT.0, AS_ROOT.1)
            .envs(envs.iter().map(|(k, v)| (k, v)))
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let lines = Arc::new(Mutex::new(Vec::new()));
        let out = child.stdout.take().unwrap();
        let l = lines.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines().map_while(Result::ok) {
                l.lock().unwrap().push(line);
            }
        });
        Run { child, lines }
    }

    fn output(&self) -> String {
        self.lines.lock().unwrap().join("\n")
    }

    fn wait_line(&self, needle: &str, timeout: Duration) -> bool {
        let end = Instant::now() + timeout;
        while Instant::now() < end {
            if self.output().contains(needle) {
                return true;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        false
    }

    fn terminate(&mut self) -> std::process::ExitStatus {
        unsafe_kill(self.child.id(), 15);
        let end = Instant::now() + Duration::from_secs(5);
        loop {
            if let Some(s) = self.child.try_wait().unwrap() {
                return s;
            }
            assert!(Instant::now() < end, "run.sh did not exit after SIGTERM");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Run {
    fn drop(&mut self) {
        // The Listener is run.sh's child: leave no orphan holding the test's pipes.
        for pid in descendants(self.child.id()) {
            unsafe_kill(pid, 9);
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Every process below `pid` (from /proc), children first.
fn descendants(pid: u32) -> Vec<u32> {
    let mut all: Vec<(u32, u32)> = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(p) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{p}/stat")) else {
            continue;
        };
        // pid (comm) state ppid ...: comm may hold spaces, so split after its ')'.
        let ppid = stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().nth(1))
            .and_then(|v| v.parse().ok());
        if let Some(ppid) = ppid {
            all.push((p, ppid));
        }
    }
    let mut out = Vec::new();
    let mut frontier = vec![pid];
    while let Some(parent) = frontier.pop() {
        for (p, pp) in &all {
            if *pp == parent {
                out.push(*p);
                frontier.push(*p);
            }
        }
    }
    out
}

fn unsafe_kill(pid: u32, sig: i32) {
    Command::new("kill")
        .arg(format!("-{sig}"))
        .arg(pid.to_string())
        .status()
        .unwrap();
}

fn online(gh: &FakeGitHub, name: &str) -> bool {
    gh.wait_until(Duration::from_secs(10), |gh| {
        gh.runner(&ORG, name).is_some_and(|r| r.status == "online")
    })
}

#[test]
fn config_files_refusals_and_remove() {
    let gh = gh();
    let root = temp_root("cfg");
    let o = register(
        &gh,
        &root.0,
        "r1",
        &["--labels", "gpu,foo,GPU", "--work", "w"],
    );
    assert!(o.status.success(), "{}", text(&o));
    assert!(text(&o).contains("√ Connected to GitHub"));
    let runner: serde_json::Value =
        serde_json::from_slice(&std::fs::read(root.0.join(".runner")).unwrap()).unwrap();
    for k in [
        "agentId",
        "agentName",
        "poolId",
        "serverUrl",
        "gitHubUrl",
        "workFolder",
    ] {
        assert!(!runner[k].is_null(), "{k} missing in {runner}");
    }
    assert_eq!(runner["gitHubUrl"], format!("{}/acme", gh.url()));
    assert_eq!(runner["workFolder"], "w");
    assert!(root.0.join(".credentials").exists());
    let info = gh.runner(&ORG, "r1").unwrap();
    assert_eq!(info.id, runner["agentId"].as_u64().unwrap());
    assert_eq!(info.status, "offline");
    assert_eq!(info.labels, ["self-hosted", "Linux", "X64", "gpu", "foo"]);

    // Already configured.
    let o = register(&gh, &root.0, "r1", &[]);
    assert!(!o.status.success());
    assert!(text(&o).contains("already configured"), "{}", text(&o));

    // Name taken on the server: refused without --replace, replaced (same id) with it.
    let other = temp_root("cfg2");
    let o = register(&gh, &other.0, "r1", &[]);
    assert!(!o.status.success());
    assert!(
        text(&o).contains("A runner exists with the same name"),
        "{}",
        text(&o)
    );
    let o = register(&gh, &other.0, "r1", &["--replace", "--labels", "x"]);
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(gh.runners(&ORG).len(), 1);
    assert_eq!(gh.runner(&ORG, "r1").unwrap().id, info.id);

    // Bad token, token from env, missing url.
    let bad = temp_root("cfg3");
    let url = format!("{}/acme", gh.url());
    let o = config(&bad.0, &["--url", &url, "--token", "nope", "--unattended"]);
    assert!(!o.status.success());
    assert!(text(&o).contains("NotFound"), "{}", text(&o));
    let token = gh.registration_token(&ORG);
    let o = Command::new(bad.0.join("config.sh"))
        .env_remove("http_proxy")
        .env_remove("HTTP_PROXY")
        .args(["--url", &url, "--name", "r2", "--unattended"])
        .env(AS_ROOT.0, AS_ROOT.1)
        .env("ACTIONS_RUNNER_INPUT_TOKEN", &token)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", text(&o));
    let o = config(&temp_root("cfg4").0, &["--token", "x", "--unattended"]);
    assert!(text(&o).contains("Invalid configuration provided for url"));

    // run.sh without configuration.
    let empty = temp_root("cfg5");
    let o = Command::new(empty.0.join("run.sh"))
        .env_remove("http_proxy")
        .env_remove("HTTP_PROXY")
        .env(AS_ROOT.0, AS_ROOT.1)
        .output()
        .unwrap();
    // The Listener's "terminated error" (1) ends run.sh with 0, as run-helper.sh maps it.
    assert!(o.status.success(), "{}", text(&o));
    assert!(text(&o).contains("Not configured"));
    assert!(text(&o).contains("Runner listener exit with terminated error"));

    // remove.
    let token = gh.remove_token(&ORG);
    let o = config(&bad.0, &["remove", "--token", &token]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(text(&o).contains("√ Runner removed successfully"));
    assert!(!bad.0.join(".runner").exists() && !bad.0.join(".credentials").exists());
    assert!(gh.runner(&ORG, "r2").is_none());
    assert!(config(&root.0, &["--help"]).status.success());
}

const HOOK: &str = r#"
echo "$HOOK_KIND job=$GITHUB_JOB run=$GITHUB_RUN_ID attempt=$GITHUB_RUN_ATTEMPT repo=$GITHUB_REPOSITORY runner=$RUNNER_NAME"
if [ "$HOOK_KIND" = started ] && [ "$GITHUB_JOB" = bad-start ]; then echo "refusing"; exit 3; fi
if [ "$HOOK_KIND" = started ] && [ "$GITHUB_JOB" = slow-start ]; then
  sleep 4; echo done > "$MARKER"
fi
"#;

fn hooks(root: &Path) -> Vec<(&'static str, String)> {
    for kind in ["started", "completed"] {
        std::fs::write(
            root.join(format!("{kind}.sh")),
            format!("HOOK_KIND={kind}\n{HOOK}"),
        )
        .unwrap();
    }
    vec![
        (
            "ACTIONS_RUNNER_HOOK_JOB_STARTED",
            root.join("started.sh").display().to_string(),
        ),
        (
            "ACTIONS_RUNNER_HOOK_JOB_COMPLETED",
            root.join("completed.sh").display().to_string(),
        ),
        ("MARKER", root.join("marker").display().to_string()),
        ("FAKE_RUNNER_CANCEL_TIMEOUT_MS", "500".to_string()),
    ]
}

#[test]
fn jobs_hooks_cancel_and_stop() {
    let gh = gh();
    let root = temp_root("run");
    let o = register(&gh, &root.0, "r1", &["--labels", "gpu"]);
    assert!(o.status.success(), "{}", text(&o));
    let mut run = Run::start(&root.0, &hooks(&root.0));
    assert!(
        online(&gh, "r1"),
        "runner never came online: {}",
        run.output()
    );
    assert!(run.wait_line("√ Connected to GitHub", Duration::from_secs(5)));
    assert!(run.wait_line("Z: Listening for Jobs", Duration::from_secs(5)));

    // Success, with both hooks in the log and the Listener's lines.
    let spec = JobSpec {
        name: "build".into(),
        duration: Duration::from_millis(300),
        run_id: 77,
        attempt: 2,
        ..Default::default()
    };
    let job = gh.dispatch_job(&ORG, &["self-hosted", "GPU"], spec);
    let rec = gh
        .wait_job(job, Duration::from_secs(15))
        .expect("job finished");
    assert_eq!(rec.result.as_deref(), Some("Succeeded"), "{}", rec.log);
    assert_eq!(rec.runner_name.as_deref(), Some("r1"));
    assert!(
        rec.log
            .contains("started job=build run=77 attempt=2 repo=acme/ci runner=r1"),
        "{}",
        rec.log
    );
    assert!(rec.log.contains("completed job=build"), "{}", rec.log);
    assert!(rec.log.contains("Run '"));
    let (s, ss, sf, f) = (
        rec.started_at.unwrap(),
        rec.steps_started_at.unwrap(),
        rec.steps_finished_at.unwrap(),
        rec.finished_at.unwrap(),
    );
    assert!(s <= ss && ss <= sf && sf <= f);
    assert!(sf.duration_since(ss).unwrap() >= Duration::from_millis(300));
    assert!(run.wait_line(
        "Job build completed with result: Succeeded",
        Duration::from_secs(5)
    ));
    assert!(run.output().contains("Z: Running job: build"));

    // Failing steps; the completed hook still runs.
    let job = gh.dispatch_job(
        &ORG,
        &[],
        JobSpec {
            name: "fails".into(),
            fail: true,
            ..Default::default()
        },
    );
    let rec = gh.wait_job(job, Duration::from_secs(15)).unwrap();
    assert_eq!(rec.result.as_deref(), Some("Failed"));
    assert!(rec.log.contains("completed job=fails"));
    assert!(run.wait_line(
        "Job fails completed with result: Failed",
        Duration::from_secs(5)
    ));

    // Failing started hook: steps skipped, job failed, completed hook runs.
    let job = gh.dispatch_job(&ORG, &[], JobSpec::new("bad-start"));
    let rec = gh.wait_job(job, Duration::from_secs(15)).unwrap();
    assert_eq!(rec.result.as_deref(), Some("Failed"));
    assert!(rec.steps_started_at.is_none());
    assert!(
        rec.log.contains("refusing") && rec.log.contains("exit code 3"),
        "{}",
        rec.log
    );
    assert!(rec.log.contains("completed job=bad-start"));

    // A label the runner lacks: stays queued; cancel while queued.
    let queued = gh.dispatch_job(&ORG, &["arm64"], JobSpec::new("never"));
    std::thread::sleep(Duration::from_millis(300));
    assert!(gh.job(queued).unwrap().runner_name.is_none());
    gh.cancel_job(queued);
    assert_eq!(
        gh.wait_job(queued, Duration::from_secs(1))
            .unwrap()
            .result
            .as_deref(),
        Some("Canceled")
    );

    // Runner-protocol errors: the listener retries and still takes the next job.
    gh.inject_runner_errors(3, 503);
    std::thread::sleep(Duration::from_millis(100));

    // Cancel in the steps: steps stop, completed hook runs, Canceled.
    let job = gh.dispatch_job(
        &ORG,
        &[],
        JobSpec {
            name: "long".into(),
            duration: Duration::from_secs(60),
            ..Default::default()
        },
    );
    assert!(gh.wait_until(Duration::from_secs(20), |gh| gh
        .job(job)
        .unwrap()
        .steps_started_at
        .is_some()));
    let t = Instant::now();
    gh.cancel_job(job);
    let rec = gh.wait_job(job, Duration::from_secs(10)).unwrap();
    assert!(t.elapsed() < Duration::from_secs(5));
    assert_eq!(rec.result.as_deref(), Some("Canceled"));
    assert!(rec.log.contains("completed job=long"), "{}", rec.log);
    assert!(run.wait_line(
        "Job long completed with result: Canceled",
        Duration::from_secs(5)
    ));

    // Cancel while the started hook runs: worker killed after the cancel timeout, the hook
    // is orphaned and finishes on its own; no completed hook.
    let job = gh.dispatch_job(&ORG, &[], JobSpec::new("slow-start"));
    assert!(gh.wait_until(Duration::from_secs(10), |gh| gh
        .job(job)
        .unwrap()
        .log
        .contains("started job=slow-start")));
    let t = Instant::now();
    gh.cancel_job(job);
    let rec = gh.wait_job(job, Duration::from_secs(10)).unwrap();
    assert_eq!(rec.result.as_deref(), Some("Canceled"));
    assert!(
        t.elapsed() < Duration::from_millis(3500),
        "{:?}",
        t.elapsed()
    );
    assert!(!rec.log.contains("completed job=slow-start"), "{}", rec.log);
    assert!(!root.0.join("marker").exists());
    assert!(run.wait_line(
        "Job slow-start completed with result: Canceled",
        Duration::from_secs(5)
    ));
    let end = Instant::now() + Duration::from_secs(8);
    while !root.0.join("marker").exists() {
        assert!(Instant::now() < end, "orphaned hook did not finish");
        std::thread::sleep(Duration::from_millis(50));
    }

    // SIGTERM: offline, exit 0, promptly.
    let t = Instant::now();
    let status = run.terminate();
    assert!(status.success(), "{status:?}");
    assert!(t.elapsed() < Duration::from_secs(3));
    assert_eq!(gh.runner(&ORG, "r1").unwrap().status, "offline");
    assert!(gh.count("DELETE", "/sessions/") >= 1);
}

#[test]
fn stop_during_job_skips_completed_hook() {
    let gh = gh();
    let root = temp_root("stop");
    assert!(register(&gh, &root.0, "r1", &[]).status.success());
    let mut run = Run::start(&root.0, &hooks(&root.0));
    assert!(online(&gh, "r1"));
    let job = gh.dispatch_job(
        &ORG,
        &[],
        JobSpec {
            name: "long".into(),
            duration: Duration::from_secs(60),
            ..Default::default()
        },
    );
    assert!(gh.wait_until(Duration::from_secs(10), |gh| gh
        .job(job)
        .unwrap()
        .steps_started_at
        .is_some()));
    assert!(gh.runner(&ORG, "r1").unwrap().busy);
    assert!(run.terminate().success());
    let rec = gh.wait_job(job, Duration::from_secs(5)).unwrap();
    assert!(!rec.log.contains("completed job=long"), "{}", rec.log);
    let r = gh.runner(&ORG, "r1").unwrap();
    assert_eq!((r.status.as_str(), r.busy), ("offline", false));
}

#[test]
fn repo_runner_deleted_on_server_exits() {
    let gh = gh();
    let repo = Scope::Repo("acme", "widgets");
    let root = temp_root("del");
    let token = gh.registration_token(&repo);
    let url = format!("{}/acme/widgets", gh.url());
    // An org token does not register a repo runner.
    let org_token = gh.registration_token(&ORG);
    let o = config(
        &root.0,
        &[
            "--url",
            &url,
            "--token",
            &org_token,
            "--unattended",
            "--name",
            "w1",
        ],
    );
    assert!(!o.status.success());
    let o = config(
        &root.0,
        &[
            "--url",
            &url,
            "--token",
            &token,
            "--unattended",
            "--name",
            "w1",
        ],
    );
    assert!(o.status.success(), "{}", text(&o));
    let mut run = Run::start(&root.0, &[]);
    let up = gh.wait_until(Duration::from_secs(10), |gh| {
        gh.runner(&repo, "w1").is_some_and(|r| r.status == "online")
    });
    assert!(up);
    // Repo jobs run on the repo's runners.
    let job = gh.dispatch_job(&repo, &["self-hosted"], JobSpec::new("repo-job"));
    let rec = gh.wait_job(job, Duration::from_secs(10)).unwrap();
    assert_eq!(rec.result.as_deref(), Some("Succeeded"));

    let id = gh.runner(&repo, "w1").unwrap().id;
    let r = testkit::http_client::request(
        "DELETE",
        &format!("{}/repos/acme/widgets/actions/runners/{id}", gh.url()),
        &[("Authorization", "Bearer fakepat_x"), ("User-Agent", "t")],
        None,
        Duration::from_secs(5),
    )
    .unwrap();
    assert_eq!(r.status, 204);
    let end = Instant::now() + Duration::from_secs(10);
    let status = loop {
        if let Some(s) = run.child.try_wait().unwrap() {
            break s;
        }
        assert!(Instant::now() < end, "run.sh kept running after deletion");
        std::thread::sleep(Duration::from_millis(50));
    };
    // As the real runner (Runner.cs, a 404 while it polls): it says so on stderr ("The
    // runner no longer exists on the server. Cleaning up local configuration."), removes its
    // local configuration and ends with exit code 0, so a restart policy starts an
    // unconfigured runner, which `ghr init` registers again.
    assert!(status.success(), "{status:?}");
    assert!(
        !root.0.join(".runner").exists(),
        "the local configuration is gone"
    );
}

#[test]
fn killed_runner_goes_offline_after_its_poll_lapses() {
    let gh = gh();
    let root = temp_root("kill");
    assert!(register(&gh, &root.0, "k1", &[]).status.success());
    let mut run = Run::start(&root.0, &[]);
    assert!(online(&gh, "k1"));
    let job = gh.dispatch_job(
        &ORG,
        &[],
        JobSpec {
            name: "long".into(),
            duration: Duration::from_secs(60),
            ..Default::default()
        },
    );
    assert!(gh.wait_until(Duration::from_secs(10), |gh| gh
        .job(job)
        .unwrap()
        .steps_started_at
        .is_some()));
    // SIGKILL of everything: no session delete.
    for pid in descendants(run.child.id()) {
        unsafe_kill(pid, 9);
    }
    run.child.kill().unwrap();
    run.child.wait().unwrap();
    let gone = gh.wait_until(Duration::from_secs(10), |gh| {
        gh.runner(&ORG, "k1").is_some_and(|r| r.status == "offline")
    });
    assert!(gone, "a dead runner must go offline (poll timeout + grace)");
    assert!(!gh.runner(&ORG, "k1").unwrap().busy);
    let rec = gh.wait_job(job, Duration::from_secs(1)).unwrap();
    assert_eq!(rec.result.as_deref(), Some("Failed"));
    assert!(rec.log.contains("lost communication"), "{}", rec.log);
}

/// Without `RUNNER_MANUALLY_TRAP_SIG`, run.sh passes no signal on: SIGTERM ends run.sh, the
/// Listener never hears of it and stays online on GitHub until its long poll lapses.
#[test]
fn without_the_trap_variable_sigterm_leaves_the_runner_online() {
    let gh = gh();
    let root = temp_root("untrapped");
    assert!(register(&gh, &root.0, "u1", &[]).status.success());
    let mut run = Run::start_with(&root.0, &[]);
    assert!(online(&gh, "u1"));
    let listener = descendants(run.child.id());
    assert_eq!(listener.len(), 1, "the Listener is run.sh's child");
    let status = run.terminate();
    assert_eq!(
        status.signal(),
        Some(15),
        "run.sh dies of the signal: {status:?}"
    );
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(gh.runner(&ORG, "u1").unwrap().status, "online");
    assert_eq!(gh.count("DELETE", "/sessions/"), 0, "nobody said goodbye");
    // Killing the orphaned Listener too: offline once its poll lapses.
    unsafe_kill(listener[0], 9);
    assert!(gh.wait_until(Duration::from_secs(15), |gh| gh
        .runner(&ORG, "u1")
        .is_some_and(|r| r.status == "offline")));
}

/// The runner's own `.env` (written next to run.sh) overrides the environment it inherits,
/// hook variables included; `ACTIONS_RUNNER_INPUT_*` never reach a job; the started hook's
/// `GITHUB_ENV` lines are seen by the job's script.
#[test]
fn dotenv_overrides_inputs_vanish_and_github_env_reaches_later_steps() {
    let gh = gh();
    let root = temp_root("dotenv");
    assert!(register(&gh, &root.0, "d1", &["--labels", "dot"])
        .status
        .success());
    std::fs::write(
        root.0.join("from-dotenv.sh"),
        "echo \"dotenv hook FOO=$FOO\"\necho GHR_MEMBER=m-$GITHUB_JOB >> \"$GITHUB_ENV\"\n",
    )
    .unwrap();
    let env_file = std::fs::read_to_string(root.0.join(".env")).unwrap_or_default();
    std::fs::write(
        root.0.join(".env"),
        format!(
            "{env_file}FOO=from-dotenv\nACTIONS_RUNNER_HOOK_JOB_STARTED={}\n",
            root.0.join("from-dotenv.sh").display()
        ),
    )
    .unwrap();
    let _run = Run::start(
        &root.0,
        &[
            ("FOO", "from-env".into()),
            ("ACTIONS_RUNNER_HOOK_JOB_STARTED", "/nonexistent.sh".into()),
            ("ACTIONS_RUNNER_INPUT_TOKEN", "not-for-jobs".into()),
        ],
    );
    assert!(online(&gh, "d1"));
    let spec = JobSpec {
        name: "envs".into(),
        script: Some(
            "echo \"step sees $GHR_MEMBER token=${ACTIONS_RUNNER_INPUT_TOKEN:-none}\"\n".into(),
        ),
        ..Default::default()
    };
    let job = gh.dispatch_job(&ORG, &["dot"], spec);
    let rec = gh.wait_job(job, Duration::from_secs(15)).expect("job done");
    assert_eq!(rec.result.as_deref(), Some("Succeeded"), "{}", rec.log);
    assert!(
        rec.log.contains("dotenv hook FOO=from-dotenv"),
        "{}",
        rec.log
    );
    assert!(
        rec.log.contains("step sees m-envs token=none"),
        "{}",
        rec.log
    );
}
