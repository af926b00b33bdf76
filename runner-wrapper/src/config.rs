//! Everything the wrapper reads from its environment and command line, read and checked once up
//! front (names, defaults and syntax from [`crate::contract`]).

use std::ffi::OsString;
use std::path::PathBuf;
use std::time::Duration;

use crate::contract::{self, env};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// RUNNER_RESOURCE_ID: one id or a pool; `None` (unset or empty) means no locking at all.
    pub members: Option<Vec<String>>,
    pub lock_dir: PathBuf,
    /// RUNNER_LOCK_GROUP (a gid): the group of a lock directory the wrapper has to create
    /// itself; 1001 when unset. (An existing lock directory's own group is the lock group.)
    pub lock_group: u32,
    /// RUNNER_LOCK_TIMEOUT; `None` (unset, empty or 0) waits forever.
    pub timeout: Option<Duration>,
    /// How often a waiting started hook prints who holds the resource.
    pub status_interval: Duration,
    pub command: Vec<OsString>,
    pub runner_name: String,
    pub org: String,
    pub repo: String,
    /// The hooks the environment already had (the user's own).
    pub user_started: Option<String>,
    pub user_completed: Option<String>,
    /// RUNNER_HEALTHCHECK, run with `/bin/sh -c`.
    pub healthcheck: Option<String>,
    pub check_interval: Duration,
    pub check_timeout: Duration,
    /// RUNNER_REPAIR, run with `/bin/sh -c` after a failed check (only with a check).
    pub repair: Option<String>,
    /// RUNNER_REPAIR_ATTEMPTS: repairs per failed check.
    pub repair_attempts: u32,
    /// RUNNER_QUEUE_AT_GITHUB: park the runner (offline) while its board is busy.
    pub queue_at_github: bool,
    /// RUNNER_QUEUE_COURTESY: a runner that just ran a job steps aside this long for parked
    /// runners of its board.
    pub queue_courtesy: Duration,
    /// RUNNER_ONE_JOB (default: a JIT configuration is in the environment): the runner takes
    /// one job per start; after it the wrapper exits.
    pub one_job: bool,
    /// RESOURCE_ENV_<MEMBER> of each member (same order as `members`).
    pub member_env: Vec<Vec<(String, String)>>,
}

impl Config {
    /// From the process environment; `args` are the arguments after the program name.
    pub fn from_env(args: Vec<OsString>) -> Result<Config, String> {
        Self::from_vars(args, |k| std::env::var(k).ok())
    }

    /// Errors are one line naming the variable, its value and the fix.
    pub fn from_vars(
        args: Vec<OsString>,
        get: impl Fn(&str) -> Option<String>,
    ) -> Result<Config, String> {
        let var = |k: &str| get(k).filter(|v| !v.trim().is_empty());
        let mut command = args;
        if command.first().is_some_and(|a| a == "--") {
            command.remove(0);
        }
        if command.is_empty() {
            command.push(
                var(env::SCRIPT)
                    .unwrap_or_else(|| contract::DEFAULT_RUNNER_SCRIPT.into())
                    .into(),
            );
        }
        let members = match var(env::RESOURCE_ID) {
            None => None,
            Some(spec) => Some(
                contract::parse_resource_list(&spec)
                    .map_err(|e| format!("{}={spec}: {e}", env::RESOURCE_ID))?,
            ),
        };
        let mut member_env = Vec::new();
        for m in members.iter().flatten() {
            let key = contract::resource_env_key(m);
            let pairs = match var(&key) {
                None => Vec::new(),
                Some(v) => {
                    contract::parse_resource_env(&v).map_err(|e| format!("{key}={v}: {e}"))?
                }
            };
            member_env.push(pairs);
        }
        let d = |k: &str| var(k);
        let lock_group = match var(env::LOCK_GROUP) {
            None => contract::DEFAULT_LOCK_GROUP,
            Some(v) => v.trim().parse().map_err(|_| {
                format!(
                    "{}={v} must be a group id (a number) for the wrapper (only ghr on the host reads group names)",
                    env::LOCK_GROUP
                )
            })?,
        };
        Ok(Config {
            members,
            lock_dir: var(env::LOCK_DIR)
                .unwrap_or_else(|| contract::DEFAULT_LOCK_DIR.into())
                .into(),
            lock_group,
            timeout: contract::optional_duration(
                env::LOCK_TIMEOUT,
                d(env::LOCK_TIMEOUT).as_deref(),
            )?,
            status_interval: contract::duration_or(
                env::LOCK_STATUS_INTERVAL,
                d(env::LOCK_STATUS_INTERVAL).as_deref(),
                contract::DEFAULT_STATUS_INTERVAL,
            )?,
            command,
            runner_name: var(env::RUNNER_NAME).unwrap_or_default(),
            org: var(env::ORG).unwrap_or_default(),
            repo: var(env::REPO).unwrap_or_default(),
            user_started: var(env::HOOK_STARTED),
            user_completed: var(env::HOOK_COMPLETED),
            healthcheck: var(env::HEALTHCHECK),
            check_interval: contract::duration_or(
                env::HEALTHCHECK_INTERVAL,
                d(env::HEALTHCHECK_INTERVAL).as_deref(),
                contract::DEFAULT_HEALTHCHECK_INTERVAL,
            )?,
            check_timeout: contract::duration_or(
                env::HEALTHCHECK_TIMEOUT,
                d(env::HEALTHCHECK_TIMEOUT).as_deref(),
                contract::DEFAULT_HEALTHCHECK_TIMEOUT,
            )?,
            repair: var(env::REPAIR),
            repair_attempts: contract::repair_attempts(d(env::REPAIR_ATTEMPTS).as_deref())?,
            queue_at_github: contract::flag(
                env::QUEUE_AT_GITHUB,
                d(env::QUEUE_AT_GITHUB).as_deref(),
                false,
            )?,
            queue_courtesy: contract::queue_courtesy(d(env::QUEUE_COURTESY).as_deref())?,
            one_job: contract::flag(
                env::ONE_JOB,
                d(env::ONE_JOB).as_deref(),
                var(env::JITCONFIG).is_some(),
            )?,
            member_env,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn cfg(vars: &[(&str, &str)]) -> Result<Config, String> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Config::from_vars(vec![], |k| map.get(k).cloned())
    }

    #[test]
    fn defaults() {
        let c = cfg(&[]).unwrap();
        assert_eq!(c.members, None);
        assert_eq!(c.lock_dir, PathBuf::from("/tmp/github-runner-locks"));
        assert_eq!(c.command, [OsString::from("/home/runner/run.sh")]);
        assert_eq!(c.timeout, None);
        assert_eq!(c.status_interval, Duration::from_secs(10));
        assert_eq!(c.check_interval, Duration::from_secs(600));
        assert_eq!(c.healthcheck, None);
        assert_eq!(c.lock_group, 1001);
        assert!(
            !c.queue_at_github,
            "off unless asked for: today's FIFO on the runner"
        );
        assert_eq!(c.queue_courtesy, Duration::from_secs(10));
        let c = cfg(&[
            ("RUNNER_QUEUE_AT_GITHUB", "true"),
            ("RUNNER_QUEUE_COURTESY", "0"),
        ])
        .unwrap();
        assert!(c.queue_at_github);
        assert_eq!(c.queue_courtesy, Duration::ZERO);
        // One job per start: a JIT configuration says so, RUNNER_ONE_JOB overrides.
        assert!(!c.one_job);
        assert!(
            cfg(&[("ACTIONS_RUNNER_INPUT_JITCONFIG", "e30=")])
                .unwrap()
                .one_job
        );
        assert!(
            !cfg(&[
                ("ACTIONS_RUNNER_INPUT_JITCONFIG", "e30="),
                ("RUNNER_ONE_JOB", "false")
            ])
            .unwrap()
            .one_job
        );
        assert!(cfg(&[("RUNNER_ONE_JOB", "yes")]).unwrap().one_job);
        let e = cfg(&[("RUNNER_ONE_JOB", "sometimes")]).unwrap_err();
        assert!(
            e.contains("RUNNER_ONE_JOB") && e.contains("sometimes"),
            "{e}"
        );
        assert_eq!(
            cfg(&[("RUNNER_QUEUE_COURTESY", "2.5")])
                .unwrap()
                .queue_courtesy,
            Duration::from_millis(2500)
        );
        assert_eq!((c.repair, c.repair_attempts), (None, 2));
        let c = cfg(&[
            ("RUNNER_REPAIR", "relay cycle"),
            ("RUNNER_REPAIR_ATTEMPTS", "0"),
        ])
        .unwrap();
        assert_eq!(
            (c.repair.as_deref(), c.repair_attempts),
            (Some("relay cycle"), 0)
        );
        assert_eq!(
            cfg(&[("RUNNER_LOCK_GROUP", "2000")]).unwrap().lock_group,
            2000
        );
    }

    #[test]
    fn pools_durations_and_member_env() {
        let c = cfg(&[
            ("RUNNER_RESOURCE_ID", "rk-a, rk-b"),
            ("RESOURCE_ENV_RK_B", "SERIAL=/dev/ttyUSB1;RELAY=2"),
            ("RUNNER_LOCK_TIMEOUT", "5m"),
            ("RUNNER_HEALTHCHECK", "test -e /dev/ttyUSB0"),
            ("RUNNER_HEALTHCHECK_INTERVAL", "30s"),
        ])
        .unwrap();
        assert_eq!(c.members.unwrap(), ["rk-a", "rk-b"]);
        assert_eq!(c.member_env[0], []);
        assert_eq!(c.member_env[1][1], ("RELAY".into(), "2".into()));
        assert_eq!(c.timeout, Some(Duration::from_secs(300)));
        assert_eq!(c.check_interval, Duration::from_secs(30));
    }

    #[test]
    fn bad_values_name_the_key_and_the_value() {
        let table = [
            (
                ("RUNNER_LOCK_TIMEOUT", "soon"),
                "RUNNER_LOCK_TIMEOUT=soon is not a duration",
            ),
            (("RUNNER_RESOURCE_ID", "a,,b"), "RUNNER_RESOURCE_ID=a,,b:"),
            (
                ("RUNNER_HEALTHCHECK_INTERVAL", "0"),
                "RUNNER_HEALTHCHECK_INTERVAL=0 must be more than zero",
            ),
            (
                ("RUNNER_LOCK_STATUS_INTERVAL", "1x"),
                "RUNNER_LOCK_STATUS_INTERVAL=1x",
            ),
            (
                ("RUNNER_REPAIR_ATTEMPTS", "-1"),
                "RUNNER_REPAIR_ATTEMPTS=-1 is not a number of repairs; set it to a whole number from 0",
            ),
            (
                ("RUNNER_REPAIR_ATTEMPTS", "101"),
                "RUNNER_REPAIR_ATTEMPTS=101 is not a number of repairs",
            ),
            (
                ("RUNNER_QUEUE_AT_GITHUB", "maybe"),
                "RUNNER_QUEUE_AT_GITHUB=maybe is not a yes/no value; set RUNNER_QUEUE_AT_GITHUB to true or false",
            ),
            (
                ("RUNNER_QUEUE_COURTESY", "soon"),
                "RUNNER_QUEUE_COURTESY=soon is not a duration",
            ),
            (
                ("RUNNER_LOCK_GROUP", "ghr-locks"),
                "RUNNER_LOCK_GROUP=ghr-locks must be a group id",
            ),
        ];
        for ((k, v), want) in table {
            let e = cfg(&[(k, v)]).unwrap_err();
            assert!(e.starts_with(want), "{e}");
            assert!(!e.contains('\n'));
        }
        let e = cfg(&[("RUNNER_RESOURCE_ID", "a"), ("RESOURCE_ENV_A", "nokey")]).unwrap_err();
        assert!(e.starts_with("RESOURCE_ENV_A=nokey: "), "{e}");
    }
}
