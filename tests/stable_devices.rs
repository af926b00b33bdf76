//! Board devices by stable name: a by-id symlink (made by the test, to a real character device)
//! is resolved when ghr creates the container, and the runner finds the device under the same
//! name inside, on the real engine with the faithful runner image.

use std::process::Command;
use testkit::lab::{docker_ready, Lab};

const NAME: &str = "usb-FTDI_FT232R_USB_UART_A50285BI-if00-port0";

#[test]
fn a_by_id_device_is_mapped_from_its_node_and_keeps_its_name_inside() {
    if !docker_ready("a_by_id_device_is_mapped_from_its_node_and_keeps_its_name_inside") {
        return;
    }
    let lab = Lab::new(env!("CARGO_BIN_EXE_ghr"));
    let by_id = lab.scratch().join("dev/serial/by-id");
    std::fs::create_dir_all(&by_id).unwrap();
    let stable = by_id.join(NAME);
    // Relative, as udev makes them.
    std::os::unix::fs::symlink("../../../../../../../../../../dev/null", &stable).unwrap();
    let stable = stable.display().to_string();
    let fleet = lab
        .fleet("byid")
        .env("BOARD_RUNNERS=pi:board-byid")
        .env(&format!(
            "BOARD_DEVICES_PI={stable},{stable}:/dev/serial/by-id/{NAME}:rw,{stable}:/dev/console0"
        ))
        .env("MAP_LOOP_DEVICES=false")
        .env("MAP_KVM_DEVICE=false")
        .build();
    let plan = fleet.ghr(&["plan", "-n", "0", "--json"]).ok();
    let name = fleet.name("pi");
    let json: serde_json::Value = serde_json::from_str(&plan.stdout).unwrap();
    let notes: Vec<(&str, &str)> = json["notes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| (n["runner"].as_str().unwrap(), n["why"].as_str().unwrap()))
        .collect();
    let note =
        format!("device {stable} is /dev/null now (mapped from it, seen under its own name)");
    assert_eq!(
        notes
            .iter()
            .filter(|n| **n == (name.as_str(), note.as_str()))
            .count(),
        1,
        "the plan names the node, once: {notes:?}"
    );
    fleet.ghr(&["init", "-n", "0"]).ok();
    let devices = fleet.inspect(
        &name,
        "{{range .HostConfig.Devices}}{{.PathOnHost}}>{{.PathInContainer}} {{end}}",
    );
    assert_eq!(
        devices,
        format!("/dev/null>{stable} /dev/null>/dev/serial/by-id/{NAME} /dev/null>/dev/console0"),
        "plan:\n{}",
        plan.stdout
    );
    // `ghr list` records what the container was made with: each name and its node.
    let list = fleet.ghr(&["list", "--json"]).ok();
    let json: serde_json::Value = serde_json::from_str(&list.stdout).unwrap();
    let runner = json["runners"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == name.as_str())
        .expect("the board runner is listed");
    assert_eq!(
        runner["container"]["devices"],
        serde_json::json!([
            {"path": stable, "node": "/dev/null"},
            {"path": format!("/dev/serial/by-id/{NAME}"), "node": "/dev/null"},
            {"path": "/dev/console0", "node": "/dev/null"},
        ])
    );
    let table = fleet.ghr(&["list"]).ok();
    assert!(
        table.stdout.contains("/dev/console0 = /dev/null"),
        "{}",
        table.stdout
    );
    // Inside, the runner's user (uid 1001, as jobs run) opens the device by its stable name.
    // (Only under /dev: the test's host path lies outside it, and a container's root file
    // system is mounted nodev, so a node there cannot be opened; /dev/serial/by-id is in /dev.)
    for path in [
        format!("/dev/serial/by-id/{NAME}"),
        "/dev/console0".to_string(),
    ] {
        let out = Command::new("docker")
            .args(["exec", &name, "sh", "-c"])
            .arg(format!("test -c '{path}' && echo probe > '{path}'"))
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{path}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}
