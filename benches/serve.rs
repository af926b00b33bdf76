//! What `ghr serve` costs, printed as figures, on a lab built synthetically: the fake GitHub
//! with 50 runners of the fleet, a lock directory with 10 resources (3 held, waiters on 2)
//! and a ledger of 1000 grants; the real binary on 127.0.0.1.
//! - `/api/v1/fleets` and `/metrics`: p50/p99 of 300 sequential requests (goal: /metrics ≤ 50 ms);
//! - idle: CPU (serve and its `docker events` child) and RSS over a minute (goal: < 1 %, < 30 MB);
//! - GitHub calls per minute with 1 and with 100 viewers (each viewer: a live connection and
//!   the page's fragment every 2 s) at the default SERVE_GITHUB_REFRESH of 30 s.
//!
//! cargo bench --bench serve        (GHR_BENCH_SECS=N: the measuring windows, default 60)

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use testkit::figures::pct;
use testkit::lab::{Ghr, Lab, PAT};
use testkit::Scope;

const RUNNERS: usize = 50;
const RESOURCES: usize = 10;
const GRANTS: usize = 1000;

fn get(port: u16, path: &str) -> (Duration, usize) {
    let start = Instant::now();
    let mut s = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    write!(s, "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n").unwrap();
    let mut body = Vec::new();
    s.read_to_end(&mut body).unwrap();
    assert!(
        body.starts_with(b"HTTP/1.1 200"),
        "{path}: {}",
        String::from_utf8_lossy(&body[..body.len().min(200)])
    );
    (start.elapsed(), body.len())
}

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1000.0)
}

/// utime + stime of `pid` in clock ticks.
fn cpu_ticks(pid: u32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let after = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let f: Vec<&str> = after.split_whitespace().collect();
    let n = |i: usize| f.get(i).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
    n(11) + n(12)
}

fn children(pid: u32) -> Vec<u32> {
    let mut out = Vec::new();
    if let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) {
        for t in tasks.flatten() {
            let list = std::fs::read_to_string(t.path().join("children")).unwrap_or_default();
            out.extend(
                list.split_whitespace()
                    .filter_map(|p| p.parse::<u32>().ok()),
            );
        }
    }
    out
}

fn status_kb(pid: u32, key: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find(|l| l.starts_with(key))
        .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        .unwrap_or(0)
}

fn runner_lists(lab: &Lab) -> usize {
    lab.gh.count("GET", "/actions/runners")
}

/// `viewers` clients, each with a live connection and a fragment fetch every 2 s, for `secs`;
/// the GitHub runner lists meanwhile.
fn viewers(lab: &Lab, port: u16, n: usize, secs: u64) -> usize {
    let stop = Arc::new(AtomicBool::new(false));
    lab.gh.clear_requests();
    let handles: Vec<_> = (0..n)
        .map(|i| {
            let stop = stop.clone();
            std::thread::spawn(move || {
                let mut live = TcpStream::connect(("127.0.0.1", port)).unwrap();
                write!(live, "GET /events HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
                std::thread::sleep(Duration::from_millis((i as u64 * 20) % 2000));
                while !stop.load(Ordering::SeqCst) {
                    get(port, "/fragment");
                    std::thread::sleep(Duration::from_secs(2));
                }
            })
        })
        .collect();
    std::thread::sleep(Duration::from_secs(secs));
    stop.store(true, Ordering::SeqCst);
    for h in handles {
        let _ = h.join();
    }
    runner_lists(lab)
}

fn main() {
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    let secs: u64 = std::env::var("GHR_BENCH_SECS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(60);
    let lab = Lab::new(env!("CARGO_BIN_EXE_ghr"));
    lab.gh
        .seed_runners(&Scope::Org("acme"), "bench-runner", RUNNERS);
    let locks = lab.scratch().join("locks");
    for i in 0..RESOURCES {
        runner_wrapper::lockdir::ensure_resource(
            &locks,
            &format!("board-{i}"),
            runner_wrapper::contract::DEFAULT_LOCK_GROUP,
        )
        .unwrap();
    }
    let now = runner_wrapper::contract::now_epoch_ms();
    for g in 0..GRANTS as u64 {
        let e = runner_wrapper::ledger::Entry {
            kind: runner_wrapper::record::HolderKind::Job,
            resource: format!("board-{}", g % RESOURCES as u64),
            org: if g % 2 == 0 { "acme" } else { "beta" }.into(),
            runner: "bench-runner-1".into(),
            run_id: g.to_string(),
            job: "flash".into(),
            requested_ms: now - 3_600_000 + g * 3000,
            granted_ms: now - 3_600_000 + g * 3000 + (g % 37) * 100,
            released_ms: now - 3_600_000 + g * 3000 + 2500,
            cause: "completed hook".into(),
            ..Default::default()
        };
        runner_wrapper::ledger::append(&locks, &e).unwrap();
    }
    // Three held by keepers (real flocks), as holds would be.
    let dir = Ghr::new(env!("CARGO_BIN_EXE_ghr"), "bench-serve").env_file(&format!(
        "ORG=acme\nGH_PAT={PAT}\nRUNNER_NAME_PREFIX=bench-\nGITHUB_API_URL={api}\nGITHUB_SERVER_URL={api}\nRUNNER_LOCK_HOST_PATH={locks}\n",
        api = lab.gh.url(),
        locks = locks.display()
    ));
    for i in 0..3 {
        dir.run(&["hold", &format!("board-{i}"), "--reason", "bench"])
            .ok();
    }
    let serve = testkit::serving::ServeProcess::start(&dir);
    let (port, pid) = (serve.port, serve.pid());
    let ready = (0..200).any(|_| {
        std::thread::sleep(Duration::from_millis(100));
        TcpStream::connect(("127.0.0.1", port)).is_ok() && {
            let (_, n) = get(port, "/api/v1/fleets");
            n > 50 * 200
        }
    });
    assert!(ready, "serve shows the 50 runners");

    println!("ghr serve, {RUNNERS} runners, {RESOURCES} resources, {GRANTS} grants in the ledger:");
    for path in ["/api/v1/fleets", "/metrics", "/", "/api/v1/history"] {
        let mut t: Vec<Duration> = Vec::new();
        let mut size = 0;
        for _ in 0..300 {
            let (d, n) = get(port, path);
            t.push(d);
            size = n;
        }
        t.sort();
        let goal = if path == "/metrics" {
            format!(
                " (goal ≤ 50 ms: {})",
                if pct(&t, 0.99) <= Duration::from_millis(50) {
                    "met"
                } else {
                    "MISSED"
                }
            )
        } else {
            String::new()
        };
        println!(
            "  {path:<16} p50 {:>9}  p99 {:>9}  ({size} bytes){goal}",
            ms(pct(&t, 0.50)),
            ms(pct(&t, 0.99))
        );
    }

    // Idle: nobody asks; only the refreshers run.
    std::thread::sleep(Duration::from_secs(2));
    let kids = children(pid);
    let ticks = |ps: &[u32]| ps.iter().map(|p| cpu_ticks(*p)).sum::<u64>();
    let (own0, kids0) = (cpu_ticks(pid), ticks(&kids));
    let start = Instant::now();
    std::thread::sleep(Duration::from_secs(secs));
    let wall = start.elapsed().as_secs_f64();
    let hz = 100.0;
    let own = (cpu_ticks(pid) - own0) as f64 / hz / wall * 100.0;
    let kid = (ticks(&kids) - kids0) as f64 / hz / wall * 100.0;
    let rss = status_kb(pid, "VmRSS:") as f64 / 1024.0;
    let hwm = status_kb(pid, "VmHWM:") as f64 / 1024.0;
    println!(
        "  idle over {secs} s: CPU {own:.2} % (docker events child {kid:.2} %), RSS {rss:.1} MB (peak {hwm:.1} MB) (goal < 1 %, < 30 MB: {})",
        if own + kid < 1.0 && hwm < 30.0 { "met" } else { "MISSED" }
    );

    let per_min = |n: usize| n as f64 * 60.0 / secs as f64;
    let one = viewers(&lab, port, 1, secs);
    let hundred = viewers(&lab, port, 100, secs);
    println!(
        "  GitHub runner lists per minute (SERVE_GITHUB_REFRESH=30s): 1 viewer {:.1}, 100 viewers {:.1} ({})",
        per_min(one),
        per_min(hundred),
        if hundred <= one + 1 { "no more with 100" } else { "MORE with 100" }
    );
    drop(serve);
    for i in 0..3 {
        dir.run(&["release", &format!("board-{i}")]);
    }
}
