//! Wall time of `ghr init -n 1`, `ghr init -n 8` and `ghr rm -y` of 8 runners on this
//! machine's Docker engine against the fake GitHub; prints the figures and T(8)/T(1). Then
//! the idle RSS of runner-wrapper (ghr itself, mounted) as PID 1 of a board container.
//!
//! cargo bench --bench lifecycle            (GHR_BENCH_RUNS=N for more rounds; median shown)

use std::time::Duration;
use testkit::figures::{median, timed};
use testkit::lab::Lab;

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return; // `cargo test --benches` asks harness-less benches to list tests
    }
    if !testkit::lab::docker_ready("the lifecycle bench") {
        return;
    }
    let runs: usize = std::env::var("GHR_BENCH_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3);
    let lab = Lab::new(env!("CARGO_BIN_EXE_ghr"));
    // Warm up: the engine's caches, compose's first start.
    {
        let warm = lab.fleet("warm").build();
        timed(&warm, &["init", "-n", "1"]);
        timed(&warm, &["rm", "-y"]);
    }
    let (mut t1, mut t8, mut rm8) = (Vec::new(), Vec::new(), Vec::new());
    for round in 0..runs {
        let one = lab.fleet(&format!("one{round}")).build();
        t1.push(timed(&one, &["init", "-n", "1"]));
        timed(&one, &["rm", "-y"]);
        let eight = lab.fleet(&format!("eight{round}")).build();
        t8.push(timed(&eight, &["init", "-n", "8"]));
        rm8.push(timed(&eight, &["rm", "-y"]));
    }
    let (t1, t8, rm8) = (median(t1), median(t8), median(rm8));
    let rss = wrapper_idle_rss(&lab);
    println!("ghr lifecycle bench ({runs} rounds, median; fake GitHub, real Docker)");
    println!("  init -n 1 : {:>7.2} s", t1.as_secs_f64());
    println!("  init -n 8 : {:>7.2} s", t8.as_secs_f64());
    println!("  rm -y (8) : {:>7.2} s", rm8.as_secs_f64());
    println!(
        "  T(8)/T(1) : {:>7.2}   (target <= 2.5)",
        t8.as_secs_f64() / t1.as_secs_f64()
    );
    let size = std::fs::metadata(env!("CARGO_BIN_EXE_ghr")).map_or(0, |m| m.len());
    println!(
        "  runner-wrapper (ghr {:.1} MB static) idle RSS in a board container: {rss} kB (goal < 4096)",
        size as f64 / 1e6
    );
}

/// VmRSS of PID 1 of an idle board container (the wrapper, with the runner as its child).
fn wrapper_idle_rss(lab: &Lab) -> u64 {
    let fleet = lab
        .fleet("rss")
        .env("BOARD_RUNNERS=pi:board")
        .env("RUNNER_RESOURCE_ID=bench-rss")
        .build();
    fleet.ghr(&["init", "-n", "0"]).ok();
    let name = fleet.name("pi");
    let online = lab.gh.wait_until(Duration::from_secs(60), |gh| {
        gh.runner(&testkit::Scope::Org(testkit::lab::ORG), &name)
            .is_some_and(|r| r.status == "online")
    });
    assert!(online, "{}", fleet.logs(&name, 30));
    std::thread::sleep(Duration::from_secs(2));
    let pid = fleet.inspect(&name, "{{.State.Pid}}");
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let rss = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0);
    fleet.ghr(&["rm", "-y"]).ok();
    rss
}
