//! Queue at GitHub vs today's FIFO on the runner: two orgs' fleets share one board (real
//! containers, real flock locks, the fake GitHub routing jobs). Three loads: 10 jobs of 2 s per
//! org all at once; the same with B's queued once A holds the board; a burst (A: one 10 s job,
//! B: three 2 s jobs while it runs). Prints, for each load and mode: the time jobs spent "in progress" while waiting for the
//! board (from JobStarted to the first step: the started hook's wait), the makespan (first
//! dispatch to last finish), the order in which the orgs got the board, and how many jobs
//! did not succeed.
//!
//! A third mode runs the same loads on one-job (JIT) runners with queue at GitHub: a new runner
//! per job, started by testkit's mini supervisor on the host (ghr serve's ephemeral runners are
//! not on main yet), ghr's binary as runner-wrapper around the fake runner.
//!
//! cargo bench --bench queue   (GHR_BENCH_JOBS=N jobs per org, GHR_BENCH_JOB_SECS=S,
//!                              GHR_BENCH_LOADS=1,3 for some loads only)

use std::time::{Duration, Instant, SystemTime};
use testkit::lab::Lab;
use testkit::one_job::{Spec, Supervisor};
use testkit::{FakeGitHub, JobSpec, Scope};

struct Figures {
    waiting_total: Duration,
    waiting_max: Duration,
    /// Jobs that were "in progress" more than 0.5 s before their first step.
    waited_long: usize,
    makespan: Duration,
    order: String,
    switches: usize,
    not_succeeded: usize,
}

/// What each org gets: `a` and `b` are (jobs, seconds each); with `staggered`, org B's jobs are
/// dispatched only once org A's first job holds the board (B's runner idle, the board busy),
/// else all at once, alternating.
struct Load {
    a: (u64, f64),
    b: (u64, f64),
    staggered: bool,
}

fn run(lab: &Lab, tag: &str, extra: &[&str], load: &Load) -> Figures {
    let label = format!("board-{tag}");
    let board = [
        format!("BOARD_RUNNERS=pi:{label}"),
        format!("RUNNER_RESOURCE_ID=bench-{tag}"),
    ];
    let env: Vec<&str> = board
        .iter()
        .map(String::as_str)
        .chain(extra.iter().copied())
        .collect();
    let (a, b) = lab.board_pair(tag, &env);
    drive(&lab.gh, &label, [&a.org, &b.org], load)
}

/// The third mode: one-job (JIT) runners with queue at GitHub, each org's generations started
/// by testkit's mini supervisor (host processes: ghr's binary as runner-wrapper around the fake
/// runner, real flock locks), standing in for `ghr serve`'s ephemeral runners, which are not
/// on main yet.
fn run_one_job(lab: &Lab, tag: &str, load: &Load) -> Figures {
    let label = format!("board-{tag}");
    let fake_runner = testkit::docker::static_binary("fake-runner").expect("static fake runner");
    let work = lab.scratch().join(tag);
    let wrapper = testkit::one_job::wrapper_copy(
        std::path::Path::new(env!("CARGO_BIN_EXE_ghr")),
        &work.join("bin"),
    )
    .expect("copy ghr as runner-wrapper");
    let orgs = [format!("{tag}-org-a"), format!("{tag}-org-b")];
    let sups: Vec<Supervisor> = orgs
        .iter()
        .map(|org| {
            lab.gh.add_org(org);
            let dir = work.join(org);
            std::fs::create_dir_all(&dir).expect("work dir");
            Supervisor::start(Spec {
                github: lab.gh.url(),
                pat: testkit::lab::PAT.into(),
                org: org.clone(),
                label: label.clone(),
                wrapper: wrapper.clone(),
                fake_runner: fake_runner.clone(),
                lock_dir: work.join("locks"),
                resource: format!("bench-{tag}"),
                work: dir,
                env: vec![("RUNNER_QUEUE_AT_GITHUB".into(), "true".into())],
            })
        })
        .collect();
    let online = lab.gh.wait_until(Duration::from_secs(60), |gh| {
        orgs.iter().all(|o| {
            gh.runner(&Scope::Org(o), &format!("{o}-pi-1"))
                .is_some_and(|r| r.status == "online")
        })
    });
    assert!(online, "first generations online");
    let f = drive(&lab.gh, &label, [&orgs[0], &orgs[1]], load);
    for s in sups {
        s.stop();
    }
    f
}

/// Dispatches the load to orgs `[a, b]` (runners online) and measures it.
fn drive(gh: &FakeGitHub, label: &str, orgs: [&String; 2], load: &Load) -> Figures {
    let Load {
        a: (a_jobs, a_secs),
        b: (b_jobs, b_secs),
        staggered,
    } = *load;
    // As in a lab, where runners were up long before the jobs came (a runner that has just
    // started is not parked for park::SETTLE).
    std::thread::sleep(Duration::from_secs(3));
    let start = SystemTime::now();
    let t0 = Instant::now();
    let mut ids = Vec::new();
    let dispatch = |org: &'static str, f: &String, i: u64| {
        let secs = if org == "A" { a_secs } else { b_secs };
        let spec = JobSpec {
            name: format!("job-{i}"),
            duration: Duration::from_secs_f64(secs),
            run_id: 900 + i,
            ..JobSpec::default()
        };
        (org, gh.dispatch_job(&Scope::Org(f), &[label], spec))
    };
    if staggered {
        for i in 0..a_jobs {
            ids.push(dispatch("A", orgs[0], i));
        }
        let first = ids[0].1;
        gh.wait_until(Duration::from_secs(30), |gh| {
            gh.job(first).is_some_and(|j| j.steps_started_at.is_some())
        });
        std::thread::sleep(Duration::from_secs(2));
        for i in 0..b_jobs {
            ids.push(dispatch("B", orgs[1], i));
        }
    } else {
        for i in 0..a_jobs.max(b_jobs) {
            if i < a_jobs {
                ids.push(dispatch("A", orgs[0], i));
            }
            if i < b_jobs {
                ids.push(dispatch("B", orgs[1], i));
            }
        }
    }
    let mut grants = Vec::new();
    let mut waiting_total = Duration::ZERO;
    let mut waiting_max = Duration::ZERO;
    let mut waited_long = 0;
    let mut last_finish = start;
    let mut not_succeeded = 0;
    let timeout =
        Duration::from_secs_f64(60.0 + 4.0 * (a_secs * a_jobs as f64 + b_secs * b_jobs as f64));
    for (org, id) in ids {
        let rec = gh
            .wait_job(id, timeout.saturating_sub(t0.elapsed()))
            .unwrap_or_else(|| panic!("job {id} did not finish"));
        if rec.result.as_deref() != Some("Succeeded") {
            not_succeeded += 1;
            continue;
        }
        let (Some(started), Some(steps)) = (rec.started_at, rec.steps_started_at) else {
            continue;
        };
        let waited = steps.duration_since(started).unwrap_or_default();
        waiting_total += waited;
        waiting_max = waiting_max.max(waited);
        waited_long += usize::from(waited > Duration::from_millis(500));
        grants.push((steps, org));
        last_finish = last_finish.max(rec.finished_at.unwrap_or(start));
    }
    grants.sort();
    let order: String = grants.iter().map(|(_, o)| *o).collect();
    let switches = order.as_bytes().windows(2).filter(|w| w[0] != w[1]).count();
    Figures {
        waiting_total,
        waiting_max,
        waited_long,
        makespan: last_finish.duration_since(start).unwrap_or_default(),
        order,
        switches,
        not_succeeded,
    }
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return; // `cargo test --benches` asks harness-less benches to list tests
    }
    if !testkit::lab::docker_ready("the queue bench") {
        return;
    }
    let jobs: u64 = std::env::var("GHR_BENCH_JOBS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10);
    let secs: f64 = std::env::var("GHR_BENCH_JOB_SECS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2.0);
    let lab = Lab::new(env!("CARGO_BIN_EXE_ghr"));
    let loads = [
        (
            format!("{jobs} jobs of {secs} s per org, all queued at once"),
            Load {
                a: (jobs, secs),
                b: (jobs, secs),
                staggered: false,
            },
        ),
        (
            format!(
                "{jobs} jobs of {secs} s per org, B's queued once A's first job holds the board"
            ),
            Load {
                a: (jobs, secs),
                b: (jobs, secs),
                staggered: true,
            },
        ),
        (
            "a burst: A 1 job of 10 s, then B 3 jobs of 2 s while it runs".to_string(),
            Load {
                a: (1, 10.0),
                b: (3, 2.0),
                staggered: true,
            },
        ),
    ];
    // GHR_BENCH_LOADS=1,3: only those loads.
    let only: Option<Vec<usize>> = std::env::var("GHR_BENCH_LOADS")
        .ok()
        .map(|v| v.split(',').filter_map(|n| n.trim().parse().ok()).collect());
    for (i, (title, load)) in loads.iter().enumerate() {
        if only.as_ref().is_some_and(|o| !o.contains(&(i + 1))) {
            continue;
        }
        let today = run(&lab, &format!("fifo{i}"), &[], load);
        let queued = run(
            &lab,
            &format!("qgh{i}"),
            &["RUNNER_QUEUE_AT_GITHUB=true"],
            load,
        );
        let one_job = run_one_job(&lab, &format!("once{i}"), load);
        println!("queue bench: two orgs, one board, {title}");
        for (name, f) in [
            ("today (FIFO on the runner)", &today),
            ("queue at GitHub", &queued),
            (
                "one-job runners + queue at GitHub (mini supervisor, host processes)",
                &one_job,
            ),
        ] {
            println!("  {name}:");
            println!(
                "    in progress while waiting: total {:>7.1} s, max {:>5.1} s per job, {} job(s) > 0.5 s",
                f.waiting_total.as_secs_f64(),
                f.waiting_max.as_secs_f64(),
                f.waited_long
            );
            println!(
                "    makespan                 : {:>7.1} s",
                f.makespan.as_secs_f64()
            );
            println!(
                "    grants (org order)       : {} ({} switches)",
                f.order, f.switches
            );
            println!("    not succeeded            : {}", f.not_succeeded);
        }
        println!(
            "  makespan queue/today: {:.2}, one-job/today: {:.2} (goal <= 1.15)",
            queued.makespan.as_secs_f64() / today.makespan.as_secs_f64(),
            one_job.makespan.as_secs_f64() / today.makespan.as_secs_f64()
        );
    }
}
