//! The GitHub client against the fake GitHub server: real HTTP, exact request counts.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use ghr::github::{
    now_epoch, GitHub, GitHubError, Options, Scope, Unregistered, DEFAULT_CONCURRENCY,
};
use testkit::FakeGitHub;

const PAT: &str = "fakepat_TESTPAT0123456789abcdefTESTPAT";
const REPO_ONLY_PAT: &str = "fakepat_REPOONLY0123456789abcdefREPOONLY";
const ORG: &str = "acme";
const REPO: &str = "widgets";

fn fake() -> FakeGitHub {
    let gh = FakeGitHub::start();
    gh.add_org(ORG);
    gh.add_repo(ORG, REPO);
    gh.add_pat(PAT, &["admin:org", "repo"]);
    gh.add_pat(REPO_ONLY_PAT, &["repo"]);
    gh
}

fn org() -> Scope {
    Scope::org(ORG)
}

fn repo() -> Scope {
    Scope::repo(ORG, REPO)
}

fn fake_org() -> testkit::Scope<'static> {
    testkit::Scope::Org(ORG)
}

fn fake_repo() -> testkit::Scope<'static> {
    testkit::Scope::Repo(ORG, REPO)
}

/// Notices the client prints, captured instead of going to stderr.
#[derive(Clone, Default)]
struct Notices(Arc<Mutex<Vec<String>>>);

impl Notices {
    fn all(&self) -> Vec<String> {
        self.0.lock().unwrap().clone()
    }
}

/// Short waits so failure paths finish fast; everything else as in production.
fn opts(notices: &Notices) -> Options {
    let sink = notices.0.clone();
    Options {
        connect_timeout: Duration::from_secs(2),
        timeout: Duration::from_secs(5),
        backoff_base: Duration::from_millis(10),
        backoff_max: Duration::from_millis(50),
        max_rate_limit_wait: Duration::from_secs(5),
        notify: Arc::new(move |m: &str| sink.lock().unwrap().push(m.to_owned())),
        ..Options::default()
    }
}

fn client(gh: &FakeGitHub, scope: Scope, pat: &str) -> GitHub {
    GitHub::with_options(&gh.url(), scope, pat, opts(&Notices::default())).unwrap()
}

/// Every way an error can be shown; none may contain a secret.
fn assert_no_secret(err: &GitHubError, secrets: &[&str]) {
    let any = anyhow::Error::new(err.clone());
    for shown in [
        err.to_string(),
        format!("{err:?}"),
        format!("{err:#?}"),
        format!("{any:#}"),
        format!("{any:?}"),
    ] {
        for s in secrets {
            assert!(!shown.contains(s), "secret leaked in {shown:?}");
        }
    }
}

#[test]
fn lists_250_runners_in_exactly_3_requests() {
    let gh = fake();
    let ids = gh.seed_runners(&fake_org(), "host-acme-runner", 250);
    let runners = client(&gh, org(), PAT).list_runners().unwrap();
    assert_eq!(runners.len(), 250);
    let mut got: Vec<u64> = runners.iter().map(|r| r.id).collect();
    let mut want = ids.clone();
    got.sort_unstable();
    want.sort_unstable();
    assert_eq!(got, want, "every runner exactly once");
    assert_eq!(gh.count("GET", "/orgs/acme/actions/runners"), 3);
    assert_eq!(gh.requests().len(), 3);
    for r in gh.requests() {
        assert!(r.query.contains("per_page=100"), "{}", r.query);
    }
}

#[test]
fn list_counts_are_ceil_n_over_100_for_repo_scope() {
    for (n, requests) in [(0, 1), (1, 1), (100, 1), (101, 2)] {
        let gh = fake();
        gh.seed_runners(&fake_repo(), "r", n);
        let runners = client(&gh, repo(), PAT).list_runners().unwrap();
        assert_eq!(runners.len(), n);
        assert_eq!(
            gh.count("GET", "/repos/acme/widgets/actions/runners"),
            requests,
            "{n} runners"
        );
    }
}

#[test]
fn runner_fields_follow_github() {
    let gh = fake();
    gh.seed_runners(&fake_org(), "fields", 1);
    let r = &client(&gh, org(), PAT).list_runners().unwrap()[0];
    let info = &gh.runners(&fake_org())[0];
    assert_eq!(r.id, info.id);
    assert_eq!(r.name, info.name);
    assert_eq!(r.busy, info.busy);
    assert_eq!(r.status, info.status);
    assert_eq!(r.labels, info.labels);
    assert!(!r.os.is_empty());
}

#[test]
fn lookup_by_name_uses_the_name_filter() {
    let gh = fake();
    gh.seed_runners(&fake_org(), "look", 150);
    let c = client(&gh, org(), PAT);
    let found = c.runner_by_name("look-7").unwrap().expect("look-7 exists");
    assert_eq!(found.name, "look-7");
    assert_eq!(c.runner(found.id).unwrap(), found);
    assert_eq!(c.runner_by_name("nope").unwrap(), None);
    let lists: Vec<_> = gh
        .requests()
        .into_iter()
        .filter(|r| r.method == "GET" && r.path.ends_with("/actions/runners"))
        .collect();
    assert_eq!(lists.len(), 2, "one filtered request per lookup");
    assert!(lists.iter().all(|r| r.query.contains("name=")));
}

#[test]
fn sends_githubs_headers() {
    let gh = fake();
    client(&gh, org(), PAT).list_runners().unwrap();
    let r = &gh.requests()[0];
    assert_eq!(r.header("accept"), Some("application/vnd.github+json"));
    assert_eq!(r.header("x-github-api-version"), Some("2022-11-28"));
    let auth = format!("Bearer {PAT}");
    assert_eq!(r.header("authorization"), Some(auth.as_str()));
    let ua = r.header("user-agent").unwrap_or_default();
    assert_eq!(ua, format!("ghr/{}", env!("CARGO_PKG_VERSION")));
}

#[test]
fn registration_and_remove_tokens() {
    let gh = fake();
    for scope in [org(), repo()] {
        let c = client(&gh, scope, PAT);
        let now = now_epoch();
        for t in [c.registration_token().unwrap(), c.remove_token().unwrap()] {
            assert!(!t.token.expose().is_empty());
            assert!(
                (t.expires_at - (now + 3600)).abs() <= 5,
                "one hour: {}",
                t.expires_at - now
            );
            assert_eq!(format!("{:?}", t.token), "***");
        }
    }
    assert_eq!(
        gh.count("POST", "/orgs/acme/actions/runners/registration-token"),
        1
    );
    assert_eq!(
        gh.count("POST", "/repos/acme/widgets/actions/runners/remove-token"),
        1
    );
}

#[test]
fn bad_pat_is_401_bad_credentials() {
    let gh = fake();
    let bad = "fakepat_WRONGwrongWRONGwrong0123456789";
    let err = client(&gh, org(), bad).list_runners().unwrap_err();
    assert_eq!(err, GitHubError::BadCredentials);
    assert!(err.to_string().contains("GH_PAT"), "{err}");
    assert_no_secret(&err, &[bad]);
    let err = client(&gh, repo(), bad).registration_token().unwrap_err();
    assert_eq!(err, GitHubError::BadCredentials);
    assert_eq!(gh.requests().len(), 2, "401 is not retried");
}

#[test]
fn missing_permission_is_403_and_names_it() {
    let gh = fake();
    let err = client(&gh, org(), REPO_ONLY_PAT)
        .registration_token()
        .unwrap_err();
    assert_eq!(err, GitHubError::Forbidden { scope: org() });
    assert!(err.to_string().contains("admin:org"), "{err}");
    assert_no_secret(&err, &[REPO_ONLY_PAT]);
    assert_eq!(gh.requests().len(), 1, "403 is not retried");
}

#[test]
fn unknown_org_or_repo_is_404() {
    let gh = fake();
    let err = client(&gh, Scope::org("nosuch"), PAT)
        .list_runners()
        .unwrap_err();
    assert_eq!(
        err,
        GitHubError::NotFound {
            scope: Scope::org("nosuch")
        }
    );
    assert!(
        err.to_string()
            .contains("organization `nosuch` does not exist"),
        "{err}"
    );
    let err = client(&gh, Scope::repo(ORG, "nosuch"), PAT)
        .registration_token()
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("repository `acme/nosuch` does not exist"),
        "{err}"
    );
    assert_eq!(gh.requests().len(), 2, "404 is not retried");
}

#[test]
fn unregister_250_takes_3_lists_and_250_deletes() {
    let gh = fake();
    gh.seed_runners(&fake_org(), "host-acme-runner", 250);
    let names: Vec<String> = gh
        .runners(&fake_org())
        .into_iter()
        .map(|r| r.name)
        .collect();
    let out = client(&gh, org(), PAT)
        .unregister_many(&names, DEFAULT_CONCURRENCY)
        .unwrap();
    assert_eq!(out.len(), 250);
    assert!(out.iter().all(|o| o.result == Ok(Unregistered::Removed)));
    assert_eq!(
        out.iter().map(|o| o.name.clone()).collect::<Vec<_>>(),
        names,
        "outcomes in input order"
    );
    assert_eq!(gh.count("GET", "/orgs/acme/actions/runners"), 3);
    let odd: Vec<_> = gh
        .requests()
        .into_iter()
        .filter(|r| r.status != 200 && r.status != 204)
        .collect();
    assert!(odd.is_empty(), "{odd:?}");
    assert_eq!(gh.count("DELETE", "/orgs/acme/actions/runners/"), 250);
    assert_eq!(gh.requests().len(), 3 + 250);
    assert!(gh.runners(&fake_org()).is_empty());
}

#[test]
fn busy_runner_is_422_reported_and_others_still_removed() {
    let gh = fake();
    let ids = gh.seed_runners(&fake_repo(), "busy", 5);
    gh.set_busy(&fake_repo(), ids[2], true);
    let mut names: Vec<String> = gh
        .runners(&fake_repo())
        .into_iter()
        .map(|r| r.name)
        .collect();
    names.sort();
    names.push("never-registered".into());
    let out = client(&gh, repo(), PAT).unregister_many(&names, 4).unwrap();
    let busy: Vec<_> = out.iter().filter(|o| o.is_busy()).collect();
    assert_eq!(busy.len(), 1);
    assert_eq!(busy[0].id, Some(ids[2]));
    let msg = busy[0].result.clone().unwrap_err().to_string();
    assert!(msg.contains("is running a job"), "{msg}");
    assert!(msg.contains(&busy[0].name), "{msg}");
    assert_eq!(
        out.iter()
            .filter(|o| o.result == Ok(Unregistered::Removed))
            .count(),
        4
    );
    assert_eq!(
        out.last().unwrap().result,
        Ok(Unregistered::NotRegistered),
        "unknown names cost no request"
    );
    let left = gh.runners(&fake_repo());
    assert_eq!(left.len(), 1);
    assert_eq!(left[0].id, ids[2]);
    assert_eq!(gh.count("GET", "/actions/runners"), 1);
    assert_eq!(gh.count("DELETE", "/actions/runners/"), 5);
}

#[test]
fn delete_of_busy_runner_by_id_is_runner_busy() {
    let gh = fake();
    let ids = gh.seed_runners(&fake_org(), "b", 1);
    gh.set_busy(&fake_org(), ids[0], true);
    let c = client(&gh, org(), PAT);
    let err = c.delete_runner(ids[0]).unwrap_err();
    assert!(matches!(err, GitHubError::RunnerBusy { .. }), "{err:?}");
    assert_eq!(err.status(), Some(422));
    gh.set_busy(&fake_org(), ids[0], false);
    c.delete_runner(ids[0]).unwrap();
    let err = c.delete_runner(ids[0]).unwrap_err();
    assert!(matches!(err, GitHubError::RunnerNotFound { .. }), "{err:?}");
}

#[test]
fn retries_a_5xx_burst_then_succeeds() {
    let gh = fake();
    gh.seed_runners(&fake_org(), "retry", 120);
    gh.inject_errors(3, 502);
    let runners = client(&gh, org(), PAT).list_runners().unwrap();
    assert_eq!(runners.len(), 120);
    // 3 failed answers + 2 pages; no page fetched twice after success.
    assert_eq!(gh.requests().len(), 5);
    assert_eq!(gh.requests().iter().filter(|r| r.status == 502).count(), 3);
}

#[test]
fn gives_up_after_bounded_retries() {
    let gh = fake();
    gh.inject_errors(10, 503);
    let notices = Notices::default();
    let c = GitHub::with_options(&gh.url(), org(), PAT, opts(&notices)).unwrap();
    let err = c.registration_token().unwrap_err();
    assert!(
        matches!(err, GitHubError::Unexpected { status: 503, .. }),
        "{err:?}"
    );
    assert_eq!(gh.requests().len(), 4, "1 try + 3 retries");
    assert_no_secret(&err, &[PAT]);
}

#[test]
fn waits_out_a_rate_limit_that_resets_soon() {
    let gh = fake();
    gh.seed_runners(&fake_org(), "rl", 3);
    gh.set_rate_limit(0, (now_epoch() + 2) as u64);
    let notices = Notices::default();
    let c = GitHub::with_options(&gh.url(), org(), PAT, opts(&notices)).unwrap();
    let start = Instant::now();
    let runners = c.list_runners().unwrap();
    assert_eq!(runners.len(), 3);
    assert!(start.elapsed() >= Duration::from_secs(1), "it waited");
    let said = notices.all();
    assert_eq!(said.len(), 1, "{said:?}");
    assert!(
        said[0].contains("rate limit") && said[0].contains("waiting"),
        "{said:?}"
    );
    let limited = gh
        .requests()
        .iter()
        .filter(|r| r.status == 403 || r.status == 429)
        .count();
    assert_eq!(limited, 1);
}

#[test]
fn waits_for_retry_after_of_a_secondary_limit() {
    let gh = fake();
    gh.seed_runners(&fake_org(), "sec", 20);
    gh.set_secondary_rate_limit(2, 1);
    let notices = Notices::default();
    let c = GitHub::with_options(&gh.url(), org(), PAT, opts(&notices)).unwrap();
    let start = Instant::now();
    let names: Vec<String> = (1..=20).map(|i| format!("sec-{i}")).collect();
    let out = c.unregister_many(&names, 4).unwrap();
    assert!(start.elapsed() >= Duration::from_secs(1), "it waited");
    assert!(out.iter().all(|o| o.result == Ok(Unregistered::Removed)));
    assert!(!notices.all().is_empty());
    assert_eq!(gh.requests().iter().filter(|r| r.status == 429).count(), 2);
    // Both 429s are repeated once each: 1 list + 20 deletes + 2 repeats.
    assert_eq!(gh.requests().len(), 1 + 20 + 2);
}

#[test]
fn fails_fast_when_retry_after_is_far() {
    let gh = fake();
    gh.set_secondary_rate_limit(1, 3600);
    let start = Instant::now();
    let err = client(&gh, org(), PAT).registration_token().unwrap_err();
    assert!(start.elapsed() < Duration::from_secs(2), "did not wait");
    assert!(matches!(err, GitHubError::RateLimited { .. }), "{err:?}");
}

#[test]
fn parallel_workers_announce_one_wait_per_limit() {
    let gh = fake();
    gh.seed_runners(&fake_org(), "par", 40);
    let notices = Notices::default();
    let c = GitHub::with_options(&gh.url(), org(), PAT, opts(&notices)).unwrap();
    // Let the listing through, then exhaust the budget for the deletes.
    let runners = c.list_runners().unwrap();
    gh.set_rate_limit(0, (now_epoch() + 2) as u64);
    let out = c.delete_runners(&runners, 8);
    assert!(out.iter().all(|o| o.result == Ok(Unregistered::Removed)));
    assert_eq!(notices.all().len(), 1, "{:?}", notices.all());
}

#[test]
fn repo_scope_403_names_repository_admin() {
    let gh = fake();
    let org_only = "fakepat_ORGONLY0123456789abcdefORGONLY";
    gh.add_pat(org_only, &["admin:org"]);
    let err = client(&gh, repo(), org_only).list_runners().unwrap_err();
    assert_eq!(err, GitHubError::Forbidden { scope: repo() });
    assert!(
        err.to_string().contains("admin access to the repository"),
        "{err}"
    );
    assert!(err.to_string().contains("acme/widgets"), "{err}");
}

#[test]
fn fails_with_the_reset_time_when_it_is_far() {
    let gh = fake();
    let reset = now_epoch() + 3600;
    gh.set_rate_limit(0, reset as u64);
    let start = Instant::now();
    let err = client(&gh, org(), PAT).list_runners().unwrap_err();
    assert!(start.elapsed() < Duration::from_secs(2), "did not wait");
    assert_eq!(err, GitHubError::RateLimited { reset_at: reset });
    assert!(
        err.to_string().contains(&ghr::github::format_utc(reset)),
        "{err}"
    );
    assert_eq!(gh.requests().len(), 1);
}

#[test]
fn unreachable_api_is_a_network_error_after_retries() {
    // Bind then drop: a port nobody listens on.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("http://user:{PAT}@127.0.0.1:{port}/");
    let c = GitHub::with_options(&url, org(), PAT, opts(&Notices::default())).unwrap();
    assert!(!c.api_url().contains(PAT), "user info dropped from the URL");
    let err = c.list_runners().unwrap_err();
    assert!(matches!(err, GitHubError::Network { .. }), "{err:?}");
    assert!(err.to_string().contains("connection failed"), "{err}");
    assert_no_secret(&err, &[PAT]);
    assert!(!format!("{c:?}").contains(PAT));
}

#[test]
fn slow_answers_time_out() {
    let gh = fake();
    gh.set_latency(Duration::from_millis(1500));
    let mut o = opts(&Notices::default());
    o.timeout = Duration::from_millis(300);
    o.max_retries = 1;
    let err = GitHub::with_options(&gh.url(), org(), PAT, o)
        .unwrap()
        .list_runners()
        .unwrap_err();
    assert!(err.to_string().contains("timed out"), "{err}");
    assert_no_secret(&err, &[PAT]);
}

#[test]
fn bad_settings_are_settings_errors() {
    let err = GitHub::new("not a url", org(), PAT).unwrap_err();
    assert!(err.is_settings_error(), "{err:?}");
    let err = GitHub::new("ftp://x/", org(), PAT).unwrap_err();
    assert!(err.is_settings_error(), "{err:?}");
    let err = GitHub::new("http://x/", org(), "ghp_with\nnewline").unwrap_err();
    assert_eq!(err, GitHubError::InvalidPat);
    assert!(!format!("{err} {err:?}").contains("ghp_with"));
}

/// Child half of `no_secret_in_any_output_of_a_process`: runs every error path with the
/// default options (notices on stderr) and prints every outcome, Display and Debug. It
/// checks the tokens it received itself, since only it knows them.
#[test]
fn child_prints_every_error() {
    let Ok(url) = std::env::var("GHR_TEST_CHILD_URL") else {
        return;
    };
    let o = Options {
        backoff_base: Duration::from_millis(5),
        max_rate_limit_wait: Duration::from_secs(5),
        timeout: Duration::from_secs(5),
        ..Options::default()
    };
    let mut shown = Vec::new();
    let mut tokens = Vec::new();
    for (scope, pat) in [
        (org(), PAT),
        (org(), REPO_ONLY_PAT),
        (org(), "fakepat_WRONGwrongWRONGwrong0123456789"),
        (Scope::org("nosuch"), PAT),
    ] {
        let c = GitHub::with_options(&url, scope, pat, o.clone()).unwrap();
        shown.push(format!("{c:?}"));
        match c.registration_token() {
            Ok(t) => {
                shown.push(format!("token {t:?} {}", t.token));
                tokens.push(t.token.expose().to_owned());
            }
            Err(e) => shown.push(format!("{e}\n{e:?}\n{:#}", anyhow::Error::new(e.clone()))),
        }
        match c.unregister_many(&["busy-1", "busy-2"], 2) {
            Ok(out) => {
                shown.push(format!("{out:?}"));
                for e in out.iter().filter_map(|o| o.result.as_ref().err()) {
                    shown.push(e.to_string());
                }
            }
            Err(e) => shown.push(format!("{e}\n{e:?}")),
        }
    }
    assert!(!tokens.is_empty());
    for line in &shown {
        for t in &tokens {
            assert!(!line.contains(t.as_str()), "token leaked: {line}");
        }
        println!("{line}");
    }
}

#[test]
fn no_secret_in_any_output_of_a_process() {
    let gh = fake();
    let ids = gh.seed_runners(&fake_org(), "busy", 2);
    gh.set_busy(&fake_org(), ids[0], true);
    let remove = client(&gh, org(), PAT).remove_token().unwrap();
    // Make the child wait out a rate limit too, so its notice is part of the output.
    // Far enough ahead that a slow child start still meets the limit, within its 5 s wait.
    gh.set_rate_limit(0, (now_epoch() + 3) as u64);
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "child_prints_every_error", "--nocapture"])
        .env("GHR_TEST_CHILD_URL", gh.url())
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{text}");
    for expected in [
        "is running a job",
        "rate limit",
        "token: ***",
        "admin:org",
        "HTTP 401",
        "HTTP 404",
    ] {
        assert!(text.contains(expected), "{expected:?} missing:\n{text}");
    }
    for s in [
        PAT,
        REPO_ONLY_PAT,
        "fakepat_WRONGwrongWRONGwrong0123456789",
        remove.token.expose(),
    ] {
        assert!(!text.contains(s), "secret leaked:\n{text}");
    }
}
