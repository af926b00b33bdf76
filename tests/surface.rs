//! ghr's surface, byte for byte: every `--help`, a set of error lines with their exit codes,
//! and `ghr plan` (table and JSON) of a new fleet, compared with `tests/snapshots/surface/`.
//! A refactoring that moves code must leave these identical; a change that means to alter
//! them rewrites the snapshots on purpose with `UPDATE_SNAPSHOTS=1` and shows in the diff.

use testkit::lab::{docker_ready, Ghr};

const COMMANDS: [&str; 17] = [
    "init", "plan", "compose", "register", "start", "stop", "restart", "logs", "list", "rm",
    "purge", "image", "locks", "hold", "release", "serve", "systemd",
];

/// An API nobody answers: a case that reached GitHub would fail another way.
const BASE: &str = "ORG=acme\nGH_PAT=fake-pat-must-never-leak-0006\nMAP_USB_DEVICE=false\n\
                    GITHUB_API_URL=http://127.0.0.1:9\n";

/// Bad input of every kind the settings check: (extra .env lines, arguments).
const ERRORS: [(&str, &[&str]); 12] = [
    ("PRIVILEGED=maybe", &["compose", "-n", "1"]),
    ("RUNNER_COUNT=two", &["compose"]),
    ("BOARD_RUNNERS=pi", &["compose", "-n", "1"]),
    ("BOARD_RUNNERS=pi:a;pi:b", &["init", "-n", "1"]),
    (
        "RUNNER_BOARD_COUNT=2\nBOARD_RUNNER_DEVICES_2=ttyUSB0",
        &["compose"],
    ),
    ("RUNNER_LOCK_TIMEOUT=soon", &["compose", "-n", "1"]),
    ("", &["init", "--bogus"]),
    ("", &["logs"]),
    ("", &["hold", "nothing-here", "--no-wait"]),
    ("", &["locks", "--since", "yesterday", "--history"]),
    ("", &["--env-file", "missing.env", "list"]),
    ("RUNNER_REGISTER_TIMEOUT=0", &["init", "-n", "1"]),
];

fn record(out: &testkit::lab::Out) -> String {
    format!(
        "$ {}\n[exit {:?}]\n--- stdout\n{}--- stderr\n{}\n",
        out.what, out.code, out.stdout, out.stderr
    )
}

#[track_caller]
fn check(name: &str, actual: &str) {
    let path = format!(
        "{}/tests/snapshots/surface/{name}.txt",
        env!("CARGO_MANIFEST_DIR")
    );
    if std::env::var_os("UPDATE_SNAPSHOTS").is_some() {
        std::fs::create_dir_all(std::path::Path::new(&path).parent().unwrap()).unwrap();
        std::fs::write(&path, actual).unwrap();
        return;
    }
    let expected = std::fs::read_to_string(&path).unwrap_or_default();
    if expected != actual {
        let at = expected
            .lines()
            .zip(actual.lines())
            .position(|(a, b)| a != b)
            .unwrap_or(expected.lines().count().min(actual.lines().count()));
        panic!(
            "{name} differs from {path} at line {}:\n  expected: {:?}\n  actual:   {:?}\n(UPDATE_SNAPSHOTS=1 rewrites it when the change is meant)",
            at + 1,
            expected.lines().nth(at),
            actual.lines().nth(at)
        );
    }
}

#[test]
fn help_is_unchanged() {
    let ghr = Ghr::new(env!("CARGO_BIN_EXE_ghr"), "surface-help");
    let mut all = record(&ghr.run(&["--help"]));
    for command in COMMANDS {
        all += &record(&ghr.run(&[command, "--help"]));
    }
    all += &record(&ghr.run(&["help", "--help"]));
    check("help", &all);
}

#[test]
fn error_lines_are_unchanged() {
    let mut all = String::new();
    for (env, args) in ERRORS {
        let ghr = Ghr::new(env!("CARGO_BIN_EXE_ghr"), "surface-err").env_file(&format!(
            "{BASE}RUNNER_LOCK_HOST_PATH=/nonexistent/ghr-surface\n{env}\n"
        ));
        all += &record(&ghr.run(args));
    }
    check("errors", &all);
}

#[test]
fn plan_of_a_new_fleet_is_unchanged() {
    if !docker_ready("plan_of_a_new_fleet_is_unchanged") {
        return;
    }
    // REG_TOKEN: the plan asks GitHub nothing; the prefix is one no test makes.
    let ghr = Ghr::new(env!("CARGO_BIN_EXE_ghr"), "surface-plan").env_file(
        "ORG=acme\nREG_TOKEN=fake-reg-token-0006\nRUNNER_NAME_PREFIX=surface-snap-\n\
         RUNNER_IMAGE=ghr-surface-never-built:1\nMAP_USB_DEVICE=false\nMAP_KVM_DEVICE=false\n\
         BOARD_RUNNERS=pi:board,arm64\nRUNNER_BOARD_COUNT=1\n",
    );
    let all =
        record(&ghr.run(&["plan", "-n", "2"])) + &record(&ghr.run(&["plan", "-n", "2", "--json"]));
    check("plan", &all);
}
