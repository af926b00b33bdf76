//! The "who" record: written as the owner file beside a lock and as the body of a waiter's
//! ticket. Plain `key=value` lines so humans and shell scripts can read it too.

use std::collections::HashMap;
use std::fs;
use std::io::{self, Write};
use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

/// Who holds (owner file) or waits for (ticket) a resource.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OwnerRecord {
    pub resource: String,
    /// Runner name (RUNNER_NAME).
    pub runner: String,
    /// Org and repo the runner serves (GHR_ORG / GHR_REPO, else split from `repository`).
    pub org: String,
    pub repo: String,
    /// GITHUB_REPOSITORY of the job ("owner/name").
    pub repository: String,
    pub run_id: String,
    pub run_attempt: String,
    pub job: String,
    /// Seconds since the epoch: when the lock was taken (owner) or the ticket drawn (waiter).
    pub since: u64,
    /// Pid of the wrapper (in its own pid namespace) and the host name (container id).
    pub pid: u32,
    pub host: String,
}

pub fn now_epoch() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// Values are single-line: newlines would break the format.
fn clean(v: &str) -> String {
    v.replace(['\n', '\r'], " ")
}

impl OwnerRecord {
    pub fn to_text(&self) -> String {
        let fields = [
            ("resource", clean(&self.resource)),
            ("runner", clean(&self.runner)),
            ("org", clean(&self.org)),
            ("repo", clean(&self.repo)),
            ("repository", clean(&self.repository)),
            ("run_id", clean(&self.run_id)),
            ("run_attempt", clean(&self.run_attempt)),
            ("job", clean(&self.job)),
            ("since", self.since.to_string()),
            ("pid", self.pid.to_string()),
            ("host", clean(&self.host)),
        ];
        let mut s = String::new();
        for (k, v) in fields {
            s.push_str(k);
            s.push('=');
            s.push_str(&v);
            s.push('\n');
        }
        s
    }

    /// Unknown keys are ignored and missing ones stay empty, so the format can grow.
    pub fn parse(text: &str) -> Self {
        let map: HashMap<&str, &str> = text.lines().filter_map(|l| l.split_once('=')).collect();
        let get = |k: &str| map.get(k).map(|v| v.to_string()).unwrap_or_default();
        OwnerRecord {
            resource: get("resource"),
            runner: get("runner"),
            org: get("org"),
            repo: get("repo"),
            repository: get("repository"),
            run_id: get("run_id"),
            run_attempt: get("run_attempt"),
            job: get("job"),
            since: get("since").parse().unwrap_or(0),
            pid: get("pid").parse().unwrap_or(0),
            host: get("host"),
        }
    }

    pub fn read(path: &Path) -> io::Result<Self> {
        Ok(Self::parse(&fs::read_to_string(path)?))
    }

    /// Write atomically (temp file + rename) so a reader never sees half a record.
    pub fn write_atomic(&self, path: &Path) -> io::Result<()> {
        let tmp = path.with_extension(format!("tmp.{}", std::process::id()));
        {
            let mut f = crate::lockdir::open_shared_file(&tmp)?;
            f.set_len(0)?;
            f.write_all(self.to_text().as_bytes())?;
        }
        fs::rename(&tmp, path)
    }

    /// One line for humans: "runner R (org/repo, run 12 attempt 1, job build)".
    pub fn describe(&self) -> String {
        let repo = if !self.repository.is_empty() {
            self.repository.clone()
        } else if !self.repo.is_empty() {
            format!("{}/{}", self.org, self.repo)
        } else {
            self.org.clone()
        };
        let mut s = format!("runner {}", or_unknown(&self.runner));
        s.push_str(&format!(" ({}", or_unknown(&repo)));
        if !self.run_id.is_empty() {
            s.push_str(&format!(", run {}", self.run_id));
            if !self.run_attempt.is_empty() {
                s.push_str(&format!(" attempt {}", self.run_attempt));
            }
        }
        if !self.job.is_empty() {
            s.push_str(&format!(", job {}", self.job));
        }
        s.push(')');
        s
    }
}

fn or_unknown(s: &str) -> &str {
    if s.is_empty() {
        "?"
    } else {
        s
    }
}

/// "2026-11-22 20:00:00Z" for an epoch second, UTC (civil-from-days, no time crate needed).
pub fn format_utc(epoch: u64) -> String {
    let days = (epoch / 86_400) as i64;
    let secs = epoch % 86_400;
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02}Z",
        secs / 3600,
        secs % 3600 / 60,
        secs % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let r = OwnerRecord {
            resource: "board".into(),
            runner: "r1".into(),
            job: "a\nb".into(),
            since: 5,
            pid: 7,
            ..Default::default()
        };
        let p = OwnerRecord::parse(&r.to_text());
        assert_eq!(p.job, "a b");
        assert_eq!(p.since, 5);
        assert_eq!(p.runner, "r1");
    }

    #[test]
    fn utc() {
        assert_eq!(format_utc(0), "1970-01-01 00:00:00Z");
        assert_eq!(format_utc(1_795_377_600), "2026-11-22 20:00:00Z");
    }
}
