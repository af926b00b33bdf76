//! Everything the wrapper reads from its environment and command line, read once up front.

use std::env;
use std::ffi::OsString;
use std::path::PathBuf;
use std::time::Duration;

pub const DEFAULT_LOCK_DIR: &str = "/tmp/github-runner-locks";
pub const DEFAULT_RUNNER_SCRIPT: &str = "/home/runner/run.sh";
pub const HOOK_STARTED_ENV: &str = "ACTIONS_RUNNER_HOOK_JOB_STARTED";
pub const HOOK_COMPLETED_ENV: &str = "ACTIONS_RUNNER_HOOK_JOB_COMPLETED";
/// Socket of the wrapper, set for the runner and its hooks.
pub const SOCKET_ENV: &str = "RUNNER_WRAPPER_SOCKET";
/// The user's own hook, set by our hook script for the hook client.
pub const USER_HOOK_ENV: &str = "RUNNER_WRAPPER_USER_HOOK";

#[derive(Debug, Clone)]
pub struct Config {
    /// RUNNER_RESOURCE_ID; None (unset or empty) means no locking at all.
    pub resource: Option<String>,
    pub lock_dir: PathBuf,
    /// RUNNER_LOCK_TIMEOUT in seconds; None (unset, empty or 0) waits forever.
    pub timeout: Option<Duration>,
    /// How often a waiting started hook prints who holds the resource (RUNNER_LOCK_STATUS_INTERVAL).
    pub status_interval: Duration,
    pub command: Vec<OsString>,
    pub runner_name: String,
    pub org: String,
    pub repo: String,
    pub user_started: Option<String>,
    pub user_completed: Option<String>,
}

fn var(name: &str) -> Option<String> {
    env::var(name).ok().filter(|v| !v.trim().is_empty())
}

fn seconds(name: &str) -> Result<Option<Duration>, String> {
    match var(name) {
        None => Ok(None),
        // "30" and "30s" both mean 30 seconds.
        Some(v) => match v.trim().trim_end_matches('s').parse::<f64>() {
            Ok(s) if s > 0.0 && s.is_finite() => Ok(Some(Duration::from_secs_f64(s))),
            Ok(_) => Ok(None),
            Err(_) => Err(format!("{name}={v:?} is not a number of seconds")),
        },
    }
}

impl Config {
    /// `args` are the arguments after the program name.
    pub fn from_env(args: Vec<OsString>) -> Result<Config, String> {
        let mut command = args;
        if command.first().is_some_and(|a| a == "--") {
            command.remove(0);
        }
        if command.is_empty() {
            command.push(
                var("RUNNER_SCRIPT")
                    .unwrap_or_else(|| DEFAULT_RUNNER_SCRIPT.into())
                    .into(),
            );
        }
        Ok(Config {
            resource: var("RUNNER_RESOURCE_ID").map(|s| s.trim().to_string()),
            lock_dir: var("RUNNER_LOCK_DIR")
                .unwrap_or_else(|| DEFAULT_LOCK_DIR.into())
                .into(),
            timeout: seconds("RUNNER_LOCK_TIMEOUT")?,
            status_interval: seconds("RUNNER_LOCK_STATUS_INTERVAL")?
                .unwrap_or(Duration::from_secs(10)),
            command,
            runner_name: var("RUNNER_NAME").unwrap_or_default(),
            org: var("GHR_ORG").unwrap_or_default(),
            repo: var("GHR_REPO").unwrap_or_default(),
            user_started: var(HOOK_STARTED_ENV),
            user_completed: var(HOOK_COMPLETED_ENV),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seconds_values() {
        std::env::set_var("RW_TEST_SECS", "1.5");
        assert_eq!(
            seconds("RW_TEST_SECS"),
            Ok(Some(Duration::from_millis(1500)))
        );
        std::env::set_var("RW_TEST_SECS", "30s");
        assert_eq!(seconds("RW_TEST_SECS"), Ok(Some(Duration::from_secs(30))));
        std::env::set_var("RW_TEST_SECS", "0");
        assert_eq!(seconds("RW_TEST_SECS"), Ok(None));
        std::env::set_var("RW_TEST_SECS", "soon");
        assert!(seconds("RW_TEST_SECS").is_err());
        std::env::remove_var("RW_TEST_SECS");
        assert_eq!(seconds("RW_TEST_SECS"), Ok(None));
    }
}
