//! `bin/Runner.Worker`: runs one job handed over on stdin by the Listener. Started hook,
//! steps (sleep, maybe fail), completed hook; progress and the hooks' output go to the server.
//! A `cancel` line on stdin stops the steps; it never kills a running hook. Exit code is
//! 100 + result (0 Succeeded, 2 Failed, 3 Canceled), as the real worker's.

use crate::common::{call, post_text, read_json, root};
use serde_json::{json, Value};
use std::fs::File;
use std::io::{BufRead, Read, Seek, SeekFrom};

use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

static CANCELED: AtomicBool = AtomicBool::new(false);

struct Job {
    plans: String,
    auth: String,
    id: u64,
    env: Vec<(String, String)>,
    work: std::path::PathBuf,
    diag: std::path::PathBuf,
}

impl Job {
    fn event(&self, name: &str, result: Option<&str>) {
        let body = json!({"name": name, "result": result});
        retry(|| {
            call(
                "POST",
                &format!("{}/events", self.plans),
                &self.auth,
                Some(&body),
                Duration::from_secs(30),
            )
            .map(|(s, _)| s)
        });
    }

    fn log(&self, text: &str) {
        if !text.is_empty() {
            retry(|| post_text(&format!("{}/logs", self.plans), &self.auth, text));
        }
    }

    /// Runs a hook as the real runner does (`bash -e <script>` for `.sh`), streaming its
    /// output to the job log. Returns its exit code. Waits for it even when canceled.
    fn hook(&self, kind: &str, path: &str) -> i32 {
        self.log(&format!(
            "A job {kind} hook has been configured by the self-hosted runner administrator\nRun '{path}'\n"
        ));
        if !path.ends_with(".sh") {
            self.log(&format!("Error: Invalid file extension at '{path}'. PowerShell scripts require .ps1 and bash scripts require .sh.\n"));
            return 1;
        }
        let _ = std::fs::create_dir_all(&self.diag);
        let _ = std::fs::create_dir_all(&self.work);
        let out_path = self.diag.join(format!("job-{}-{kind}-hook.log", self.id));
        let spawned = File::create(&out_path).and_then(|out| {
            Command::new("bash")
                .arg("-e")
                .arg(path)
                .envs(self.env.iter().map(|(k, v)| (k, v)))
                .current_dir(&self.work)
                .stdin(Stdio::null())
                // A file, not a pipe: an orphaned hook keeps writing after the worker is gone.
                .stdout(out.try_clone()?)
                .stderr(out)
                .spawn()
        });
        let mut child = match spawned {
            Ok(c) => c,
            Err(e) => {
                self.log(&format!("Error: cannot run bash: {e}\n"));
                return 1;
            }
        };
        let mut reader = File::open(&out_path).ok();
        let mut pos = 0u64;
        let mut pump = |reader: &mut Option<File>| {
            if let Some(f) = reader.as_mut() {
                let mut buf = String::new();
                if f.seek(SeekFrom::Start(pos)).is_ok() && f.read_to_string(&mut buf).is_ok() {
                    pos += buf.len() as u64;
                    self.log(&buf);
                }
            }
        };
        let code = loop {
            match child.try_wait() {
                Ok(Some(s)) => break s.code().unwrap_or(1),
                Ok(None) => {}
                Err(_) => break 1,
            }
            pump(&mut reader);
            std::thread::sleep(Duration::from_millis(100));
        };
        pump(&mut reader);
        if code != 0 {
            self.log(&format!(
                "Error: Process completed with exit code {code}.\n"
            ));
        }
        code
    }
}

/// A few tries on connection errors and 5xx, like the real worker's HTTP retries.
fn retry(mut f: impl FnMut() -> std::io::Result<u16>) {
    for attempt in 0..5 {
        match f() {
            Ok(s) if s < 500 => return,
            _ => std::thread::sleep(Duration::from_millis(100 << attempt)),
        }
    }
}

pub fn main() -> i32 {
    let mut line = String::new();
    let mut stdin = std::io::stdin().lock();
    if stdin.read_line(&mut line).is_err() {
        return 102;
    }
    let msg: Value = serde_json::from_str(&line).unwrap_or_default();
    drop(stdin);
    std::thread::spawn(|| {
        for l in std::io::stdin().lock().lines() {
            match l {
                Ok(l) if l.trim() == "cancel" => CANCELED.store(true, Ordering::SeqCst),
                Ok(_) => {}
                Err(_) => return,
            }
        }
    });

    let root = root();
    let settings = read_json(&root.join(".runner")).unwrap_or_default();
    let id = msg["jobId"].as_u64().unwrap_or(0);
    let repository = msg["repository"].as_str().unwrap_or_default().to_string();
    let repo_name = repository.rsplit('/').next().unwrap_or("repo").to_string();
    let work = root
        .join(settings["workFolder"].as_str().unwrap_or("_work"))
        .join(&repo_name)
        .join(&repo_name);
    let job = Job {
        plans: format!(
            "{}/_apis/distributedtask/hubs/Actions/plans/{id}",
            settings["serverUrl"].as_str().unwrap_or_default()
        ),
        auth: format!("Bearer {}", msg["accessToken"].as_str().unwrap_or_default()),
        id,
        env: vec![
            ("GITHUB_RUN_ID".into(), msg["runId"].to_string()),
            ("GITHUB_RUN_ATTEMPT".into(), msg["runAttempt"].to_string()),
            (
                "GITHUB_JOB".into(),
                msg["jobDisplayName"].as_str().unwrap_or_default().into(),
            ),
            ("GITHUB_REPOSITORY".into(), repository),
            (
                "RUNNER_NAME".into(),
                settings["agentName"].as_str().unwrap_or_default().into(),
            ),
            ("GITHUB_ACTIONS".into(), "true".into()),
            ("CI".into(), "true".into()),
            ("GITHUB_WORKSPACE".into(), work.display().to_string()),
        ],
        work,
        diag: root.join("_diag"),
    };
    let result = run(&job, &msg);
    job.event("JobCompleted", Some(result));
    match result {
        "Succeeded" => 100,
        "Canceled" => 103,
        _ => 102,
    }
}

fn hook_path(var: &str) -> Option<String> {
    std::env::var(var).ok().filter(|v| !v.trim().is_empty())
}

fn run(job: &Job, msg: &Value) -> &'static str {
    job.event("JobStarted", None);
    let mut result = "Succeeded";
    if let Some(hook) = hook_path("ACTIONS_RUNNER_HOOK_JOB_STARTED") {
        if job.hook("started", &hook) != 0 {
            result = "Failed";
        }
    }
    if result == "Succeeded" {
        result = if CANCELED.load(Ordering::SeqCst) {
            "Canceled"
        } else {
            steps(job, msg)
        };
    }
    if let Some(hook) = hook_path("ACTIONS_RUNNER_HOOK_JOB_COMPLETED") {
        if job.hook("completed", &hook) != 0 && result == "Succeeded" {
            result = "Failed";
        }
    }
    result
}

/// The job's steps: sleep `durationMs` (stopped by a cancel), then fail if asked.
fn steps(job: &Job, msg: &Value) -> &'static str {
    job.event("StepsStarted", None);
    let end = Instant::now() + Duration::from_millis(msg["durationMs"].as_u64().unwrap_or(0));
    let result = loop {
        if CANCELED.load(Ordering::SeqCst) {
            job.log("##[error]The operation was canceled.\n");
            break "Canceled";
        }
        let now = Instant::now();
        if now >= end {
            break if msg["fail"].as_bool() == Some(true) {
                job.log("Error: Process completed with exit code 1.\n");
                "Failed"
            } else {
                "Succeeded"
            };
        }
        std::thread::sleep((end - now).min(Duration::from_millis(20)));
    };
    job.event("StepsCompleted", Some(result));
    result
}
