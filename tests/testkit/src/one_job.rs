//! A mini supervisor of one-job (JIT) runners on the host, standing in for `ghr serve`'s
//! ephemeral runners until those are on main: for one org it asks the fake GitHub for a JIT
//! configuration (`generate-jitconfig`, as serve would), lays out a fresh runner root (the
//! fake runner, as the test image has it), and runs the real runner-wrapper (ghr's binary
//! under that name) around it with `ACTIONS_RUNNER_INPUT_JITCONFIG` in its environment; when
//! the wrapper exits (its one job done) it starts the next generation, until stopped.
//! Real processes, real flock locks, the fake GitHub over HTTP; no container (the wrapper's
//! behaviour does not depend on one here).

use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use crate::http_client;

/// One org's stream of one-job runners for one board.
#[derive(Clone)]
pub struct Spec {
    /// The fake GitHub's URL and a PAT it accepts for the org (admin:org).
    pub github: String,
    pub pat: String,
    pub org: String,
    /// The job label of the board (the runner also has `self-hosted`).
    pub label: String,
    /// A copy of ghr's binary named `runner-wrapper` (see [`wrapper_copy`]).
    pub wrapper: PathBuf,
    /// The static fake runner.
    pub fake_runner: PathBuf,
    /// Shared by every org's runners (RUNNER_LOCK_DIR).
    pub lock_dir: PathBuf,
    pub resource: String,
    /// Where this org's runner roots and logs go.
    pub work: PathBuf,
    /// More environment for each wrapper (RUNNER_QUEUE_AT_GITHUB=true, ...).
    pub env: Vec<(String, String)>,
}

/// What one generation did.
#[derive(Debug, Clone)]
pub struct Generation {
    pub name: String,
    /// The wrapper's exit code (`None`: stopped by the supervisor, or killed).
    pub exit: Option<i32>,
    pub stopped: bool,
    pub log: PathBuf,
}

pub struct Supervisor {
    stop: Arc<AtomicBool>,
    current: Arc<Mutex<Option<u32>>>,
    thread: Option<JoinHandle<Vec<Generation>>>,
}

/// ghr's binary copied to `dir/runner-wrapper` (the hook scripts exec `/proc/self/exe`, which
/// must carry that name, as the bind-mounted file does in a board container).
pub fn wrapper_copy(ghr: &Path, dir: &Path) -> std::io::Result<PathBuf> {
    std::fs::create_dir_all(dir)?;
    let to = dir.join("runner-wrapper");
    std::fs::copy(ghr, &to)?;
    Ok(to)
}

/// `generate-jitconfig` for `name` in the org: the encoded JIT configuration.
pub fn jit_config(spec: &Spec, name: &str) -> Result<String, String> {
    let body = serde_json::json!({
        "name": name,
        "runner_group_id": 1,
        "labels": ["self-hosted", spec.label],
        "work_folder": "_work",
    })
    .to_string();
    let auth = format!("Bearer {}", spec.pat);
    let resp = http_client::request(
        "POST",
        &format!(
            "{}/orgs/{}/actions/runners/generate-jitconfig",
            spec.github, spec.org
        ),
        &[
            ("Authorization", auth.as_str()),
            ("User-Agent", "ghr-test-supervisor"),
            ("Content-Type", "application/json"),
        ],
        Some(body.as_bytes()),
        Duration::from_secs(10),
    )
    .map_err(|e| format!("generate-jitconfig: {e}"))?;
    if resp.status != 201 {
        return Err(format!(
            "generate-jitconfig: {} {}",
            resp.status,
            resp.text()
        ));
    }
    let v: serde_json::Value =
        serde_json::from_slice(&resp.body).map_err(|e| format!("generate-jitconfig: {e}"))?;
    v["encoded_jit_config"]
        .as_str()
        .map(str::to_string)
        .ok_or_else(|| "generate-jitconfig: no encoded_jit_config".into())
}

impl Supervisor {
    /// Starts generation 1 at once and a new one each time the previous wrapper exits.
    pub fn start(spec: Spec) -> Supervisor {
        let stop = Arc::new(AtomicBool::new(false));
        let current = Arc::new(Mutex::new(None));
        let (s, c) = (stop.clone(), current.clone());
        let thread = std::thread::spawn(move || run(&spec, &s, &c));
        Supervisor {
            stop,
            current,
            thread: Some(thread),
        }
    }

    /// Stops the running generation (SIGTERM: the wrapper takes its runner offline and exits)
    /// and starts no more; returns every generation.
    pub fn stop(mut self) -> Vec<Generation> {
        self.halt()
    }

    fn halt(&mut self) -> Vec<Generation> {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(pid) = *self.current.lock().unwrap() {
            let _ = Command::new("kill")
                .args(["-TERM", &pid.to_string()])
                .status();
        }
        self.thread
            .take()
            .map(|t| t.join().unwrap_or_default())
            .unwrap_or_default()
    }
}

impl Drop for Supervisor {
    fn drop(&mut self) {
        if self.thread.is_some() {
            self.halt();
        }
    }
}

fn run(spec: &Spec, stop: &AtomicBool, current: &Mutex<Option<u32>>) -> Vec<Generation> {
    let mut out = Vec::new();
    let mut n = 1;
    // Each generation is made ready (JIT configuration, runner root) while the one before runs,
    // so it starts the moment that one exits, as fast as a parked runner restarts: the race
    // the turn file must decide.
    let mut next = prepare(spec, n);
    while !stop.load(Ordering::SeqCst) {
        let name = format!("{}-pi-{n}", spec.org);
        let log = spec.work.join(format!("{name}.log"));
        let child = next.and_then(|jit| spawn(spec, &name, &log, jit));
        n += 1;
        next = prepare(spec, n);
        let child = match child {
            Ok(c) => c,
            Err(e) => {
                let _ = std::fs::write(&log, format!("supervisor: {e}\n"));
                out.push(Generation {
                    name,
                    exit: Some(-1),
                    stopped: false,
                    log,
                });
                std::thread::sleep(Duration::from_millis(500));
                continue;
            }
        };
        *current.lock().unwrap() = Some(child.id());
        if stop.load(Ordering::SeqCst) {
            let _ = Command::new("kill")
                .args(["-TERM", &child.id().to_string()])
                .status();
        }
        let status = wait(child);
        *current.lock().unwrap() = None;
        let stopped = stop.load(Ordering::SeqCst);
        out.push(Generation {
            name,
            exit: status.and_then(|s| s.code().or(s.signal().map(|g| 128 + g))),
            stopped,
            log,
        });
    }
    out
}

/// Generation `n`'s JIT configuration and runner root.
fn prepare(spec: &Spec, n: usize) -> Result<String, String> {
    let name = format!("{}-pi-{n}", spec.org);
    let jit = jit_config(spec, &name)?;
    crate::runner_layout::install(&spec.work.join(&name), &spec.fake_runner)
        .map_err(|e| e.to_string())?;
    Ok(jit)
}

fn wait(mut child: Child) -> Option<std::process::ExitStatus> {
    child.wait().ok()
}

fn spawn(spec: &Spec, name: &str, log: &Path, jit: String) -> Result<Child, String> {
    let root = spec.work.join(name);
    let log_file = std::fs::File::create(log).map_err(|e| e.to_string())?;
    let err = log_file.try_clone().map_err(|e| e.to_string())?;
    let mut cmd = Command::new(&spec.wrapper);
    cmd.env("RUNNER_RESOURCE_ID", &spec.resource)
        .env("RUNNER_LOCK_DIR", &spec.lock_dir)
        .env("RUNNER_SCRIPT", root.join("run.sh"))
        .env("RUNNER_NAME", name)
        .env("GHR_ORG", &spec.org)
        // The generations run on the host as the sandbox's user: root on purpose (see
        // `runner_layout::AS_ROOT`); ghr's own one-job runners run as uid 1001 in containers.
        .env(
            crate::runner_layout::AS_ROOT.0,
            crate::runner_layout::AS_ROOT.1,
        )
        // Secret: in the environment only (never a command line or a file of the test).
        .env("ACTIONS_RUNNER_INPUT_JITCONFIG", jit)
        .current_dir(&root)
        .stdin(Stdio::null())
        .stdout(log_file)
        .stderr(err);
    for (k, v) in &spec.env {
        cmd.env(k, v);
    }
    cmd.spawn()
        .map_err(|e| format!("{}: {e}", spec.wrapper.display()))
}
