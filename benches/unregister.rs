//! Time to unregister 250 runners against the fake GitHub with 20 ms added to every answer,
//! compared with doing the 250 deletes one after another (250 x 20 ms = 5 s).
//!
//! Run: `cargo bench --bench unregister`

use std::time::{Duration, Instant};

use ghr::github::{GitHub, Options, Scope, Unregistered, DEFAULT_CONCURRENCY};
use testkit::FakeGitHub;

const N: usize = 250;
const LATENCY: Duration = Duration::from_millis(20);
const PAT: &str = "fakepat_BENCHPAT0123456789abcdefBENCHPAT";

fn run(concurrency: usize) -> Duration {
    let gh = FakeGitHub::start();
    gh.add_org("acme");
    gh.add_pat(PAT, &["admin:org"]);
    let scope = testkit::Scope::Org("acme");
    gh.seed_runners(&scope, "bench-runner", N);
    let names: Vec<String> = gh.runners(&scope).into_iter().map(|r| r.name).collect();
    gh.set_latency(LATENCY);
    let api = GitHub::with_options(&gh.url(), Scope::org("acme"), PAT, Options::default())
        .expect("client");

    let start = Instant::now();
    let out = api
        .unregister_many(&names, concurrency)
        .expect("unregister");
    let took = start.elapsed();

    assert!(out.iter().all(|o| o.result == Ok(Unregistered::Removed)));
    assert_eq!(gh.requests().len(), N.div_ceil(100) + N, "API calls");
    took
}

fn main() {
    // `cargo test --benches` runs bench targets with --bench absent; keep that quick.
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    let serial = LATENCY * N as u32;
    println!(
        "unregister {N} runners, {} ms latency per request (serial bound {} ms):",
        LATENCY.as_millis(),
        serial.as_millis()
    );
    for concurrency in [1, 4, DEFAULT_CONCURRENCY, 32] {
        let took = run(concurrency);
        println!(
            "  concurrency {concurrency:>2}: {:>6.0} ms  ratio to {N} x {} ms = {:.3}",
            took.as_secs_f64() * 1000.0,
            LATENCY.as_millis(),
            took.as_secs_f64() / serial.as_secs_f64()
        );
    }
}
