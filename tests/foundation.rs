//! The foundation through the real binary: compose snapshots, bad input, settings layering,
//! first-run prompts on a real pseudo-terminal, atomic writes and secrecy.

use std::io::Write;
use std::time::Duration;
use testkit::lab::{docker_ready, Ghr};
use testkit::terminal::Terminal;

/// ghr in a scratch directory of its own.
fn in_scratch(tag: &str) -> Ghr {
    Ghr::new(env!("CARGO_BIN_EXE_ghr"), tag)
}

const FIXTURES: [&str; 7] = [
    "seed",
    "repo-scope",
    "per-board",
    "injection",
    "indexed",
    "mixed",
    "ephemeral",
];

fn fixture(name: &str) -> String {
    std::fs::read_to_string(format!(
        "{}/tests/fixtures/{name}.env",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap()
}

fn compose_file_of(ghr: &Ghr) -> (String, String) {
    let name = ghr
        .files()
        .into_iter()
        .find(|f| f.starts_with("docker-compose"))
        .expect("a compose file was written");
    let text = ghr.file(&name).unwrap();
    (name, text)
}

/// The compose files of the fixtures match tests/snapshots (UPDATE_SNAPSHOTS=1 rewrites them).
#[test]
fn compose_snapshots() {
    for name in FIXTURES {
        let ghr = in_scratch("snap").env_file(&fixture(name));
        ghr.run(&["compose", "-n", "2"]).ok();
        let (_, text) = compose_file_of(&ghr);
        // Board runners mount ghr itself as runner-wrapper: its path is the machine's.
        let own = std::path::Path::new(env!("CARGO_BIN_EXE_ghr"))
            .canonicalize()
            .unwrap();
        let text = text.replace(&own.display().to_string(), "<ghr>");
        // A board service's spec hash covers that path too: the checkout's, not the fixture's.
        let text: String = text
            .lines()
            .map(|l| match l.split_once("ghr.spec: ") {
                Some((indent, _)) => format!("{indent}ghr.spec: <hash of the service>\n"),
                None => format!("{l}\n"),
            })
            .collect();
        let snapshot = format!("{}/tests/snapshots/{name}.yml", env!("CARGO_MANIFEST_DIR"));
        if std::env::var_os("UPDATE_SNAPSHOTS").is_some() {
            std::fs::write(&snapshot, &text).unwrap();
        }
        let expected = std::fs::read_to_string(&snapshot).unwrap_or_default();
        assert_eq!(
            text, expected,
            "{name}: compose file differs from {snapshot}"
        );
        assert!(
            !text.contains("fake-pat-must-never-leak"),
            "{name}: the PAT leaked into the compose file"
        );
    }
}

/// Same input, same bytes; and the machine's real compose accepts every fixture's file.
#[test]
fn compose_is_deterministic_and_valid_for_real_compose() {
    if !docker_ready("compose_is_deterministic_and_valid_for_real_compose") {
        return;
    }
    for name in FIXTURES {
        let ghr = in_scratch("valid").env_file(&fixture(name));
        ghr.run(&["compose", "-n", "3"]).ok();
        let (file, first) = compose_file_of(&ghr);
        ghr.run(&["compose", "-n", "3"]).ok();
        assert_eq!(first, ghr.file(&file).unwrap(), "{name}: not deterministic");

        let empty_env = ghr.dir.path().join("empty.env");
        std::fs::write(&empty_env, "").unwrap();
        let check = std::process::Command::new("docker-compose")
            .arg("--env-file")
            .arg(&empty_env)
            .args(["-f", &file, "config", "-q"])
            .current_dir(ghr.dir.path())
            .output()
            .expect("docker-compose is installed (set GHR_SKIP_DOCKER_TESTS=1 to skip)");
        assert!(
            check.status.success(),
            "{name}: docker-compose config -q: {}",
            String::from_utf8_lossy(&check.stderr)
        );
    }
}

/// The compose file ghr wrote, as real `docker-compose config` resolves it (with an empty env
/// file, as ghr runs compose).
fn compose_config(ghr: &Ghr) -> serde_yaml::Value {
    let (file, _) = compose_file_of(ghr);
    let empty_env = ghr.dir.path().join("empty.env");
    std::fs::write(&empty_env, "").unwrap();
    let out = std::process::Command::new("docker-compose")
        .arg("--env-file")
        .arg(&empty_env)
        .args(["-f", &file, "config"])
        .current_dir(ghr.dir.path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_yaml::from_slice(&out.stdout).unwrap()
}

/// Values full of YAML and compose syntax come out of compose exactly as written in .env.
#[test]
fn hostile_values_round_trip_through_real_compose() {
    if !docker_ready("hostile_values_round_trip_through_real_compose") {
        return;
    }
    let ghr = in_scratch("hostile").env_file(&fixture("injection"));
    ghr.run(&["compose", "-n", "1"]).ok();
    let resolved = compose_config(&ghr);
    let generic = &resolved["services"]["x-runner-1"]["environment"];
    // compose's own output keeps `$$`: the value reaches the container as `$HOME`, uninterpolated.
    assert_eq!(
        generic["RUNNER_WORKDIR"].as_str(),
        Some("a\"b: c,{d},e #f,[g],$$HOME,*h,&i")
    );
    assert_eq!(generic["NO_PROXY"].as_str(), Some("group: {evil}"));
    let board = &resolved["services"]["x-runner-b1"]["environment"];
    assert_eq!(board["MULTI"].as_str(), Some("line1\nline2"));
    assert_eq!(board["QUOTE"].as_str(), Some("it's \"quoted\""));
    assert_eq!(board["DOLLAR"].as_str(), Some("$${GH_PAT}"));
    assert_eq!(board["HASH"].as_str(), Some("a #b"));
    assert_eq!(
        resolved["services"].as_mapping().unwrap().len(),
        2,
        "no service was injected"
    );
}

/// RUNNER_LOG_DRIVER/RUNNER_LOG_OPTS reach every service's `logging:` as real compose reads it;
/// unset, json-file is capped.
#[test]
fn log_settings_reach_real_compose() {
    if !docker_ready("log_settings_reach_real_compose") {
        return;
    }
    let resolved = |extra: &str| {
        let ghr = in_scratch("logs").env_file(&format!(
            "ORG=acme\nRUNNER_NAME_PREFIX=x\nBOARD_RUNNERS=b1:board\nRUNNER_RESOURCE_ID=rk-1\n{extra}"
        ));
        ghr.run(&["compose", "-n", "1"]).ok();
        compose_config(&ghr)
    };
    let capped = resolved("");
    for service in ["x-runner-1", "x-runner-b1"] {
        let logging = &capped["services"][service]["logging"];
        assert_eq!(logging["driver"].as_str(), Some("json-file"), "{service}");
        assert_eq!(logging["options"]["max-size"].as_str(), Some("50m"));
        assert_eq!(logging["options"]["max-file"].as_str(), Some("3"));
    }
    let gelf = resolved(
        "RUNNER_LOG_DRIVER=gelf\nRUNNER_LOG_OPTS=gelf-address=udp://127.0.0.1:12201;tag={{.Name}}\n",
    );
    for service in ["x-runner-1", "x-runner-b1"] {
        let logging = &gelf["services"][service]["logging"];
        assert_eq!(logging["driver"].as_str(), Some("gelf"), "{service}");
        assert_eq!(
            logging["options"]["gelf-address"].as_str(),
            Some("udp://127.0.0.1:12201")
        );
        assert_eq!(logging["options"]["tag"].as_str(), Some("{{.Name}}"));
        assert!(
            logging["options"]["max-size"].is_null(),
            "caps are json-file's"
        );
    }
}

struct BadCase {
    env: &'static str,
    args: &'static [&'static str],
    code: i32,
    needles: &'static [&'static str],
}

/// Bad input: a one-line error naming key, value and fix; the documented exit code; no file.
#[test]
fn bad_input_is_rejected_and_changes_nothing() {
    // An API nobody answers: a case that reached GitHub would fail another way.
    let base = "ORG=acme\nGH_PAT=fake-pat-must-never-leak-0005\nMAP_USB_DEVICE=false\n\
                GITHUB_API_URL=http://127.0.0.1:9\n";
    let cases = [
        BadCase {
            env: "PRIVILEGED=maybe",
            args: &["compose", "-n", "1"],
            code: 3,
            needles: &["PRIVILEGED=maybe", "true or false"],
        },
        BadCase {
            env: "RUNNER_COUNT=two",
            args: &["compose"],
            code: 3,
            needles: &["RUNNER_COUNT=two", "whole number"],
        },
        BadCase {
            env: "BOARD_RUNNERS=pi",
            args: &["compose", "-n", "1"],
            code: 3,
            needles: &["BOARD_RUNNERS entry 'pi'", "name:label1,label2"],
        },
        BadCase {
            env: "BOARD_RUNNERS=:a",
            args: &["compose", "-n", "1"],
            code: 3,
            needles: &["entry ':a'", "empty board name"],
        },
        BadCase {
            env: "BOARD_RUNNERS=pi:",
            args: &["compose", "-n", "1"],
            code: 3,
            needles: &["entry 'pi:'", "no labels"],
        },
        BadCase {
            env: "BOARD_RUNNERS=pi:a;pi:b",
            args: &["compose", "-n", "1"],
            code: 3,
            needles: &["entry 'pi:b'", "repeats board 'pi'"],
        },
        BadCase {
            env: "BOARD_RUNNERS=my/pi:a",
            args: &["compose", "-n", "1"],
            code: 3,
            needles: &["entry 'my/pi:a'", "container name"],
        },
        BadCase {
            env: "BOARD_RUNNERS=pi:a\nBOARD_ENV_PI=novalue",
            args: &["compose", "-n", "1"],
            code: 3,
            needles: &["BOARD_ENV_PI", "'novalue'", "NAME=VALUE"],
        },
        BadCase {
            env: "RUNNER_LABELS=a,\"b",
            args: &["init", "-n", "1"],
            code: 3,
            needles: &["RUNNER_LABELS: label '\\\"b' has '\\\"'", "a runner label cannot hold"],
        },
        BadCase {
            env: "RUNNER_LOCK_HOST_PATH=locks\nBOARD_RUNNERS=pi:board",
            args: &["locks"],
            code: 3,
            needles: &["RUNNER_LOCK_HOST_PATH=locks is not an absolute path"],
        },
        BadCase {
            env: "ORG=..",
            args: &["init", "-n", "1"],
            code: 3,
            needles: &["ORG=.. starts with '.'"],
        },
        BadCase {
            env: "REPO=..",
            args: &["register"],
            code: 3,
            needles: &["REPO=.. starts with '.'"],
        },
        BadCase {
            env: "RUNNER_COUNT=100000",
            args: &["init"],
            code: 3,
            needles: &["RUNNER_COUNT=100000 is more runners than one fleet may have (at most 1000)"],
        },
        BadCase {
            env: "BOARD_RUNNERS=pi:a\nRUNNER_RESOURCE_ID=bench\nRUNNER_LOCK_HOST_PATH=/etc/passwd",
            args: &["init", "-n", "0"],
            code: 3,
            needles: &["RUNNER_LOCK_HOST_PATH=/etc/passwd is a file, not a directory"],
        },
        BadCase {
            env: "",
            args: &["init", "-n", "100000"],
            code: 3,
            needles: &["-n 100000 is more runners than one fleet may have (at most 1000)"],
        },
        BadCase {
            env: "RUNNER_KVM_GID=0",
            args: &["compose", "-n", "1"],
            code: 3,
            needles: &["RUNNER_KVM_GID=0 is root's group"],
        },
        BadCase {
            env: "RUNNER_GROUP=lab\u{0}x",
            args: &["init", "-n", "1"],
            code: 3,
            needles: &["RUNNER_GROUP holds a NUL byte"],
        },
        BadCase {
            env: "RUNNER_BOARD_COUNT=two",
            args: &["compose", "-n", "1"],
            code: 3,
            needles: &["RUNNER_BOARD_COUNT=two is not a whole number", "0 for none"],
        },
        BadCase {
            env: "RUNNER_BOARD=-2",
            args: &["init", "-n", "1"],
            code: 3,
            needles: &["RUNNER_BOARD=-2 is not a whole number"],
        },
        BadCase {
            env: "RUNNER_BOARD_COUNT=2\nBOARD_RUNNER_LABELS_3=board,x86",
            args: &["compose", "-n", "1"],
            code: 3,
            needles: &[
                "BOARD_RUNNER_LABELS_3 configures indexed board runner 3, but RUNNER_BOARD_COUNT=2",
                "set RUNNER_BOARD_COUNT to 3 or more, or remove BOARD_RUNNER_LABELS_3",
            ],
        },
        BadCase {
            env: "BOARD_RUNNER_DEVICES_1=/dev/ttyUSB0",
            args: &["init", "-n", "1"],
            code: 3,
            needles: &["BOARD_RUNNER_DEVICES_1 configures indexed board runner 1, but RUNNER_BOARD_COUNT is not set"],
        },
        BadCase {
            env: "RUNNER_BOARD_COUNT=1\nRUNNER_RESOURCE_ID_BOARD_2=bench",
            args: &["compose", "-n", "1"],
            code: 3,
            needles: &["RUNNER_RESOURCE_ID_BOARD_2 configures indexed board runner 2"],
        },
        BadCase {
            env: "RUNNER_BOARD_COUNT=2\nBOARD_RUNNER_DEVICES_2=ttyUSB0",
            args: &["compose", "-n", "1"],
            code: 3,
            needles: &["BOARD_RUNNER_DEVICES_2: device 'ttyUSB0' is not an absolute path", "host[:container[:rwm]]"],
        },
        BadCase {
            env: "RUNNER_BOARD_COUNT=2\nBOARD_RUNNER_ENV=BAUD",
            args: &["compose", "-n", "1"],
            code: 3,
            needles: &["BOARD_RUNNER_ENV: entry 'BAUD' is not NAME=VALUE"],
        },
        BadCase {
            env: "RUNNER_BOARD_COUNT=2\nBOARD_RUNNERS=board-2:x",
            args: &["compose", "-n", "1"],
            code: 3,
            needles: &["BOARD_RUNNERS board 'board-2' clashes with indexed board runner 2", "rename the board"],
        },
        BadCase {
            env: "BOARD_RUNNERS=pi:a\nBOARD_DEVICES_PI=/dev/ttyUSB0:/dev/ttyS0:rwx",
            args: &["compose", "-n", "1"],
            code: 3,
            needles: &["BOARD_DEVICES_PI: device '/dev/ttyUSB0:/dev/ttyS0:rwx' has permissions 'rwx'"],
        },
        BadCase {
            env: "BOARD_RUNNERS=pi:a\nRUNNER_RESOURCE_ID=rk-a,,rk-b",
            args: &["compose", "-n", "1"],
            code: 3,
            needles: &["RUNNER_RESOURCE_ID: \"rk-a,,rk-b\" has an empty resource id"],
        },
        BadCase {
            env: "BOARD_RUNNERS=pi:a\nBOARD_HEALTHCHECK_PI=true",
            args: &["compose", "-n", "1"],
            code: 3,
            needles: &["BOARD_HEALTHCHECK_PI is set, but board pi has no resource id"],
        },
        BadCase {
            env: "BOARD_RUNNERS=pi:a\nRUNNER_RESOURCE_ID=rk-a\nRESOURCE_ENV_RK_A=SERIAL",
            args: &["compose", "-n", "1"],
            code: 3,
            needles: &["RESOURCE_ENV_RK_A: entry \"SERIAL\" has no '='"],
        },
        BadCase {
            env: "RUNNER_HEALTHCHECK_INTERVAL=0",
            args: &["compose", "-n", "1"],
            code: 3,
            needles: &["RUNNER_HEALTHCHECK_INTERVAL=0 must be more than zero"],
        },
        BadCase {
            env: "LOOP_DEVICE_COUNT=-1",
            args: &["compose", "-n", "1"],
            code: 3,
            needles: &["LOOP_DEVICE_COUNT=-1"],
        },
        BadCase {
            env: "GITHUB_API_URL=api.github.com",
            args: &["compose", "-n", "1"],
            code: 3,
            needles: &["GITHUB_API_URL=api.github.com", "https://api.github.com"],
        },
        BadCase {
            env: "RUNNER_NAME_PREFIX=my lab",
            args: &["compose", "-n", "1"],
            code: 3,
            needles: &["RUNNER_NAME_PREFIX=my lab"],
        },
        BadCase {
            env: "REPO=fw\nRUNNER_GROUP=lab",
            args: &["compose", "-n", "1"],
            code: 3,
            needles: &["RUNNER_GROUP=lab cannot apply: repository runners have no runner groups"],
        },
        BadCase {
            env: "BOARD_RUNNERS=pi:a\nRUNNER_RESOURCE_ID=rk-a\nBOARD_REPAIR_PI=relay-cycle",
            args: &["compose", "-n", "1"],
            code: 3,
            needles: &["BOARD_REPAIR_PI is set, but board pi has no health check", "set BOARD_HEALTHCHECK_PI"],
        },
        BadCase {
            env: "RUNNER_REPAIR_ATTEMPTS=lots",
            args: &["compose", "-n", "1"],
            code: 3,
            needles: &["RUNNER_REPAIR_ATTEMPTS=lots is not a number of repairs"],
        },
        BadCase {
            env: "RUNNER_LOG_OPTS=max-size=fifty",
            args: &["compose", "-n", "1"],
            code: 3,
            needles: &["RUNNER_LOG_OPTS has max-size=fifty, which json-file does not take; set max-size to a size such as 50m"],
        },
        BadCase {
            env: "RUNNER_LOG_DRIVER=gelf",
            args: &["compose", "-n", "1"],
            code: 3,
            needles: &["RUNNER_LOG_DRIVER=gelf needs the option gelf-address"],
        },
        BadCase {
            env: "RUNNER_STOP_GRACE_PERIOD=soon",
            args: &["compose", "-n", "1"],
            code: 3,
            needles: &["RUNNER_STOP_GRACE_PERIOD=soon is not a duration", "30s, 5m, 1h"],
        },

        BadCase {
            env: "RUNNER_LOCK_TIMEOUT=-3",
            args: &["compose", "-n", "1"],
            code: 3,
            needles: &["RUNNER_LOCK_TIMEOUT=-3 is not a duration"],
        },
        BadCase {
            env: "RUNNER_NAME_PREFIX=lab-with-a-very-long-name-that-github-would-surely-refuse",
            args: &["init", "-n", "1"],
            code: 3,
            needles: &[
                "runner name lab-with-a-very-long-name-that-github-would-surely-refuse-runner-1 is 66 characters long",
                "at most 64",
                "shorten RUNNER_NAME_PREFIX",
            ],
        },
        BadCase {
            env: "BOARD_RUNNERS=pi:a\nRUNNER_RESOURCE_ID=bench\nRUNNER_WRAPPER_BIN=/nonexistent/wrapper",
            args: &["init", "-n", "0"],
            code: 3,
            needles: &[
                "RUNNER_WRAPPER_BIN=/nonexistent/wrapper cannot be read",
                "static runner-wrapper",
            ],
        },
        BadCase {
            env: "BOARD_RUNNERS=pi:a\nRUNNER_RESOURCE_ID=bench\nRUNNER_WRAPPER_BIN=/etc",
            args: &["compose", "-n", "0"],
            code: 3,
            needles: &["RUNNER_WRAPPER_BIN=/etc is not a file", "leave it empty"],
        },
        BadCase {
            env: "BOARD_RUNNERS=pi:a\nRUNNER_RESOURCE_ID=bench\nRUNNER_WRAPPER_BIN=/etc/passwd",
            args: &["compose", "-n", "0"],
            code: 3,
            needles: &["RUNNER_WRAPPER_BIN=/etc/passwd is not executable"],
        },
        BadCase {
            env: "HTTPS_PROXY=http://proxy:notaport",
            args: &["list"],
            code: 3,
            needles: &["HTTPS_PROXY is not a usable proxy URL"],
        },
        BadCase {
            env: "",
            args: &["compose", "-n", "many"],
            code: 2,
            needles: &["many"],
        },
        BadCase {
            env: "",
            args: &["frobnicate"],
            code: 2,
            needles: &["frobnicate"],
        },
    ];
    for case in cases {
        let ghr = in_scratch("bad").env_file(&format!("{base}{}\n", case.env));
        let before = ghr.files();
        let out = ghr.run(case.args);
        let err = out.stderr;
        assert_eq!(out.code, Some(case.code), "{}: {err}", case.env);
        for needle in case.needles {
            assert!(
                err.contains(needle),
                "{}: missing {needle:?} in {err}",
                case.env
            );
        }
        if case.code == 3 {
            assert_eq!(err.trim().lines().count(), 1, "one line: {err}");
        }
        assert!(
            !err.contains("fake-pat-must-never-leak"),
            "the PAT leaked: {err}"
        );
        assert_eq!(ghr.files(), before, "{}: a file was written", case.env);
    }
}

/// COMPOSE_FILE is also Docker Compose's own variable: ghr never overwrites a compose file it
/// did not generate, and says which setting pointed there.
#[test]
fn a_compose_file_ghr_did_not_write_is_never_touched() {
    let theirs = "services:\n  web:\n    image: nginx\n";
    let ghr = in_scratch("theirs").env_file("ORG=acme\nMAP_USB_DEVICE=false\n");
    std::fs::write(ghr.path("docker-compose.yml"), theirs).unwrap();
    let before = ghr.files();
    ghr.run_with(
        &[("COMPOSE_FILE", "docker-compose.yml")],
        &["compose", "-n", "1"],
    )
    .code(3)
    .error_line(
        "COMPOSE_FILE=docker-compose.yml (set in the environment) is a file ghr did not generate",
    );
    let ghr = ghr.env_file("ORG=acme\nMAP_USB_DEVICE=false\nCOMPOSE_FILE=docker-compose.yml\n");
    ghr.run(&["compose", "-n", "1"])
        .code(3)
        .error_line("COMPOSE_FILE=docker-compose.yml (set in .env) is a file ghr did not generate");
    assert_eq!(ghr.file("docker-compose.yml").unwrap(), theirs);
    assert_eq!(ghr.files(), before);
    // A file of ghr's own is rewritten as usual.
    let ghr = ghr.env_file("ORG=acme\nMAP_USB_DEVICE=false\nCOMPOSE_FILE=ours.yml\n");
    ghr.run(&["compose", "-n", "1"]).ok();
    ghr.run(&["compose", "-n", "2"]).ok();
    assert!(ghr.file("ours.yml").unwrap().contains("runner-2:"));
}

/// A newcomer's first step: `.env.example` as it is (plus ORG) is a valid, quiet `.env`.
#[test]
fn env_example_as_is_gives_a_fleet_without_warnings() {
    let example =
        std::fs::read_to_string(format!("{}/.env.example", env!("CARGO_MANIFEST_DIR"))).unwrap();
    let ghr = in_scratch("example").env_file(&example.replace("\nORG=\n", "\nORG=acme\n"));
    let out = ghr.run(&["compose"]).ok();
    // The one warning the example may give depends on this host: a /dev/kvm of root's group
    // (the example maps /dev/kvm), which a person must fix on the host, not in .env.
    let warnings: Vec<&str> = out
        .stderr
        .lines()
        .filter(|l| {
            !(kvm_of_roots_group() && l.starts_with("warning: /dev/kvm belongs to group 0"))
        })
        .collect();
    assert_eq!(warnings, Vec::<&str>::new(), "no warning");
    assert!(ghr.file("docker-compose.acme.yml").is_some());
}

fn kvm_of_roots_group() -> bool {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata("/dev/kvm").is_ok_and(|m| m.gid() == 0)
}

#[test]
fn per_board_key_without_board_warns_and_goes_on() {
    let ghr = in_scratch("orphan")
        .env_file("ORG=acme\nBOARD_RUNNERS=pi:a\nBOARD_ENV_PY=A=1\nMAP_USB_DEVICE=0\n");
    ghr.run(&["compose", "-n", "1"]).ok().stderr_line(
        "warning: BOARD_ENV_PY names no board of BOARD_RUNNERS; it is ignored (check the spelling)",
    );
}

/// CLI flags > process environment > .env (from --env-file or ENV_FILE) > defaults.
#[test]
fn settings_layering() {
    let ghr = in_scratch("layers").env_file("ORG=fromfile\nRUNNER_NAME_PREFIX=p\nRUNNER_COUNT=3\n");
    ghr.run(&["compose"]).ok();
    let text = ghr
        .file("docker-compose.fromfile.yml")
        .expect(".env names the org");
    assert!(
        text.contains("p-runner-3:") && !text.contains("p-runner-4:"),
        "RUNNER_COUNT=3 from .env"
    );

    let ghr = ghr.env("ORG", "fromenv").env("RUNNER_COUNT", "1");
    ghr.run(&["compose"]).ok();
    let text = ghr
        .file("docker-compose.fromenv.yml")
        .expect("process env beats .env");
    assert!(text.contains("p-runner-1:") && !text.contains("p-runner-2:"));

    ghr.run(&["compose", "--org", "fromcli", "-n", "2"]).ok();
    assert!(
        ghr.file("docker-compose.fromcli.yml")
            .unwrap()
            .contains("p-runner-2:"),
        "flags beat env"
    );

    std::fs::write(
        ghr.dir.path().join("other.env"),
        "ORG=other\nRUNNER_NAME_PREFIX=o\n",
    )
    .unwrap();
    let ghr = ghr.env("ORG", "").env("ENV_FILE", "other.env");
    ghr.run(&["compose", "-n", "1"]).ok();
    assert!(
        ghr.file("docker-compose.other.yml")
            .unwrap()
            .contains("o-runner-1:"),
        "ENV_FILE selects the file"
    );
    ghr.run(&["compose", "-n", "1", "--env-file", ".env"]).ok();
    assert!(
        ghr.file("docker-compose.fromfile.yml").is_some(),
        "--env-file beats ENV_FILE"
    );
}

#[test]
fn missing_org_without_terminal_names_the_keys() {
    let ghr = in_scratch("noorg");
    ghr.run(&["compose", "-n", "1"])
        .code(3)
        .error_line("ORG is not set; add ORG=... to .env or export ORG");
    assert!(
        ghr.files().is_empty(),
        "nothing may be written: {:?}",
        ghr.files()
    );
}

/// First run on a real pseudo-terminal: ghr asks, re-asks an empty answer, hides the PAT,
/// checks it with GitHub (a rejected one is asked again, naming why) before it writes the
/// answers into .env (0600, other lines kept).
#[test]
fn first_run_prompts_on_a_terminal() {
    let gh = testkit::FakeGitHub::start();
    gh.add_org("acme");
    gh.add_repo("acme", "fw");
    gh.add_pat("fakepat_typedSecretValue42", &["repo"]);
    let ghr = in_scratch("prompt").env_file(&format!(
        "# my lab\nRUNNER_NAME_PREFIX=lab\nMAP_USB_DEVICE=false\nGITHUB_API_URL={}\n",
        gh.url()
    ));
    let mut term = Terminal::start(
        &ghr,
        env!("CARGO_BIN_EXE_ghr"),
        "compose -n 1 --env-file .env",
    );
    term.wait_for("GitHub organization");
    // An empty answer must be asked again: were it taken, "acme" would land elsewhere.
    term.stdin.write_all(b"\r").unwrap();
    std::thread::sleep(Duration::from_millis(300));
    term.stdin.write_all(b"acme\r").unwrap();
    term.answer("Repository", 1, "fw");
    term.answer("Classic PAT", 1, "fakepat_notKnownToGitHub0000");
    term.answer("please enter it again", 1, "fakepat_typedSecretValue42");
    assert!(term.screen.contains("bad credentials"), "{}", term.screen);
    term.wait_for("Wrote");
    let (status, screen) = term.finish();
    assert!(status.success(), "{screen}");
    assert!(
        !screen.contains("fakepat_typedSecretValue42") && !screen.contains("fakepat_notKnown"),
        "a PAT was echoed: {screen}"
    );
    assert_eq!(
        gh.count("GET", "/repos/acme/fw/actions/runners"),
        2,
        "each PAT is checked with one call"
    );

    let env = ghr.file(".env").unwrap();
    assert!(
        env.starts_with("# my lab\nRUNNER_NAME_PREFIX=lab\n"),
        "{env}"
    );
    assert!(
        env.contains("ORG=acme\n")
            && env.contains("GH_PAT=fakepat_typedSecretValue42\n")
            && env.contains("REPO=fw\n")
            && !env.contains("fakepat_notKnown"),
        "{env}"
    );
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(ghr.dir.path().join(".env"))
        .unwrap()
        .permissions()
        .mode()
        & 0o777;
    assert_eq!(mode, 0o600);
    assert!(ghr.file("docker-compose.acme.fw.yml").is_some());
}

/// Without a .env, the first line says so and where the answers go; a PAT left empty three
/// times ends the run (exit 3) with nothing written.
#[test]
fn first_run_without_env_says_where_and_gives_up_on_an_empty_pat() {
    let ghr = in_scratch("prompt-none");
    let mut term = Terminal::start(&ghr, env!("CARGO_BIN_EXE_ghr"), "compose -n 1");
    term.wait_for("There is no .env yet");
    term.answer("GitHub organization", 1, "acme");
    term.answer("Repository", 1, "");
    term.answer("Classic PAT", 1, "");
    for nth in 1..=2 {
        term.answer("please enter it again", nth, "");
    }
    let (status, screen) = term.finish();
    assert_eq!(status.code(), Some(3), "{screen}");
    assert!(
        screen.contains("no PAT that GitHub accepts after 3 tries"),
        "{screen}"
    );
    assert!(
        ghr.files().is_empty(),
        "nothing may be written: {:?}",
        ghr.files()
    );
}

/// A reader never sees a half-written compose file while ghr rewrites it.
#[test]
fn compose_file_is_replaced_atomically() {
    let ghr = in_scratch("atomic").env_file(&fixture("seed"));
    ghr.run(&["compose", "-n", "50"]).ok();
    let path = ghr.dir.path().join("docker-compose.arceos-hypervisor.yml");
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let reader = {
        let (path, stop) = (path.clone(), stop.clone());
        std::thread::spawn(move || {
            let mut reads = 0;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let text = std::fs::read_to_string(&path).expect("the file always exists");
                assert!(
                    text.ends_with("ghr.runner: lab-runner-roc-rk3568-pc\n"),
                    "torn read"
                );
                reads += 1;
            }
            reads
        })
    };
    for n in [1, 50, 7, 30] {
        ghr.run(&["compose", "-n", &n.to_string()]).ok();
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    assert!(reader.join().unwrap() > 0);
    assert_eq!(
        ghr.files().iter().filter(|f| f.contains(".tmp")).count(),
        0,
        "temp files left"
    );
}

#[test]
fn help_lists_every_command_and_the_shell_tools_spellings_work() {
    let out = in_scratch("help").run(&["--help"]);
    let text = out.stdout;
    for command in [
        "init", "plan", "compose", "register", "start", "stop", "restart", "logs", "list", "rm",
        "purge", "image", "locks", "hold", "release",
    ] {
        assert!(text.contains(command), "{command} missing from --help");
    }
    // runner.sh's spellings: `help`, `log`, the list and rm aliases.
    assert_eq!(in_scratch("help").run(&["help"]).ok().stdout, text);
    in_scratch("help")
        .run(&["help", "init"])
        .ok()
        .stdout_line("Usage: ghr init [OPTIONS]");
    for alias in ["ls", "ps", "status", "remove", "delete", "log"] {
        in_scratch("alias").run(&[alias, "--help"]).ok();
    }
    // `--count` for `-n`, as runner.sh's `init --count N`.
    let ghr = in_scratch("count").env_file("ORG=acme\nMAP_USB_DEVICE=false\n");
    ghr.run(&["compose", "--count", "3"]).ok();
    let file = ghr.file("docker-compose.acme.yml").unwrap();
    assert!(file.contains("# ghr: -n 3"), "{file}");
    assert_eq!(file.matches("container_name:").count(), 3);
}
