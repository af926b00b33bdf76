//! How fast `ghr serve` replaces a one-job (ephemeral) runner, and what it asks GitHub for
//! it, printed as figures: one ephemeral generic runner on the real engine (test image, fake
//! GitHub), `ghr serve` running; each round dispatches one short job and measures the time
//! from the job's end (the fake GitHub's `finished_at`) to the replacement runner (a new
//! registration id) being online, and counts the REST calls made between the two (the fake's
//! request log; the runner's own protocol calls are not GitHub API calls and not counted).
//! Goal: ≤ 5 s on the test image.
//!
//! cargo bench --bench ephemeral

use std::process::Command;
use std::time::{Duration, SystemTime};
use testkit::lab::Lab;
use testkit::{JobSpec, Scope};

const ROUNDS: usize = 8;

fn main() {
    if Command::new("docker")
        .arg("info")
        .output()
        .map(|o| !o.status.success())
        .unwrap_or(true)
    {
        println!("ephemeral replacement: skipped (no Docker)");
        return;
    }
    let lab = Lab::new(env!("CARGO_BIN_EXE_ghr"));
    let fleet = lab
        .fleet("benchep")
        .env("RUNNER_EPHEMERAL=true")
        .env("RUNNER_LABELS=bench-eph")
        .build();
    fleet.ghr(&["init", "-n", "1", "-y"]).ok();
    let name = fleet.name("1");
    let scope = Scope::Org(&fleet.org);
    let gh = &lab.gh;
    let online = |gh: &testkit::FakeGitHub| {
        gh.runner(&scope, &name)
            .is_some_and(|r| r.status == "online" && !r.busy)
    };
    assert!(gh.wait_until(Duration::from_secs(60), online));
    let serve = testkit::serving::ServeProcess::start(&fleet.ghr);
    // Its first look at Docker and GitHub, before the first round.
    std::thread::sleep(Duration::from_secs(2));
    let rest = |gh: &testkit::FakeGitHub| {
        gh.requests()
            .iter()
            .filter(|r| r.path.starts_with("/orgs/") || r.path.starts_with("/repos/"))
            .map(|r| format!("{} {}", r.method, r.path))
            .collect::<Vec<_>>()
    };
    let (mut times, mut calls) = (Vec::new(), Vec::new());
    let mut kinds = std::collections::BTreeMap::<String, usize>::new();
    for round in 0..ROUNDS {
        let before = gh.runner(&scope, &name).unwrap().id;
        let seen = rest(gh).len();
        let id = gh.dispatch_job(&scope, &["bench-eph"], JobSpec::new(&format!("r{round}")));
        let job = gh
            .wait_job(id, Duration::from_secs(60))
            .expect("the job ends");
        let ended = job.finished_at.unwrap();
        assert!(gh.wait_until(Duration::from_secs(60), |gh| online(gh)
            && gh.runner(&scope, &name).unwrap().id != before));
        times.push(SystemTime::now().duration_since(ended).unwrap_or_default());
        let made = rest(gh).split_off(seen);
        calls.push(made.len());
        for call in made {
            let kind = call
                .rsplit('/')
                .next()
                .filter(|k| !k.chars().all(|c| c.is_ascii_digit()))
                .unwrap_or("{id}")
                .to_string();
            *kinds
                .entry(format!("{} {kind}", call.split(' ').next().unwrap()))
                .or_default() += 1;
        }
    }
    drop(serve);
    fleet.ghr(&["rm", "-y"]).ok();
    let mut sorted = times.clone();
    sorted.sort();
    println!(
        "job end -> replacement online ({ROUNDS} rounds): [{}]; median {:.2} s, max {:.2} s (goal ≤ 5 s)",
        times
            .iter()
            .map(|d| format!("{:.2} s", d.as_secs_f64()))
            .collect::<Vec<_>>()
            .join(", "),
        sorted[ROUNDS / 2].as_secs_f64(),
        sorted[ROUNDS - 1].as_secs_f64()
    );
    println!(
        "GitHub REST calls per replacement: [{}] ({})",
        calls
            .iter()
            .map(|c| c.to_string())
            .collect::<Vec<_>>()
            .join(", "),
        kinds
            .iter()
            .map(|(k, n)| format!("{k} ×{n}"))
            .collect::<Vec<_>>()
            .join(", ")
    );
}
