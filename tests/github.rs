//! The GitHub client against the fake GitHub server: real HTTP, exact request counts.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use ghr::world::concurrent::map_bounded;
use ghr::world::github::{now_epoch, GitHub, GitHubError, Label, Options, Scope};
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

/// Short waits so failure paths finish fast; everything else as in production. Notices and
/// the texts of the retry line are both captured.
fn opts(notices: &Notices) -> Options {
    let sink = notices.0.clone();
    let status = notices.0.clone();
    Options {
        status: Arc::new(move |m: Option<&str>| {
            if let Some(m) = m {
                status.lock().unwrap().push(m.to_owned())
            }
        }),
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
    let wrapped = ghr::world::error::Error::from(err.clone());
    for shown in [
        err.to_string(),
        format!("{err:?}"),
        format!("{err:#?}"),
        wrapped.to_string(),
        format!("{wrapped:?}"),
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
    let names: Vec<&str> = r.labels.iter().map(|l| l.name.as_str()).collect();
    assert_eq!(names, info.labels);
    assert!(
        r.labels.iter().all(|l| l.read_only),
        "the defaults are read-only"
    );
    assert_eq!(r.group_id, Some(1));
    assert!(!r.os.is_empty());
}

#[test]
fn labels_are_replaced_custom_ones_only() {
    let gh = fake();
    let id = gh.add_runner(&fake_org(), "lab-1", &["old", "gone"]);
    let c = client(&gh, org(), PAT);
    let now = c
        .set_labels(id, "lab-1", &["new".into(), "Old".into()])
        .unwrap();
    let label = |name: &str, read_only: bool| Label {
        name: name.into(),
        read_only,
    };
    assert_eq!(
        now,
        [
            label("self-hosted", true),
            label("Linux", true),
            label("X64", true),
            label("new", false),
            label("Old", false)
        ]
    );
    assert_eq!(
        gh.runner(&fake_org(), "lab-1").unwrap().labels,
        ["self-hosted", "Linux", "X64", "new", "Old"]
    );
    assert_eq!(gh.count("PUT", "/orgs/acme/actions/runners/"), 1);
    let r = gh.requests().pop().unwrap();
    assert!(
        r.path.ends_with(&format!("/runners/{id}/labels")),
        "{}",
        r.path
    );
    // An unknown runner is GitHub's 404.
    let err = c.set_labels(999_999, "ghost", &[]).unwrap_err();
    assert!(matches!(err, GitHubError::RunnerNotFound { .. }), "{err:?}");
}

#[test]
fn runner_groups_are_listed_and_runners_moved() {
    let gh = fake();
    let lab = gh.add_runner_group("lab");
    let id = gh.add_runner(&fake_org(), "g-1", &[]);
    let c = client(&gh, org(), PAT);
    let groups = c.runner_groups().unwrap();
    let names: Vec<(&str, u64)> = groups.iter().map(|g| (g.name.as_str(), g.id)).collect();
    assert_eq!(names, [("Default", 1), ("lab", lab)]);
    c.set_runner_group(lab, id, "g-1").unwrap();
    assert_eq!(gh.runner(&fake_org(), "g-1").unwrap().runner_group_id, lab);
    let err = c.set_runner_group(999, id, "g-1").unwrap_err();
    assert!(err.to_string().contains("404"), "{err}");
    // Repositories have no runner groups.
    gh.add_runner(&fake_repo(), "r-1", &[]);
    let err = client(&gh, repo(), PAT).runner_groups().unwrap_err();
    assert!(matches!(err, GitHubError::NotFound { .. }), "{err:?}");
}

#[test]
fn saml_sso_is_named_as_such() {
    let gh = fake();
    gh.require_sso(ORG);
    let err = client(&gh, org(), PAT).list_runners().unwrap_err();
    assert_eq!(
        err,
        GitHubError::SsoRequired {
            scope: org(),
            url: "https://github.com/orgs/acme/sso?authorization_request=AUTHZ0123".into()
        }
    );
    let text = err.to_string();
    assert!(text.contains("SAML single sign-on"), "{text}");
    assert!(!text.contains("admin:org"), "not a missing scope: {text}");
    assert!(text.contains("authorization_request=AUTHZ0123"), "{text}");
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
fn registration_tokens() {
    let gh = fake();
    for scope in [org(), repo()] {
        let c = client(&gh, scope, PAT);
        let now = now_epoch();
        let t = c.registration_token().unwrap();
        assert!(!t.token.expose().is_empty());
        assert!(
            (t.expires_at - (now + 3600)).abs() <= 5,
            "one hour: {}",
            t.expires_at - now
        );
        assert_eq!(format!("{:?}", t.token), "***");
    }
    assert_eq!(
        gh.count("POST", "/orgs/acme/actions/runners/registration-token"),
        1
    );
    assert_eq!(
        gh.count(
            "POST",
            "/repos/acme/widgets/actions/runners/registration-token"
        ),
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
    assert_eq!(
        err,
        GitHubError::Forbidden {
            scope: org(),
            message: "Resource not accessible by personal access token".into(),
            granted: Some("repo".into()),
        }
    );
    assert!(err.to_string().contains("admin:org"), "{err}");
    assert!(
        err.to_string().ends_with("; the PAT has: repo"),
        "what the PAT has is named: {err}"
    );
    assert!(
        err.to_string().contains("Resource not accessible"),
        "GitHub's own words are kept: {err}"
    );
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
fn delete_is_busy_only_when_github_says_a_job_runs() {
    let gh = fake();
    let ids = gh.seed_runners(&fake_org(), "b", 1);
    gh.set_busy(&fake_org(), ids[0], true);
    let c = client(&gh, org(), PAT);
    let err = c.delete_runner(ids[0], "b-1").unwrap_err();
    assert_eq!(
        err,
        GitHubError::RunnerBusy {
            runner: "b-1".into()
        }
    );
    assert_eq!(err.status(), Some(422));
    assert!(err.to_string().contains("is running a job"), "{err}");
    gh.set_busy(&fake_org(), ids[0], false);
    // Another 422 (GitHub also answers it when it thinks a client spams) is not "busy",
    // and GitHub's message is kept.
    gh.inject_reply(
        1,
        422,
        "Validation Failed: too many requests for this runner",
    );
    let err = c.delete_runner(ids[0], "b-1").unwrap_err();
    assert!(
        matches!(err, GitHubError::Unexpected { status: 422, .. }),
        "{err:?}"
    );
    assert!(err.to_string().contains("too many requests"), "{err}");
    c.delete_runner(ids[0], "b-1").unwrap();
    let err = c.delete_runner(ids[0], "b-1").unwrap_err();
    assert!(matches!(err, GitHubError::RunnerNotFound { .. }), "{err:?}");
}

#[test]
fn retries_a_5xx_burst_saying_so_then_succeeds() {
    let gh = fake();
    gh.seed_runners(&fake_org(), "retry", 120);
    gh.inject_errors(2, 502);
    let notices = Notices::default();
    let c = GitHub::with_options(&gh.url(), org(), PAT, opts(&notices)).unwrap();
    let runners = c.list_runners().unwrap();
    assert_eq!(runners.len(), 120);
    // 2 failed answers + 2 pages; no page fetched twice after success.
    assert_eq!(gh.requests().len(), 4);
    assert_eq!(gh.requests().iter().filter(|r| r.status == 502).count(), 2);
    let said = notices.all();
    assert_eq!(said.len(), 2, "every retry is announced: {said:?}");
    assert!(
        said[0].starts_with(
            "GET /orgs/acme/actions/runners: GitHub answered HTTP 502; trying again in"
        ),
        "{said:?}"
    );
    assert!(
        said[1].ends_with("(attempt 3; ghr gives up after 25 s)"),
        "{said:?}"
    );
}

/// Issue 15.4: five 502s in a row, with ghr's own backoff, are ridden out (they failed a
/// command after 2 s when ghr tried 3 times in all).
#[test]
fn rides_out_five_502s_in_a_row() {
    let gh = fake();
    gh.inject_errors(5, 502);
    let notices = Notices::default();
    let mut o = opts(&notices);
    o.backoff_base = Options::default().backoff_base;
    o.backoff_max = Options::default().backoff_max;
    let c = GitHub::with_options(&gh.url(), org(), PAT, o).unwrap();
    let started = Instant::now();
    c.registration_token().unwrap();
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(gh.requests().len(), 6, "5 failed answers, then the token");
    assert_eq!(notices.all().len(), 5, "{:?}", notices.all());
}

#[test]
fn gives_up_when_the_budget_is_spent() {
    let gh = fake();
    gh.inject_errors(10_000, 503);
    let notices = Notices::default();
    let mut o = opts(&notices);
    o.give_up_after = Duration::from_secs(2);
    let c = GitHub::with_options(&gh.url(), org(), PAT, o).unwrap();
    let started = Instant::now();
    let err = c.registration_token().unwrap_err();
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
    assert!(
        matches!(err, GitHubError::Unexpected { status: 503, .. }),
        "{err:?}"
    );
    let attempts = gh.requests().len();
    assert!(attempts > 3, "retried while the budget lasted: {attempts}");
    assert!(
        err.to_string()
            .contains(&format!("({attempts} attempts in ")),
        "{err}"
    );
    assert_no_secret(&err, &[PAT]);
}

/// With ghr's own options: a GitHub that does not answer at all fails within 30 s, with
/// every retry announced and one error.
#[test]
fn an_unresponsive_github_fails_within_30_s() {
    let gh = fake();
    gh.set_latency(Duration::from_secs(60));
    let notices = Notices::default();
    let captured = opts(&notices);
    let o = Options {
        notify: captured.notify,
        status: captured.status,
        ..Options::default()
    };
    let c = GitHub::with_options(&gh.url(), org(), PAT, o).unwrap();
    let start = Instant::now();
    let err = c.list_runners().unwrap_err();
    let took = start.elapsed();
    assert!(took < Duration::from_secs(30), "took {took:?}");
    assert!(matches!(err, GitHubError::Network { .. }), "{err:?}");
    assert!(err.to_string().contains("timed out"), "{err}");
    assert_eq!(notices.all().len(), 2, "{:?}", notices.all());
    assert!(
        notices.all().iter().all(|n| n.contains("timed out")),
        "{:?}",
        notices.all()
    );
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
    let runners = c.list_runners().unwrap();
    let out = map_bounded(&runners, 4, |r| c.delete_runner(r.id, &r.name));
    assert!(start.elapsed() >= Duration::from_secs(1), "it waited");
    assert!(out.iter().all(|o| o.is_ok()), "{out:?}");
    assert!(!notices.all().is_empty());
    assert!(
        notices.all()[0].contains("secondary rate limit"),
        "{:?}",
        notices.all()
    );
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
    let out = map_bounded(&runners, 8, |r| c.delete_runner(r.id, &r.name));
    assert!(out.iter().all(|o| o.is_ok()), "{out:?}");
    assert_eq!(notices.all().len(), 1, "{:?}", notices.all());
}

#[test]
fn repo_scope_403_names_repository_admin() {
    let gh = fake();
    let org_only = "fakepat_ORGONLY0123456789abcdefORGONLY";
    gh.add_pat(org_only, &["admin:org"]);
    let err = client(&gh, repo(), org_only).list_runners().unwrap_err();
    assert!(matches!(err, GitHubError::Forbidden { .. }), "{err:?}");
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
        err.to_string()
            .contains(&ghr::world::github::format_utc(reset)),
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
    o.give_up_after = Duration::from_millis(1500);
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
    let err = GitHub::new("http://x/", org(), "fakepat_with\nnewline").unwrap_err();
    assert_eq!(err, GitHubError::InvalidPat);
    assert!(!format!("{err} {err:?}").contains("fakepat_with"));
}

/// Child half of `no_secret_in_any_output_of_a_process`: runs every error path with the
/// default options (notices on stderr) and prints every outcome, Display and Debug. It
/// checks the tokens it received itself, since only it knows them.
#[test]
fn child_prints_every_error() {
    let Ok(url) = std::env::var("GHR_TEST_CHILD_URL") else {
        return;
    };
    // Notices on stderr, as ghr's terminal sink prints them (the default goes to ghr's
    // notify facade, which has no sink installed in a test process).
    let o = Options {
        backoff_base: Duration::from_millis(5),
        max_rate_limit_wait: Duration::from_secs(5),
        timeout: Duration::from_secs(5),
        notify: Arc::new(|m: &str| eprintln!("{m}")),
        status: Arc::new(|m: Option<&str>| {
            if let Some(m) = m {
                eprintln!("{m}")
            }
        }),
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
            Err(e) => shown.push(format!(
                "{e}\n{e:?}\n{}",
                ghr::world::error::Error::from(e.clone())
            )),
        }
        match c.list_runners() {
            Ok(runners) => {
                for r in runners.iter().filter(|r| r.name.starts_with("busy")) {
                    match c.delete_runner(r.id, &r.name) {
                        Ok(()) => shown.push(format!("deleted {}", r.name)),
                        Err(e) => shown.push(format!("{e}\n{e:?}")),
                    }
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
    let other = client(&gh, org(), PAT).registration_token().unwrap();
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
        other.token.expose(),
    ] {
        assert!(!text.contains(s), "secret leaked:\n{text}");
    }
}
