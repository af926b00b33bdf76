//! Wall time of `ghr init -n 1`, `ghr init -n 8` and `ghr rm -y` of 8 runners on this
//! machine's Docker engine against the fake GitHub; prints the figures and T(8)/T(1).
//!
//! cargo bench --bench lifecycle            (GHR_BENCH_RUNS=N for more rounds; median shown)

use std::time::{Duration, Instant};
use testkit::lab::{Fleet, Lab};

fn timed(fleet: &Fleet, args: &[&str]) -> Duration {
    let start = Instant::now();
    fleet.ghr(args).ok();
    start.elapsed()
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

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
    println!("ghr lifecycle bench ({runs} rounds, median; fake GitHub, real Docker)");
    println!("  init -n 1 : {:>7.2} s", t1.as_secs_f64());
    println!("  init -n 8 : {:>7.2} s", t8.as_secs_f64());
    println!("  rm -y (8) : {:>7.2} s", rm8.as_secs_f64());
    println!(
        "  T(8)/T(1) : {:>7.2}   (target <= 2.5)",
        t8.as_secs_f64() / t1.as_secs_f64()
    );
}
