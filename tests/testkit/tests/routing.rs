//! The fake GitHub's routing through the runner protocol over plain HTTP, as a runner speaks
//! it: repository runners first, an assignment that lapses is queued again (a session deleted
//! before the job started does not cancel it), a job queued past the limit fails.

use serde_json::Value;
use std::time::{Duration, Instant};
use testkit::http_client::request;
use testkit::{FakeGitHub, JobSpec, Scope};

const POOL: &str = "_services/pipelines/_apis/distributedtask/pools/1";

/// A runner as the protocol sees it: its credential and session.
struct Agent<'a> {
    gh: &'a FakeGitHub,
    auth: String,
    session: String,
}

impl<'a> Agent<'a> {
    fn online(gh: &'a FakeGitHub, id: u64) -> Agent<'a> {
        let auth = format!("Bearer {}", gh.runner_credential(id).expect("runner"));
        let r = request(
            "POST",
            &format!("{}/{POOL}/sessions", gh.url()),
            &[
                ("Authorization", &auth),
                ("Content-Type", "application/json"),
            ],
            Some(br#"{"ownerName":"test"}"#),
            Duration::from_secs(10),
        )
        .expect("session");
        assert_eq!(r.status, 200);
        let v: Value = serde_json::from_slice(&r.body).unwrap();
        Agent {
            gh,
            auth,
            session: v["sessionId"].as_str().unwrap().to_string(),
        }
    }

    /// One long poll: the job id of a job message, or None (202).
    fn poll(&self) -> Option<u64> {
        let r = request(
            "GET",
            &format!(
                "{}/{POOL}/messages?sessionId={}",
                self.gh.url(),
                self.session
            ),
            &[("Authorization", &self.auth)],
            None,
            Duration::from_secs(10),
        )
        .expect("poll");
        if r.status != 200 {
            return None;
        }
        let v: Value = serde_json::from_slice(&r.body).unwrap();
        let body: Value = serde_json::from_str(v["body"].as_str().unwrap()).unwrap();
        body["jobId"].as_u64()
    }

    fn offline(&self) {
        let r = request(
            "DELETE",
            &format!("{}/{POOL}/sessions/{}", self.gh.url(), self.session),
            &[("Authorization", &self.auth)],
            None,
            Duration::from_secs(10),
        )
        .expect("session delete");
        assert_eq!(r.status, 204);
    }
}

fn gh() -> FakeGitHub {
    let gh = FakeGitHub::start();
    gh.add_org("acme");
    gh.add_repo("acme", "fw");
    gh.set_poll_timeout(Duration::from_millis(300));
    gh
}

fn spec(name: &str) -> JobSpec {
    JobSpec {
        name: name.into(),
        ..JobSpec::default()
    }
}

#[test]
fn a_repository_runner_comes_before_the_organizations() {
    let gh = gh();
    let org = gh.add_runner(&Scope::Org("acme"), "org-1", &["board"]);
    let repo = gh.add_runner(&Scope::Repo("acme", "fw"), "repo-1", &["board"]);
    let (org, repo) = (Agent::online(&gh, org), Agent::online(&gh, repo));
    let job = gh.dispatch_job(&Scope::Repo("acme", "fw"), &["board"], spec("build"));
    assert_eq!(org.poll(), None, "the repo's own idle runner is online");
    assert_eq!(repo.poll(), Some(job));
    // With the repo runner busy, the org runner takes the next one.
    let next = gh.dispatch_job(&Scope::Repo("acme", "fw"), &["board"], spec("test"));
    assert_eq!(org.poll(), Some(next));
}

#[test]
fn an_assigned_job_whose_runner_went_offline_is_queued_again_not_cancelled() {
    let gh = gh();
    gh.set_assign_timeout(Duration::from_millis(800));
    let a = gh.add_runner(&Scope::Org("acme"), "a", &["board"]);
    let b = gh.add_runner(&Scope::Org("acme"), "b", &["board"]);
    let a = Agent::online(&gh, a);
    let job = gh.dispatch_job(&Scope::Org("acme"), &["board"], spec("flash"));
    assert_eq!(a.poll(), Some(job));
    // Offline before it started the job (no JobStarted): GitHub keeps the assignment...
    a.offline();
    let rec = gh.job(job).unwrap();
    assert_eq!(
        (rec.result, rec.runner_name.as_deref(), rec.requeues),
        (None, Some("a"), 0)
    );
    // ...until it lapses: then the job is queued again at all levels.
    let t = Instant::now();
    assert!(gh.wait_until(Duration::from_secs(5), |gh| gh
        .job(job)
        .is_some_and(|j| j.requeues == 1)));
    assert!(t.elapsed() >= Duration::from_millis(500));
    let rec = gh.job(job).unwrap();
    assert_eq!((rec.runner_name, rec.finished_at), (None, None));
    let b = Agent::online(&gh, b);
    assert_eq!(b.poll(), Some(job), "another runner takes it");
}

#[test]
fn a_job_queued_past_the_limit_fails() {
    let gh = gh();
    gh.set_queue_limit(Duration::from_millis(500));
    gh.add_runner(&Scope::Org("acme"), "offline", &["board"]);
    let job = gh.dispatch_job(&Scope::Org("acme"), &["board"], spec("late"));
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(
        gh.job(job).unwrap().result,
        None,
        "queued: no runner online"
    );
    let rec = gh.wait_job(job, Duration::from_secs(5)).expect("fails");
    assert_eq!(rec.result.as_deref(), Some("Failed"));
    assert!(rec.log.contains("for more than 1 days"), "{}", rec.log);
}
