//! The public value types tests use with the fake GitHub.

use std::time::{Duration, SystemTime};

/// Where runners are registered: an organization or one repository.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Scope<'a> {
    Org(&'a str),
    Repo(&'a str, &'a str),
}

impl Scope<'_> {
    pub(crate) fn key(&self) -> ScopeKey {
        match *self {
            Scope::Org(o) => ScopeKey::Org(o.to_string()),
            Scope::Repo(o, r) => ScopeKey::Repo(o.to_string(), r.to_string()),
        }
    }
}

/// Owned form of [`Scope`] kept in the server state.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) enum ScopeKey {
    Org(String),
    Repo(String, String),
}

impl ScopeKey {
    pub(crate) fn org(&self) -> &str {
        match self {
            ScopeKey::Org(o) | ScopeKey::Repo(o, _) => o,
        }
    }

    /// `org` or `org/repo`, as in the runner's `--url`.
    pub(crate) fn path(&self) -> String {
        match self {
            ScopeKey::Org(o) => o.clone(),
            ScopeKey::Repo(o, r) => format!("{o}/{r}"),
        }
    }
}

/// A runner as GitHub's REST API shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunnerInfo {
    pub id: u64,
    pub name: String,
    pub os: String,
    /// "online" or "offline".
    pub status: String,
    pub busy: bool,
    pub labels: Vec<String>,
    pub runner_group_id: u64,
}

/// One request the server answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoggedRequest {
    pub method: String,
    pub path: String,
    /// Raw query string without `?` ("" when none).
    pub query: String,
    pub status: u16,
    /// Request headers as sent (names as the client spelled them).
    pub headers: Vec<(String, String)>,
}

impl LoggedRequest {
    /// First header with this name (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// What a dispatched job does on the runner. Steps sleep `duration`, then succeed or fail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobSpec {
    /// GITHUB_JOB and the name in the Listener's lines.
    pub name: String,
    pub duration: Duration,
    pub fail: bool,
    pub run_id: u64,
    pub attempt: u32,
    /// `owner/repo`; empty means the scope's repo (or `<org>/ci` for org scope).
    pub repository: String,
    /// A bash script run as the job's first step (like a `run:` step, `bash -eo pipefail`),
    /// with the job's environment, including what the started hook put in `GITHUB_ENV`.
    /// Its output goes to the job log; a non-zero exit fails the job.
    pub script: Option<String>,
}

impl Default for JobSpec {
    fn default() -> Self {
        JobSpec {
            name: "build".into(),
            duration: Duration::ZERO,
            fail: false,
            run_id: 1,
            attempt: 1,
            repository: String::new(),
            script: None,
        }
    }
}

impl JobSpec {
    pub fn new(name: &str) -> Self {
        JobSpec {
            name: name.into(),
            ..Default::default()
        }
    }
}

/// What happened to a job. Timestamps are set as the runner reports progress.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobRecord {
    pub id: u64,
    pub name: String,
    /// The runner that took the job (None while queued, or canceled before pickup).
    pub runner_name: Option<String>,
    /// Worker started (JobStarted event).
    pub started_at: Option<SystemTime>,
    pub steps_started_at: Option<SystemTime>,
    pub steps_finished_at: Option<SystemTime>,
    pub finished_at: Option<SystemTime>,
    /// "Succeeded" | "Failed" | "Canceled" once finished.
    pub result: Option<String>,
    /// Job log: the hooks' output (with the runner's "Run '<hook>'" headers).
    pub log: String,
    pub cancel_requested: bool,
    /// When it was last assigned to a runner (sent to it; `started_at` is when it took it).
    pub assigned_at: Option<SystemTime>,
    /// How often an assignment lapsed (not started within 60 s) and it was queued again.
    pub requeues: u32,
}

impl JobRecord {
    pub fn is_finished(&self) -> bool {
        self.finished_at.is_some()
    }
}
