//! `cargo bench -p runner-wrapper`: handoff latency on one resource and on a pool of 4 with 8
//! runners, throughput of a pool of 2 against two single resources, serialized throughput
//! overhead, static binary size and idle RSS, measured with real wrappers around the simulated
//! runner. Uses the static build (target/static/...) when it exists, else the cargo-built one.

#[path = "../tests/support/mod.rs"]
mod support;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use support::*;

const R: &str = "bench-board";

fn static_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../target/static/x86_64-unknown-linux-gnu/release/runner-wrapper")
}

fn main() {
    // `cargo bench` passes --bench; `cargo test --all-targets` runs us without it: skip then.
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    let st = static_bin();
    if std::env::var_os("RUNNER_WRAPPER_BIN").is_none() && st.exists() {
        std::env::set_var("RUNNER_WRAPPER_BIN", &st);
    }
    println!("binary: {}", wrapper_bin().display());
    handoff_latency(200);
    pool_handoff_latency(4, 8, 25);
    pool_vs_singles(4, 20, 0.1);
    throughput(2, 20, 0.1);
    binary_size(&st);
    idle_rss();
}

fn handoff_latency(n: usize) {
    let s = Scratch::new("bench-handoff");
    let mut a = Wrapper::spawn(&s, Spec::new("A", R));
    let mut b = Wrapper::spawn(&s, Spec::new("B", R));
    // Jobs of 50 ms, longer than a runner's turnaround between jobs, so each release has a
    // waiter and the two runners alternate.
    let per = n / 2 + 1;
    for i in 0..per {
        a.job(&format!("a{i} 0.05"));
        b.job(&format!("b{i} 0.05"));
    }
    a.wait_event(
        "completed",
        &format!("a{}", per - 1),
        Duration::from_secs(120),
    );
    b.wait_event(
        "completed",
        &format!("b{}", per - 1),
        Duration::from_secs(120),
    );
    let iv = intervals(&[&a, &b]);
    assert_no_overlap(&iv);
    let mut h = handoffs(&[&a, &b]);
    h.truncate(n);
    println!(
        "handoff latency over {} handoffs: median {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        h.len(),
        percentile(&h, 0.5) * 1e3,
        percentile(&h, 0.99) * 1e3,
        percentile(&h, 1.0) * 1e3
    );
}

/// Handoffs per member of a pool: from the completed hook of a member's job returning to the
/// started hook of the next job granted that member returning.
fn pool_handoff_latency(members: usize, runners: usize, jobs: usize) {
    let s = Scratch::new("bench-pool");
    let pool: String = (0..members)
        .map(|i| format!("pm{i}"))
        .collect::<Vec<_>>()
        .join(",");
    let names: Vec<String> = (0..runners).map(|i| format!("W{i}")).collect();
    let mut ws: Vec<Wrapper> = names
        .iter()
        .map(|n| Wrapper::spawn(&s, Spec::new(n, &pool)))
        .collect();
    for w in ws.iter_mut() {
        for j in 0..jobs {
            let name = format!("{}-{j}", w.name);
            w.job(&format!("{name} 0.1"));
        }
    }
    for w in &ws {
        w.wait_event(
            "completed",
            &format!("{}-{}", w.name, jobs - 1),
            Duration::from_secs(300),
        );
    }
    let refs: Vec<&Wrapper> = ws.iter().collect();
    let iv = member_intervals(&refs);
    for m in 0..members {
        let on: Vec<(f64, f64, String, String)> = iv
            .iter()
            .filter(|i| i.4 == format!("pm{m}"))
            .map(|i| (i.0, i.1, i.2.clone(), i.3.clone()))
            .collect();
        assert_no_overlap(&on);
    }
    let h = handoffs(&refs);
    println!(
        "pool of {members} with {runners} runners, {} jobs: handoff latency over {} handoffs: median {:.2} ms, p99 {:.2} ms, max {:.2} ms; at most {} jobs at once",
        iv.len(),
        h.len(),
        percentile(&h, 0.5) * 1e3,
        percentile(&h, 0.99) * 1e3,
        percentile(&h, 1.0) * 1e3,
        max_concurrency(&iv)
    );
}

/// The same jobs on two single resources (half the runners each) and on a pool of the two.
fn pool_vs_singles(runners: usize, jobs: usize, dur: f64) {
    let run = |pool: bool| -> f64 {
        let s = Scratch::new(if pool { "bench-pool2" } else { "bench-singles" });
        let names: Vec<String> = (0..runners).map(|i| format!("T{i}")).collect();
        let mut ws: Vec<Wrapper> = names
            .iter()
            .enumerate()
            .map(|(i, n)| {
                let res = if pool {
                    "q0,q1"
                } else if i % 2 == 0 {
                    "q0"
                } else {
                    "q1"
                };
                Wrapper::spawn(&s, Spec::new(n, res))
            })
            .collect();
        for w in ws.iter_mut() {
            for j in 0..jobs {
                let name = format!("{}-{j}", w.name);
                w.job(&format!("{name} {dur}"));
            }
        }
        for w in &ws {
            w.wait_event(
                "completed",
                &format!("{}-{}", w.name, jobs - 1),
                Duration::from_secs(600),
            );
        }
        let refs: Vec<&Wrapper> = ws.iter().collect();
        let iv = intervals(&refs);
        iv.iter().map(|i| i.1).fold(0.0, f64::max) - iv[0].0
    };
    // Alternate to spread the machine's load drifts over both.
    let (mut singles, mut pools) = (Vec::new(), Vec::new());
    for _ in 0..2 {
        singles.push(run(false));
        pools.push(run(true));
    }
    let (s, p) = (
        singles.iter().sum::<f64>() / singles.len() as f64,
        pools.iter().sum::<f64>() / pools.len() as f64,
    );
    println!(
        "throughput, {runners} runners x {jobs} jobs of {dur}s: two single resources {s:.3} s, a pool of the two {p:.3} s (pool {:+.1}%; runs {singles:.3?} vs {pools:.3?})",
        (p / s - 1.0) * 100.0
    );
}

fn throughput(orgs: usize, jobs: usize, dur: f64) {
    let s = Scratch::new("bench-throughput");
    let names: Vec<String> = (0..orgs).map(|i| format!("org{i}")).collect();
    let mut ws: Vec<Wrapper> = names
        .iter()
        .map(|n| Wrapper::spawn(&s, Spec::new(n, R).env("GHR_ORG", n.clone())))
        .collect();
    let t0 = Instant::now();
    for w in ws.iter_mut() {
        for j in 0..jobs {
            let name = format!("{}-j{j}", w.name);
            w.job(&format!("{name} {dur}"));
        }
    }
    for w in &ws {
        w.wait_event(
            "completed",
            &format!("{}-j{}", w.name, jobs - 1),
            Duration::from_secs(600),
        );
    }
    let wall = t0.elapsed().as_secs_f64();
    let refs: Vec<&Wrapper> = ws.iter().collect();
    let iv = intervals(&refs);
    assert_no_overlap(&iv);
    let busy: f64 = iv.iter().map(|i| i.1 - i.0).sum();
    let span = iv.last().unwrap().1 - iv[0].0;
    println!(
        "throughput {orgs} orgs x {jobs} jobs of {dur}s: sum of job durations {busy:.3} s, first start to last end {span:.3} s, overhead {:.3} s ({:.1}%, {:.1} ms per job); wall from submit {wall:.3} s",
        span - busy,
        (span - busy) / busy * 100.0,
        (span - busy) / iv.len() as f64 * 1e3
    );
}

fn binary_size(st: &std::path::Path) {
    match std::fs::metadata(st) {
        Ok(m) => println!(
            "static binary: {} bytes ({:.0} KiB) at {}",
            m.len(),
            m.len() as f64 / 1024.0,
            st.display()
        ),
        Err(_) => println!(
            "static binary: not built; run RUSTFLAGS=\"-C target-feature=+crt-static\" cargo build -p runner-wrapper --release --target x86_64-unknown-linux-gnu --target-dir target/static"
        ),
    }
}

fn idle_rss() {
    let s = Scratch::new("bench-rss");
    let w = Wrapper::spawn(&s, Spec::new("idle", R));
    let status = std::fs::read_to_string(format!("/proc/{}/status", w.pid())).unwrap();
    let rss = status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .unwrap_or("VmRSS: ?");
    println!(
        "idle wrapper (runner waiting for jobs): {}",
        rss.split_whitespace().skip(1).collect::<Vec<_>>().join(" ")
    );
}
