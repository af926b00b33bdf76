//! `bin/Runner.Listener run`: loads `<root>/.env` over its environment, opens a session
//! (online), long-polls for messages, runs one `Runner.Worker` child per job, forwards
//! cancels, and goes offline on SIGINT/SIGTERM. When GitHub no longer knows the registration
//! it says so and exits with the real runner's "terminated error" code, 1.

use crate::common::{
    call, load_dotenv, message, role_command, root, send_signal, settings_file, shutting_down,
    take_runner_inputs, trace, trap_shutdown_signals, ts, SIGKILL,
};
use serde_json::{json, Value};
use std::io::Write;
use std::process::{Child, ChildStdin, Stdio};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const TIMEOUT: Duration = Duration::from_secs(30);
/// Longer than the server's long poll.
const POLL_TIMEOUT: Duration = Duration::from_secs(90);

enum Event {
    Job(Value),
    Cancel(u64),
    Fatal(Fatal),
}

/// Why the Listener gives up.
enum Fatal {
    /// The registration was deleted on GitHub while the runner was offline (e.g. for 14
    /// days): creating a session fails; the local configuration stays.
    Deleted,
    /// It was deleted while the runner was online: the Listener removes its local
    /// configuration and exits 0.
    NoLongerExists,
    Other(String),
}

const DELETED: &str = "Failed to create a session. The runner registration has been deleted from the server, please re-configure. Runner registrations are automatically deleted for runners that have not connected to the service recently.";

impl Fatal {
    fn report(&self) {
        match self {
            Fatal::Deleted => eprintln!("{DELETED}"),
            Fatal::NoLongerExists => {
                eprintln!(
                    "The runner no longer exists on the server. Cleaning up local configuration."
                )
            }
            Fatal::Other(e) => eprintln!("{}: {e}", ts()),
        }
    }
}

struct Ctx {
    api: String,
    pool: u64,
    auth: String,
    session: Mutex<String>,
    name: String,
}

impl Ctx {
    fn sessions(&self) -> String {
        format!("{}/pools/{}/sessions", self.api, self.pool)
    }

    /// Creates a session; retries transient failures until shutdown. Err = fatal.
    fn open_session(&self) -> Result<bool, Fatal> {
        let body = json!({"ownerName": format!("fake-runner {}", std::process::id()), "agent": {"name": self.name}});
        let mut failures = 0u32;
        loop {
            if shutting_down() {
                return Ok(false);
            }
            match call("POST", &self.sessions(), &self.auth, Some(&body), TIMEOUT) {
                Ok((200, v)) => {
                    *self.session.lock().unwrap() = v["sessionId"].as_str().unwrap_or("").into();
                    return Ok(true);
                }
                // The real runner's OAuth exchange fails with invalid_client here.
                Ok((401, _)) => return Err(Fatal::Deleted),
                Ok((s @ 403, v)) => return Err(Fatal::Other(message(s, &v))),
                Ok((s, v)) => eprintln!(
                    "{}: Runner connect error: {}. Retrying until reconnected.",
                    ts(),
                    message(s, &v)
                ),
                Err(e) => eprintln!(
                    "{}: Runner connect error: {e}. Retrying until reconnected.",
                    ts()
                ),
            }
            failures += 1;
            backoff(failures);
        }
    }

    fn close_session(&self) {
        let sid = self.session.lock().unwrap().clone();
        let _ = call(
            "DELETE",
            &format!("{}/{sid}", self.sessions()),
            &self.auth,
            None,
            Duration::from_secs(5),
        );
    }
}

fn backoff(failures: u32) {
    std::thread::sleep(Duration::from_millis((100u64 << failures.min(5)).min(2000)));
}

struct Running {
    child: Child,
    stdin: Option<ChildStdin>,
    job_id: u64,
    name: String,
    token: String,
    cancel_deadline: Option<Instant>,
}

/// A JIT configuration (`--jitconfig BLOB` or `ACTIONS_RUNNER_INPUT_JITCONFIG`): base64 of a
/// JSON object of base64 files, written into the runner's root as the real runner does.
fn apply_jitconfig(root: &std::path::Path, blob: &str) -> Result<(), String> {
    let bad = || "Invalid JIT configuration".to_string();
    let json = crate::b64::decode(blob).ok_or_else(bad)?;
    let files: Value = serde_json::from_slice(&json).map_err(|_| bad())?;
    let files = files.as_object().ok_or_else(bad)?;
    for (name, content) in files {
        if name.contains('/') {
            return Err(bad());
        }
        let content = crate::b64::decode(content.as_str().ok_or_else(bad)?).ok_or_else(bad)?;
        std::fs::write(root.join(name), content).map_err(|e| format!("{name}: {e}"))?;
    }
    Ok(())
}

pub fn main(args: &[String]) -> i32 {
    let root = root();
    // Program.Main: `.env` first, then the command line settings (which drop the inputs).
    load_dotenv(&root);
    let inputs = take_runner_inputs();
    let jit = args
        .iter()
        .position(|a| a == "--jitconfig")
        .and_then(|i| args.get(i + 1).cloned())
        .or_else(|| {
            inputs
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case("jitconfig"))
                .map(|(_, v)| v.clone())
        });
    if let Some(blob) = jit {
        if let Err(e) = apply_jitconfig(&root, &blob) {
            eprintln!("{e}");
            return 1;
        }
    }
    let (Some(settings), Some(creds)) = (
        settings_file(&root, ".runner"),
        settings_file(&root, ".credentials"),
    ) else {
        eprintln!("Not configured. Run config.(sh/cmd) to configure the runner.");
        return 1;
    };
    trap_shutdown_signals();
    let ctx = Arc::new(Ctx {
        api: format!(
            "{}/_apis/distributedtask",
            settings["serverUrl"].as_str().unwrap_or_default()
        ),
        pool: settings["poolId"].as_u64().unwrap_or(1),
        auth: format!(
            "Bearer {}",
            creds["data"]["clientId"].as_str().unwrap_or_default()
        ),
        session: Mutex::new(String::new()),
        name: settings["agentName"]
            .as_str()
            .unwrap_or_default()
            .to_string(),
    });
    match ctx.open_session() {
        Ok(true) => {}
        Ok(false) => return 0,
        Err(fatal) => {
            fatal.report();
            return 1;
        }
    }
    println!(
        "\n√ Connected to GitHub\n\nCurrent runner version: '{}'",
        crate::common::VERSION
    );
    println!("{}: Listening for Jobs", ts());
    // A JIT (ephemeral) runner takes one job, then exits; GitHub removes it.
    let ephemeral = settings["ephemeral"].as_bool().unwrap_or(false);

    let (tx, rx) = mpsc::channel();
    {
        let ctx = ctx.clone();
        std::thread::spawn(move || poll_loop(&ctx, &tx));
    }
    let cancel_timeout = Duration::from_millis(
        std::env::var("FAKE_RUNNER_CANCEL_TIMEOUT_MS")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(2000),
    );
    let mut current: Option<Running> = None;
    // The server may hand out the next job as soon as the worker reports completion, a
    // moment before this loop sees the worker exit: keep it instead of dropping it.
    let mut pending: std::collections::VecDeque<Value> = std::collections::VecDeque::new();
    loop {
        if shutting_down() {
            if let Some(mut r) = current.take() {
                // Stopped runner: the worker dies without running the completed hook.
                send_signal(r.child.id(), SIGKILL);
                let _ = r.child.wait();
            }
            ctx.close_session();
            println!("{}: Runner listener exited", ts());
            return 0;
        }
        match rx.recv_timeout(Duration::from_millis(50)) {
            Ok(Event::Job(job)) => {
                trace(
                    "JobDispatcher",
                    &format!(
                        "Job request {} for plan {} job {} received.",
                        job["requestId"], job["planId"], job["jobId"]
                    ),
                );
                pending.push_back(job)
            }
            Ok(Event::Cancel(id)) => {
                if let Some(r) = current.as_mut().filter(|r| r.job_id == id) {
                    if let Some(stdin) = r.stdin.as_mut() {
                        let _ = writeln!(stdin, "cancel");
                    }
                    r.cancel_deadline
                        .get_or_insert(Instant::now() + cancel_timeout);
                }
            }
            Ok(Event::Fatal(fatal)) => {
                if let Some(mut r) = current.take() {
                    send_signal(r.child.id(), SIGKILL);
                    let _ = r.child.wait();
                }
                fatal.report();
                if matches!(fatal, Fatal::NoLongerExists) {
                    for f in [
                        ".runner",
                        ".credentials",
                        ".runner_migrated",
                        ".credentials_migrated",
                    ] {
                        let _ = std::fs::remove_file(root.join(f));
                    }
                    return 0;
                }
                return 1;
            }
            Err(RecvTimeoutError::Timeout) => {}
            // The poll thread stops on shutdown too; the loop top handles that.
            Err(RecvTimeoutError::Disconnected) if shutting_down() => {}
            Err(RecvTimeoutError::Disconnected) => return 1,
        }
        if let Some(r) = current.as_mut() {
            match r.child.try_wait() {
                Ok(Some(status)) => {
                    let result = match status.code() {
                        Some(100) => "Succeeded",
                        Some(102) => "Failed",
                        Some(103) => "Canceled",
                        _ if r.cancel_deadline.is_some() => "Canceled",
                        _ => "Failed",
                    };
                    // The worker reports itself; this covers a killed or crashed worker.
                    let _ = call(
                        "POST",
                        &format!("{}/hubs/Actions/plans/{}/events", ctx.api, r.job_id),
                        &format!("Bearer {}", r.token),
                        Some(&json!({"name": "JobCompleted", "result": result})),
                        TIMEOUT,
                    );
                    trace(
                        "JobDispatcher",
                        &format!(
                            "finish job request for job {} with result: {result}",
                            r.job_id
                        ),
                    );
                    println!("{}: Job {} completed with result: {result}", ts(), r.name);
                    current = None;
                    if ephemeral {
                        ctx.close_session();
                        for f in [".runner", ".credentials", ".credentials_rsaparams"] {
                            let _ = std::fs::remove_file(root.join(f));
                        }
                        println!("{}: Runner listener exited", ts());
                        return 0;
                    }
                }
                Ok(None) => {
                    if r.cancel_deadline.is_some_and(|d| Instant::now() >= d) {
                        // Cancel timeout: kill the worker; a hook it started is orphaned.
                        send_signal(r.child.id(), SIGKILL);
                        r.cancel_deadline = Some(Instant::now() + Duration::from_secs(3600));
                    }
                }
                Err(_) => current = None,
            }
        }
        if current.is_none() {
            if let Some(job) = pending.pop_front() {
                current = start_worker(&root, &job);
            }
        }
    }
}

fn start_worker(root: &std::path::Path, job: &Value) -> Option<Running> {
    let name = job["jobDisplayName"].as_str().unwrap_or("job").to_string();
    println!("{}: Running job: {name}", ts());
    let mut child = role_command(root, "Runner.Worker")
        .stdin(Stdio::piped())
        .spawn()
        .map_err(|e| eprintln!("{}: cannot start Runner.Worker: {e}", ts()))
        .ok()?;
    let mut stdin = child.stdin.take();
    if let Some(s) = stdin.as_mut() {
        let _ = writeln!(s, "{job}");
    }
    Some(Running {
        child,
        stdin,
        job_id: job["jobId"].as_u64().unwrap_or(0),
        name,
        token: job["accessToken"].as_str().unwrap_or_default().to_string(),
        cancel_deadline: None,
    })
}

/// Long-polls for messages; reconnects on errors; reopens an expired session.
fn poll_loop(ctx: &Ctx, tx: &mpsc::Sender<Event>) {
    let messages = format!("{}/pools/{}/messages", ctx.api, ctx.pool);
    let mut last = 0u64;
    let mut failures = 0u32;
    while !shutting_down() {
        let sid = ctx.session.lock().unwrap().clone();
        let url = format!("{messages}?sessionId={sid}&lastMessageId={last}&status=Online");
        match call("GET", &url, &ctx.auth, None, POLL_TIMEOUT) {
            Ok((200, m)) => {
                reconnected(&mut failures);
                last = m["messageId"].as_u64().unwrap_or(last);
                let _ = call(
                    "DELETE",
                    &format!("{messages}/{last}?sessionId={sid}"),
                    &ctx.auth,
                    None,
                    TIMEOUT,
                );
                let body: Value =
                    serde_json::from_str(m["body"].as_str().unwrap_or("null")).unwrap_or_default();
                let ev = match m["messageType"].as_str() {
                    Some("PipelineAgentJobRequest") => Event::Job(body),
                    Some("JobCancellation") => Event::Cancel(body["jobId"].as_u64().unwrap_or(0)),
                    _ => continue,
                };
                if tx.send(ev).is_err() {
                    return;
                }
            }
            Ok((202, _)) => reconnected(&mut failures),
            Ok((401, _)) => {
                // The credential no longer works: the real runner tries a new session, and
                // that fails when the registration is gone.
                let fatal = match ctx.open_session() {
                    Ok(_) => continue,
                    Err(f) => f,
                };
                let _ = tx.send(Event::Fatal(fatal));
                return;
            }
            Ok((404, v)) if v["typeKey"] == "TaskAgentNotFoundException" => {
                let _ = tx.send(Event::Fatal(Fatal::NoLongerExists));
                return;
            }
            Ok((404, _)) => {
                // Session expired: open a new one.
                if let Err(e) = ctx.open_session() {
                    let _ = tx.send(Event::Fatal(e));
                    return;
                }
            }
            Ok((s, v)) => {
                failures += 1;
                eprintln!(
                    "{}: Runner connect error: {}. Retrying until reconnected.",
                    ts(),
                    message(s, &v)
                );
                backoff(failures);
            }
            Err(e) => {
                failures += 1;
                eprintln!(
                    "{}: Runner connect error: {e}. Retrying until reconnected.",
                    ts()
                );
                backoff(failures);
            }
        }
    }
}

fn reconnected(failures: &mut u32) {
    if *failures > 0 {
        eprintln!("{}: Runner reconnected.", ts());
        *failures = 0;
    }
}
