//! Time to unregister 250 runners through `Remote::unregister` (the one deletion path: `rm`,
//! `purge` and `init`'s surplus use it) against the fake GitHub with 20 ms added to every
//! answer, compared with the 250 deletes one after another (250 x 20 ms = 5 s).
//!
//! Run: `cargo bench --bench unregister`

use std::collections::HashMap;
use std::time::{Duration, Instant};

use ghr::config::settings::{Settings, Sources};
use ghr::world::remote::{Deleted, Remote};
use testkit::FakeGitHub;

const N: usize = 250;
const LATENCY: Duration = Duration::from_millis(20);
const PAT: &str = "fakepat_BENCHPAT0123456789abcdefBENCHPAT";

fn main() {
    // `cargo test --benches` runs bench targets with --bench absent; keep that quick.
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    let gh = FakeGitHub::start();
    gh.add_org("acme");
    gh.add_pat(PAT, &["admin:org"]);
    let scope = testkit::Scope::Org("acme");
    gh.seed_runners(&scope, "bench-runner", N);
    gh.set_latency(LATENCY);
    let file: HashMap<String, String> = [
        ("ORG", "acme"),
        ("GH_PAT", PAT),
        ("GITHUB_API_URL", gh.url().as_str()),
        ("RUNNER_NAME_PREFIX", "bench"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    let settings = Settings::resolve(&Sources::from_maps(HashMap::new(), file)).expect("settings");
    let remote = Remote::connect(&settings).expect("client");

    let start = Instant::now();
    let runners: Vec<(String, u64)> = remote
        .list()
        .expect("list")
        .into_iter()
        .map(|r| (r.name, r.id))
        .collect();
    let out = remote.unregister(&runners);
    let took = start.elapsed();

    assert!(out.iter().all(|o| o == &Ok(Deleted::Removed)), "{out:?}");
    assert_eq!(gh.requests().len(), N.div_ceil(100) + N, "API calls");
    let serial = LATENCY * (N + N.div_ceil(100)) as u32;
    println!(
        "unregister {N} runners through Remote::unregister, {} ms latency per request:",
        LATENCY.as_millis()
    );
    println!(
        "  {:>6.0} ms for {} requests ({} lists + {N} deletes, {} at a time); one by one: {} ms; ratio {:.3}",
        took.as_secs_f64() * 1000.0,
        gh.requests().len(),
        N.div_ceil(100),
        ghr::world::github::WRITE_CONCURRENCY,
        serial.as_millis(),
        took.as_secs_f64() / serial.as_secs_f64()
    );
}
