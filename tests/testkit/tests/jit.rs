//! JIT runners (issue 18.2) in the fakes, on the host (no Docker): the fake GitHub's
//! `generate-jitconfig` with GitHub's refusals, and the fake runner started from the blob
//! (`run.sh --jitconfig` or `ACTIONS_RUNNER_INPUT_JITCONFIG`) taking exactly one job, then
//! exiting 0 while GitHub forgets it; the same blob a second time gets nowhere.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;
use testkit::http_client::request;
use testkit::runner_layout::{TempRoot, AS_ROOT, PROXY_VARS};
use testkit::{FakeGitHub, JobSpec, Scope};

const ORG: Scope = Scope::Org("acme");
const PAT: &str = "fakepat_jit";

fn gh() -> FakeGitHub {
    let gh = FakeGitHub::start();
    gh.add_org("acme");
    gh.add_pat(PAT, &["admin:org"]);
    gh.set_poll_timeout(Duration::from_secs(2));
    gh
}

fn generate(gh: &FakeGitHub, body: serde_json::Value) -> (u16, serde_json::Value) {
    let url = format!("{}/orgs/acme/actions/runners/generate-jitconfig", gh.url());
    let auth = format!("Bearer {PAT}");
    let text = body.to_string();
    let r = request(
        "POST",
        &url,
        &[
            ("Authorization", &auth),
            ("User-Agent", "jit-test"),
            ("Content-Type", "application/json"),
        ],
        Some(text.as_bytes()),
        Duration::from_secs(10),
    )
    .unwrap();
    let value = serde_json::from_slice(&r.body).unwrap_or(serde_json::Value::Null);
    (r.status, value)
}

/// A fake runner root for one test.
fn temp_root(tag: &str) -> TempRoot {
    TempRoot::new(tag, Path::new(env!("CARGO_BIN_EXE_fake-runner")))
}

/// run.sh as the image runs it, but as the sandbox's user: root on purpose (see [`AS_ROOT`]).
fn run_sh(root: &Path, args: &[&str], env: &[(&str, &str)]) -> std::process::Child {
    let mut cmd = Command::new(root.join("run.sh"));
    for var in PROXY_VARS {
        cmd.env_remove(var);
    }
    cmd.args(args)
        .env_remove("RUNNER_ROOT")
        .env(AS_ROOT.0, AS_ROOT.1)
        .env("RUNNER_MANUALLY_TRAP_SIG", "1")
        .envs(env.iter().copied())
        .stdout(Stdio::null())
        .spawn()
        .unwrap()
}

fn wait_exit(child: &mut std::process::Child, within: Duration) -> Option<i32> {
    let deadline = std::time::Instant::now() + within;
    while std::time::Instant::now() < deadline {
        if let Some(status) = child.try_wait().unwrap() {
            return status.code();
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    None
}

#[test]
fn generate_jitconfig_refuses_as_github_does() {
    let gh = gh();
    let ok = serde_json::json!({"name": "j1", "runner_group_id": 1, "labels": ["a"]});
    let without = |key: &str| {
        let mut b = ok.clone();
        b.as_object_mut().unwrap().remove(key);
        b
    };
    assert_eq!(generate(&gh, without("runner_group_id")).0, 422);
    assert_eq!(generate(&gh, without("name")).0, 422);
    let no_labels = serde_json::json!({"name": "j1", "runner_group_id": 1, "labels": []});
    assert_eq!(generate(&gh, no_labels).0, 422);
    let many: Vec<String> = (0..101).map(|i| format!("l{i}")).collect();
    let too_many = serde_json::json!({"name": "j1", "runner_group_id": 1, "labels": many});
    assert_eq!(generate(&gh, too_many).0, 422);
    let unknown_group = serde_json::json!({"name": "j1", "runner_group_id": 99, "labels": ["a"]});
    assert_eq!(generate(&gh, unknown_group).0, 404);
    assert!(gh.runners(&ORG).is_empty(), "nothing made by a refusal");

    let (status, answer) = generate(&gh, ok.clone());
    assert_eq!(status, 201, "{answer}");
    assert_eq!(answer["runner"]["name"], "j1");
    assert_eq!(answer["runner"]["ephemeral"], true);
    assert_eq!(answer["runner"]["status"], "offline");
    // base64 of a JSON object of base64 files.
    let blob = answer["encoded_jit_config"].as_str().unwrap();
    let files: serde_json::Value =
        serde_json::from_slice(&testkit::b64::decode(blob).unwrap()).unwrap();
    let mut names: Vec<&String> = files.as_object().unwrap().keys().collect();
    names.sort();
    assert_eq!(names, [".credentials", ".credentials_rsaparams", ".runner"]);
    let runner: serde_json::Value =
        serde_json::from_slice(&testkit::b64::decode(files[".runner"].as_str().unwrap()).unwrap())
            .unwrap();
    assert_eq!(runner["agentName"], "j1");
    assert_eq!(runner["ephemeral"], true);
    assert_eq!(generate(&gh, ok).0, 409, "the name is taken");
}

/// One job each, by flag and by input variable; the runner exits 0, GitHub forgets it, its
/// local configuration is gone; the first blob again gets no job.
#[test]
fn a_jit_runner_takes_one_job_and_github_forgets_it() {
    let gh = gh();
    for (i, by_env) in [(1, false), (2, true)] {
        let name = format!("jit-{i}");
        let (status, answer) = generate(
            &gh,
            serde_json::json!({"name": name, "runner_group_id": 1, "labels": ["jit"], "work_folder": "_work"}),
        );
        assert_eq!(status, 201, "{answer}");
        let blob = answer["encoded_jit_config"].as_str().unwrap().to_string();
        let root = temp_root(&name);
        let mut child = if by_env {
            run_sh(&root.0, &[], &[("ACTIONS_RUNNER_INPUT_JITCONFIG", &blob)])
        } else {
            run_sh(&root.0, &["--jitconfig", &blob], &[])
        };
        assert!(
            gh.wait_until(Duration::from_secs(20), |gh| gh
                .runner(&ORG, &name)
                .is_some_and(|r| r.status == "online")),
            "{name} comes online"
        );
        let jobs: Vec<u64> = (0..2)
            .map(|j| gh.dispatch_job(&ORG, &["jit"], JobSpec::new(&format!("job-{i}-{j}"))))
            .collect();
        let first = gh.wait_job(jobs[0], Duration::from_secs(20)).unwrap();
        assert_eq!(first.result.as_deref(), Some("Succeeded"), "{}", first.log);
        assert_eq!(first.runner_name.as_deref(), Some(name.as_str()));
        assert_eq!(wait_exit(&mut child, Duration::from_secs(20)), Some(0));
        assert!(gh.runner(&ORG, &name).is_none(), "GitHub forgot {name}");
        assert!(!root.0.join(".runner").exists());
        assert!(
            gh.job(jobs[1]).unwrap().runner_name.is_none(),
            "the second job waits for another runner"
        );
        gh.cancel_job(jobs[1]);
        if i == 1 {
            // The same blob again: the registration is gone, so no session, no job.
            let mut again = run_sh(&root.0, &["--jitconfig", &blob], &[]);
            assert_eq!(wait_exit(&mut again, Duration::from_secs(20)), Some(0));
            assert!(gh.runner(&ORG, &name).is_none());
        }
    }
}
