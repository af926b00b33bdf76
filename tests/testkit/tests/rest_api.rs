//! The fake GitHub's REST side through plain HTTP: shapes, pagination, errors, limits, faults.

use serde_json::Value;
use std::time::Duration;
use testkit::http_client::{request, Response};
use testkit::{FakeGitHub, Scope};

const PAT: &str = "fakepat_testpat";

fn gh() -> FakeGitHub {
    let gh = FakeGitHub::start();
    gh.add_org("acme");
    gh.add_repo("acme", "widgets");
    gh.add_pat(PAT, &["admin:org", "repo"]);
    gh
}

fn call(gh: &FakeGitHub, method: &str, path: &str, pat: Option<&str>) -> Response {
    let auth = pat.map(|p| format!("Bearer {p}"));
    let mut headers = vec![
        ("Accept", "application/vnd.github+json"),
        ("User-Agent", "testkit-tests"),
    ];
    if let Some(a) = &auth {
        headers.push(("Authorization", a.as_str()));
    }
    request(
        method,
        &format!("{}{path}", gh.url()),
        &headers,
        None,
        Duration::from_secs(10),
    )
    .expect("request")
}

fn json(r: &Response) -> Value {
    serde_json::from_slice(&r.body).expect("json body")
}

#[test]
fn registration_and_remove_tokens() {
    let gh = gh();
    for path in [
        "/orgs/acme/actions/runners/registration-token",
        "/repos/acme/widgets/actions/runners/remove-token",
    ] {
        let r = call(&gh, "POST", path, Some(PAT));
        assert_eq!(r.status, 201, "{}", r.text());
        let v = json(&r);
        assert_eq!(v["token"].as_str().unwrap().len(), 29);
        let exp = v["expires_at"].as_str().unwrap();
        assert_eq!(exp.len(), "2026-11-22T13:00:00.000-08:00".len(), "{exp}");
        assert!(exp.ends_with("-08:00"), "{exp}");
    }
    // `token` scheme works too.
    let r = request(
        "POST",
        &format!("{}/orgs/acme/actions/runners/registration-token", gh.url()),
        &[
            ("Authorization", "token fakepat_testpat"),
            ("User-Agent", "t"),
        ],
        None,
        Duration::from_secs(5),
    )
    .unwrap();
    assert_eq!(r.status, 201);
}

#[test]
fn list_pagination_with_link_headers() {
    let gh = gh();
    let org = Scope::Org("acme");
    let ids = gh.seed_runners(&org, "ghr-runner", 250);
    assert_eq!(ids.len(), 250);

    let r = call(&gh, "GET", "/orgs/acme/actions/runners", Some(PAT));
    assert_eq!(r.status, 200);
    let v = json(&r);
    assert_eq!(v["total_count"], 250);
    assert_eq!(
        v["runners"].as_array().unwrap().len(),
        30,
        "default per_page"
    );
    let first = &v["runners"][0];
    assert_eq!(first["name"], "ghr-runner-1");
    assert_eq!(first["status"], "offline");
    assert_eq!(first["busy"], false);
    assert_eq!(first["os"], "Linux");
    assert_eq!(first["labels"][0]["name"], "self-hosted");
    assert_eq!(first["labels"][0]["type"], "read-only");
    assert!(first["labels"][0]["id"].is_u64());

    let mut names = Vec::new();
    let mut next = Some(format!(
        "{}/orgs/acme/actions/runners?per_page=100",
        gh.url()
    ));
    let mut pages = 0;
    while let Some(url) = next.take() {
        let r = request(
            "GET",
            &url,
            &[
                ("Authorization", "Bearer fakepat_testpat"),
                ("User-Agent", "t"),
            ],
            None,
            Duration::from_secs(5),
        )
        .unwrap();
        assert_eq!(r.status, 200);
        pages += 1;
        for run in json(&r)["runners"].as_array().unwrap() {
            names.push(run["name"].as_str().unwrap().to_string());
        }
        let link = r.header("link").map(str::to_string).unwrap_or_default();
        if pages == 1 {
            assert!(
                link.contains("rel=\"next\"") && link.contains("rel=\"last\""),
                "{link}"
            );
            assert!(
                link.contains(&format!(
                    "<{}/orgs/acme/actions/runners?per_page=100&page=3>; rel=\"last\"",
                    gh.url()
                )),
                "{link}"
            );
            assert!(!link.contains("rel=\"prev\""));
        }
        if pages == 3 {
            assert!(
                link.contains("rel=\"prev\"") && link.contains("rel=\"first\""),
                "{link}"
            );
        }
        next = link
            .split(", ")
            .find(|l| l.ends_with("rel=\"next\""))
            .map(|l| l[1..l.find('>').unwrap()].to_string());
    }
    assert_eq!(pages, 3);
    assert_eq!(names.len(), 250);
    assert_eq!(gh.count("GET", "/orgs/acme/actions/runners"), 4);

    // per_page is capped at 100; name filter; beyond the last page is empty.
    let v = json(&call(
        &gh,
        "GET",
        "/orgs/acme/actions/runners?per_page=500",
        Some(PAT),
    ));
    assert_eq!(v["runners"].as_array().unwrap().len(), 100);
    let r = call(
        &gh,
        "GET",
        "/orgs/acme/actions/runners?name=ghr-runner-42",
        Some(PAT),
    );
    let v = json(&r);
    assert_eq!(v["total_count"], 1);
    assert_eq!(v["runners"][0]["id"], ids[41]);
    assert!(r.header("link").is_none());
    let v = json(&call(
        &gh,
        "GET",
        "/orgs/acme/actions/runners?page=99",
        Some(PAT),
    ));
    assert_eq!(v["runners"].as_array().unwrap().len(), 0);
    assert_eq!(v["total_count"], 250);
}

#[test]
fn get_delete_and_busy() {
    let gh = gh();
    let repo = Scope::Repo("acme", "widgets");
    let ids = gh.seed_runners(&repo, "r", 2);
    let path = format!("/repos/acme/widgets/actions/runners/{}", ids[0]);
    let v = json(&call(&gh, "GET", &path, Some(PAT)));
    assert_eq!(v["name"], "r-1");
    // Not visible in another scope.
    let other = format!("/orgs/acme/actions/runners/{}", ids[0]);
    assert_eq!(call(&gh, "GET", &other, Some(PAT)).status, 404);

    gh.set_busy(&repo, ids[0], true);
    assert!(gh.runners(&repo)[0].busy);
    let r = call(&gh, "DELETE", &path, Some(PAT));
    assert_eq!(r.status, 422);
    assert!(json(&r)["message"]
        .as_str()
        .unwrap()
        .contains("still running a job"));
    gh.set_busy(&repo, ids[0], false);
    let r = call(&gh, "DELETE", &path, Some(PAT));
    assert_eq!(r.status, 204);
    assert!(r.body.is_empty());
    assert_eq!(call(&gh, "DELETE", &path, Some(PAT)).status, 404);
    assert_eq!(gh.runners(&repo).len(), 1);
}

#[test]
fn auth_errors() {
    let gh = gh();
    gh.add_pat("fakepat_reponly", &["repo"]);
    let r = call(&gh, "GET", "/orgs/acme/actions/runners", None);
    assert_eq!(r.status, 401);
    assert_eq!(json(&r)["message"], "Bad credentials");
    assert_eq!(
        call(&gh, "GET", "/orgs/acme/actions/runners", Some("nope")).status,
        401
    );
    let r = call(
        &gh,
        "GET",
        "/orgs/acme/actions/runners",
        Some("fakepat_reponly"),
    );
    assert_eq!(r.status, 403);
    assert_eq!(
        json(&r)["message"],
        "Resource not accessible by personal access token"
    );
    assert_eq!(
        call(
            &gh,
            "GET",
            "/repos/acme/widgets/actions/runners",
            Some("fakepat_reponly")
        )
        .status,
        200
    );
    let r = call(&gh, "GET", "/orgs/nope/actions/runners", Some(PAT));
    assert_eq!(r.status, 404);
    assert_eq!(json(&r)["message"], "Not Found");
    assert_eq!(
        call(&gh, "GET", "/repos/acme/nope/actions/runners", Some(PAT)).status,
        404
    );
    assert_eq!(gh.count("get", "/actions/runners"), 6);
    let log = gh.requests();
    assert_eq!(log[0].status, 401);
    assert_eq!(log[0].path, "/orgs/acme/actions/runners");
}

#[test]
fn rate_limits() {
    let gh = gh();
    let r = call(&gh, "GET", "/orgs/acme/actions/runners", Some(PAT));
    assert_eq!(r.header("x-ratelimit-limit"), Some("5000"));
    assert_eq!(r.header("x-ratelimit-remaining"), Some("4999"));
    assert_eq!(r.header("x-ratelimit-used"), Some("1"));
    assert_eq!(r.header("x-ratelimit-resource"), Some("core"));
    assert!(r
        .header("x-ratelimit-reset")
        .unwrap()
        .parse::<u64>()
        .is_ok());

    let reset = testkit::timefmt::unix_now() + 2;
    gh.set_rate_limit(1, reset);
    assert_eq!(
        call(&gh, "GET", "/orgs/acme/actions/runners", Some(PAT)).status,
        200
    );
    let r = call(&gh, "GET", "/orgs/acme/actions/runners", Some(PAT));
    assert_eq!(r.status, 403);
    assert_eq!(r.header("x-ratelimit-remaining"), Some("0"));
    assert_eq!(
        r.header("x-ratelimit-reset"),
        Some(reset.to_string().as_str())
    );
    assert!(json(&r)["message"]
        .as_str()
        .unwrap()
        .contains("rate limit exceeded"));
    std::thread::sleep(Duration::from_millis(2200));
    assert_eq!(
        call(&gh, "GET", "/orgs/acme/actions/runners", Some(PAT)).status,
        200
    );

    gh.set_secondary_rate_limit(1, 3);
    let r = call(&gh, "GET", "/orgs/acme/actions/runners", Some(PAT));
    assert_eq!(r.status, 429);
    assert_eq!(r.header("retry-after"), Some("3"));
    assert_eq!(
        call(&gh, "GET", "/orgs/acme/actions/runners", Some(PAT)).status,
        200
    );
}

#[test]
fn faults_and_latency() {
    let gh = gh();
    gh.inject_errors(2, 502);
    assert_eq!(
        call(&gh, "GET", "/orgs/acme/actions/runners", Some(PAT)).status,
        502
    );
    assert_eq!(
        call(&gh, "GET", "/orgs/acme/actions/runners", Some(PAT)).status,
        502
    );
    assert_eq!(
        call(&gh, "GET", "/orgs/acme/actions/runners", Some(PAT)).status,
        200
    );
    gh.set_latency(Duration::from_millis(150));
    let t = std::time::Instant::now();
    call(&gh, "GET", "/orgs/acme/actions/runners", Some(PAT));
    assert!(t.elapsed() >= Duration::from_millis(150));
    let statuses: Vec<u16> = gh.requests().iter().map(|r| r.status).collect();
    assert_eq!(statuses, [502, 502, 200, 200]);
}

#[test]
fn user_agent_required_and_headers_logged() {
    let gh = gh();
    let r = request(
        "GET",
        &format!("{}/orgs/acme/actions/runners", gh.url()),
        &[("Authorization", "Bearer fakepat_testpat")],
        None,
        Duration::from_secs(5),
    )
    .unwrap();
    assert_eq!(r.status, 403);
    assert!(json(&r)["message"].as_str().unwrap().contains("User-Agent"));
    call(&gh, "GET", "/orgs/acme/actions/runners", Some(PAT));
    let log = gh.requests();
    assert_eq!(log[1].header("user-agent"), Some("testkit-tests"));
    assert_eq!(log[1].header("ACCEPT"), Some("application/vnd.github+json"));
}

#[test]
fn fake_github_binary_serves_until_killed() {
    use std::io::BufRead;
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_fake-github"))
        .args(["--port", "0", "--org", "acme", "--pat", "p1=admin:org"])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let url = line.trim().to_string();
    assert!(url.starts_with("http://127.0.0.1:"), "{url}");
    let r = request(
        "POST",
        &format!("{url}/orgs/acme/actions/runners/registration-token"),
        &[("Authorization", "Bearer p1"), ("User-Agent", "t")],
        None,
        Duration::from_secs(5),
    )
    .unwrap();
    child.kill().unwrap();
    child.wait().unwrap();
    assert_eq!(r.status, 201, "{}", r.text());
}

#[test]
fn latency_is_per_request_not_serialized() {
    let gh = gh();
    let ids = gh.seed_runners(&Scope::Org("acme"), "bulk", 100);
    gh.set_latency(Duration::from_millis(20));
    let t = std::time::Instant::now();
    std::thread::scope(|s| {
        for chunk in ids.chunks(10) {
            let gh = &gh;
            s.spawn(move || {
                for id in chunk {
                    let r = call(
                        gh,
                        "DELETE",
                        &format!("/orgs/acme/actions/runners/{id}"),
                        Some(PAT),
                    );
                    assert_eq!(r.status, 204);
                }
            });
        }
    });
    // 100 x 20 ms sequentially would be 2 s; 10 parallel clients take about a tenth.
    assert!(
        t.elapsed() < Duration::from_millis(1500),
        "{:?}",
        t.elapsed()
    );
    assert!(gh.runners(&Scope::Org("acme")).is_empty());
    assert_eq!(gh.count("DELETE", "/actions/runners/"), 100);
}
