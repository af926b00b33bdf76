//! Shared bits of the fake runner: where its files live, the JSON HTTP helper, signals, output.

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, SystemTime};
use testkit::http_client;

pub const VERSION: &str = "2.329.0";

/// The runner's root (where `.runner`, `.credentials`, `_work`, `bin/` live): `RUNNER_ROOT`,
/// else the directory `config.sh`/`run.sh` was started from (parent of `bin/` for the worker).
pub fn root() -> PathBuf {
    if let Some(r) = std::env::var_os("RUNNER_ROOT").filter(|r| !r.is_empty()) {
        return PathBuf::from(r);
    }
    let argv0 = PathBuf::from(std::env::args_os().next().unwrap_or_default());
    let exe = if argv0.components().count() > 1 {
        std::env::current_dir().unwrap_or_default().join(argv0)
    } else {
        std::env::current_exe().unwrap_or_default()
    };
    let dir = exe.parent().map(Path::to_path_buf).unwrap_or_default();
    if dir.file_name().is_some_and(|n| n == "bin") {
        return dir.parent().map(Path::to_path_buf).unwrap_or(dir);
    }
    dir
}

/// `{UTC:yyyy-MM-dd HH:mm:ssZ}`, the Listener's line prefix.
pub fn ts() -> String {
    testkit::timefmt::runner_ts(SystemTime::now())
}

/// One JSON call. Returns the status and the parsed body (Null when empty or not JSON).
pub fn call(
    method: &str,
    url: &str,
    auth: &str,
    body: Option<&Value>,
    timeout: Duration,
) -> std::io::Result<(u16, Value)> {
    let data = body.map(|b| b.to_string());
    let r = http_client::request_honouring_proxy_env(
        method,
        url,
        &[
            ("Authorization", auth),
            ("Content-Type", "application/json"),
            ("Accept", "application/json"),
            (
                "User-Agent",
                concat!("GitHubActionsRunner-fake/", "2.329.0"),
            ),
        ],
        data.as_deref().map(str::as_bytes),
        timeout,
    )?;
    let v = serde_json::from_slice(&r.body).unwrap_or(Value::Null);
    Ok((r.status, v))
}

/// Plain-text POST (job log chunks).
pub fn post_text(url: &str, auth: &str, text: &str) -> std::io::Result<u16> {
    http_client::request_honouring_proxy_env(
        "POST",
        url,
        &[("Authorization", auth), ("Content-Type", "text/plain")],
        Some(text.as_bytes()),
        Duration::from_secs(30),
    )
    .map(|r| r.status)
}

/// The message GitHub put in an error body, or the status.
pub fn message(status: u16, v: &Value) -> String {
    match v["message"].as_str() {
        Some(m) => format!("{m} (HTTP {status})"),
        None => format!("HTTP {status}"),
    }
}

pub fn read_json(path: &Path) -> Option<Value> {
    serde_json::from_slice(&std::fs::read(path).ok()?).ok()
}

/// The runner's settings, as the real runner finds them: `.runner`, else `.runner_migrated`
/// (either one means "configured"); the same for `.credentials`.
pub fn settings_file(root: &Path, base: &str) -> Option<Value> {
    read_json(&root.join(base)).or_else(|| read_json(&root.join(format!("{base}_migrated"))))
}

/// A command for one of the runner's own programs: `<root>/bin/<name>` when installed, else
/// this very binary started under that name (host runs without a layout).
pub fn role_command(root: &Path, name: &str) -> std::process::Command {
    let path = root.join("bin").join(name);
    if path.exists() {
        return std::process::Command::new(path);
    }
    let exe = std::env::current_exe().unwrap_or_else(|_| PathBuf::from("fake-runner"));
    let mut c = std::process::Command::new(exe);
    std::os::unix::process::CommandExt::arg0(&mut c, name);
    c.env("RUNNER_ROOT", root);
    c
}

pub fn is_configured(root: &Path) -> bool {
    root.join(".runner").exists() || root.join(".runner_migrated").exists()
}

/// Every `ACTIONS_RUNNER_INPUT_<NAME>` of the environment, as the real CommandSettings reads
/// them: prefix matched case-insensitively, name kept as written (compared case-insensitively
/// later), value trimmed, empty values ignored; each variable is removed from the
/// environment, so nothing the runner starts ever sees it.
pub fn take_runner_inputs() -> Vec<(String, String)> {
    const PREFIX: &str = "ACTIONS_RUNNER_INPUT_";
    let mut inputs = Vec::new();
    for (key, value) in std::env::vars_os() {
        let key = key.to_string_lossy().into_owned();
        if key.len() < PREFIX.len() || !key[..PREFIX.len()].eq_ignore_ascii_case(PREFIX) {
            continue;
        }
        let value = value.to_string_lossy().trim().to_string();
        if !value.is_empty() {
            inputs.push((key[PREFIX.len()..].to_string(), value));
        }
        std::env::remove_var(&key);
    }
    inputs
}

/// .NET's `bool.TryParse`: "true"/"false" in any case, surrounding blanks allowed; nothing else.
pub fn parse_bool(value: &str) -> Option<bool> {
    match value.trim().to_ascii_lowercase().as_str() {
        "true" => Some(true),
        "false" => Some(false),
        _ => None,
    }
}

/// Loads `<root>/.env` into the environment the way the Listener does at start: every line
/// with `=` after the first character sets that variable (the rest of the line is the value,
/// taken literally), overriding what was inherited; `KEY=` with nothing after removes it.
pub fn load_dotenv(root: &Path) {
    let Ok(text) = std::fs::read_to_string(root.join(".env")) else {
        return;
    };
    for line in text.lines() {
        match line.find('=') {
            Some(i) if i > 0 => {
                let (key, value) = (&line[..i], &line[i + 1..]);
                if value.is_empty() {
                    std::env::remove_var(key);
                } else {
                    std::env::set_var(key, value);
                }
            }
            _ => {}
        }
    }
}

/// Whether trace lines go to stdout too (`ACTIONS_RUNNER_PRINT_LOG_TO_STDOUT`, set by the
/// official image), as `[<UTC> INFO <Source>] <message>`.
pub fn trace(source: &str, message: &str) {
    // The runner reads this one with its StringUtil.ConvertToBoolean: 1, true or $true.
    let on = std::env::var("ACTIONS_RUNNER_PRINT_LOG_TO_STDOUT")
        .is_ok_and(|v| matches!(v.to_ascii_lowercase().as_str(), "1" | "true" | "$true"));
    if on {
        println!("[{} INFO {source}] {message}", ts());
    }
}

// --- signals, std-only: the libc symbols are declared by hand so the binary needs no crate.
pub const SIGINT: i32 = 2;
pub const SIGKILL: i32 = 9;
pub const SIGTERM: i32 = 15;

extern "C" {
    fn signal(signum: i32, handler: extern "C" fn(i32)) -> usize;
    fn kill(pid: i32, sig: i32) -> i32;
    fn getuid() -> u32;
}

/// The real uid of this process.
pub fn uid() -> u32 {
    // SAFETY: getuid has no arguments and cannot fail.
    unsafe { getuid() }
}

/// The real scripts refuse root unless `RUNNER_ALLOW_RUNASROOT` is set (and not empty). The
/// fake allows root on purpose only with that variable, as the real one does; the test image
/// runs it as uid 1001.
pub fn refuses_root(message: &str) -> bool {
    let allowed = std::env::var_os("RUNNER_ALLOW_RUNASROOT").is_some_and(|v| !v.is_empty());
    if uid() == 0 && !allowed {
        println!("{message}");
        return true;
    }
    false
}

pub static SHUTDOWN: AtomicBool = AtomicBool::new(false);

extern "C" fn on_signal(_: i32) {
    SHUTDOWN.store(true, Ordering::SeqCst);
}

/// Sends `sig` to every process of the process group `pgid`.
pub fn signal_group(pgid: u32, sig: i32) {
    // SAFETY: plain syscall; a negative pid addresses the group.
    unsafe {
        kill(-(pgid as i32), sig);
    }
}

/// SIGINT/SIGTERM set [`SHUTDOWN`] instead of killing the process.
pub fn trap_shutdown_signals() {
    // SAFETY: the handler only stores to an atomic, which is async-signal-safe.
    unsafe {
        signal(SIGINT, on_signal);
        signal(SIGTERM, on_signal);
    }
}

pub fn shutting_down() -> bool {
    SHUTDOWN.load(Ordering::SeqCst)
}

pub fn send_signal(pid: u32, sig: i32) {
    // SAFETY: plain syscall on a pid we spawned.
    unsafe {
        kill(pid as i32, sig);
    }
}
