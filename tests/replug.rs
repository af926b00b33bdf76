//! A board unplugged and plugged in again, on the real engine with the faithful runner image
//! and a test-owned directory standing in for `/dev` (nodes made with mknod, a by-id symlink
//! to them, as udev makes it): a missing device is no settings error (`init` succeeds, the
//! runner waits, stopped and offline, and `list`/`locks` name the path); `ghr serve` brings
//! the runner online when the device appears, creates it anew when the device comes back as
//! another node (never while a job runs), and a job then reads the new node by its stable
//! name; unplugged again, the idle runner is parked (created anew, not started); a runner
//! someone stopped stays stopped.

mod serve_support;

use serve_support::{free_port, Serve};
use std::path::Path;
use std::process::Command;
use std::time::Duration;
use testkit::lab::{docker_ready, Lab};
use testkit::{FakeGitHub, JobSpec, Scope};

const NAME: &str = "usb-FTDI_FT232R_USB_UART_A50285BI-if00-port0";
const LABEL: &str = "board-replug";

fn mknod(path: &Path, minor: u32) {
    let ok = Command::new("mknod")
        .args(["-m", "666"])
        .arg(path)
        .args(["c", "1", &minor.to_string()])
        .status()
        .unwrap()
        .success();
    assert!(ok, "mknod {} (the tests run as root)", path.display());
}

/// Points the stable name at `node` in one step (a new link renamed over the old), as udev
/// does: the watcher sees the old node or the new one, never a gap.
fn point(link: &Path, node: &str) {
    let tmp = link.with_extension("new");
    let _ = std::fs::remove_file(&tmp);
    std::os::unix::fs::symlink(node, &tmp).unwrap();
    std::fs::rename(&tmp, link).unwrap();
}

#[test]
fn an_unplugged_board_waits_and_serve_brings_it_back_on_its_new_node() {
    if !docker_ready("an_unplugged_board_waits_and_serve_brings_it_back_on_its_new_node") {
        return;
    }
    let lab = Lab::new(env!("CARGO_BIN_EXE_ghr"));
    let dev = lab.scratch().join("dev");
    let by_id = dev.join("serial/by-id");
    std::fs::create_dir_all(&by_id).unwrap();
    let link = by_id.join(NAME);
    // Relative, as udev makes them; nothing behind it yet: the board is unplugged.
    point(&link, "../../ttyUSB0");
    let stable = link.display().to_string();
    let inside = format!("/dev/serial/by-id/{NAME}");
    let fleet = lab
        .fleet("replug")
        .env(&format!("BOARD_RUNNERS=pi:{LABEL}"))
        .env(&format!("BOARD_DEVICES_PI={stable}:{inside}"))
        .env("RUNNER_RESOURCE_ID_PI=replug-pi")
        .build();
    let name = fleet.name("pi");
    let scope = Scope::Org(&fleet.org);
    let gh = &lab.gh;

    // Unplugged at init: no settings error; created with its credential, not started.
    let plan = fleet.ghr(&["plan", "-n", "0"]).ok();
    assert!(
        plan.stdout
            .contains(&format!("waits for its device {stable}")),
        "{}",
        plan.stdout
    );
    let init = fleet.ghr(&["init", "-n", "0", "-y"]).ok();
    assert!(
        init.stdout.contains("0 of 1 runners") && init.stdout.contains("1 waiting for a device"),
        "{}\n{}",
        init.stdout,
        init.stderr
    );
    // Registration waits for the first start too: its credential waits in the volume.
    assert!(
        gh.runner(&scope, &name).is_none(),
        "not registered before it starts"
    );
    // Not crash-looping: created, never started, no restarts.
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(
        fleet.inspect(&name, "{{.State.Status}} {{.RestartCount}}"),
        "created 0"
    );
    assert!(gh.runner(&scope, &name).is_none(), "never shown on GitHub");
    let list = fleet.ghr(&["list"]).ok();
    assert!(
        list.stdout
            .contains(&format!("waits for {stable} (missing)")),
        "{}",
        list.stdout
    );
    let json: serde_json::Value =
        serde_json::from_str(&fleet.ghr(&["list", "--json"]).ok().stdout).unwrap();
    let row = json["runners"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == name.as_str())
        .unwrap()
        .clone();
    assert_eq!(row["missing_devices"], serde_json::json!([stable]));
    let locks = fleet.ghr(&["locks"]).ok();
    assert!(
        locks.stdout.contains(&format!(
            "{name} waits for its device {stable} (missing); resource replug-pi"
        )),
        "{}",
        locks.stdout
    );
    // init again: still nothing to start, nothing fails.
    fleet.ghr(&["init", "-n", "0", "-y"]).ok();
    assert_eq!(fleet.inspect(&name, "{{.State.Status}}"), "created");

    // serve watches; plugged in, the runner comes online without a command.
    let serve = Serve::on(&fleet.ghr);
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(
        fleet.inspect(&name, "{{.State.Status}}"),
        "created",
        "nothing starts while the device is missing: {}",
        serve.stderr()
    );
    // serve's JSON (and page) names the missing path too.
    let waits = serve_support::wait_for(Duration::from_secs(20), || {
        serve.json("/api/v1/fleets")[0]["runners"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|r| {
                r["name"] == name.as_str() && r["missing_devices"] == serde_json::json!([stable])
            })
    });
    assert!(waits, "{}", serve.get("/api/v1/fleets"));
    assert!(serve
        .get("/")
        .contains(&format!("waits for {stable} (missing)")));
    mknod(&dev.join("ttyUSB0"), 3);
    let online = |gh: &FakeGitHub| {
        gh.runner(&scope, &name)
            .is_some_and(|r| r.status == "online")
    };
    assert!(
        gh.wait_until(Duration::from_secs(60), online),
        "online once plugged in: {}\n{}",
        serve.stderr(),
        fleet.logs(&name, 30)
    );

    // A job reads the node under its stable name; while it runs, the board comes back as
    // another node: the busy runner is not created anew until its job ends.
    let reads = |major_minor: &str| {
        format!(
            "test -c {inside} && test \"$(stat -L -c %t:%T {inside})\" = {major_minor} && echo node {major_minor}"
        )
    };
    let first = gh.dispatch_job(
        &scope,
        &[LABEL],
        JobSpec {
            script: Some(format!("{} && sleep 6", reads("1:3"))),
            ..JobSpec::new("before-replug")
        },
    );
    assert!(
        gh.wait_until(Duration::from_secs(30), |gh| gh
            .job(first)
            .is_some_and(|j| j.started_at.is_some())),
        "the first job starts"
    );
    let before = fleet.container_id(&name);
    mknod(&dev.join("ttyUSB1"), 5);
    point(&link, "../../ttyUSB1");
    std::fs::remove_file(dev.join("ttyUSB0")).unwrap();
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(
        fleet.container_id(&name),
        before,
        "a busy runner is not created anew: {}",
        serve.stderr()
    );
    assert!(
        serve.stderr().contains(&format!(
            "{name} its device is another node now, but a job runs: created anew when it ends"
        )),
        "serve says what it waits for: {}",
        serve.stderr()
    );
    let done = gh.wait_job(first, Duration::from_secs(60)).unwrap();
    assert_eq!(done.result.as_deref(), Some("Succeeded"), "{}", done.log);
    assert!(
        fleet.wait(Duration::from_secs(30), || fleet.container_id(&name)
            != before),
        "created anew once idle: {}",
        serve.stderr()
    );
    assert!(
        serve
            .stderr()
            .contains(&format!("created {name} anew and started it")),
        "{}",
        serve.stderr()
    );
    assert!(
        gh.wait_until(Duration::from_secs(60), online),
        "online again on the new node: {}",
        fleet.logs(&name, 30)
    );
    let second = gh.dispatch_job(
        &scope,
        &[LABEL],
        JobSpec {
            script: Some(reads("1:5")),
            ..JobSpec::new("after-replug")
        },
    );
    let done = gh.wait_job(second, Duration::from_secs(60)).unwrap();
    assert_eq!(
        done.result.as_deref(),
        Some("Succeeded"),
        "the job sees the new node under the stable name: {}",
        done.log
    );
    assert!(done.log.contains("node 1:5"), "{}", done.log);

    // Unplugged while idle: parked (created anew, not started), offline; nothing restarts it.
    std::fs::remove_file(dev.join("ttyUSB1")).unwrap();
    assert!(
        fleet.wait(Duration::from_secs(30), || fleet
            .inspect(&name, "{{.State.Status}}")
            == "created"),
        "parked once its device is gone: {}",
        serve.stderr()
    );
    assert!(gh.wait_until(Duration::from_secs(30), |gh| !online(gh)));
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(
        fleet.inspect(&name, "{{.State.Status}} {{.RestartCount}}"),
        "created 0"
    );

    // Back again: online again. Then someone stops it: serve leaves it stopped, whatever its
    // device does.
    mknod(&dev.join("ttyUSB0"), 3);
    point(&link, "../../ttyUSB0");
    assert!(
        gh.wait_until(Duration::from_secs(60), online),
        "online once plugged in again: {}",
        serve.stderr()
    );
    fleet.ghr(&["stop", "pi"]).ok();
    let stopped = fleet.container_id(&name);
    mknod(&dev.join("ttyUSB1"), 5);
    point(&link, "../../ttyUSB1");
    std::fs::remove_file(dev.join("ttyUSB0")).unwrap();
    std::thread::sleep(Duration::from_secs(4));
    assert_eq!(
        (
            fleet.container_id(&name),
            fleet.inspect(&name, "{{.State.Status}}")
        ),
        (stopped, "exited".to_string()),
        "a runner someone stopped stays stopped: {}",
        serve.stderr()
    );

    // As after a reboot with the board away: the restart policy's start fails on the node the
    // container was made with; a serve started then brings the runner up on the new node.
    let mut serve = serve;
    serve.stop();
    let start = Command::new("docker")
        .args(["start", &name])
        .output()
        .unwrap();
    assert!(!start.status.success(), "the old node is gone");
    assert_ne!(fleet.inspect(&name, "{{.State.Error}}"), "");
    let port = free_port();
    let listen = format!("127.0.0.1:{port}");
    let env_file = fleet.path(".env").display().to_string();
    let mut cmd = fleet
        .ghr
        .command(&["serve", "--listen", &listen, "--env-file", &env_file]);
    cmd.current_dir(lab.scratch());
    let serve = Serve::start(cmd, port, None);
    assert!(
        gh.wait_until(Duration::from_secs(60), online),
        "a runner Docker failed to start comes up on its new node: {}",
        serve.stderr()
    );
    // It used the fleet's own files, not ones of the directory it runs in.
    let strays: Vec<_> = std::fs::read_dir(lab.scratch())
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("docker-compose") || n.starts_with(".ghr"))
        .collect();
    assert!(strays.is_empty(), "{strays:?}");
}
