//! Wall time of `ghr init -n 1`, `ghr init -n 8` and `ghr rm -y` of 8 runners on this
//! machine's Docker engine against the fake GitHub; prints the figures and T(8)/T(1).
//!
//! cargo bench --bench lifecycle            (GHR_BENCH_RUNS=N for more rounds; median shown)

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use testkit::FakeGitHub;

const ORG: &str = "acme";
const PAT: &str = "ghp_bench_pat";

struct Fleet {
    dir: PathBuf,
    prefix: String,
}

impl Fleet {
    fn new(gh: &FakeGitHub, tag: &str) -> Fleet {
        let prefix = format!("b{}-{tag}-", std::process::id());
        let dir = std::env::temp_dir().join(format!("ghr-bench-{}", prefix.trim_end_matches('-')));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let env = format!(
            "ORG={ORG}\nGH_PAT={PAT}\nRUNNER_NAME_PREFIX={prefix}\nRUNNER_IMAGE={image}\n\
             GITHUB_API_URL={api}\nGITHUB_SERVER_URL={api}\nMAP_LOOP_DEVICES=false\nMAP_KVM_DEVICE=false\n\
             MAP_USB_DEVICE=false\nMOUNT_UDEV_RULES_DIR=false\nPRIVILEGED=false\n",
            image = test_image(),
            api = gh.url(),
        );
        std::fs::write(dir.join(".env"), env).unwrap();
        Fleet { dir, prefix }
    }

    fn timed(&self, args: &[&str]) -> Duration {
        let start = Instant::now();
        let out = Command::new(env!("CARGO_BIN_EXE_ghr"))
            .args(args)
            .current_dir(&self.dir)
            .stdin(Stdio::null())
            .output()
            .expect("ghr runs");
        let took = start.elapsed();
        assert!(
            out.status.success(),
            "ghr {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        took
    }
}

impl Drop for Fleet {
    fn drop(&mut self) {
        let filter = format!("label=ghr.prefix={}", self.prefix);
        for (list, remove) in [
            (
                vec!["ps", "-aq", "--filter", &filter],
                vec!["rm", "-f", "-v"],
            ),
            (
                vec!["volume", "ls", "-q", "--filter", &filter],
                vec!["volume", "rm", "-f"],
            ),
        ] {
            let out = Command::new("docker")
                .args(&list)
                .output()
                .expect("docker runs");
            let ids = String::from_utf8_lossy(&out.stdout).into_owned();
            let ids: Vec<&str> = ids.split_whitespace().collect();
            if !ids.is_empty() {
                let _ = Command::new("docker").args(&remove).args(&ids).output();
            }
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return; // `cargo test --benches` asks harness-less benches to list tests
    }
    let docker = Command::new("docker")
        .arg("version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
    if !docker.is_ok_and(|s| s.success()) {
        eprintln!("skipped: the lifecycle bench needs a Docker engine");
        return;
    }
    let runs: usize = std::env::var("GHR_BENCH_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3);
    let gh = FakeGitHub::start();
    gh.add_org(ORG);
    gh.add_pat(PAT, &["admin:org"]);
    // Warm up: the engine's caches, compose's first start.
    {
        let warm = Fleet::new(&gh, "warm");
        warm.timed(&["init", "-n", "1"]);
        warm.timed(&["rm", "-y"]);
    }
    let (mut t1, mut t8, mut rm8) = (Vec::new(), Vec::new(), Vec::new());
    for round in 0..runs {
        let one = Fleet::new(&gh, &format!("one{round}"));
        t1.push(one.timed(&["init", "-n", "1"]));
        one.timed(&["rm", "-y"]);
        let eight = Fleet::new(&gh, &format!("eight{round}"));
        t8.push(eight.timed(&["init", "-n", "8"]));
        rm8.push(eight.timed(&["rm", "-y"]));
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

/// The FROM-scratch test image, built once per run and reused.
fn test_image() -> String {
    testkit::docker::test_image()
        .unwrap_or_else(|e| panic!("the test image cannot be built: {e:#}"))
}
