//! What registering at the first start costs (issue 18.4), on this machine's Docker engine
//! and compose, against the fake GitHub, printed as figures, in one run:
//! - `ghr init -n 50` from nothing, beside `docker-compose up -d` of the same 50 containers
//!   (the compose file ghr writes for such a fleet: same image, same volumes; they start,
//!   find no credential and idle) — goal: ratio <= 2.0;
//! - `ghr init -n 1` and `ghr init -n 8` — goal: T(8)/T(1) <= 1.5;
//! - the floors of that ratio: `docker-compose up -d` of the same 1 and 8 containers, and the
//!   engine alone creating and starting 1 and 8 such containers side by side over its API (no
//!   compose, no ghr): what any tool pays per container on this machine.
//!
//! cargo bench --bench first_start   (GHR_BENCH_RUNS=N rounds, default 3 for -n 1/-n 8 and
//! 1 for the 50-runner pair; medians shown)

use std::process::Command;
use std::time::{Duration, Instant};
use testkit::figures::{median, timed};
use testkit::lab::Lab;

const MANY: usize = 50;

fn compose(file: &std::path::Path, project: &str, args: &[&str]) -> Duration {
    let start = Instant::now();
    let out = Command::new("docker-compose")
        .arg("-p")
        .arg(project)
        .arg("-f")
        .arg(file)
        .args(args)
        .output()
        .expect("docker-compose runs");
    assert!(
        out.status.success(),
        "docker-compose {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    start.elapsed()
}

/// The engine alone: `count` containers of `image` with a volume each on /home/runner (as a
/// runner's), created side by side over the API, then started side by side; then removed.
fn engine_alone(image: &str, tag: &str, count: usize) -> Duration {
    use ghr::world::docker::api;
    let socket = api::socket().expect("the bench talks to the local engine's socket");
    let names: Vec<String> = (0..count).map(|i| format!("{tag}-{i}")).collect();
    let call = |method: &str, path: &str, body: Option<&[u8]>| {
        let answer = api::call(
            &socket,
            method,
            path,
            body.map(|b| ("application/json", b)),
            Duration::from_secs(60),
        )
        .expect("the engine answers");
        assert!(answer.status < 300, "{method} {path}: {}", answer.message());
    };
    let each = |f: &(dyn Fn(&String) + Sync)| {
        std::thread::scope(|s| {
            for name in &names {
                s.spawn(move || f(name));
            }
        })
    };
    let start = Instant::now();
    each(&|name| {
        let body = serde_json::json!({
            "Image": image,
            "Entrypoint": ["/bin/bash", "-c", "sleep 600"],
            "HostConfig": {"NetworkMode": "host", "Binds": [format!("{name}-data:/home/runner")]},
        });
        let path = format!("/containers/create?name={name}");
        call("POST", &path, Some(body.to_string().as_bytes()));
    });
    each(&|name| call("POST", &format!("/containers/{name}/start"), None));
    let took = start.elapsed();
    each(&|name| {
        call("DELETE", &format!("/containers/{name}?force=1&v=1"), None);
        call("DELETE", &format!("/volumes/{name}-data"), None);
    });
    took
}

fn main() {
    // `cargo test --benches` runs harness-less benches without --bench; keep that quick.
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    if !testkit::lab::docker_ready("the first_start bench") {
        return;
    }
    let runs: usize = std::env::var("GHR_BENCH_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3)
        .max(1);
    let pairs = std::env::var("GHR_BENCH_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1usize)
        .max(1);
    let lab = Lab::new(env!("CARGO_BIN_EXE_ghr"));
    // Warm up: the engine's caches, compose's first start.
    {
        let warm = lab.fleet("warm").build();
        timed(&warm, &["init", "-n", "1"]);
        timed(&warm, &["rm", "-y"]);
    }
    let n = MANY.to_string();
    let (mut up, mut init) = (Vec::new(), Vec::new());
    for round in 0..pairs {
        // docker-compose up -d of the compose file ghr writes for 50 runners.
        let base = lab.fleet(&format!("up{round}")).build();
        base.ghr(&["compose", "-n", &n]).ok();
        let file = base.path(&format!("docker-compose.{}.yml", testkit::lab::ORG));
        let project = format!("{}base", base.prefix.replace('-', ""));
        up.push(compose(&file, &project, &["up", "-d"]));
        compose(&file, &project, &["down", "-v", "-t", "1"]);
        drop(base);
        let fleet = lab.fleet(&format!("init{round}")).build();
        init.push(timed(&fleet, &["init", "-n", &n]));
        let running = fleet
            .containers()
            .iter()
            .filter(|(_, s)| s == "running")
            .count();
        assert_eq!(running, MANY);
        timed(&fleet, &["rm", "-y"]);
    }
    let (mut t1, mut t8, mut up1, mut up8) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let (mut raw1, mut raw8) = (Vec::new(), Vec::new());
    for round in 0..runs {
        // The floor: compose alone, for the same 1 and 8 containers.
        for (count, into) in [("1", &mut up1), ("8", &mut up8)] {
            let base = lab.fleet(&format!("up{count}-{round}")).build();
            base.ghr(&["compose", "-n", count]).ok();
            let file = base.path(&format!("docker-compose.{}.yml", testkit::lab::ORG));
            let project = format!("{}base", base.prefix.replace('-', ""));
            into.push(compose(&file, &project, &["up", "-d"]));
            compose(&file, &project, &["down", "-v", "-t", "1"]);
        }
        let image = testkit::lab::test_image();
        raw1.push(engine_alone(&image, &format!("ghr-bench-raw1-{round}"), 1));
        raw8.push(engine_alone(&image, &format!("ghr-bench-raw8-{round}"), 8));
        let one = lab.fleet(&format!("one{round}")).build();
        t1.push(timed(&one, &["init", "-n", "1"]));
        timed(&one, &["rm", "-y"]);
        let eight = lab.fleet(&format!("eight{round}")).build();
        t8.push(timed(&eight, &["init", "-n", "8"]));
        timed(&eight, &["rm", "-y"]);
    }
    let (up, init, t1, t8) = (median(up), median(init), median(t1), median(t8));
    let (up1, up8) = (median(up1), median(up8));
    let (raw1, raw8) = (median(raw1), median(raw8));
    let ratio = init.as_secs_f64() / up.as_secs_f64();
    let scale = t8.as_secs_f64() / t1.as_secs_f64();
    let mark = |ok: bool| if ok { "met" } else { "NOT met" };
    println!("ghr first-start bench (fake GitHub, real Docker and compose; medians)");
    println!(
        "  docker-compose up -d ({MANY})  : {:>7.2} s   ({pairs} round(s))",
        up.as_secs_f64()
    );
    println!(
        "  ghr init -n {MANY} from nothing : {:>7.2} s",
        init.as_secs_f64()
    );
    println!(
        "  ratio                       : {ratio:>7.2}   (goal <= 2.0: {})",
        mark(ratio <= 2.0)
    );
    println!(
        "  init -n 1                   : {:>7.2} s   ({runs} rounds)",
        t1.as_secs_f64()
    );
    println!(
        "  init -n 8                   : {:>7.2} s",
        t8.as_secs_f64()
    );
    println!(
        "  T(8)/T(1)                   : {scale:>7.2}   (goal <= 1.5: {})",
        mark(scale <= 1.5)
    );
    println!(
        "  docker-compose up -d (1, 8) : {:>7.2} s, {:.2} s   (their ratio {:.2}: the floor of the above)",
        up1.as_secs_f64(),
        up8.as_secs_f64(),
        up8.as_secs_f64() / up1.as_secs_f64()
    );
    println!(
        "  engine alone (1, 8)         : {:>7.2} s, {:.2} s   (their ratio {:.2}: create and start over the API, no compose)",
        raw1.as_secs_f64(),
        raw8.as_secs_f64(),
        raw8.as_secs_f64() / raw1.as_secs_f64()
    );
    let per_runner =
        |t1: Duration, t8: Duration| (t8.as_secs_f64() - t1.as_secs_f64()) / 7.0 * 1000.0;
    println!(
        "  each runner beyond the first: ghr {:.0} ms, docker-compose up -d {:.0} ms, engine alone {:.0} ms",
        per_runner(t1, t8),
        per_runner(up1, up8),
        per_runner(raw1, raw8)
    );
}
