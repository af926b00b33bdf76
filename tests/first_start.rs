//! Issue 18.4, end to end (real ghr, Docker engine and compose, the test image, the fake
//! GitHub): runners register at their first start, from a credential ghr places in the
//! created container's volume; nothing unregistered crash-loops; the token is nowhere at rest.
//!
//! Without Docker these tests fail, unless GHR_SKIP_DOCKER_TESTS=1 (then they say "skipped").

use std::process::Command;
use std::time::Duration;
use testkit::lab::{docker, docker_ready, running, Fleet, Lab};

const CREDENTIAL: &str = "/home/runner/.ghr-credential";
const STATUS: &str = "/home/runner/.ghr-first-start";

fn lab() -> Lab {
    Lab::new(env!("CARGO_BIN_EXE_ghr"))
}

/// A file of a container, `None` when it has none (`docker cp` reads stopped ones too).
fn file_of(container: &str, path: &str) -> Option<String> {
    let out = Command::new("docker")
        .args(["cp", &format!("{container}:{path}"), "-"])
        .output()
        .unwrap();
    if !out.status.success() {
        return None;
    }
    // A one-file tar: the content follows the 512-byte header.
    let size = usize::from_str_radix(
        String::from_utf8_lossy(&out.stdout[124..136]).trim_matches(['\0', ' ']),
        8,
    )
    .unwrap();
    Some(String::from_utf8_lossy(&out.stdout[512..512 + size]).into_owned())
}

fn restarts(container: &str) -> String {
    docker(&["inspect", "--format", "{{.RestartCount}}", container])
        .trim()
        .to_string()
}

/// What ghr's compose file starts without ghr: a runner with neither a registration nor a
/// credential idles (running, never restarted) and says why; `ghr list` shows the reason;
/// `ghr init` then registers it with no one-off container, consuming its credential.
#[test]
fn a_runner_started_without_a_credential_idles_and_init_registers_it() {
    if !docker_ready("a_runner_started_without_a_credential_idles_and_init_registers_it") {
        return;
    }
    let lab = lab();
    let fleet = lab.fleet("bare").build();
    let name = fleet.name("1");
    fleet.ghr(&["compose", "-n", "1"]).ok();
    let file = fleet.path(&format!("docker-compose.{}.yml", testkit::lab::ORG));
    let project = format!("ghr-{}", fleet.prefix.trim_end_matches('-'));
    let up = Command::new("docker-compose")
        .arg("-p")
        .arg(&project)
        .arg("-f")
        .arg(&file)
        .args(["up", "-d"])
        .output()
        .unwrap();
    assert!(
        up.status.success(),
        "{}",
        String::from_utf8_lossy(&up.stderr)
    );
    assert!(
        fleet.wait(Duration::from_secs(30), || file_of(&name, STATUS).is_some()),
        "the first start says why it idles"
    );
    assert_eq!(
        file_of(&name, STATUS).unwrap(),
        "failed not registered, and no registration token was placed: run ghr init or ghr register\n"
    );
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(fleet.containers(), running(std::slice::from_ref(&name)));
    assert_eq!(restarts(&name), "0", "idle, not crash-looping");
    let json: serde_json::Value =
        serde_json::from_str(&fleet.ghr(&["list", "--json"]).ok().stdout).unwrap();
    assert_eq!(
        json["runners"][0]["container"]["registration_failed"],
        "not registered, and no registration token was placed: run ghr init or ghr register"
    );

    fleet
        .ghr(&["init", "-n", "1"])
        .ok()
        .stderr_line(&format!("registered {name}"));
    assert!(fleet.oneoffs().is_empty());
    assert_eq!(fleet.containers(), running(std::slice::from_ref(&name)));
    assert_eq!(file_of(&name, STATUS).as_deref(), Some("registered\n"));
    assert_eq!(
        file_of(&name, CREDENTIAL),
        None,
        "the credential was consumed"
    );
    assert!(file_of(&name, "/home/runner/.runner").is_some());
    let online = lab.gh.wait_until(Duration::from_secs(30), |gh| {
        gh.runner(&testkit::Scope::Org(testkit::lab::ORG), &name)
            .is_some_and(|r| r.status == "online")
    });
    assert!(online, "{}", fleet.logs(&name, 30));
    assert_token_nowhere(&lab, &fleet);
}

/// The token ghr cached is in no container's configuration and in no compose file.
fn assert_token_nowhere(_lab: &Lab, fleet: &Fleet) {
    let cache = std::fs::read_to_string(fleet.path(".reg_token.cache.acme")).unwrap();
    let token = cache.lines().nth(1).unwrap().trim().to_string();
    assert!(!token.is_empty());
    let ids = docker(&[
        "ps",
        "-aq",
        "--filter",
        &format!("label=ghr.prefix={}", fleet.prefix),
    ]);
    let mut args = vec!["inspect"];
    args.extend(ids.split_whitespace());
    assert!(
        !docker(&args).contains(&token),
        "the token is in docker inspect"
    );
    let compose =
        std::fs::read_to_string(fleet.path(&format!("docker-compose.{}.yml", testkit::lab::ORG)))
            .unwrap();
    assert!(!compose.contains(&token));
}

/// A registered runner's container recreated (its volume kept) just runs: no credential is
/// placed, GitHub gets no new registration, the first start finds `.runner`.
#[test]
fn a_registered_volume_just_runs() {
    if !docker_ready("a_registered_volume_just_runs") {
        return;
    }
    let lab = lab();
    let fleet = lab.fleet("again").build();
    let name = fleet.name("1");
    fleet.ghr(&["init", "-n", "1"]).ok();
    let scope = testkit::Scope::Org(testkit::lab::ORG);
    let id = lab.gh.runner(&scope, &name).unwrap().id;
    // The container goes, the volume stays: the next init adopts the volume.
    docker(&["rm", "-f", &name]);
    fleet.ghr(&["init", "-n", "1"]).ok();
    assert_eq!(fleet.containers(), running(std::slice::from_ref(&name)));
    assert_eq!(file_of(&name, CREDENTIAL), None);
    let online = lab.gh.wait_until(Duration::from_secs(30), |gh| {
        gh.runner(&scope, &name)
            .is_some_and(|r| r.status == "online")
    });
    assert!(online, "{}", fleet.logs(&name, 30));
    assert_eq!(
        lab.gh.runner(&scope, &name).unwrap().id,
        id,
        "the same registration"
    );
}
