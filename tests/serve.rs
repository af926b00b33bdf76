//! `ghr serve` end to end: the real binary on 127.0.0.1, the fake GitHub, a real lock
//! directory; with Docker, two orgs' board runners sharing a board, the page in a real
//! headless Chromium and the metrics in a real Prometheus.

mod serve_support;

use serde_json::{json, Value};
use serve_support::{free_port, tool, wait_for, Browser, Prometheus, Serve};
use std::os::unix::fs::PermissionsExt;
use std::process::Command;
use std::time::Duration;
use testkit::lab::{docker_ready, Fleet, Ghr, Lab, PAT};
use testkit::{JobSpec, Scope};

const XSS: &str = "<script>alert('pwned')</script> reflash";

/// Every answer a viewer can get, none may hold the PAT.
fn assert_no_secret(serve: &Serve, token: Option<&str>) {
    for path in [
        "/",
        "/fragment",
        "/api/v1/fleets",
        "/api/v1/locks",
        "/api/v1/history",
        "/metrics",
        "/healthz",
        "/nope",
    ] {
        let (_, body) = serve.get_with(path, token).expect("serve answers");
        assert!(!body.contains(PAT), "{path} shows the PAT");
    }
    assert!(!serve.stderr().contains(PAT), "serve's log shows the PAT");
}

/// A lab directory with one fleet's `.env` (the fake GitHub, a lock dir with resource `pi`).
fn lab_dir(lab: &Lab, tag: &str) -> Ghr {
    let locks = lab.scratch().join("locks");
    runner_wrapper::lockdir::ensure_resource(
        &locks,
        "pi",
        runner_wrapper::contract::DEFAULT_LOCK_GROUP,
    )
    .expect("a resource");
    Ghr::new(env!("CARGO_BIN_EXE_ghr"), tag)
        .env_file(&format!(
            "ORG=acme\nGH_PAT={PAT}\nRUNNER_NAME_PREFIX=srv{tag}-\nGITHUB_API_URL={api}\nGITHUB_SERVER_URL={api}\nRUNNER_LOCK_HOST_PATH={locks}\n",
            api = lab.gh.url(),
            locks = locks.display()
        ))
        .env("SERVE_GITHUB_REFRESH", "1s")
}

/// Releases `resource` on drop, so a failing test leaves no hold keeper behind.
struct ReleaseOnDrop<'a>(&'a Ghr, &'a str);

impl Drop for ReleaseOnDrop<'_> {
    fn drop(&mut self) {
        self.0.run(&["release", self.1]);
    }
}

fn serve(dir: &Ghr, args: &[&str], token: Option<&str>) -> Serve {
    let port = free_port();
    let listen = format!("127.0.0.1:{port}");
    let mut all = vec!["serve", "--listen", &listen];
    all.extend_from_slice(args);
    Serve::start(dir.command(&all), port, token)
}

#[test]
fn serve_answers_safely_and_cheaply() {
    let lab = Lab::new(env!("CARGO_BIN_EXE_ghr"));
    let dir = lab_dir(&lab, "safe");

    // Another host could reach it: refused without a token file, with one line.
    let open = dir.run(&["serve", "--listen", &format!("0.0.0.0:{}", free_port())]);
    let open = open.code(3).error_line("--listen 0.0.0.0:");
    assert!(open.stderr.contains("--token-file"), "{}", open.stderr);
    let token_file = dir.path("token");
    std::fs::write(&token_file, "t0ken-for-the-lab\n").unwrap();
    std::fs::set_permissions(&token_file, std::fs::Permissions::from_mode(0o644)).unwrap();
    dir.run(&["serve", "--listen", "0.0.0.0:0", "--token-file", "token"])
        .code(3)
        .error_line("--token-file token has mode 644");

    // With the token: nothing without it, everything with it.
    std::fs::set_permissions(&token_file, std::fs::Permissions::from_mode(0o600)).unwrap();
    let port = free_port();
    let listen = format!("0.0.0.0:{port}");
    let tok = Some("t0ken-for-the-lab");
    let guarded = Serve::start(
        dir.command(&["serve", "--listen", &listen, "--token-file", "token"]),
        port,
        tok,
    );
    assert_eq!(guarded.get_with("/metrics", None).unwrap().0, 401);
    assert_eq!(guarded.get_with("/metrics", Some("wrong")).unwrap().0, 401);
    assert_eq!(
        guarded
            .get_with("/?token=t0ken-for-the-lab", None)
            .unwrap()
            .0,
        200
    );
    assert_eq!(guarded.get_with("/api/v1/locks", tok).unwrap().0, 200);
    assert_no_secret(&guarded, tok);
    drop(guarded);

    // Holds are off unless asked for.
    let ro = serve(&dir, &[], None);
    let (status, v) = ro.send(
        "POST",
        "/api/v1/holds",
        json!({"resource": "pi", "user": "al"}),
        None,
    );
    assert_eq!(status, 403, "{v}");
    assert_eq!(
        ro.send("DELETE", "/api/v1/holds/pi", json!({"user": "al"}), None)
            .0,
        403
    );

    // Security headers on every answer.
    let resp = reqwest::blocking::Client::builder()
        .no_proxy()
        .build()
        .unwrap()
        .get(ro.url("/"))
        .send()
        .unwrap();
    let h = resp.headers();
    assert_eq!(h["x-content-type-options"], "nosniff");
    let csp = h["content-security-policy"].to_str().unwrap();
    assert!(
        csp.starts_with("default-src 'none'") && !csp.contains("unsafe-inline"),
        "{csp}"
    );

    // 100 viewers cost GitHub what one does: the refresh schedule alone asks it.
    std::thread::sleep(Duration::from_millis(1500));
    lab.gh.clear_requests();
    let started = std::time::Instant::now();
    std::thread::scope(|s| {
        for _ in 0..100 {
            s.spawn(|| {
                for path in ["/", "/api/v1/fleets", "/metrics"] {
                    ro.get(path);
                }
            });
        }
    });
    std::thread::sleep(Duration::from_secs(3).saturating_sub(started.elapsed()));
    let lists = lab
        .gh
        .requests()
        .iter()
        .filter(|r| r.path.ends_with("/actions/runners"))
        .count();
    let secs = started.elapsed().as_secs_f64();
    assert!(
        (lists as f64) <= secs.ceil() + 1.0,
        "{lists} runner lists in {secs:.1} s with 100 viewers (refresh every 1 s)"
    );

    // promtool agrees with the metric names and the format.
    if tool("/usr/bin/promtool", "promtool check metrics") {
        let mut check = Command::new("/usr/bin/promtool")
            .args(["check", "metrics"])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        use std::io::Write;
        check
            .stdin
            .take()
            .unwrap()
            .write_all(ro.get("/metrics").as_bytes())
            .unwrap();
        let out = check.wait_with_output().unwrap();
        assert!(
            out.status.success() && out.stdout.is_empty() && out.stderr.is_empty(),
            "promtool check metrics: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    // The Grafana dashboard asks only for metrics serve has.
    let metrics = ro.get("/metrics");
    let grafana = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/contrib/grafana/ghr.json"
    ))
    .unwrap();
    let _: Value = serde_json::from_str(&grafana).expect("the dashboard is JSON");
    for name in grafana
        .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .filter(|w| w.starts_with("ghr_"))
    {
        assert!(
            metrics.contains(&format!("# TYPE {name} ")),
            "the dashboard uses {name}, which /metrics lacks"
        );
    }
    let mut ro = ro;
    let (code, took) = ro.stop();
    assert_eq!(code, Some(0), "SIGTERM ends serve with 0: {}", ro.stderr());
    assert!(took < Duration::from_secs(2), "stopped in {took:?}");

    // Holds from the API do what `ghr hold`/`ghr release` do; what they say is escaped.
    let rw = serve(&dir, &["--allow-holds"], None);
    let _release = ReleaseOnDrop(&dir, "pi");
    let (status, v) = rw.send(
        "POST",
        "/api/v1/holds",
        json!({"resource": "pi", "user": "alice", "reason": XSS, "for": "1h"}),
        None,
    );
    assert_eq!(status, 201, "{v}");
    // The lock directory is read every second.
    assert!(wait_for(Duration::from_secs(3), || rw
        .json("/api/v1/locks")[0]["state"]
        == "held"));
    let locks = rw.json("/api/v1/locks");
    assert_eq!(locks[0]["holder"]["kind"], "hold", "{locks}");
    assert_eq!(locks[0]["holder"]["user"], "alice");
    assert_eq!(locks[0]["holder"]["reason"], XSS);
    let cli: Value = serde_json::from_str(&dir.run(&["locks", "--json"]).ok().stdout).unwrap();
    assert_eq!(
        cli,
        {
            let mut v = rw.json("/api/v1/locks");
            v[0]["holder"]["held_for_secs"] = cli[0]["holder"]["held_for_secs"].clone();
            v
        },
        "the API answers what `ghr locks --json` prints"
    );
    let page = rw.get("/");
    assert!(
        !page.contains("<script>alert"),
        "a hold reason reaches the page as text"
    );
    assert!(page.contains("&lt;script&gt;alert(&#39;pwned&#39;)&lt;/script&gt; reflash"));
    let (status, v) = rw.send("DELETE", "/api/v1/holds/pi", json!({"user": "bob"}), None);
    assert_eq!((status, &v["released"]), (200, &json!(true)), "{v}");
    assert!(wait_for(Duration::from_secs(5), || rw
        .json("/api/v1/locks")[0]["state"]
        == "free"));
    let history = rw.json("/api/v1/history");
    assert_eq!(history["grants"][0]["user"], "alice", "{history}");
    assert!(
        history["grants"][0]["cause"]
            .as_str()
            .unwrap()
            .contains("bob"),
        "{history}"
    );
    assert_no_secret(&rw, None);
}

#[test]
fn systemd_writes_a_unit_that_runs_serve_in_the_lab() {
    let lab = Lab::new(env!("CARGO_BIN_EXE_ghr"));
    let dir = lab_dir(&lab, "unit");
    let printed = dir
        .run(&["systemd", "--print", "--allow-holds"])
        .ok()
        .stdout;
    let lab_path = std::fs::canonicalize(dir.dir.path()).unwrap();
    let key = |k: &str| -> Vec<String> {
        printed
            .lines()
            .filter_map(|l| l.strip_prefix(&format!("{k}=")))
            .map(String::from)
            .collect()
    };
    let wd = key("WorkingDirectory");
    assert_eq!(wd.len(), 1);
    assert_eq!(std::fs::canonicalize(&wd[0]).unwrap(), lab_path);
    assert!(
        key("ExecStart")[0].contains(" serve --dir ")
            && key("ExecStart")[0].ends_with("--allow-holds")
    );
    assert!(key("After")[0].contains("docker.service"));
    assert_eq!(key("Restart"), ["on-failure"]);
    assert_eq!(key("ProtectSystem"), ["strict"]);
    assert!(key("ReadWritePaths")[0].ends_with("/locks"), "{printed}");

    // --user writes it under the user's config and says how to enable it.
    let home = lab.scratch().join("home");
    let out = dir
        .run_with(&[("HOME", home.to_str().unwrap())], &["systemd", "--user"])
        .ok();
    let unit = home.join(".config/systemd/user/ghr-serve.service");
    assert!(unit.is_file(), "{}", out.stdout);
    out.stdout_line("systemctl --user daemon-reload")
        .stdout_line("systemctl --user enable --now ghr-serve.service");

    let system = lab.scratch().join("ghr-serve.service");
    std::fs::write(&system, &printed).unwrap();
    if std::path::Path::new("/usr/bin/systemd-analyze").exists() {
        for file in [&system, &unit] {
            let out = Command::new("systemd-analyze")
                .args(["verify", file.to_str().unwrap()])
                .output()
                .unwrap();
            let text = String::from_utf8_lossy(&out.stderr).to_string();
            // Only what concerns our unit counts (the host's own units may warn too).
            let ours: Vec<&str> = text.lines().filter(|l| l.contains("ghr-serve")).collect();
            assert!(
                out.status.success() && ours.is_empty(),
                "systemd-analyze verify {}:\n{text}",
                file.display()
            );
        }
    } else {
        eprintln!("systemd-analyze is not installed: the unit's keys were checked instead");
    }
}

/// Two orgs sharing a board (a job holds it, the other org's job waits), and a board whose
/// health check fails; `ghr serve` over both fleets, seen by Chromium and Prometheus.
#[test]
fn the_lab_live_in_a_browser_and_in_prometheus() {
    if !docker_ready("the_lab_live_in_a_browser_and_in_prometheus") {
        return;
    }
    let lab = Lab::new(env!("CARGO_BIN_EXE_ghr"));
    let gh = &lab.gh;
    let label = "srv-board";
    let shared = "srv-shared";
    let hc = "srv-hc";
    let a = lab
        .fleet("srva")
        .org("srv-org-a")
        .env(&format!("BOARD_RUNNERS=pi:{label};hc:{label}-hc"))
        .env(&format!("RUNNER_RESOURCE_ID_PI={shared}"))
        .env(&format!("RUNNER_RESOURCE_ID_HC={hc}"))
        .env("BOARD_HEALTHCHECK_HC=echo probe: no /dev/ttyUSB9; false")
        .env("RUNNER_HEALTHCHECK_INTERVAL=1s")
        .build();
    let b = lab
        .fleet("srvb")
        .org("srv-org-b")
        .env(&format!("BOARD_RUNNERS=pi:{label}"))
        .env(&format!("RUNNER_RESOURCE_ID={shared}"))
        .build();
    for f in [&a, &b] {
        f.ghr(&["init", "-n", "1"]).ok();
    }
    let online = |f: &Fleet| {
        gh.runner(&Scope::Org(&f.org), &f.name("pi"))
            .is_some_and(|r| r.status == "online")
    };
    assert!(
        wait_for(Duration::from_secs(60), || online(&a) && online(&b)),
        "both board runners come online:\n{}\n{}",
        a.logs(&a.name("pi"), 40),
        b.logs(&b.name("pi"), 40)
    );
    // Org a's job holds the board; org b's waits for it.
    let long = JobSpec {
        name: "flash-a".into(),
        duration: Duration::from_secs(300),
        run_id: 4242,
        ..JobSpec::default()
    };
    let holder = gh.dispatch_job(&Scope::Org(&a.org), &[label], long);
    assert!(gh.wait_until(Duration::from_secs(30), |gh| gh
        .job(holder)
        .is_some_and(|j| j.steps_started_at.is_some())));
    let waiter = gh.dispatch_job(&Scope::Org(&b.org), &[label], JobSpec::new("flash-b"));
    assert!(gh.wait_until(Duration::from_secs(30), |gh| gh
        .job(waiter)
        .is_some_and(|j| j.log.contains("waiting for resource"))));

    let port = free_port();
    let listen = format!("127.0.0.1:{port}");
    let (ae, be) = (a.path(".env"), b.path(".env"));
    let cmd = a.ghr.command(&[
        "serve",
        "--listen",
        &listen,
        "--allow-holds",
        "--env-file",
        ae.to_str().unwrap(),
        "--env-file",
        be.to_str().unwrap(),
    ]);
    let mut cmd = cmd;
    cmd.env("SERVE_GITHUB_REFRESH", "2s");
    let serve = Serve::start(cmd, port, None);
    let settled = wait_for(Duration::from_secs(30), || {
        let locks = serve.json("/api/v1/locks");
        let fleets = serve.json("/api/v1/fleets");
        let res = |id: &str| {
            locks
                .as_array()
                .unwrap()
                .iter()
                .find(|r| r["resource"] == id)
                .cloned()
        };
        res(shared).is_some_and(|r| {
            r["state"] == "held" && r["waiters"].as_array().is_some_and(|w| !w.is_empty())
        }) && res(hc).is_some_and(|r| r["health"] == "unhealthy")
            && fleets
                .as_array()
                .unwrap()
                .iter()
                .all(|f| f["github"] == "known" && f["docker"] == "known")
    });
    assert!(
        settled,
        "serve sees the lab: {}\n{}",
        serve.get("/api/v1/locks"),
        serve.get("/api/v1/fleets")
    );
    let fleets = serve.json("/api/v1/fleets");
    let list_a: Value = serde_json::from_str(&a.ghr(&["list", "--json"]).ok().stdout).unwrap();
    assert_eq!(
        fleets[0]["runners"], list_a["runners"],
        "the fleet as `ghr list --json` shows it"
    );

    // Prometheus scrapes serve and has the runners and the board's state.
    if tool("/usr/bin/prometheus", "the Prometheus end-to-end check") {
        let prom = Prometheus::start(&[format!("127.0.0.1:{port}")]);
        let seen = wait_for(Duration::from_secs(60), || {
            let up: f64 = prom
                .query("sum(ghr_runners{state=~\"online|busy\"})")
                .first()
                .map_or(0.0, |s| s.1);
            let held = prom.query(&format!(
                "ghr_lock_held{{resource=\"{shared}\",kind=\"job\"}}"
            ));
            up >= 2.0 && held.first().is_some_and(|s| s.1 == 1.0)
        });
        assert!(
            seen,
            "Prometheus has ghr_runners and the board's state: {:?} {:?}",
            prom.query("ghr_runners"),
            prom.query("ghr_lock_held")
        );
        let per_fleet = prom.query("ghr_runners{state=\"busy\"}");
        assert!(
            per_fleet
                .iter()
                .any(|s| s.0["fleet"] == a.prefix.as_str() && s.1 == 1.0),
            "{per_fleet:?}"
        );
    }

    // The page, rendered by Chromium.
    if !tool("/usr/bin/chromedriver", "the browser test") {
        return;
    }
    let browser = match Browser::start(1280, 1100) {
        Ok(b) => b,
        Err(e) => {
            assert!(
                std::env::var_os("CI").is_none(),
                "Chromium cannot start in CI: {e}"
            );
            eprintln!("\n*** SKIPPED: the browser test: Chromium cannot start: {e} ***\n");
            return;
        }
    };
    browser.goto(&serve.url("/"));
    let dom = |script: &str| browser.eval(script);
    assert!(
        wait_for(Duration::from_secs(10), || dom(
            "return document.getElementById('conn').textContent"
        ) == "live"),
        "the page goes live"
    );
    let runners =
        dom("return [...document.querySelectorAll('tr[data-runner]')].map(r => r.dataset.runner)");
    for name in [a.name("pi"), a.name("hc"), b.name("pi")] {
        assert!(
            runners
                .as_array()
                .unwrap()
                .iter()
                .any(|r| r == name.as_str()),
            "{name} in {runners}"
        );
    }
    let row = |id: &str, what: &str| {
        dom(&format!(
        "var r = document.querySelector('tr[data-resource=\"{id}\"]'); return r ? {what} : null"
    ))
    };
    assert_eq!(row(shared, "r.dataset.kind"), "job");
    let waiting = row(shared, "r.querySelector('li[data-waiter]').dataset.waiter");
    assert_eq!(
        waiting,
        b.name("pi").as_str(),
        "org b's job waits, in the page"
    );
    assert_eq!(row(hc, "r.dataset.health"), "unhealthy");
    assert!(row(hc, "r.textContent")
        .as_str()
        .unwrap()
        .contains("probe: no /dev/ttyUSB9"));

    // A hold taken on the host shows without a reload within 3 s, its reason as text.
    let marker = dom("window.__same_page = 42; return 1");
    assert_eq!(marker, 1);
    a.ghr(&["hold", hc, "--reason", XSS]).ok();
    let _release = ReleaseOnDrop(&a.ghr, hc);
    let held_at = std::time::Instant::now();
    let shown = wait_for(Duration::from_secs(3), || {
        row(hc, "r.dataset.kind") == "hold"
    });
    assert!(
        shown,
        "the hold shows within 3 s (after {:?})",
        held_at.elapsed()
    );
    assert_eq!(dom("return window.__same_page"), 42, "no reload");
    let text = row(hc, "r.textContent");
    assert!(
        text.as_str().unwrap().contains(XSS),
        "the reason, as text: {text}"
    );
    assert_eq!(
        dom("return document.scripts.length"),
        1,
        "no script came in with the reason"
    );
    browser.screenshot(&serve_support::screenshot_path());

    // A phone: no horizontal scroll at 400 px.
    browser.resize(400, 900);
    assert!(
        wait_for(Duration::from_secs(5), || {
            dom("return document.documentElement.scrollWidth <= window.innerWidth") == true
        }),
        "no horizontal scroll at 400 px: {}",
        dom("return [document.documentElement.scrollWidth, window.innerWidth]")
    );

    let (status, v) = serve.send(
        "DELETE",
        &format!("/api/v1/holds/{hc}"),
        json!({"user": "test"}),
        None,
    );
    assert_eq!(status, 200, "{v}");
    assert_no_secret(&serve, None);
    gh.cancel_job(holder);
}
