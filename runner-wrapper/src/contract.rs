//! The contract between ghr (on the host) and runner-wrapper (in the board containers), in one
//! place: the variable names, their defaults, the duration syntax, the resource-list (pool)
//! syntax, the per-member environment syntax and the one date routine. ghr reads its settings
//! with these functions and passes the values on under these names; the wrapper reads them back
//! with the same functions, so the two cannot drift apart again.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Environment variable names. `ghr` sets the wrapper-facing ones in the compose file.
pub mod env {
    // ---- read by the wrapper (set by ghr in each board container)
    /// Resource id, or a comma-separated pool of ids. Unset/empty: no locking (plain `exec`).
    pub const RESOURCE_ID: &str = "RUNNER_RESOURCE_ID";
    /// Lock directory inside the container.
    pub const LOCK_DIR: &str = "RUNNER_LOCK_DIR";
    /// Longest wait of a job for its resource (duration; empty or 0: no limit).
    pub const LOCK_TIMEOUT: &str = "RUNNER_LOCK_TIMEOUT";
    /// How often a waiting job's log says who holds the resource (duration).
    pub const LOCK_STATUS_INTERVAL: &str = "RUNNER_LOCK_STATUS_INTERVAL";
    /// The runner command when none is given on the command line.
    pub const SCRIPT: &str = "RUNNER_SCRIPT";
    /// Runner name, for the owner records.
    pub const RUNNER_NAME: &str = "RUNNER_NAME";
    /// Org and repo the runner serves, for the owner records.
    pub const ORG: &str = "GHR_ORG";
    pub const REPO: &str = "GHR_REPO";
    /// Health check command, run with `/bin/sh -c` under the resource's lock.
    pub const HEALTHCHECK: &str = "RUNNER_HEALTHCHECK";
    /// Re-check an idle resource at most this often (duration).
    pub const HEALTHCHECK_INTERVAL: &str = "RUNNER_HEALTHCHECK_INTERVAL";
    /// A check running longer than this is killed and counts as failed (duration).
    pub const HEALTHCHECK_TIMEOUT: &str = "RUNNER_HEALTHCHECK_TIMEOUT";
    /// Repair command (e.g. a relay power-cycle), run with `/bin/sh -c` under the resource's
    /// lock when its health check fails; then the check runs again.
    pub const REPAIR: &str = "RUNNER_REPAIR";
    /// How many repairs one failed check may get before the resource counts as unhealthy.
    pub const REPAIR_ATTEMPTS: &str = "RUNNER_REPAIR_ATTEMPTS";
    /// `true`: while every member is held by another (job, hold, check, repair), the runner's
    /// listener is stopped (offline on GitHub), so jobs wait in GitHub's queue (see `park`).
    pub const QUEUE_AT_GITHUB: &str = "RUNNER_QUEUE_AT_GITHUB";
    /// With queue-at-GitHub: how long a runner that just ran a job stays offline when other
    /// runners were parked waiting for its board (so orgs alternate). Duration; 0: none.
    pub const QUEUE_COURTESY: &str = "RUNNER_QUEUE_COURTESY";
    /// `true`: the runner takes one job per start (JIT, `--ephemeral`, `--once`): after its job
    /// the wrapper never parks or restarts it and exits 0 once it exited. Default: `true` when
    /// `ACTIONS_RUNNER_INPUT_JITCONFIG` is set, else `false`.
    pub const ONE_JOB: &str = "RUNNER_ONE_JOB";
    /// A JIT configuration for the runner (read only for its presence: it makes a one-job
    /// runner). Never logged.
    pub const JITCONFIG: &str = "ACTIONS_RUNNER_INPUT_JITCONFIG";
    /// `RESOURCE_ENV_<MEMBER>=K=V;K2=V2`: environment a job gets when granted that member.
    pub const RESOURCE_ENV_PREFIX: &str = "RESOURCE_ENV_";

    // ---- set by the wrapper
    /// Appended to the job's `$GITHUB_ENV` (and set for the health check): the granted member.
    pub const GRANTED_RESOURCE: &str = "GHR_RESOURCE";
    /// The runner's job hooks (the wrapper points them at its own scripts).
    pub const HOOK_STARTED: &str = "ACTIONS_RUNNER_HOOK_JOB_STARTED";
    pub const HOOK_COMPLETED: &str = "ACTIONS_RUNNER_HOOK_JOB_COMPLETED";
    /// Where the runner's `.env` rewrite keeps the user's own hooks.
    pub const USER_HOOK_STARTED: &str = "RUNNER_WRAPPER_USER_HOOK_JOB_STARTED";
    pub const USER_HOOK_COMPLETED: &str = "RUNNER_WRAPPER_USER_HOOK_JOB_COMPLETED";
    /// The wrapper's hook socket, for the hook scripts.
    pub const SOCKET: &str = "RUNNER_WRAPPER_SOCKET";
    /// The user's hook a hook script chains to (set by the script for the hook client).
    pub const USER_HOOK: &str = "RUNNER_WRAPPER_USER_HOOK";
    /// Makes the real `run.sh` pass INT/TERM to the listener (which then goes offline).
    pub const MANUALLY_TRAP_SIG: &str = "RUNNER_MANUALLY_TRAP_SIG";

    // ---- ghr's own keys (.env on the host) that map onto the above
    /// Host directory mounted at `RUNNER_LOCK_DIR` in every board container.
    pub const LOCK_HOST_PATH: &str = "RUNNER_LOCK_HOST_PATH";
    /// The group that owns the lock directory (a name or a gid on the host; in a container, a
    /// gid the wrapper gives a lock directory it has to create itself).
    pub const LOCK_GROUP: &str = "RUNNER_LOCK_GROUP";
    /// `RUNNER_RESOURCE_ID_<BOARD>`: per-board resource id or pool.
    pub const BOARD_RESOURCE_ID_PREFIX: &str = "RUNNER_RESOURCE_ID_";
    /// `BOARD_HEALTHCHECK_<BOARD>`: becomes `RUNNER_HEALTHCHECK` of that board's runner.
    pub const BOARD_HEALTHCHECK_PREFIX: &str = "BOARD_HEALTHCHECK_";
    /// `BOARD_REPAIR_<BOARD>`: becomes `RUNNER_REPAIR` of that board's runner.
    pub const BOARD_REPAIR_PREFIX: &str = "BOARD_REPAIR_";
    /// `BOARD_QUEUE_AT_GITHUB_<BOARD>`: that board's `RUNNER_QUEUE_AT_GITHUB` (over the
    /// fleet-wide one).
    pub const BOARD_QUEUE_AT_GITHUB_PREFIX: &str = "BOARD_QUEUE_AT_GITHUB_";
}

/// Repairs after one failed health check when `RUNNER_REPAIR_ATTEMPTS` is unset.
pub const DEFAULT_REPAIR_ATTEMPTS: u32 = 2;
/// More repairs than this are a typo, not a policy (each may power-cycle a board).
pub const MAX_REPAIR_ATTEMPTS: u32 = 100;

/// `RUNNER_REPAIR_ATTEMPTS` (unset or empty: the default); the error names key, value and fix.
pub fn repair_attempts(value: Option<&str>) -> Result<u32, String> {
    let Some(v) = value.map(str::trim).filter(|v| !v.is_empty()) else {
        return Ok(DEFAULT_REPAIR_ATTEMPTS);
    };
    v.parse::<u32>()
        .ok()
        .filter(|n| *n <= MAX_REPAIR_ATTEMPTS)
        .ok_or_else(|| {
            format!(
                "{}={v} is not a number of repairs; set it to a whole number from 0 (no repair) to {MAX_REPAIR_ATTEMPTS} (default {DEFAULT_REPAIR_ATTEMPTS})",
                env::REPAIR_ATTEMPTS
            )
        })
}

/// `RUNNER_QUEUE_COURTESY` when unset.
pub const DEFAULT_QUEUE_COURTESY: Duration = Duration::from_secs(10);

/// A yes/no setting (`true`/`false`, `1`/`0`, `yes`/`no`; unset or empty: `default`); the
/// error names key, value and fix.
pub fn flag(key: &str, value: Option<&str>, default: bool) -> Result<bool, String> {
    let Some(v) = value.map(str::trim).filter(|v| !v.is_empty()) else {
        return Ok(default);
    };
    match v.to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" => Ok(true),
        "false" | "0" | "no" => Ok(false),
        _ => Err(format!(
            "{key}={v} is not a yes/no value; set {key} to true or false"
        )),
    }
}

/// `RUNNER_QUEUE_COURTESY`: unset or empty is the default, 0 is no courtesy at all.
pub fn queue_courtesy(value: Option<&str>) -> Result<Duration, String> {
    match value.map(str::trim).filter(|v| !v.is_empty()) {
        None => Ok(DEFAULT_QUEUE_COURTESY),
        Some(v) => parse_duration(v).map_err(|e| e.message(env::QUEUE_COURTESY)),
    }
}

/// Lock directory in the containers, and ghr's default host directory mounted there.
pub const DEFAULT_LOCK_DIR: &str = "/tmp/github-runner-locks";
pub const DEFAULT_RUNNER_SCRIPT: &str = "/home/runner/run.sh";
pub const DEFAULT_STATUS_INTERVAL: Duration = Duration::from_secs(10);
pub const DEFAULT_HEALTHCHECK_INTERVAL: Duration = Duration::from_secs(10 * 60);
pub const DEFAULT_HEALTHCHECK_TIMEOUT: Duration = Duration::from_secs(10 * 60);
/// Mode of the lock directory and of every directory in it: the owner (root) and the lock group
/// only, setgid so everything created inside belongs to the lock group (see
/// runner-wrapper/README.md, "Security").
pub const LOCK_HOST_DIR_MODE: u32 = 0o2770;
/// The lock group when `RUNNER_LOCK_GROUP` is not set: the stock runner image's `runner` user
/// (uid 1001) has gid 1001.
pub const DEFAULT_LOCK_GROUP: u32 = 1001;

/// The accepted duration syntax, for error messages.
pub const DURATION_SYNTAX: &str = "seconds (30, 1.5) or a number with s, m or h (30s, 5m, 1h)";

/// A value that is not a duration; `message(key)` is the one-line error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadDuration {
    pub value: String,
}

impl BadDuration {
    pub fn message(&self, key: &str) -> String {
        format!(
            "{key}={} is not a duration; set {key} to {DURATION_SYNTAX}",
            self.value
        )
    }
}

impl std::fmt::Display for BadDuration {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{:?} is not a duration: use {DURATION_SYNTAX}",
            self.value
        )
    }
}

impl std::error::Error for BadDuration {}

/// `30`, `1.5` (seconds), `30s`, `5m`, `1h`, `1.5h`; surrounding blanks are ignored.
pub fn parse_duration(text: &str) -> Result<Duration, BadDuration> {
    let bad = || BadDuration {
        value: text.to_string(),
    };
    let t = text.trim();
    let (number, unit) = match t.char_indices().last() {
        Some((i, c)) if c.is_ascii_alphabetic() => (&t[..i], c),
        _ => (t, 's'),
    };
    let scale = match unit {
        's' => 1.0,
        'm' => 60.0,
        'h' => 3600.0,
        _ => return Err(bad()),
    };
    // f64 parsing accepts "inf", "NaN" and "1e3"; only plain decimals are meant here.
    if number.is_empty() || !number.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
        return Err(bad());
    }
    let value: f64 = number.parse().map_err(|_| bad())?;
    Duration::try_from_secs_f64(value * scale).map_err(|_| bad())
}

/// A limit: unset, empty or zero means "no limit" (`None`).
pub fn optional_duration(key: &str, value: Option<&str>) -> Result<Option<Duration>, String> {
    match value.map(str::trim).filter(|v| !v.is_empty()) {
        None => Ok(None),
        Some(v) => match parse_duration(v) {
            Ok(d) if d.is_zero() => Ok(None),
            Ok(d) => Ok(Some(d)),
            Err(e) => Err(e.message(key)),
        },
    }
}

/// An interval: unset or empty means `default`; zero is refused (it would spin).
pub fn duration_or(key: &str, value: Option<&str>, default: Duration) -> Result<Duration, String> {
    match value.map(str::trim).filter(|v| !v.is_empty()) {
        None => Ok(default),
        Some(v) => match parse_duration(v) {
            Ok(d) if d.is_zero() => Err(format!(
                "{key}={v} must be more than zero; set {key} to {DURATION_SYNTAX}, or leave it empty for {}",
                format_duration(default)
            )),
            Ok(d) => Ok(d),
            Err(e) => Err(e.message(key)),
        },
    }
}

/// How ghr writes a duration into a container's environment: plain seconds, which every
/// version of the wrapper reads (`30`, `1.5`).
pub fn duration_env_value(d: Duration) -> String {
    let ms = d.as_millis();
    if ms.is_multiple_of(1000) {
        (ms / 1000).to_string()
    } else {
        format!("{}.{:03}", ms / 1000, ms % 1000)
            .trim_end_matches('0')
            .to_string()
    }
}

/// For people: `850ms`, `12s`, `5m03s`, `2h05m`, `3d04h`.
pub fn format_duration(d: Duration) -> String {
    let s = d.as_secs();
    match s {
        0 if d.is_zero() => "0s".into(),
        0 => format!("{}ms", d.as_millis()),
        s if s < 60 => format!("{s}s"),
        s if s < 3600 => format!("{}m{:02}s", s / 60, s % 60),
        s if s < 86_400 => format!("{}h{:02}m", s / 3600, s % 3600 / 60),
        s => format!("{}d{:02}h", s / 86_400, s % 86_400 / 3600),
    }
}

// ---------------------------------------------------------------- time

/// Seconds since the Unix epoch.
pub fn now_epoch() -> u64 {
    now_epoch_ms() / 1000
}

/// Milliseconds since the Unix epoch.
pub fn now_epoch_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's days-from-civil).
pub fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let (m, d) = (i64::from(month), i64::from(day));
    let y = if m <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// (year, month, day) of a day count since 1970-01-01; the inverse of [`days_from_civil`].
pub fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i64::from(month <= 2), month, day)
}

/// `2026-11-22 20:00:00Z` (UTC), the runner's own log format; used in every message and record.
pub fn format_utc(epoch_secs: i64) -> String {
    let (y, m, d) = civil_from_days(epoch_secs.div_euclid(86_400));
    let s = epoch_secs.rem_euclid(86_400);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02}Z",
        s / 3600,
        s % 3600 / 60,
        s % 60
    )
}

// ---------------------------------------------------------------- resources

/// `RUNNER_RESOURCE_ID` (or a per-board id): one id, or a pool `a,b,c`. Blanks around ids are
/// ignored; duplicates and empty ids are refused (`message` is a one-line error without the key).
pub fn parse_resource_list(spec: &str) -> Result<Vec<String>, String> {
    let mut out: Vec<String> = Vec::new();
    for part in spec.split(',') {
        let id = part.trim();
        if id.is_empty() {
            return Err(format!(
                "{spec:?} has an empty resource id; separate pool members with single commas (board-a,board-b)"
            ));
        }
        if out.iter().any(|o| o == id) {
            return Err(format!(
                "{spec:?} lists {id} twice; list each pool member once"
            ));
        }
        out.push(id.to_string());
    }
    Ok(out)
}

/// The `<BOARD>` / `<MEMBER>` form of a name in key families: upper case, every character
/// other than A-Z and 0-9 turned into `_` (`roc-rk3568-pc` -> `ROC_RK3568_PC`).
pub fn key_form(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_uppercase()
            } else {
                '_'
            }
        })
        .collect()
}

/// `RESOURCE_ENV_<MEMBER>` of a resource id.
pub fn resource_env_key(member: &str) -> String {
    format!("{}{}", env::RESOURCE_ENV_PREFIX, key_form(member))
}

/// `K=V;K2=V2` (blanks around keys and values ignored, empty entries skipped, like ghr's
/// `BOARD_ENV_<BOARD>`) -> pairs. Keys must be shell-style names, because they are appended to
/// `$GITHUB_ENV` and exported.
pub fn parse_resource_env(value: &str) -> Result<Vec<(String, String)>, String> {
    let mut out = Vec::new();
    for entry in value.split(';').map(str::trim).filter(|e| !e.is_empty()) {
        let Some((k, v)) = entry.split_once('=') else {
            return Err(format!("entry {entry:?} has no '='; write K=V;K2=V2"));
        };
        let k = k.trim();
        let valid = k
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
            && k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !valid {
            return Err(format!(
                "entry {entry:?}: {k:?} is not a variable name (letters, digits, _)"
            ));
        }
        out.push((k.to_string(), v.trim().to_string()));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        let ok = [
            ("30", 30_000),
            ("30s", 30_000),
            (" 1.5 ", 1_500),
            ("0.25s", 250),
            ("5m", 300_000),
            ("1h", 3_600_000),
            ("1.5h", 5_400_000),
            ("0", 0),
        ];
        for (text, ms) in ok {
            assert_eq!(
                parse_duration(text),
                Ok(Duration::from_millis(ms)),
                "{text}"
            );
        }
        for bad in [
            "", "s", "soon", "5x", "-1", "1e3", "inf", "NaN", "1.2.3", "5 m", "30ss",
        ] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
        assert_eq!(
            parse_duration("5x").unwrap_err().message("RUNNER_LOCK_TIMEOUT"),
            "RUNNER_LOCK_TIMEOUT=5x is not a duration; set RUNNER_LOCK_TIMEOUT to seconds (30, 1.5) or a number with s, m or h (30s, 5m, 1h)"
        );
    }

    #[test]
    fn limits_and_intervals() {
        let k = "K";
        assert_eq!(optional_duration(k, None), Ok(None));
        assert_eq!(optional_duration(k, Some(" ")), Ok(None));
        assert_eq!(optional_duration(k, Some("0")), Ok(None));
        assert_eq!(
            optional_duration(k, Some("30s")),
            Ok(Some(Duration::from_secs(30)))
        );
        assert!(optional_duration(k, Some("x"))
            .unwrap_err()
            .starts_with("K=x "));
        let d = Duration::from_secs(7);
        assert_eq!(duration_or(k, None, d), Ok(d));
        assert_eq!(duration_or(k, Some("2m"), d), Ok(Duration::from_secs(120)));
        assert!(duration_or(k, Some("0"), d)
            .unwrap_err()
            .contains("more than zero"));
    }

    #[test]
    fn duration_round_trips_through_the_environment() {
        for ms in [0, 1, 250, 1_500, 30_000, 3_600_000, 1_001] {
            let d = Duration::from_millis(ms);
            assert_eq!(parse_duration(&duration_env_value(d)), Ok(d), "{ms}");
        }
        assert_eq!(duration_env_value(Duration::from_secs(30)), "30");
        assert_eq!(duration_env_value(Duration::from_millis(1500)), "1.5");
    }

    #[test]
    fn human_durations() {
        let cases = [
            (0, "0s"),
            (850, "850ms"),
            (12_000, "12s"),
            (303_000, "5m03s"),
            (7_500_000, "2h05m"),
            (273_600_000, "3d04h"),
        ];
        for (ms, text) in cases {
            assert_eq!(format_duration(Duration::from_millis(ms)), text);
        }
    }

    #[test]
    fn dates() {
        assert_eq!(format_utc(0), "1970-01-01 00:00:00Z");
        assert_eq!(format_utc(1_795_377_600), "2026-11-22 20:00:00Z");
        assert_eq!(format_utc(-1), "1969-12-31 23:59:59Z");
        for days in [-719_468, -1, 0, 11_016, 19_782, 2_932_896] {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y, m, d), days, "{y}-{m}-{d}");
        }
        assert_eq!(civil_from_days(19_782), (2024, 2, 29));
    }

    #[test]
    fn resource_lists() {
        assert_eq!(parse_resource_list("board-1").unwrap(), ["board-1"]);
        assert_eq!(parse_resource_list(" a , b,c ").unwrap(), ["a", "b", "c"]);
        assert!(parse_resource_list("a,,b").unwrap_err().contains("empty"));
        assert!(parse_resource_list("a,").is_err());
        assert!(parse_resource_list("a,b,a").unwrap_err().contains("twice"));
    }

    #[test]
    fn resource_env() {
        assert_eq!(resource_env_key("rk3568-a.1"), "RESOURCE_ENV_RK3568_A_1");
        assert_eq!(
            parse_resource_env("SERIAL=/dev/ttyUSB0; RELAY = 2 ;;X=a=b").unwrap(),
            [
                ("SERIAL".to_string(), "/dev/ttyUSB0".to_string()),
                ("RELAY".to_string(), "2".to_string()),
                ("X".to_string(), "a=b".to_string()),
            ]
        );
        assert!(parse_resource_env("SERIAL").unwrap_err().contains("no '='"));
        assert!(parse_resource_env("1X=2").is_err());
        assert!(parse_resource_env("A-B=2").is_err());
        assert_eq!(parse_resource_env("").unwrap(), []);
    }
}
