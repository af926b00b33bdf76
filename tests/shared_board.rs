//! Two orgs, one board, end to end: two compose projects (one `.env` per org) whose board
//! runners share a resource id and a host lock directory, on the real engine, with the fake
//! GitHub dispatching jobs to both orgs. runner-wrapper is the static build, bind-mounted by
//! ghr (`RUNNER_WRAPPER_BIN`) into the FROM-scratch runner image.

mod support;

use std::process::Command;
use std::time::{Duration, Instant, SystemTime};
use support::{stderr, Ghr, TempDir};
use testkit::{FakeGitHub, JobSpec, Scope};

const PAT: &str = "ghp_sharedBoardTestPat";

fn docker_ready(test: &str) -> bool {
    if let Some(reason) = testkit::docker::skip_reason() {
        eprintln!("skipped: {test}: {reason}");
        return false;
    }
    assert!(
        testkit::docker::docker_available(),
        "{test} needs a reachable Docker engine; set GHR_SKIP_DOCKER_TESTS=1 to skip the Docker tests"
    );
    true
}

/// One org's fleet: its own directory, `.env` and prefix; removed on drop, also on failure.
struct OrgFleet {
    ghr: Ghr,
    org: String,
    prefix: String,
}

impl OrgFleet {
    fn new(
        gh: &FakeGitHub,
        tag: &str,
        org: &str,
        board_label: &str,
        resource: &str,
        lock_dir: &TempDir,
    ) -> Self {
        gh.add_org(org);
        let prefix = format!("sb{}-{tag}-", std::process::id());
        let image = testkit::docker::test_image().expect("the test image builds");
        let wrapper = testkit::docker::static_binary("runner-wrapper")
            .expect("runner-wrapper builds statically");
        let env = format!(
            "ORG={org}\nGH_PAT={PAT}\nRUNNER_NAME_PREFIX={prefix}\nRUNNER_IMAGE={image}\n\
             GITHUB_API_URL={url}\nGITHUB_SERVER_URL={url}\n\
             BOARD_RUNNERS=pi:{board_label}\nRUNNER_RESOURCE_ID={resource}\n\
             RUNNER_LOCK_HOST_PATH={locks}\nRUNNER_WRAPPER_BIN={wrapper}\n\
             MAP_LOOP_DEVICES=false\nMAP_KVM_DEVICE=false\nMAP_USB_DEVICE=false\n\
             MOUNT_UDEV_RULES_DIR=false\nPRIVILEGED=false\n",
            url = gh.url(),
            locks = lock_dir.path().display(),
            wrapper = wrapper.display(),
        );
        let ghr = Ghr::new(tag).env_file(&env);
        Self {
            ghr,
            org: org.to_string(),
            prefix,
        }
    }

    fn board_runner(&self) -> String {
        format!("{}runner-pi", self.prefix)
    }

    fn init(&self) {
        let out = self.ghr.run(&["init", "-n", "0"]);
        assert!(
            out.status.success(),
            "ghr init for {}: {}",
            self.org,
            stderr(&out)
        );
    }
}

impl Drop for OrgFleet {
    fn drop(&mut self) {
        let _ = self.ghr.run(&["rm", "-y"]);
        // Whatever rm could not remove (it failed, or the test died before init finished).
        let filter = format!("label=ghr.prefix={}", self.prefix);
        for what in [["ps", "-aq"], ["volume", "ls -q"]] {
            let args: Vec<&str> = what.iter().flat_map(|w| w.split(' ')).collect();
            let out = Command::new("docker")
                .args(&args)
                .args(["--filter", &filter])
                .output();
            let ids: Vec<String> = out
                .map(|o| {
                    String::from_utf8_lossy(&o.stdout)
                        .lines()
                        .map(String::from)
                        .collect()
                })
                .unwrap_or_default();
            if !ids.is_empty() {
                let rm: &[&str] = if what[0] == "ps" {
                    &["rm", "-f", "-v"]
                } else {
                    &["volume", "rm", "-f"]
                };
                let _ = Command::new("docker").args(rm).args(&ids).output();
            }
        }
    }
}

fn logs(fleet: &OrgFleet) -> String {
    let out = Command::new("docker")
        .args(["logs", "--tail", "60", &fleet.board_runner()])
        .output()
        .unwrap();
    format!(
        "--- {}:\n{}{}",
        fleet.board_runner(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// `ghr locks --json` on the host, read from the shared lock directory.
fn locks_json(fleet: &OrgFleet, lock_dir: &TempDir) -> serde_json::Value {
    let out = fleet
        .ghr
        .command(&["locks", "--json"])
        .env("RUNNER_LOCK_HOST_PATH", lock_dir.path())
        .output()
        .unwrap();
    assert!(out.status.success(), "ghr locks: {}", stderr(&out));
    serde_json::from_slice(&out.stdout).unwrap()
}

fn both_online(gh: &FakeGitHub, fleets: &[&OrgFleet]) -> bool {
    gh.wait_until(Duration::from_secs(60), |gh| {
        fleets.iter().all(|f| {
            gh.runner(&Scope::Org(&f.org), &f.board_runner())
                .is_some_and(|r| r.status == "online")
        })
    })
}

fn setup(tag: &str) -> (FakeGitHub, TempDir, OrgFleet, OrgFleet, String) {
    let gh = FakeGitHub::start();
    gh.add_pat(PAT, &["admin:org"]);
    let lock_dir = TempDir::new(&format!("locks-{tag}"));
    let label = format!("board-{tag}-{}", std::process::id());
    let resource = format!("shared-{tag}-{}", std::process::id());
    let a = OrgFleet::new(
        &gh,
        &format!("{tag}a"),
        &format!("{tag}-org-a"),
        &label,
        &resource,
        &lock_dir,
    );
    let b = OrgFleet::new(
        &gh,
        &format!("{tag}b"),
        &format!("{tag}-org-b"),
        &label,
        &resource,
        &lock_dir,
    );
    a.init();
    b.init();
    assert!(
        both_online(&gh, &[&a, &b]),
        "both board runners come online"
    );
    (gh, lock_dir, a, b, label)
}

#[test]
fn jobs_of_two_orgs_take_turns_on_the_shared_board() {
    if !docker_ready("jobs_of_two_orgs_take_turns_on_the_shared_board") {
        return;
    }
    let (gh, lock_dir, a, b, label) = setup("turns");
    let mut jobs = Vec::new();
    for i in 0..4u64 {
        for fleet in [&a, &b] {
            let spec = JobSpec {
                name: format!("flash-{i}"),
                duration: Duration::from_millis(600),
                run_id: 100 + i,
                ..JobSpec::default()
            };
            jobs.push(gh.dispatch_job(&Scope::Org(&fleet.org), &[label.as_str()], spec));
        }
    }
    let mut spans: Vec<(SystemTime, SystemTime, String)> = Vec::new();
    let mut waited_in_log = false;
    for id in jobs {
        let Some(job) = gh.wait_job(id, Duration::from_secs(90)) else {
            panic!(
                "job {id} did not finish: {:?}\n{}\n{}",
                gh.job(id),
                logs(&a),
                logs(&b)
            );
        };
        assert_eq!(
            job.result.as_deref(),
            Some("Succeeded"),
            "job {id}: {}",
            job.log
        );
        waited_in_log |= job.log.contains("waiting for resource");
        spans.push((
            job.steps_started_at.expect("steps started"),
            job.steps_finished_at.expect("steps finished"),
            job.runner_name.unwrap_or_default(),
        ));
    }
    spans.sort();
    for pair in spans.windows(2) {
        assert!(
            pair[1].0 >= pair[0].1,
            "jobs overlap on the board: {} ran {:?}..{:?}, {} started {:?}",
            pair[0].2,
            pair[0].0,
            pair[0].1,
            pair[1].2,
            pair[1].0
        );
    }
    for fleet in [&a, &b] {
        assert!(
            spans.iter().any(|s| s.2 == fleet.board_runner()),
            "{} ran jobs",
            fleet.org
        );
    }
    assert!(
        waited_in_log,
        "a waiting job says in its log who holds the board"
    );

    // The lock is free again, and `ghr locks` on the host says so.
    let locks = locks_json(&a, &lock_dir);
    assert_eq!(locks[0]["state"], "free", "{locks}");
}

#[test]
fn docker_kill_of_the_holder_lets_the_other_org_proceed() {
    if !docker_ready("docker_kill_of_the_holder_lets_the_other_org_proceed") {
        return;
    }
    let (gh, lock_dir, a, b, label) = setup("kill");
    let long = JobSpec {
        name: "hold".into(),
        duration: Duration::from_secs(120),
        ..JobSpec::default()
    };
    let holder = gh.dispatch_job(&Scope::Org(&a.org), &[label.as_str()], long);
    assert!(
        gh.wait_until(Duration::from_secs(30), |gh| gh
            .job(holder)
            .is_some_and(|j| j.steps_started_at.is_some())),
        "org a's job gets the board"
    );
    let short = JobSpec {
        name: "next".into(),
        duration: Duration::from_millis(200),
        ..JobSpec::default()
    };
    let waiter = gh.dispatch_job(&Scope::Org(&b.org), &[label.as_str()], short);

    // While a holds the board, b's job waits in its started hook, and `ghr locks` shows both.
    assert!(
        gh.wait_until(Duration::from_secs(30), |gh| gh
            .job(waiter)
            .is_some_and(|j| j.log.contains("waiting for resource"))),
        "org b's job waits for the board"
    );
    assert!(
        gh.job(waiter).unwrap().steps_started_at.is_none(),
        "b must not run while a holds the board"
    );
    let locks = locks_json(&a, &lock_dir);
    assert_eq!(locks[0]["state"], "held", "{locks}");
    assert_eq!(
        locks[0]["holder"]["runner"],
        a.board_runner().as_str(),
        "{locks}"
    );
    assert_eq!(
        locks[0]["waiters"][0]["runner"],
        b.board_runner().as_str(),
        "{locks}"
    );

    let killed_at = Instant::now();
    let kill = Command::new("docker")
        .args(["kill", &a.board_runner()])
        .output()
        .unwrap();
    assert!(kill.status.success(), "{}", stderr(&kill));
    let job = gh
        .wait_job(waiter, Duration::from_secs(30))
        .expect("b's job runs once a is killed");
    assert_eq!(job.result.as_deref(), Some("Succeeded"), "{}", job.log);
    let waited = killed_at.elapsed();
    assert!(
        waited < Duration::from_secs(15),
        "b waited {waited:?} after the kill"
    );
}
