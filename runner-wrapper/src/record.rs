//! The "who" record: written as the owner file of a held resource and as the body of a waiter's
//! ticket. Plain `key=value` lines so humans and shell scripts can read it too; unknown keys are
//! ignored and missing ones read as empty, so the format can grow.

use std::collections::HashMap;
use std::fs;
use std::io;
use std::path::Path;

use crate::contract::format_utc;

/// What holds (or waits for) a resource.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum HolderKind {
    /// A job of a runner (the wrapper holds the lock for it).
    #[default]
    Job,
    /// A maintenance hold (`ghr hold`): a keeper process on the host holds the lock.
    Hold,
    /// A wrapper running the resource's health check.
    Check,
    /// A wrapper repairing the resource after its check failed (`RUNNER_REPAIR`).
    Repair,
}

impl HolderKind {
    pub fn as_str(self) -> &'static str {
        match self {
            HolderKind::Job => "job",
            HolderKind::Hold => "hold",
            HolderKind::Check => "check",
            HolderKind::Repair => "repair",
        }
    }

    /// Unknown or missing kinds are jobs (records written before kinds existed).
    pub fn parse(s: &str) -> HolderKind {
        match s {
            "hold" => HolderKind::Hold,
            "check" => HolderKind::Check,
            "repair" => HolderKind::Repair,
            _ => HolderKind::Job,
        }
    }
}

/// Who holds (owner file) or waits for (ticket) a resource.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OwnerRecord {
    /// The resource id (a single member, also when the runner asked for a pool).
    pub resource: String,
    pub kind: HolderKind,
    /// The runner's configured list when it is a pool (`a,b`), else empty.
    pub pool: String,
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
    /// Holds: the host user who asked, the reason, and the end (epoch seconds; 0 = none).
    pub user: String,
    pub reason: String,
    pub until: u64,
    /// Seconds since the epoch: when the lock was taken (owner) or the ticket drawn (waiter).
    pub since: u64,
    /// Pid of the holder (in its own pid namespace) and the host name (container id in Docker).
    pub pid: u32,
    pub host: String,
    /// The holder's control socket, relative to the lock directory (see `control`).
    pub control: String,
    /// Epoch seconds when the holder re-established its lock because the lock file was removed
    /// or replaced under it (0: never; see `lockfile`).
    pub relocked: u64,
}

/// Values are single-line: newlines would break the format.
fn clean(v: &str) -> String {
    v.replace(['\n', '\r'], " ")
}

impl OwnerRecord {
    pub fn to_text(&self) -> String {
        let fields = [
            ("resource", clean(&self.resource)),
            ("kind", self.kind.as_str().to_string()),
            ("pool", clean(&self.pool)),
            ("runner", clean(&self.runner)),
            ("org", clean(&self.org)),
            ("repo", clean(&self.repo)),
            ("repository", clean(&self.repository)),
            ("run_id", clean(&self.run_id)),
            ("run_attempt", clean(&self.run_attempt)),
            ("job", clean(&self.job)),
            ("user", clean(&self.user)),
            ("reason", clean(&self.reason)),
            ("until", self.until.to_string()),
            ("since", self.since.to_string()),
            ("pid", self.pid.to_string()),
            ("host", clean(&self.host)),
            ("control", clean(&self.control)),
            ("relocked", self.relocked.to_string()),
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

    pub fn parse(text: &str) -> Self {
        let map: HashMap<&str, &str> = text.lines().filter_map(|l| l.split_once('=')).collect();
        let get = |k: &str| map.get(k).map(|v| v.to_string()).unwrap_or_default();
        OwnerRecord {
            resource: get("resource"),
            kind: HolderKind::parse(&get("kind")),
            pool: get("pool"),
            runner: get("runner"),
            org: get("org"),
            repo: get("repo"),
            repository: get("repository"),
            run_id: get("run_id"),
            run_attempt: get("run_attempt"),
            job: get("job"),
            user: get("user"),
            reason: get("reason"),
            until: get("until").parse().unwrap_or(0),
            since: get("since").parse().unwrap_or(0),
            pid: get("pid").parse().unwrap_or(0),
            host: get("host"),
            control: get("control"),
            relocked: get("relocked").parse().unwrap_or(0),
        }
    }

    pub fn read(path: &Path) -> io::Result<Self> {
        Ok(Self::parse(&fs::read_to_string(path)?))
    }

    /// Write atomically (temp file + rename) so a reader never sees half a record.
    pub fn write_atomic(&self, path: &Path) -> io::Result<()> {
        crate::lockdir::write_atomic(path, &self.to_text())
    }

    /// "org/repo" of the job, else the org alone.
    pub fn scope(&self) -> String {
        if !self.repository.is_empty() {
            self.repository.clone()
        } else if !self.repo.is_empty() {
            format!("{}/{}", self.org, self.repo)
        } else {
            self.org.clone()
        }
    }

    /// One line for humans, e.g. "runner R (org/repo, run 12 attempt 1, job build)",
    /// "maintenance hold by alice (reason: reflash) until 2026-11-22 20:00:00Z",
    /// "health check of runner R (org)".
    pub fn describe(&self) -> String {
        match self.kind {
            HolderKind::Hold => {
                let mut s = format!("maintenance hold by {}", or_unknown(&self.user));
                if !self.reason.is_empty() {
                    s.push_str(&format!(" (reason: {})", self.reason));
                }
                if self.until > 0 {
                    s.push_str(&format!(" until {}", format_utc(self.until as i64)));
                }
                s
            }
            HolderKind::Check => format!(
                "health check of runner {} ({})",
                or_unknown(&self.runner),
                or_unknown(&self.scope())
            ),
            HolderKind::Repair => format!(
                "repairing: runner {} ({}) after a failed health check",
                or_unknown(&self.runner),
                or_unknown(&self.scope())
            ),
            HolderKind::Job => {
                let mut s = format!(
                    "runner {} ({}",
                    or_unknown(&self.runner),
                    or_unknown(&self.scope())
                );
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
    }
}

fn or_unknown(s: &str) -> &str {
    if s.is_empty() {
        "?"
    } else {
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let r = OwnerRecord {
            resource: "board".into(),
            kind: HolderKind::Hold,
            user: "alice".into(),
            reason: "a\nb".into(),
            until: 9,
            since: 5,
            pid: 7,
            control: ".control/7.sock".into(),
            relocked: 6,
            ..Default::default()
        };
        let p = OwnerRecord::parse(&r.to_text());
        assert_eq!(p.reason, "a b");
        assert_eq!(
            p,
            OwnerRecord {
                reason: "a b".into(),
                ..r
            }
        );
    }

    #[test]
    fn old_records_are_jobs() {
        let p = OwnerRecord::parse("resource=b\nrunner=r1\nsince=5\nfuture=x\n");
        assert_eq!(p.kind, HolderKind::Job);
        assert_eq!(p.runner, "r1");
    }

    #[test]
    fn descriptions() {
        let job = OwnerRecord {
            runner: "r1".into(),
            repository: "acme/fw".into(),
            run_id: "12".into(),
            run_attempt: "1".into(),
            job: "flash".into(),
            ..Default::default()
        };
        assert_eq!(
            job.describe(),
            "runner r1 (acme/fw, run 12 attempt 1, job flash)"
        );
        let hold = OwnerRecord {
            kind: HolderKind::Hold,
            user: "alice".into(),
            reason: "reflash".into(),
            until: 1_795_377_600,
            ..Default::default()
        };
        assert_eq!(
            hold.describe(),
            "maintenance hold by alice (reason: reflash) until 2026-11-22 20:00:00Z"
        );
        let check = OwnerRecord {
            kind: HolderKind::Check,
            runner: "r2".into(),
            org: "acme".into(),
            ..Default::default()
        };
        assert_eq!(check.describe(), "health check of runner r2 (acme)");
    }
}
