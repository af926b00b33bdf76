//! What convergence costs on a fleet of 50 runners (real Docker engine and compose, the fake
//! GitHub), printed as figures:
//! - a no-op `ghr init` and `ghr plan`: wall time beside Docker's own `docker ps -a` +
//!   `docker inspect` of those 50 containers (goal: less than 1 s more), and GitHub calls
//!   (goal: 1 list call, 0 writes);
//! - a label change on the 50 runners with 20 ms added to every GitHub answer: wall time
//!   and calls (1 list, 50 label PUTs, nothing else).
//!
//! cargo bench --bench converge        (GHR_BENCH_RUNS=N rounds, default 5; medians shown)

use std::process::Command;
use std::time::{Duration, Instant};
use testkit::figures::median;
use testkit::lab::{Fleet, Lab};
use testkit::FakeGitHub;

const RUNNERS: usize = 50;
const LATENCY: Duration = Duration::from_millis(20);

/// ghr's calls to GitHub's REST API in the last command: (reads, writes). The runners' own
/// protocol traffic (long polls) is not ghr's and is left out.
fn rest_calls(gh: &FakeGitHub) -> (usize, usize) {
    let rest: Vec<_> = gh
        .requests()
        .into_iter()
        .filter(|r| r.path.starts_with("/orgs/") || r.path.starts_with("/repos/"))
        .collect();
    let reads = rest.iter().filter(|r| r.method == "GET").count();
    (reads, rest.len() - reads)
}

/// Wall time of one ghr command (which must succeed) and its GitHub calls.
fn ghr(gh: &FakeGitHub, fleet: &Fleet, args: &[&str]) -> (Duration, (usize, usize)) {
    gh.clear_requests();
    let start = Instant::now();
    fleet.ghr(args).ok();
    (start.elapsed(), rest_calls(gh))
}

/// Docker's own look at the fleet: `docker ps -a` by the fleet's label, then `docker
/// inspect` of every container it lists (what ghr's gathering does at the least).
fn docker_look(prefix: &str) -> Duration {
    let start = Instant::now();
    let ps = Command::new("docker")
        .args(["ps", "-a", "-q", "--no-trunc", "--filter"])
        .arg(format!("label=ghr.prefix={prefix}"))
        .output()
        .expect("docker ps");
    let ids: Vec<String> = String::from_utf8_lossy(&ps.stdout)
        .split_whitespace()
        .map(String::from)
        .collect();
    assert_eq!(ids.len(), RUNNERS, "docker ps lists the fleet");
    let inspect = Command::new("docker")
        .arg("inspect")
        .args(&ids)
        .output()
        .expect("docker inspect");
    assert!(inspect.status.success());
    start.elapsed()
}

fn secs(d: Duration) -> String {
    format!("{:>6.3} s", d.as_secs_f64())
}

/// The same calls in every round, else "varies" (they are deterministic).
fn calls(v: &[(usize, usize)]) -> String {
    let (reads, writes) = v[0];
    if v.iter().all(|c| *c == v[0]) {
        format!("{reads} GET, {writes} writes")
    } else {
        format!("varies: {v:?}")
    }
}

fn mark(ok: bool) -> &'static str {
    if ok {
        "met"
    } else {
        "MISSED"
    }
}

fn main() {
    // `cargo test --benches` runs harness-less benches without --bench; keep that quick.
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    if !testkit::lab::docker_ready("the converge bench") {
        return;
    }
    let runs: usize = std::env::var("GHR_BENCH_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(5)
        .max(1);
    let lab = Lab::new(env!("CARGO_BIN_EXE_ghr"));
    let gh = &lab.gh;
    let fleet = lab.fleet("conv50").env("RUNNER_LABELS=bench-a").build();
    let setup = Instant::now();
    fleet.ghr(&["init", "-n", &RUNNERS.to_string()]).ok();
    let setup = setup.elapsed();
    let up = fleet.containers();
    assert_eq!(up.len(), RUNNERS);
    assert!(up.iter().all(|(_, state)| state == "running"), "{up:?}");

    // Warm up: the engine's and the page cache's first look.
    docker_look(&fleet.prefix);
    ghr(gh, &fleet, &["init"]);

    let (mut look, mut init, mut plan) = (Vec::new(), Vec::new(), Vec::new());
    let (mut init_calls, mut plan_calls) = (Vec::new(), Vec::new());
    for _ in 0..runs {
        look.push(docker_look(&fleet.prefix));
        let (t, c) = ghr(gh, &fleet, &["init"]);
        init.push(t);
        init_calls.push(c);
        let (t, c) = ghr(gh, &fleet, &["plan"]);
        plan.push(t);
        plan_calls.push(c);
    }

    // Label changes through GitHub's API, every answer 20 ms late: back and forth.
    gh.set_latency(LATENCY);
    let labels_of = |round: usize| ["bench-b", "bench-a"][round % 2];
    let (mut relabel, mut relabel_calls) = (Vec::new(), Vec::new());
    for round in 0..runs {
        let labels = labels_of(round);
        let env = std::fs::read_to_string(fleet.path(".env")).unwrap();
        std::fs::write(fleet.path(".env"), format!("{env}RUNNER_LABELS={labels}\n")).unwrap();
        let (t, c) = ghr(gh, &fleet, &["init"]);
        relabel.push(t);
        relabel_calls.push(c);
    }
    let (mut slow_noop, mut slow_noop_calls) = (Vec::new(), Vec::new());
    for _ in 0..runs {
        let (t, c) = ghr(gh, &fleet, &["init"]);
        slow_noop.push(t);
        slow_noop_calls.push(c);
    }
    gh.set_latency(Duration::ZERO);
    // The labels did change, on every runner, and only through the labels API.
    let last = labels_of(runs - 1);
    let mine: Vec<_> = gh
        .runners(&testkit::Scope::Org(testkit::lab::ORG))
        .into_iter()
        .filter(|r| r.name.starts_with(&fleet.prefix))
        .collect();
    assert_eq!(mine.len(), RUNNERS);
    assert!(
        mine.iter()
            .all(|r| r.labels.last().map(String::as_str) == Some(last)),
        "every runner has label {last}"
    );
    assert!(
        relabel_calls.iter().all(|c| *c == (1, RUNNERS)),
        "{relabel_calls:?}"
    );

    let (look, init, plan) = (median(look), median(init), median(plan));
    let (relabel, slow_noop) = (median(relabel), median(slow_noop));
    let over = |t: Duration| t.saturating_sub(look);
    println!(
        "ghr converge bench: {RUNNERS} runners, real Docker and compose, fake GitHub; median of {runs} rounds"
    );
    let row = |what: &str, t: Duration, note: String| {
        println!("  {what:<38} {}  {note}", secs(t));
    };
    row(&format!("setup: init -n {RUNNERS}"), setup, String::new());
    row(
        &format!("docker ps -a + docker inspect ({RUNNERS})"),
        look,
        "(Docker's own look at the fleet)".into(),
    );
    let goal = |v: &[(usize, usize)]| v.iter().all(|c| *c == (1, 0));
    for (what, t, c) in [
        ("no-op ghr init", init, &init_calls),
        ("no-op ghr plan", plan, &plan_calls),
    ] {
        row(
            what,
            t,
            format!(
                "+{:.3} s over Docker's look (goal < 1 s: {}); GitHub: {} (goal 1 GET, 0 writes: {})",
                over(t).as_secs_f64(),
                mark(over(t) < Duration::from_secs(1)),
                calls(c),
                mark(goal(c))
            ),
        );
    }
    let ms = LATENCY.as_millis();
    row(
        &format!("label change of {RUNNERS}, {ms} ms per answer"),
        relabel,
        format!(
            "GitHub: {} (1 list + {RUNNERS} label PUTs); one at a time: {:.3} s of latency alone",
            calls(&relabel_calls),
            (LATENCY * (RUNNERS as u32 + 1)).as_secs_f64()
        ),
    );
    row(
        &format!("no-op ghr init, {ms} ms per answer"),
        slow_noop,
        format!("GitHub: {}", calls(&slow_noop_calls)),
    );
}
