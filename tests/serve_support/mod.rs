//! What the serve tests share: a running `ghr serve` (killed on drop, its stderr kept), a
//! plain HTTP client, a headless Chromium driven by chromedriver over WebDriver's JSON, and a
//! real Prometheus — each on a free port of 127.0.0.1.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

pub use testkit::serving::free_port;

/// Polls `cond` every 100 ms until it holds or `timeout` passes.
pub fn wait_for(timeout: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let end = Instant::now() + timeout;
    loop {
        if cond() {
            return true;
        }
        if Instant::now() > end {
            return false;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// A `ghr serve` child; stopped (SIGKILL) on drop unless stopped before.
pub struct Serve {
    pub child: Option<Child>,
    pub port: u16,
    pub stderr: Arc<Mutex<String>>,
}

impl Serve {
    /// Starts `cmd` (a `ghr serve ...` command) and waits until it answers /healthz.
    pub fn start(mut cmd: Command, port: u16, token: Option<&str>) -> Serve {
        cmd.stdout(Stdio::null()).stderr(Stdio::piped());
        let mut child = cmd.spawn().expect("ghr serve starts");
        let (stderr, _reader) = testkit::background::collect(child.stderr.take().unwrap());
        let serve = Serve {
            child: Some(child),
            port,
            stderr,
        };
        let up = wait_for(Duration::from_secs(20), || {
            serve.get_with("/healthz", token).map(|(s, _)| s) == Some(200)
        });
        assert!(up, "ghr serve answers /healthz: {}", serve.stderr());
        serve
    }

    /// `ghr serve` of `ghr`'s directory, on a free port of 127.0.0.1.
    pub fn on(ghr: &testkit::lab::Ghr) -> Serve {
        let port = free_port();
        let listen = format!("127.0.0.1:{port}");
        Serve::start(ghr.command(&["serve", "--listen", &listen]), port, None)
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    pub fn stderr(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }

    /// (status, body) of a GET, with the token as a bearer when given.
    pub fn get_with(&self, path: &str, token: Option<&str>) -> Option<(u16, String)> {
        let client = reqwest::blocking::Client::builder()
            .timeout(Duration::from_secs(10))
            .no_proxy()
            .build()
            .unwrap();
        let mut req = client.get(self.url(path));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        let resp = req.send().ok()?;
        let status = resp.status().as_u16();
        Some((status, resp.text().unwrap_or_default()))
    }

    #[track_caller]
    pub fn get(&self, path: &str) -> String {
        let (status, body) = self.get_with(path, None).expect("serve answers");
        assert_eq!(status, 200, "GET {path}: {body}");
        body
    }

    pub fn json(&self, path: &str) -> Value {
        serde_json::from_str(&self.get(path)).expect("JSON")
    }

    /// A request with a JSON body: (status, JSON answer).
    pub fn send(&self, method: &str, path: &str, body: Value, token: Option<&str>) -> (u16, Value) {
        let client = reqwest::blocking::Client::builder()
            .timeout(Duration::from_secs(20))
            .no_proxy()
            .build()
            .unwrap();
        let mut req = client
            .request(method.parse().unwrap(), self.url(path))
            .header("Content-Type", "application/json")
            .body(body.to_string());
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        let resp = req.send().expect("serve answers");
        let status = resp.status().as_u16();
        (status, resp.json().unwrap_or(Value::Null))
    }

    /// SIGTERM, then the exit code and how long it took.
    pub fn stop(&mut self) -> (Option<i32>, Duration) {
        let mut child = self.child.take().expect("running");
        let start = Instant::now();
        unsafe_kill(child.id(), 15);
        let end = Instant::now() + Duration::from_secs(10);
        loop {
            if let Some(status) = child.try_wait().unwrap() {
                return (status.code(), start.elapsed());
            }
            if Instant::now() > end {
                let _ = child.kill();
                return (None, start.elapsed());
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

fn unsafe_kill(pid: u32, sig: i32) {
    let _ = Command::new("kill")
        .args([format!("-{sig}"), pid.to_string()])
        .status();
}

impl Drop for Serve {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// A child process killed on drop (chromedriver, prometheus).
pub struct Proc(pub Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Whether a tool the test needs is here; outside CI a missing one skips (loudly), in CI
/// (`CI` set: `.ci/run` installs it) it fails.
pub fn tool(path: &str, what: &str) -> bool {
    if Path::new(path).exists() {
        return true;
    }
    assert!(
        std::env::var_os("CI").is_none(),
        "{path} is missing in CI ({what}); .ci/run installs it"
    );
    eprintln!("\n*** SKIPPED: {what}: {path} is not installed (apt-get install it; CI does) ***\n");
    false
}

// ------------------------------------------------------------------ WebDriver

pub struct Browser {
    _driver: Proc,
    base: String,
    session: String,
    http: reqwest::blocking::Client,
}

impl Browser {
    /// Headless Chromium through chromedriver; `Err` says why it could not start.
    pub fn start(width: u32, height: u32) -> Result<Browser, String> {
        let port = free_port();
        let profile =
            std::env::temp_dir().join(format!("ghr-chromium-{}-{port}", std::process::id()));
        let driver = Command::new("/usr/bin/chromedriver")
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("chromedriver: {e}"))?;
        let driver = Proc(driver);
        let http = reqwest::blocking::Client::builder()
            .timeout(Duration::from_secs(60))
            .no_proxy()
            .build()
            .unwrap();
        let base = format!("http://127.0.0.1:{port}");
        let ready = wait_for(Duration::from_secs(20), || {
            http.get(format!("{base}/status"))
                .send()
                .ok()
                .and_then(|r| r.json::<Value>().ok())
                .is_some_and(|v| v["value"]["ready"] == true)
        });
        if !ready {
            return Err("chromedriver did not get ready".into());
        }
        let caps = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": "/usr/bin/chromium",
                "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                         "--hide-scrollbars", format!("--window-size={width},{height}"),
                         format!("--user-data-dir={}", profile.display())]
            }
        }}});
        let v: Value = http
            .post(format!("{base}/session"))
            .json(&caps)
            .send()
            .and_then(|r| r.json())
            .map_err(|e| format!("new session: {e}"))?;
        let session = v["value"]["sessionId"]
            .as_str()
            .ok_or_else(|| format!("Chromium did not start: {v}"))?
            .to_string();
        Ok(Browser {
            _driver: driver,
            base,
            session,
            http,
        })
    }

    fn call(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        let url = format!("{}/session/{}{path}", self.base, self.session);
        let req = self.http.request(method.parse().unwrap(), url);
        let req = match body {
            Some(b) => req.json(&b),
            None => req,
        };
        let v: Value = req
            .send()
            .and_then(|r| r.json())
            .expect("WebDriver answers");
        assert!(v["value"].get("error").is_none(), "WebDriver {path}: {v}");
        v["value"].clone()
    }

    pub fn goto(&self, url: &str) {
        self.call("POST", "/url", Some(json!({ "url": url })));
    }

    /// Runs `script` (a function body) in the page; its return value.
    pub fn eval(&self, script: &str) -> Value {
        self.call(
            "POST",
            "/execute/sync",
            Some(json!({"script": script, "args": []})),
        )
    }

    pub fn resize(&self, width: u32, height: u32) {
        self.call(
            "POST",
            "/window/rect",
            Some(json!({"width": width, "height": height})),
        );
    }

    pub fn screenshot(&self, to: &Path) {
        let b64 = self.call("GET", "/screenshot", None);
        let png = base64_decode(b64.as_str().expect("base64 PNG"));
        if let Some(dir) = to.parent() {
            std::fs::create_dir_all(dir).unwrap();
        }
        std::fs::write(to, png).expect("save the screenshot");
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self
            .http
            .delete(format!("{}/session/{}", self.base, self.session))
            .send();
    }
}

pub fn base64_decode(text: &str) -> Vec<u8> {
    let val = |c: u8| match c {
        b'A'..=b'Z' => c - b'A',
        b'a'..=b'z' => c - b'a' + 26,
        b'0'..=b'9' => c - b'0' + 52,
        b'+' => 62,
        _ => 63,
    };
    let clean: Vec<u8> = text
        .bytes()
        .filter(|c| !matches!(c, b'=' | b'\n' | b'\r'))
        .collect();
    let mut out = Vec::with_capacity(clean.len() * 3 / 4);
    for chunk in clean.chunks(4) {
        let mut n = 0u32;
        for (i, c) in chunk.iter().enumerate() {
            n |= u32::from(val(*c)) << (18 - 6 * i);
        }
        out.push((n >> 16) as u8);
        if chunk.len() > 2 {
            out.push((n >> 8) as u8);
        }
        if chunk.len() > 3 {
            out.push(n as u8);
        }
    }
    out
}

// ------------------------------------------------------------------ Prometheus

pub struct Prometheus {
    _proc: Proc,
    pub port: u16,
    _dir: testkit::lab::TempDir,
}

impl Prometheus {
    /// A real Prometheus scraping `targets` every second, with its own config and storage.
    pub fn start(targets: &[String]) -> Prometheus {
        let dir = testkit::lab::TempDir::new("prometheus");
        let port = free_port();
        let config = format!(
            "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\nscrape_configs:\n  - job_name: ghr\n    static_configs:\n      - targets: [{}]\n",
            targets.iter().map(|t| format!("'{t}'")).collect::<Vec<_>>().join(", ")
        );
        std::fs::write(dir.path().join("prometheus.yml"), config).unwrap();
        let proc = Command::new("/usr/bin/prometheus")
            .arg(format!(
                "--config.file={}",
                dir.path().join("prometheus.yml").display()
            ))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.path().join("data").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("prometheus starts");
        Prometheus {
            _proc: Proc(proc),
            port,
            _dir: dir,
        }
    }

    /// The instant vector of `query`: (labels, value) per series.
    pub fn query(&self, query: &str) -> Vec<(Value, f64)> {
        let v: Option<Value> = reqwest::blocking::Client::builder()
            .no_proxy()
            .build()
            .unwrap()
            .get(format!("http://127.0.0.1:{}/api/v1/query", self.port))
            .query(&[("query", query)])
            .send()
            .and_then(|r| r.json())
            .ok();
        v.and_then(|v| v["data"]["result"].as_array().cloned())
            .unwrap_or_default()
            .into_iter()
            .map(|s| {
                let value = s["value"][1]
                    .as_str()
                    .and_then(|x| x.parse().ok())
                    .unwrap_or(f64::NAN);
                (s["metric"].clone(), value)
            })
            .collect()
    }
}

/// Where the screenshot goes: `GHR_DASHBOARD_PNG`, else the test's target directory.
pub fn screenshot_path() -> PathBuf {
    std::env::var_os("GHR_DASHBOARD_PNG")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_TARGET_TMPDIR")).join("serve-dashboard.png"))
}
