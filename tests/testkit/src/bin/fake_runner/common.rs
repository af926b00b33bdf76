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
    let r = http_client::request(
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
    http_client::request(
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

// --- signals, std-only: the libc symbols are declared by hand so the binary needs no crate.
pub const SIGINT: i32 = 2;
pub const SIGKILL: i32 = 9;
pub const SIGTERM: i32 = 15;

extern "C" {
    fn signal(signum: i32, handler: extern "C" fn(i32)) -> usize;
    fn kill(pid: i32, sig: i32) -> i32;
}

pub static SHUTDOWN: AtomicBool = AtomicBool::new(false);

extern "C" fn on_signal(_: i32) {
    SHUTDOWN.store(true, Ordering::SeqCst);
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
