//! The FROM-scratch test image: built once, reused, and the fake runner works inside it
//! against the fake GitHub over the host network.

use std::process::Command;
use std::time::Duration;
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

struct Container(String);

impl Drop for Container {
    fn drop(&mut self) {
        let _ = docker(&["rm", "-f", &self.0]);
    }
}

#[test]
fn image_runs_fake_runner_in_container() {
    if let Some(why) = testkit::docker::skip_reason() {
        eprintln!("skipped: {why}");
        return;
    }
    let image = testkit::docker::test_image().expect("test image");
    assert_eq!(testkit::docker::test_image().unwrap(), image, "reused");
    let wrapper = testkit::docker::static_binary("runner-wrapper").expect("runner-wrapper");
    assert!(wrapper.exists());

    let o = docker(&["run", "--rm", &image, "/home/runner/config.sh", "--help"]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(text(&o).contains("--runnergroup"));
    let o = docker(&[
        "run",
        "--rm",
        &image,
        "/bin/bash",
        "-c",
        "echo $BASH_VERSION; sleep 0.1 && echo ok",
    ]);
    assert!(
        o.status.success() && text(&o).contains("ok"),
        "{}",
        text(&o)
    );
    let o = docker(&["run", "--rm", &image, "/home/runner/run.sh"]);
    assert!(!o.status.success());
    assert!(text(&o).contains("Not configured"), "{}", text(&o));

    // Configure and run inside a container; a job with a hook; docker stop -> offline.
    let gh = FakeGitHub::start();
    gh.add_org("acme");
    gh.set_poll_timeout(Duration::from_secs(2));
    let org = Scope::Org("acme");
    let token = gh.registration_token(&org);
    let name = format!("testkit-{}", std::process::id());
    let c = Container(name.clone());
    let url = format!("{}/acme", gh.url());
    let script = format!(
        "/home/runner/config.sh --url {url} --token {token} --name {name} --unattended --labels docker \
         && printf 'echo hook on $RUNNER_NAME\\n' > /tmp/started.sh && exec /home/runner/run.sh"
    );
    let o = docker(&[
        "run",
        "-d",
        "--name",
        &name,
        "--network",
        "host",
        "-e",
        "ACTIONS_RUNNER_HOOK_JOB_STARTED=/tmp/started.sh",
        &image,
        "/bin/bash",
        "-c",
        &script,
    ]);
    assert!(o.status.success(), "{}", text(&o));
    let up = gh.wait_until(Duration::from_secs(20), |gh| {
        gh.runner(&org, &name).is_some_and(|r| r.status == "online")
    });
    assert!(up, "not online: {}", text(&docker(&["logs", &name])));
    let job = gh.dispatch_job(&org, &["docker"], JobSpec::new("in-container"));
    let rec = gh.wait_job(job, Duration::from_secs(20)).expect("job done");
    assert_eq!(rec.result.as_deref(), Some("Succeeded"), "{}", rec.log);
    assert!(rec.log.contains(&format!("hook on {name}")), "{}", rec.log);
    let o = docker(&["stop", "-t", "10", &name]);
    assert!(o.status.success());
    let logs = text(&docker(&["logs", &name]));
    assert!(
        logs.contains("Job in-container completed with result: Succeeded"),
        "{logs}"
    );
    let exit = text(&docker(&[
        "inspect",
        "--format",
        "{{.State.ExitCode}}",
        &name,
    ]));
    assert_eq!(exit.trim(), "0", "{logs}");
    assert_eq!(gh.runner(&org, &name).unwrap().status, "offline");
    drop(c);
}
