//! `bin/Runner.Worker`: runs one job handed over on stdin by the Listener. Started hook,
//! steps (an optional bash script, then a sleep, maybe a failure), completed hook; progress
//! and the hooks' and script's output go to the server.
//!
//! Like the real worker, every hook and step gets the file commands of a step: `GITHUB_ENV`
//! names a fresh file, and what the step appends to it (`K=V` lines or `K<<DELIM` heredocs)
//! is in the environment of every later step and hook of the job.
//! A `cancel` line on stdin stops the steps (the script gets SIGINT, then SIGKILL); it never
//! kills a running hook. Exit code is 100 + result (0 Succeeded, 2 Failed, 3 Canceled), as the
//! real worker's.

use crate::common::{call, post_text, root, send_signal, settings_file, SIGINT, SIGKILL};
use serde_json::{json, Value};
use std::cell::RefCell;
use std::fs::File;
use std::io::{BufRead, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

static CANCELED: AtomicBool = AtomicBool::new(false);

struct Job {
    plans: String,
    auth: String,
    id: u64,
    /// The job's environment on top of the worker's own; grows with `GITHUB_ENV` writes.
    env: RefCell<Vec<(String, String)>>,
    work: PathBuf,
    diag: PathBuf,
    /// `_work/_temp/_runner_file_commands`: where each step's `GITHUB_ENV` file is made.
    file_commands: PathBuf,
    steps_run: std::cell::Cell<u32>,
}

/// How a step's process is watched while it runs.
enum Watch {
    /// Hooks: never killed, even when the job is canceled.
    Hook,
    /// Script steps: SIGINT on cancel, SIGKILL two seconds later.
    Step,
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

    /// Runs a hook as the real runner does (`bash -e <script>` for `.sh`).
    fn hook(&self, kind: &str, path: &str) -> i32 {
        self.log(&format!(
            "A job {kind} hook has been configured by the self-hosted runner administrator\nRun '{path}'\n"
        ));
        if !path.ends_with(".sh") {
            self.log(&format!("Error: Invalid file extension at '{path}'. PowerShell scripts require .ps1 and bash scripts require .sh.\n"));
            return 1;
        }
        let mut cmd = Command::new("bash");
        cmd.arg("-e").arg(path);
        self.run_step(&format!("{kind}-hook"), cmd, Watch::Hook)
    }

    /// Runs a step's process with the job's environment and a fresh `GITHUB_ENV` file,
    /// streaming its output to the job log; afterwards applies what it wrote to `GITHUB_ENV`.
    /// Returns its exit code.
    fn run_step(&self, what: &str, mut cmd: Command, watch: Watch) -> i32 {
        let n = self.steps_run.get() + 1;
        self.steps_run.set(n);
        let _ = std::fs::create_dir_all(&self.diag);
        let _ = std::fs::create_dir_all(&self.work);
        let _ = std::fs::create_dir_all(&self.file_commands);
        let env_file = self.file_commands.join(format!("set_env_{}_{n}", self.id));
        let _ = File::create(&env_file);
        let out_path = self.diag.join(format!("job-{}-{what}.log", self.id));
        let env = self.env.borrow().clone();
        let spawned = File::create(&out_path).and_then(|out| {
            cmd.envs(env.iter().map(|(k, v)| (k, v)))
                .env("GITHUB_ENV", &env_file)
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
        let code = self.watch(&mut child, &out_path, watch);
        if let Ok(text) = std::fs::read_to_string(&env_file) {
            let mut env = self.env.borrow_mut();
            for (k, v) in parse_env_file(&text) {
                env.retain(|(x, _)| *x != k);
                env.push((k, v));
            }
        }
        if code != 0 {
            self.log(&format!(
                "Error: Process completed with exit code {code}.\n"
            ));
        }
        code
    }

    fn watch(&self, child: &mut Child, out_path: &Path, watch: Watch) -> i32 {
        let mut reader = File::open(out_path).ok();
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
        let mut kill_at: Option<Instant> = None;
        let code = loop {
            match child.try_wait() {
                Ok(Some(s)) => break s.code().unwrap_or(1),
                Ok(None) => {}
                Err(_) => break 1,
            }
            if matches!(watch, Watch::Step) && CANCELED.load(Ordering::SeqCst) {
                match kill_at {
                    None => {
                        send_signal(child.id(), SIGINT);
                        kill_at = Some(Instant::now() + Duration::from_secs(2));
                    }
                    Some(t) if Instant::now() >= t => send_signal(child.id(), SIGKILL),
                    Some(_) => {}
                }
            }
            pump(&mut reader);
            std::thread::sleep(Duration::from_millis(100));
        };
        pump(&mut reader);
        code
    }
}

/// The lines a step appended to its `GITHUB_ENV` file: `NAME=value`, or `NAME<<DELIM`
/// followed by value lines and a line `DELIM`.
fn parse_env_file(text: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut lines = text.lines();
    while let Some(line) = lines.next() {
        if line.trim().is_empty() {
            continue;
        }
        let eq = line.find('=');
        let heredoc = line.find("<<");
        match (eq, heredoc) {
            (Some(e), h) if h.is_none_or(|h| e < h) => {
                out.push((line[..e].to_string(), line[e + 1..].to_string()));
            }
            (_, Some(h)) => {
                let (name, delim) = (&line[..h], &line[h + 2..]);
                let mut value: Vec<&str> = Vec::new();
                for l in lines.by_ref() {
                    if l == delim {
                        break;
                    }
                    value.push(l);
                }
                out.push((name.to_string(), value.join("\n")));
            }
            _ => {}
        }
    }
    out
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
    let settings = settings_file(&root, ".runner").unwrap_or_default();
    let id = msg["jobId"].as_u64().unwrap_or(0);
    let repository = msg["repository"].as_str().unwrap_or_default().to_string();
    let repo_name = repository.rsplit('/').next().unwrap_or("repo").to_string();
    let work_root = root.join(settings["workFolder"].as_str().unwrap_or("_work"));
    let work = work_root.join(&repo_name).join(&repo_name);
    let job = Job {
        plans: format!(
            "{}/_apis/distributedtask/hubs/Actions/plans/{id}",
            settings["serverUrl"].as_str().unwrap_or_default()
        ),
        auth: format!("Bearer {}", msg["accessToken"].as_str().unwrap_or_default()),
        id,
        env: RefCell::new(vec![
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
            (
                "RUNNER_TEMP".into(),
                work_root.join("_temp").display().to_string(),
            ),
        ]),
        work,
        diag: root.join("_diag"),
        file_commands: work_root.join("_temp").join("_runner_file_commands"),
        steps_run: std::cell::Cell::new(0),
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

/// The job's steps: the script (`bash --noprofile --norc -eo pipefail`, like a `run:` step),
/// then a sleep of `durationMs` (stopped by a cancel), then a failure if asked.
fn steps(job: &Job, msg: &Value) -> &'static str {
    job.event("StepsStarted", None);
    let result = (|| {
        if let Some(script) = msg["script"].as_str().filter(|s| !s.is_empty()) {
            let temp = job.file_commands.with_file_name(format!("{}.sh", job.id));
            let _ = std::fs::create_dir_all(job.file_commands.parent().unwrap_or(&job.work));
            if std::fs::write(&temp, script).is_err() {
                return "Failed";
            }
            let mut cmd = Command::new("bash");
            cmd.args(["--noprofile", "--norc", "-eo", "pipefail"])
                .arg(&temp);
            let code = job.run_step("script", cmd, Watch::Step);
            if CANCELED.load(Ordering::SeqCst) {
                job.log("##[error]The operation was canceled.\n");
                return "Canceled";
            }
            if code != 0 {
                return "Failed";
            }
        }
        let end = Instant::now() + Duration::from_millis(msg["durationMs"].as_u64().unwrap_or(0));
        loop {
            if CANCELED.load(Ordering::SeqCst) {
                job.log("##[error]The operation was canceled.\n");
                return "Canceled";
            }
            let now = Instant::now();
            if now >= end {
                return if msg["fail"].as_bool() == Some(true) {
                    job.log("Error: Process completed with exit code 1.\n");
                    "Failed"
                } else {
                    "Succeeded"
                };
            }
            std::thread::sleep((end - now).min(Duration::from_millis(20)));
        }
    })();
    job.event("StepsCompleted", Some(result));
    result
}

#[cfg(test)]
mod tests {
    use super::parse_env_file;

    #[test]
    fn env_file_lines_and_heredocs() {
        let text = "A=1\n\nB=x=y\nMULTI<<EOF\nline 1\nline 2\nEOF\nC=\n";
        assert_eq!(
            parse_env_file(text),
            [
                ("A".to_string(), "1".to_string()),
                ("B".into(), "x=y".into()),
                ("MULTI".into(), "line 1\nline 2".into()),
                ("C".into(), String::new()),
            ]
        );
    }
}
