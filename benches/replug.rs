//! What watching board devices costs and how fast a replugged board is back, printed as
//! figures:
//! - one look of `ghr serve`'s device watcher (`world::replug::board_devices`: a stat and a
//!   readlink per device) for a fleet of 20 boards behind by-id symlinks: p50/p99 of 2000 looks;
//! - replug to online: a board runner on the real engine (test image, fake GitHub) whose by-id
//!   symlink is pointed at another node while `ghr serve` runs: time until the container is
//!   created anew on the new node and started, and until the runner is online on GitHub again (5 rounds).
//!
//! cargo bench --bench replug

use std::collections::HashMap;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};
use testkit::figures::pct;
use testkit::lab::{Lab, PAT};
use testkit::{FakeGitHub, Scope};

const BOARDS: usize = 20;
const LOOKS: usize = 2000;
const ROUNDS: u32 = 5;
const NAME: &str = "usb-FTDI_FT232R_USB_UART_BENCH-if00-port0";

fn us(d: Duration) -> String {
    format!("{:.1} µs", d.as_secs_f64() * 1e6)
}

fn point(link: &Path, node: &str) {
    let tmp = link.with_extension("new");
    let _ = std::fs::remove_file(&tmp);
    std::os::unix::fs::symlink(node, &tmp).unwrap();
    std::fs::rename(&tmp, link).unwrap();
}

fn mknod(path: &Path, minor: u32) {
    let _ = std::fs::remove_file(path);
    let ok = Command::new("mknod")
        .args(["-m", "666"])
        .arg(path)
        .args(["c", "1", &minor.to_string()])
        .status()
        .unwrap()
        .success();
    assert!(ok, "mknod (run as root)");
}

fn looks() {
    let dir = std::env::temp_dir().join(format!("ghr-bench-replug-{}", std::process::id()));
    let by_id = dir.join("serial/by-id");
    std::fs::create_dir_all(&by_id).unwrap();
    let mut boards = Vec::new();
    let mut file = HashMap::new();
    for i in 0..BOARDS {
        let link = by_id.join(format!("usb-bench-{i}-if00-port0"));
        point(&link, "/dev/null");
        boards.push(format!("b{i}:board"));
        file.insert(format!("BOARD_DEVICES_B{i}"), link.display().to_string());
    }
    file.insert("ORG".into(), "acme".into());
    file.insert("RUNNER_NAME_PREFIX".into(), "bench-".into());
    file.insert("BOARD_RUNNERS".into(), boards.join(";"));
    let settings = ghr::config::settings::Settings::resolve(
        &ghr::config::settings::Sources::from_maps(HashMap::new(), file),
    )
    .unwrap();
    let mut times = Vec::with_capacity(LOOKS);
    for _ in 0..LOOKS {
        let start = Instant::now();
        let devices = ghr::world::replug::board_devices(&settings);
        times.push(start.elapsed());
        assert_eq!(devices.len(), BOARDS);
    }
    times.sort();
    println!(
        "watcher look, {BOARDS} by-id devices: p50 {} p99 {} ({} looks, one a second in serve)",
        us(pct(&times, 0.5)),
        us(pct(&times, 0.99)),
        LOOKS
    );
    let _ = std::fs::remove_dir_all(&dir);
}

fn replug_to_online() {
    if Command::new("docker")
        .arg("info")
        .output()
        .map(|o| !o.status.success())
        .unwrap_or(true)
    {
        println!("replug to online: skipped (no Docker)");
        return;
    }
    let lab = Lab::new(env!("CARGO_BIN_EXE_ghr"));
    let dev = lab.scratch().join("dev");
    let by_id = dev.join("serial/by-id");
    std::fs::create_dir_all(&by_id).unwrap();
    let link = by_id.join(NAME);
    mknod(&dev.join("ttyUSB0"), 3);
    point(&link, "../../ttyUSB0");
    let fleet = lab
        .fleet("bench")
        .env("BOARD_RUNNERS=pi:board-bench")
        .env(&format!(
            "BOARD_DEVICES_PI={}:/dev/serial/by-id/{NAME}",
            link.display()
        ))
        .build();
    let _ = PAT;
    fleet.ghr(&["init", "-n", "0", "-y"]).ok();
    let name = fleet.name("pi");
    let scope = Scope::Org(&fleet.org);
    let online = |gh: &FakeGitHub| {
        gh.runner(&scope, &name)
            .is_some_and(|r| r.status == "online")
    };
    assert!(lab.gh.wait_until(Duration::from_secs(60), online));
    let serve = testkit::serving::ServeProcess::start(&fleet.ghr);
    // Its first looks at the devices, Docker and GitHub, before the first round.
    std::thread::sleep(Duration::from_secs(3));
    let (mut recreated, mut back) = (Vec::new(), Vec::new());
    for round in 0..ROUNDS {
        let (from, to) = match round % 2 {
            0 => ("ttyUSB0", "ttyUSB1"),
            _ => ("ttyUSB1", "ttyUSB0"),
        };
        let before = fleet.container_id(&name);
        mknod(&dev.join(to), 3 + 2 * ((round + 1) % 2));
        let start = Instant::now();
        point(&link, &format!("../../{to}"));
        let _ = std::fs::remove_file(dev.join(from));
        assert!(
            fleet.wait(Duration::from_secs(60), || fleet.container_id(&name)
                != before
                && !fleet.container_id(&name).ends_with("0001-01-01T00:00:00Z"))
        );
        recreated.push(start.elapsed());
        // Online again means a new session after the container started.
        assert!(lab.gh.wait_until(Duration::from_secs(60), |gh| {
            online(gh)
                && fleet.inspect(&name, "{{.State.Status}}") == "running"
                && start.elapsed() > recreated[recreated.len() - 1]
        }));
        back.push(start.elapsed());
        std::thread::sleep(Duration::from_secs(2));
    }
    drop(serve);
    let show = |v: &[Duration]| {
        v.iter()
            .map(|d| format!("{:.2} s", d.as_secs_f64()))
            .collect::<Vec<_>>()
            .join(", ")
    };
    println!(
        "replug to another node, idle runner: container started anew after [{}]; online again after [{}]",
        show(&recreated),
        show(&back)
    );
}

fn main() {
    looks();
    replug_to_online();
}
