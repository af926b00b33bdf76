//! The fake GitHub's mutable world: orgs, repos, PATs, runners, tokens, sessions, jobs, faults.

use super::types::{JobRecord, JobSpec, LoggedRequest, RunnerInfo, ScopeKey};
use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::hash::{BuildHasher, Hasher};
use std::time::{Duration, Instant, SystemTime};

pub(crate) const DEFAULT_LABELS: [&str; 3] = ["self-hosted", "Linux", "X64"];

#[derive(Debug, Clone)]
pub(crate) struct Label {
    pub id: u64,
    pub name: String,
    /// "read-only" (the runner's default labels) or "custom".
    pub kind: String,
}

#[derive(Debug)]
pub(crate) struct Runner {
    pub id: u64,
    pub scope: ScopeKey,
    pub name: String,
    pub labels: Vec<Label>,
    pub group_id: u64,
    pub busy_forced: bool,
    /// A JIT runner: GitHub removes it once its one job ended (`spent`), when its session
    /// ends (the runner exits after its job) or is lost.
    pub ephemeral: bool,
    pub spent: bool,
    /// Test override of the status (None: online iff a session exists).
    pub online_forced: Option<bool>,
    pub session: Option<String>,
    /// Bearer credential the runner got at registration (its `.credentials`).
    pub credential: String,
    pub current_job: Option<u64>,
    pub messages: VecDeque<Message>,
    /// Long polls in flight, and when the runner last talked to us: a runner whose process
    /// died (no session delete) goes offline once its poll ended and LOST_AFTER passed.
    pub polls: usize,
    pub last_seen: Instant,
}

/// How long after its last poll a session-holding runner still counts as online.
pub(crate) const LOST_AFTER: Duration = Duration::from_secs(3);

impl Runner {
    pub fn online(&self) -> bool {
        self.online_forced.unwrap_or(
            self.session.is_some() && (self.polls > 0 || self.last_seen.elapsed() < LOST_AFTER),
        )
    }

    pub fn busy(&self) -> bool {
        self.busy_forced || self.current_job.is_some()
    }

    pub fn info(&self) -> RunnerInfo {
        RunnerInfo {
            id: self.id,
            name: self.name.clone(),
            os: "Linux".into(),
            status: if self.online() { "online" } else { "offline" }.into(),
            busy: self.busy(),
            labels: self.labels.iter().map(|l| l.name.clone()).collect(),
            runner_group_id: self.group_id,
        }
    }
}

#[derive(Debug, Clone)]
pub(crate) struct Message {
    pub id: u64,
    pub kind: &'static str,
    pub body: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TokenKind {
    Registration,
    Remove,
}

#[derive(Debug, Clone)]
pub(crate) struct Grant {
    pub scope: ScopeKey,
    pub kind: TokenKind,
    pub expires: SystemTime,
}

#[derive(Debug)]
pub(crate) struct Job {
    pub scope: ScopeKey,
    pub labels: Vec<String>,
    pub spec: JobSpec,
    pub runner: Option<u64>,
    /// Bearer token the worker uses for events and logs.
    pub access_token: String,
    pub record: JobRecord,
    /// Its place in GitHub's routing (queued, assigned, queued again), see `routing`.
    pub route: super::routing::Route,
}

#[derive(Debug)]
pub(crate) struct RateLimit {
    pub limit: u64,
    pub remaining: u64,
    pub reset: u64,
    pub used: u64,
    /// Next n API answers are secondary-rate-limit 429s with this retry-after (seconds).
    pub secondary: Option<(usize, u64)>,
}

#[derive(Debug)]
pub(crate) struct State {
    pub orgs: BTreeSet<String>,
    pub sso_orgs: BTreeSet<String>,
    /// Credentials of runners deleted while they had a session: their Listener learns at its
    /// next poll that the runner no longer exists.
    pub deleted_credentials: BTreeSet<String>,
    pub repos: BTreeSet<(String, String)>,
    pub pats: HashMap<String, Vec<String>>,
    /// GitHub Apps, their installations and installation tokens (`app.rs`).
    pub apps: super::app::Apps,
    pub runners: BTreeMap<u64, Runner>,
    pub label_ids: HashMap<String, u64>,
    pub groups: BTreeMap<String, u64>,
    pub grants: HashMap<String, Grant>,
    /// Access tokens from `runner-registration` (OAuth token of config.sh) -> scope.
    pub access_tokens: HashMap<String, ScopeKey>,
    pub jobs: BTreeMap<u64, Job>,
    pub log: Vec<LoggedRequest>,
    pub errors: Option<(usize, u16, String)>,
    pub runner_errors: Option<(usize, u16)>,
    pub latency: Duration,
    pub registration_latency: Duration,
    /// Runner answers leave the optional `runner_group_id` out.
    pub omit_runner_group_id: bool,
    pub agent_latency: Duration,
    /// While set, config.sh's adding (or replacing) of its runner gets no answer.
    pub hang_registrations: bool,
    pub rate: RateLimit,
    pub token_ttl: Duration,
    pub offset_minutes: i32,
    pub poll_timeout: Duration,
    pub routing: super::routing::Routing,
    next_id: u64,
    rng: std::collections::hash_map::RandomState,
    rng_counter: u64,
}

impl State {
    pub fn new() -> Self {
        let mut groups = BTreeMap::new();
        groups.insert("Default".to_string(), 1);
        State {
            orgs: BTreeSet::new(),
            sso_orgs: BTreeSet::new(),
            deleted_credentials: BTreeSet::new(),
            repos: BTreeSet::new(),
            pats: HashMap::new(),
            apps: Default::default(),
            runners: BTreeMap::new(),
            label_ids: HashMap::new(),
            groups,
            grants: HashMap::new(),
            access_tokens: HashMap::new(),
            jobs: BTreeMap::new(),
            log: Vec::new(),
            errors: None,
            runner_errors: None,
            latency: Duration::ZERO,
            registration_latency: Duration::ZERO,
            omit_runner_group_id: false,
            agent_latency: Duration::ZERO,
            hang_registrations: false,
            rate: RateLimit {
                limit: 5000,
                remaining: 5000,
                reset: crate::timefmt::unix_now() + 3600,
                used: 0,
                secondary: None,
            },
            token_ttl: Duration::from_secs(3600),
            offset_minutes: -480,
            poll_timeout: Duration::from_secs(20),
            routing: Default::default(),
            next_id: 1,
            rng: Default::default(),
            rng_counter: 0,
        }
    }

    pub fn next_id(&mut self) -> u64 {
        self.next_id += 1;
        self.next_id
    }

    /// Random uppercase alphanumeric token (GitHub's registration tokens look like this).
    pub fn token(&mut self, len: usize) -> String {
        const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
        let mut out = String::with_capacity(len);
        while out.len() < len {
            self.rng_counter += 1;
            let mut h = self.rng.build_hasher();
            h.write_u64(self.rng_counter);
            let mut v = h.finish();
            for _ in 0..12 {
                if out.len() < len {
                    out.push(ALPHABET[(v & 31) as usize] as char);
                }
                v >>= 5;
            }
        }
        out
    }

    pub fn scope_exists(&self, scope: &ScopeKey) -> bool {
        match scope {
            ScopeKey::Org(o) => self.orgs.contains(o),
            ScopeKey::Repo(o, r) => self.repos.contains(&(o.clone(), r.clone())),
        }
    }

    pub fn label(&mut self, name: &str, read_only: bool) -> Label {
        let key = name.to_ascii_lowercase();
        let next = self.label_ids.len() as u64 + 1;
        let id = *self.label_ids.entry(key).or_insert(next);
        Label {
            id,
            name: name.to_string(),
            kind: if read_only { "read-only" } else { "custom" }.into(),
        }
    }

    /// Default labels (unless `no_default`) plus custom ones, de-duplicated case-insensitively.
    pub fn labels(&mut self, custom: &[String], no_default: bool) -> Vec<Label> {
        let mut out: Vec<Label> = Vec::new();
        let defaults: &[&str] = if no_default { &[] } else { &DEFAULT_LABELS };
        for d in defaults {
            let l = self.label(d, true);
            out.push(l);
        }
        for c in custom {
            let c = c.trim();
            if c.is_empty() || out.iter().any(|l| l.name.eq_ignore_ascii_case(c)) {
                continue;
            }
            let l = self.label(c, false);
            out.push(l);
        }
        out
    }

    pub fn group_id(&mut self, name: &str) -> u64 {
        let next = self.groups.len() as u64 + 1;
        *self.groups.entry(name.to_string()).or_insert(next)
    }

    pub fn runner_by_name(&self, scope: &ScopeKey, name: &str) -> Option<u64> {
        self.runners
            .values()
            .find(|r| &r.scope == scope && r.name == name)
            .map(|r| r.id)
    }

    pub fn add_runner(
        &mut self,
        scope: ScopeKey,
        name: &str,
        labels: Vec<Label>,
        group_id: u64,
    ) -> u64 {
        let id = self.next_id();
        let credential = format!("rc_{}", self.token(32));
        self.runners.insert(
            id,
            Runner {
                id,
                scope,
                name: name.to_string(),
                labels,
                group_id,
                busy_forced: false,
                ephemeral: false,
                spent: false,
                online_forced: None,
                session: None,
                credential,
                current_job: None,
                messages: VecDeque::new(),
                polls: 0,
                last_seen: Instant::now(),
            },
        );
        id
    }

    /// Deletes a registration. A runner deleted while it holds a session learns at its next
    /// poll that it no longer exists (the real service answers TaskAgentNotFound).
    pub fn forget_runner(&mut self, id: u64) {
        if let Some(r) = self.runners.remove(&id) {
            if r.session.is_some() {
                self.deleted_credentials.insert(r.credential);
            }
        }
    }

    /// Runners that hold a session but stopped polling (process killed) lose it, and their
    /// running job fails the way GitHub fails it.
    pub fn reap_lost(&mut self) {
        let lost: Vec<(u64, Option<u64>, String)> = self
            .runners
            .values()
            .filter(|r| r.session.is_some() && r.online_forced.is_none() && !r.online())
            .map(|r| (r.id, r.current_job, r.name.clone()))
            .collect();
        for (id, job, name) in lost {
            if let Some(r) = self.runners.get_mut(&id) {
                r.session = None;
                r.spent |= r.ephemeral && job.is_some();
            }
            if let Some(job) = job {
                let line = format!(
                    "The self-hosted runner: {name} lost communication with the server. Verify the machine is running and has a healthy network connection."
                );
                self.finish_job(job, "Failed", Some(&line));
            }
            if self.runners.get(&id).is_some_and(|r| r.spent) {
                self.forget_runner(id);
            }
        }
    }

    /// Ends a job (first report wins).
    pub fn finish_job(&mut self, job_id: u64, result: &str, log_line: Option<&str>) {
        let Some(job) = self.jobs.get_mut(&job_id) else {
            return;
        };
        if job.record.finished_at.is_some() {
            return;
        }
        if let Some(line) = log_line {
            job.record.log.push_str(line);
            job.record.log.push('\n');
        }
        job.record.finished_at = Some(SystemTime::now());
        job.record.result = Some(result.to_string());
        if let Some(rid) = job.runner {
            let mut gone = false;
            if let Some(r) = self.runners.get_mut(&rid) {
                if r.current_job == Some(job_id) {
                    r.current_job = None;
                    r.spent |= r.ephemeral;
                    gone = r.spent && r.session.is_none();
                }
            }
            if gone {
                self.forget_runner(rid);
            }
        }
    }

    /// Whether a queued job of `job_scope` may run on a runner of `runner_scope`:
    /// repo jobs run on that repo's runners and on its org's runners.
    pub fn scope_serves(runner_scope: &ScopeKey, job_scope: &ScopeKey) -> bool {
        match (runner_scope, job_scope) {
            (ScopeKey::Org(o), j) => j.org() == o,
            (r, j) => r == j,
        }
    }
}
