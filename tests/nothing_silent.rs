//! Issue 16, a newcomer's second day: what ghr did silently is now said, through the real
//! binary. Unknown keys are named with the closest known one (and `init` on a terminal asks
//! before acting on such a plan), a `.env` holding the PAT that others can read is named, the
//! checkout's `Dockerfile` does not replace `RUNNER_IMAGE` unless chosen, a board can be held
//! before its runner ever started, and runner groups are touched only when asked for.
//!
//! The Docker tests fail without Docker, unless GHR_SKIP_DOCKER_TESTS=1 (then they say so).
//! The `FROM scratch` Dockerfiles here are never built or run (only their choice is checked):
//! their missing USER is root on purpose, nothing runs as it.

use std::time::Duration;
use testkit::lab::{docker_ready, Ghr, Lab};
use testkit::terminal::Terminal;

const BASE: &str = "ORG=acme\nGH_PAT=fake-pat-must-never-leak-0016\nMAP_USB_DEVICE=false\n\
                    MAP_KVM_DEVICE=false\nGITHUB_API_URL=http://127.0.0.1:9\n";

fn in_scratch(tag: &str, env: &str) -> Ghr {
    Ghr::new(env!("CARGO_BIN_EXE_ghr"), tag).env_file(&format!("{BASE}{env}\n"))
}

fn compose_text(ghr: &Ghr) -> String {
    ghr.file("docker-compose.acme.yml").expect("a compose file")
}

#[test]
fn unknown_keys_are_named_with_the_closest_known_one() {
    let ghr = in_scratch(
        "typo",
        "RUNER_NAME_PREFIX=nc-\nBOARD_RUNNERS=boarda:board\nBOARD_DEVICE_BOARDA=/dev/null\n\
         MY_OWN_NOTE=hello",
    );
    let out = ghr.run(&["compose", "-n", "1"]).ok();
    for line in [
        "warning: RUNER_NAME_PREFIX in .env is not a ghr setting; did you mean RUNNER_NAME_PREFIX? (it is ignored)",
        "warning: BOARD_DEVICE_BOARDA in .env is not a ghr setting; did you mean BOARD_DEVICES_BOARDA? (it is ignored)",
        "warning: MY_OWN_NOTE in .env is not a ghr setting; it is ignored (.env.example lists every key)",
    ] {
        assert!(
            out.stderr.lines().any(|l| l == line),
            "no {line:?} in:\n{}",
            out.stderr
        );
    }
    // Every command that reads .env says it, also the read-only ones.
    let locks = ghr.run(&["locks", "--json"]);
    assert!(
        locks.stderr.contains("RUNER_NAME_PREFIX"),
        "{}",
        locks.stderr
    );
    // Known keys and their families give no warning.
    let clean = in_scratch(
        "typo-clean",
        "RUNNER_NAME_PREFIX=nc-\nBOARD_RUNNERS=boarda:board\nBOARD_DEVICES_BOARDA=/dev/null\n\
         RUNNER_BOARD_COUNT=1\nBOARD_RUNNER_LABELS_1=board,x\nhttps_proxy=",
    );
    let out = clean.run(&["compose", "-n", "1"]).ok();
    assert!(!out.stderr.contains("warning"), "{}", out.stderr);
}

#[test]
fn a_readable_env_holding_the_pat_is_named() {
    use std::os::unix::fs::PermissionsExt;
    let ghr = in_scratch("mode", "");
    let env = ghr.path(".env");
    std::fs::set_permissions(&env, std::fs::Permissions::from_mode(0o644)).unwrap();
    ghr.run(&["compose", "-n", "1"]).ok().stderr_line(
        "warning: .env holds GH_PAT and others can read it (mode 0644); run chmod 600 .env",
    );
    std::fs::set_permissions(&env, std::fs::Permissions::from_mode(0o600)).unwrap();
    let out = ghr.run(&["compose", "-n", "1"]).ok();
    assert!(!out.stderr.contains("chmod"), "{}", out.stderr);
}

#[test]
fn the_checkouts_dockerfile_does_not_replace_runner_image() {
    let ghr = in_scratch(
        "dockerfile",
        "RUNNER_IMAGE=stock:1\nRUNNER_CUSTOM_IMAGE=custom:1",
    );
    std::fs::write(ghr.path("Dockerfile"), "FROM scratch\n").unwrap();
    ghr.run(&["compose", "-n", "1"])
        .ok()
        .stderr_line("./Dockerfile is not used: the runners run RUNNER_IMAGE; set RUNNER_DOCKERFILE=./Dockerfile to build the runner image from it");
    assert!(
        compose_text(&ghr).contains("image: stock:1"),
        "{}",
        compose_text(&ghr)
    );
    // Chosen by name, it is the image.
    ghr.set_env("RUNNER_DOCKERFILE=./Dockerfile");
    ghr.run(&["compose", "-n", "1"]).ok();
    assert!(compose_text(&ghr).contains("image: custom:1"));
    // Where runner.sh (or ghr) built it before, runner.sh's rule holds without the key.
    ghr.set_env("RUNNER_DOCKERFILE=");
    std::fs::write(ghr.path(".dockerfile.acme.sha256"), "0000\n").unwrap();
    ghr.run(&["compose", "-n", "1"]).ok();
    assert!(compose_text(&ghr).contains("image: custom:1"));
    // A named Dockerfile that is not there is a settings error before anything changes.
    let missing = in_scratch("dockerfile-missing", "RUNNER_DOCKERFILE=lab/Dockerfile");
    if docker_ready("the_checkouts_dockerfile_does_not_replace_runner_image") {
        missing
            .run(&["init", "-n", "1"])
            .code(3)
            .error_line("cannot read the Dockerfile ./lab/Dockerfile");
        assert!(missing.file("docker-compose.acme.yml").is_none());
    }
}

#[test]
fn a_dockerfile_built_before_says_why_in_the_plan() {
    if !docker_ready("a_dockerfile_built_before_says_why_in_the_plan") {
        return;
    }
    // REG_TOKEN and no PAT: the plan asks GitHub nothing.
    let ghr = Ghr::new(env!("CARGO_BIN_EXE_ghr"), "dockerfile-plan").env_file(
        "ORG=acme\nREG_TOKEN=fake-reg-0016\nRUNNER_NAME_PREFIX=ns-dockerfile-plan-\n\
         RUNNER_CUSTOM_IMAGE=ghr-never-built-0016:1\nMAP_USB_DEVICE=false\nMAP_KVM_DEVICE=false\n",
    );
    std::fs::write(ghr.path("Dockerfile"), "FROM scratch\n").unwrap();
    std::fs::write(ghr.path(".dockerfile.acme.sha256"), "0000\n").unwrap();
    let out = ghr.run(&["plan", "-n", "1", "--json"]).ok();
    assert!(
        out.stdout.contains("\"why\": \"./Dockerfile exists (and was built here before), so the custom image replaces RUNNER_IMAGE; the Dockerfile changed\""),
        "{}",
        out.stdout
    );
}

#[test]
fn a_configured_board_can_be_held_before_its_runner_starts() {
    let locks = Ghr::new(env!("CARGO_BIN_EXE_ghr"), "hold-early-dir");
    let dir = locks.path("locks");
    let ghr = in_scratch(
        "hold-early",
        &format!(
            "BOARD_RUNNERS=pi:board\nRUNNER_RESOURCE_ID_PI=pi-bench\nRUNNER_LOCK_HOST_PATH={}",
            dir.display()
        ),
    );
    assert!(!dir.exists(), "no runner ever started: no lock directory");
    ghr.run(&["hold", "pi-bench", "--reason", "new firmware", "--no-wait"])
        .ok();
    let held = ghr.run(&["locks", "--json"]).ok();
    assert!(
        held.stdout.contains("\"kind\": \"hold\"") && held.stdout.contains("new firmware"),
        "{}",
        held.stdout
    );
    ghr.run(&["release", "pi-bench"]).ok();
    // An id neither .env nor the lock directory knows is still refused, naming both.
    ghr.run(&["hold", "pi-bnech", "--no-wait"])
        .code(3)
        .error_line("pi-bnech is not a resource in the lock directory");
}

#[test]
fn runner_groups_are_touched_only_when_asked_for() {
    if !docker_ready("runner_groups_are_touched_only_when_asked_for") {
        return;
    }
    let lab = Lab::new(env!("CARGO_BIN_EXE_ghr"));
    let fleet = lab.fleet("groups").build();
    fleet.ghr(&["init", "-n", "1"]).ok();
    assert_eq!(
        lab.gh.count("*", "runner-groups"),
        0,
        "no RUNNER_GROUP: no runner-group call at all"
    );
    // GitHub may leave runner_group_id out of a runner: unknown, so never moved.
    lab.gh.omit_runner_group_id(true);
    lab.gh.add_runner_group("lab");
    fleet.set_env("RUNNER_GROUP=lab");
    fleet.ghr(&["init", "-n", "1"]).ok();
    assert_eq!(
        lab.gh.count("PUT", "runner-groups"),
        0,
        "a runner of unknown group is not moved"
    );
    lab.gh.omit_runner_group_id(false);
    fleet.ghr(&["init", "-n", "1"]).ok();
    assert_eq!(
        lab.gh.count("PUT", "runner-groups"),
        1,
        "a known other group is"
    );
}

#[test]
fn init_on_a_terminal_asks_before_a_plan_made_with_warnings() {
    if !docker_ready("init_on_a_terminal_asks_before_a_plan_made_with_warnings") {
        return;
    }
    let lab = Lab::new(env!("CARGO_BIN_EXE_ghr"));
    let fleet = lab.fleet("asks").env("RUNER_LABELS=gpu").build();
    let mut term = Terminal::start(&fleet.ghr, env!("CARGO_BIN_EXE_ghr"), "init -n 1");
    term.answer("carry out this plan anyway?", 1, "n");
    let (status, screen) = term.finish();
    assert_eq!(status.code(), Some(130), "{screen}");
    assert!(screen.contains("did you mean RUNNER_LABELS?"), "{screen}");
    assert!(fleet.containers().is_empty(), "nothing was created");
    assert!(lab.gh.runners(&testkit::Scope::Org("acme")).is_empty());
    // Without a terminal it goes ahead, the warnings on stderr.
    let out = fleet.ghr(&["init", "-n", "1"]).ok();
    assert!(out.stderr.contains("RUNER_LABELS"), "{}", out.stderr);
    assert!(fleet.wait(Duration::from_secs(30), || fleet.containers().len() == 1));
}
