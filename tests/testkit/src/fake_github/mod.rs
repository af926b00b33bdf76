//! A stateful fake of the parts of GitHub that ghr and the actions runner use: one HTTP server
//! that is both the API base (`GITHUB_API_URL`) and the server base (`GITHUB_SERVER_URL`).
//! Thread per connection (long polls block their own thread); all state behind one mutex.

mod app;
mod http;
mod jit;
mod reply;
mod rest;
mod routing;
mod runner_api;
mod state;
mod types;

pub use types::{JobRecord, JobSpec, LoggedRequest, RunnerInfo, Scope};

use reply::{Reply, Req};
use state::{Job, State};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime};
use types::ScopeKey;

pub(crate) struct Shared {
    state: Mutex<State>,
    /// Woken on every state change: long polls and `wait_*` re-check their condition.
    cond: Condvar,
    pub(crate) base: String,
    stop: AtomicBool,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn stopping(&self) -> bool {
        self.stop.load(Ordering::SeqCst)
    }
}

/// The fake GitHub server. Stops when dropped.
pub struct FakeGitHub {
    shared: Arc<Shared>,
    port: u16,
    thread: Option<JoinHandle<()>>,
}

impl FakeGitHub {
    /// Starts on 127.0.0.1 with a random free port. Panics if it cannot bind.
    pub fn start() -> FakeGitHub {
        FakeGitHub::start_on(0).expect("start fake GitHub")
    }

    /// Starts on 127.0.0.1:`port` (0 = random).
    pub fn start_on(port: u16) -> std::io::Result<FakeGitHub> {
        FakeGitHub::serve(port, "127.0.0.1")
    }

    /// Starts on a random port of 127.0.0.1, known to clients as `http://<host>:<port>`: a
    /// name that does not resolve (e.g. `github.invalid`) is reachable only through a proxy
    /// that maps it here ([`crate::proxy::ForwardProxy`]).
    pub fn start_as(host: &str) -> FakeGitHub {
        FakeGitHub::serve(0, host).expect("start fake GitHub")
    }

    fn serve(port: u16, host: &str) -> std::io::Result<FakeGitHub> {
        let listener = std::net::TcpListener::bind(("127.0.0.1", port))?;
        let port = listener.local_addr()?.port();
        let shared = Arc::new(Shared {
            state: Mutex::new(State::new()),
            cond: Condvar::new(),
            base: format!("http://{host}:{port}"),
            stop: AtomicBool::new(false),
        });
        let sh = shared.clone();
        let thread = std::thread::Builder::new()
            .name("fake-github".into())
            .spawn(move || {
                let handler = sh.clone();
                http::accept_loop(
                    listener,
                    move || sh.stopping(),
                    move |rq| serve(&handler, rq),
                );
            })?;
        Ok(FakeGitHub {
            shared,
            port,
            thread: Some(thread),
        })
    }

    /// `http://127.0.0.1:PORT`, the API base and the server base.
    pub fn url(&self) -> String {
        self.shared.base.clone()
    }

    fn with<T>(&self, f: impl FnOnce(&mut State) -> T) -> T {
        let mut st = self.shared.lock();
        st.reap_lost();
        routing::expire(&mut st, Instant::now());
        let out = f(&mut st);
        drop(st);
        self.shared.cond.notify_all();
        out
    }

    pub fn add_org(&self, org: &str) {
        self.with(|st| st.orgs.insert(org.to_string()));
    }

    /// Adds the repository (and its org).
    pub fn add_repo(&self, owner: &str, repo: &str) {
        self.with(|st| {
            st.orgs.insert(owner.to_string());
            st.repos.insert((owner.to_string(), repo.to_string()))
        });
    }

    /// A PAT the server accepts. Org endpoints need `admin:org` (or `manage_runners:org`),
    /// repo endpoints need `repo`; `*` grants everything.
    pub fn add_pat(&self, pat: &str, scopes: &[&str]) {
        self.with(|st| {
            st.pats.insert(
                pat.to_string(),
                scopes.iter().map(|s| s.to_string()).collect(),
            )
        });
    }

    /// The org enforces SAML SSO and the PAT is not authorized for it: its REST answers are
    /// 403 with GitHub's `X-GitHub-SSO: required; url=...` header.
    pub fn require_sso(&self, org: &str) {
        self.with(|st| st.sso_orgs.insert(org.to_string()));
    }

    /// A runner group (pool) config.sh `--runnergroup` may name; "Default" always exists.
    pub fn add_runner_group(&self, name: &str) -> u64 {
        self.with(|st| st.group_id(name))
    }

    /// Pre-existing offline runners `{prefix}-1 ..= {prefix}-n` with the default labels.
    pub fn seed_runners(&self, scope: &Scope, prefix: &str, n: usize) -> Vec<u64> {
        self.with(|st| {
            (1..=n)
                .map(|i| {
                    let labels = st.labels(&[], false);
                    st.add_runner(scope.key(), &format!("{prefix}-{i}"), labels, 1)
                })
                .collect()
        })
    }

    /// One offline runner with the default labels plus `labels`.
    pub fn add_runner(&self, scope: &Scope, name: &str, labels: &[&str]) -> u64 {
        let custom: Vec<String> = labels.iter().map(|s| s.to_string()).collect();
        self.with(|st| {
            let labels = st.labels(&custom, false);
            st.add_runner(scope.key(), name, labels, 1)
        })
    }

    /// The credential (`.credentials`) of runner `id`, to speak the runner protocol as it.
    pub fn runner_credential(&self, id: u64) -> Option<String> {
        self.with(|st| st.runners.get(&id).map(|r| r.credential.clone()))
    }

    /// Runners registered in exactly this scope, by id.
    pub fn runners(&self, scope: &Scope) -> Vec<RunnerInfo> {
        let key = scope.key();
        self.with(|st| {
            st.runners
                .values()
                .filter(|r| r.scope == key)
                .map(|r| r.info())
                .collect()
        })
    }

    pub fn runner(&self, scope: &Scope, name: &str) -> Option<RunnerInfo> {
        self.runners(scope).into_iter().find(|r| r.name == name)
    }

    /// Deletes the registration the way GitHub does for runners that were offline for 14
    /// days (ephemeral ones: 1 day): no API call, nothing logged. A Listener still holding
    /// its credential finds out at its next session or poll. Returns whether it existed.
    pub fn expire_runner(&self, scope: &Scope, name: &str) -> bool {
        let key = scope.key();
        self.with(|st| match st.runner_by_name(&key, name) {
            Some(id) => {
                st.forget_runner(id);
                true
            }
            None => false,
        })
    }

    pub fn set_busy(&self, scope: &Scope, id: u64, busy: bool) {
        let key = scope.key();
        self.with(|st| {
            if let Some(r) = st.runners.get_mut(&id).filter(|r| r.scope == key) {
                r.busy_forced = busy;
            }
        });
    }

    /// Forces the status (`None`: online iff the runner has a session).
    pub fn set_online(&self, scope: &Scope, id: u64, online: Option<bool>) {
        let key = scope.key();
        self.with(|st| {
            if let Some(r) = st.runners.get_mut(&id).filter(|r| r.scope == key) {
                r.online_forced = online;
            }
        });
    }

    /// The next `n` REST API answers are `status` (e.g. 502) instead of the real answer.
    pub fn inject_errors(&self, n: usize, status: u16) {
        self.inject_reply(n, status, "Server Error");
    }

    /// The next `n` REST API answers are `status` with GitHub's error body saying `message`.
    pub fn inject_reply(&self, n: usize, status: u16, message: &str) {
        self.with(|st| st.errors = (n > 0).then(|| (n, status, message.to_string())));
    }

    /// The next `n` answers of the runner-facing endpoints are `status`.
    pub fn inject_runner_errors(&self, n: usize, status: u16) {
        self.with(|st| st.runner_errors = (n > 0).then_some((n, status)));
    }

    /// Runner answers leave out `runner_group_id`, which GitHub's schema makes optional.
    pub fn omit_runner_group_id(&self, omit: bool) {
        self.with(|st| st.omit_runner_group_id = omit);
    }

    /// Added before every REST API answer.
    pub fn set_latency(&self, latency: Duration) {
        self.with(|st| st.latency = latency);
    }

    /// Added before every answer of the runner-registration endpoint (config.sh's first
    /// call): a registration that takes this long, to interrupt ghr in the middle of one.
    pub fn set_registration_latency(&self, latency: Duration) {
        self.with(|st| st.registration_latency = latency);
    }

    /// Added after GitHub added (or replaced) a runner for config.sh and before it answers:
    /// GitHub lists the runner while config.sh has not written `.runner` yet, the window in
    /// which an interrupted registration leaves GitHub ahead of the runner's own files.
    pub fn set_agent_latency(&self, latency: Duration) {
        self.with(|st| st.agent_latency = latency);
    }

    /// GitHub stops answering in the middle of registrations: while `hang` is set, config.sh's
    /// adding (or replacing) of its runner gets no answer at all (its connection stays open);
    /// once cleared, those requests get a 503 and change nothing, as if GitHub had dropped them.
    pub fn hang_registrations(&self, hang: bool) {
        self.with(|st| st.hang_registrations = hang);
    }

    /// Primary rate limit state. With `remaining == 0`, REST answers are 403 until `reset`.
    pub fn set_rate_limit(&self, remaining: u64, reset_epoch_secs: u64) {
        self.with(|st| {
            st.rate.remaining = remaining.min(st.rate.limit);
            st.rate.used = st.rate.limit - st.rate.remaining;
            st.rate.reset = reset_epoch_secs;
        });
    }

    /// The next `n` REST answers are secondary-rate-limit 429s with `retry-after: secs`.
    pub fn set_secondary_rate_limit(&self, n: usize, retry_after_secs: u64) {
        self.with(|st| st.rate.secondary = (n > 0).then_some((n, retry_after_secs)));
    }

    /// Lifetime of registration/remove tokens (default one hour).
    pub fn set_token_ttl(&self, ttl: Duration) {
        self.with(|st| st.token_ttl = ttl);
    }

    /// UTC offset `expires_at` is written in (default -480, "-08:00" as in GitHub's docs).
    pub fn set_time_offset_minutes(&self, minutes: i32) {
        self.with(|st| st.offset_minutes = minutes);
    }

    /// How long a runner's message long poll waits before answering 202 (default 20 s).
    /// GitHub's 60 s: an assigned job not started (no `JobStarted`) within this is queued again
    /// at all levels.
    pub fn set_assign_timeout(&self, timeout: Duration) {
        self.with(|st| st.routing.assign_timeout = timeout);
    }

    /// GitHub's 24 h: a job queued this long fails.
    pub fn set_queue_limit(&self, limit: Duration) {
        self.with(|st| st.routing.queue_limit = limit);
    }

    pub fn set_poll_timeout(&self, timeout: Duration) {
        self.with(|st| st.poll_timeout = timeout);
    }

    /// A registration token minted directly (no REST call, nothing logged).
    pub fn registration_token(&self, scope: &Scope) -> String {
        self.mint(scope, state::TokenKind::Registration)
    }

    /// A remove token minted directly.
    pub fn remove_token(&self, scope: &Scope) -> String {
        self.mint(scope, state::TokenKind::Remove)
    }

    fn mint(&self, scope: &Scope, kind: state::TokenKind) -> String {
        self.with(|st| {
            let token = format!("A{}", st.token(28));
            let expires = SystemTime::now() + st.token_ttl;
            st.grants.insert(
                token.clone(),
                state::Grant {
                    scope: scope.key(),
                    kind,
                    expires,
                },
            );
            token
        })
    }

    /// Every answered request, in answer order.
    pub fn requests(&self) -> Vec<LoggedRequest> {
        self.with(|st| st.log.clone())
    }

    /// Requests with this method (case-insensitive; "*" = any) whose path contains `path_substring`.
    pub fn count(&self, method: &str, path_substring: &str) -> usize {
        self.with(|st| {
            st.log
                .iter()
                .filter(|r| method == "*" || r.method.eq_ignore_ascii_case(method))
                .filter(|r| r.path.contains(path_substring))
                .count()
        })
    }

    pub fn clear_requests(&self) {
        self.with(|st| st.log.clear());
    }

    /// Queues a job for an online idle runner of `scope` (repo jobs also go to the org's
    /// runners) that has all `labels`. Returns the job id.
    pub fn dispatch_job(&self, scope: &Scope, labels: &[&str], mut spec: JobSpec) -> u64 {
        let key = scope.key();
        if spec.repository.is_empty() {
            spec.repository = match &key {
                ScopeKey::Org(o) => format!("{o}/ci"),
                ScopeKey::Repo(o, r) => format!("{o}/{r}"),
            };
        }
        self.with(|st| {
            let id = st.next_id();
            let access_token = format!("jt_{}", st.token(32));
            st.jobs.insert(
                id,
                Job {
                    scope: key,
                    labels: labels.iter().map(|s| s.to_string()).collect(),
                    record: JobRecord {
                        id,
                        name: spec.name.clone(),
                        runner_name: None,
                        started_at: None,
                        steps_started_at: None,
                        steps_finished_at: None,
                        finished_at: None,
                        result: None,
                        log: String::new(),
                        cancel_requested: false,
                        assigned_at: None,
                        requeues: 0,
                    },
                    route: routing::Route::new(Instant::now()),
                    spec,
                    runner: None,
                    access_token,
                },
            );
            id
        })
    }

    /// Cancels a job: queued -> Canceled at once; running -> the runner is told (JobCancellation).
    pub fn cancel_job(&self, job_id: u64) {
        self.with(|st| {
            let Some(job) = st.jobs.get_mut(&job_id) else {
                return;
            };
            if job.record.finished_at.is_some() || job.record.cancel_requested {
                return;
            }
            job.record.cancel_requested = true;
            match job.runner {
                None => st.finish_job(job_id, "Canceled", None),
                Some(rid) => {
                    let msg_id = st.next_id();
                    if let Some(r) = st.runners.get_mut(&rid) {
                        r.messages.push_back(state::Message {
                            id: msg_id,
                            kind: "JobCancellation",
                            body: serde_json::json!({"jobId": job_id}).to_string(),
                        });
                    }
                }
            }
        });
    }

    /// The job's current record.
    pub fn job(&self, job_id: u64) -> Option<JobRecord> {
        self.with(|st| st.jobs.get(&job_id).map(|j| j.record.clone()))
    }

    pub fn jobs(&self) -> Vec<JobRecord> {
        self.with(|st| st.jobs.values().map(|j| j.record.clone()).collect())
    }

    /// Waits until the job finished; None on timeout (or unknown job).
    pub fn wait_job(&self, job_id: u64, timeout: Duration) -> Option<JobRecord> {
        let mut rec = None;
        self.wait_until(timeout, |gh| {
            rec = gh.job(job_id).filter(|r| r.is_finished());
            rec.is_some()
        });
        rec
    }

    /// Polls `cond` on every state change (and at least every 50 ms) until true or timeout.
    pub fn wait_until(&self, timeout: Duration, mut cond: impl FnMut(&FakeGitHub) -> bool) -> bool {
        let deadline = Instant::now() + timeout;
        loop {
            if cond(self) {
                return true;
            }
            let now = Instant::now();
            if now >= deadline {
                return false;
            }
            let st = self.shared.lock();
            let wait = (deadline - now).min(Duration::from_millis(50));
            drop(self.shared.cond.wait_timeout(st, wait));
        }
    }
}

impl Drop for FakeGitHub {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        self.shared.cond.notify_all();
        // Wake the accept loop so it sees the stop flag.
        let _ = std::net::TcpStream::connect(("127.0.0.1", self.port));
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn serve(sh: &Shared, rq: http::Incoming) -> http::Outgoing {
    let (path, query) = rq.target.split_once('?').unwrap_or((&rq.target, ""));
    let req = Req {
        method: rq.method.to_ascii_uppercase(),
        path: path.to_string(),
        raw_query: query.to_string(),
        headers: rq.headers,
        body: rq.body,
    };
    let reply = route(sh, &req);
    sh.lock().log.push(LoggedRequest {
        method: req.method.clone(),
        path: req.path.clone(),
        query: req.raw_query.clone(),
        status: reply.status,
        headers: req.headers.clone(),
    });
    sh.cond.notify_all();
    http::Outgoing {
        status: reply.status,
        headers: reply.headers,
        body: reply.body,
    }
}

fn route(sh: &Shared, req: &Req) -> Reply {
    let segs: Vec<&str> = req.path.split('/').filter(|s| !s.is_empty()).collect();
    match segs.as_slice() {
        ["orgs", org, "actions", "runners", rest @ ..] => rest::handle(
            sh,
            req,
            ScopeKey::Org(org.to_string()),
            rest::Resource::Runners,
            rest,
        ),
        ["orgs", org, "actions", "runner-groups", rest @ ..] => rest::handle(
            sh,
            req,
            ScopeKey::Org(org.to_string()),
            rest::Resource::Groups,
            rest,
        ),
        ["repos", owner, repo, "actions", "runners", rest @ ..] => rest::handle(
            sh,
            req,
            ScopeKey::Repo(owner.to_string(), repo.to_string()),
            rest::Resource::Runners,
            rest,
        ),
        ["orgs", org, "installation"] => app::installation(sh, req, ScopeKey::Org(org.to_string())),
        ["repos", owner, repo, "installation"] => {
            app::installation(sh, req, ScopeKey::Repo(owner.to_string(), repo.to_string()))
        }
        ["app", "installations", id, "access_tokens"] => app::access_tokens(sh, req, id),
        ["actions", "runner-registration"] => runner_api::register(sh, req),
        ["_services", "pipelines", rest @ ..] => runner_api::handle(sh, req, rest),
        _ => Reply::not_found(),
    }
}
