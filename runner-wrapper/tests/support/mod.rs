//! Test harness: real runner-wrapper processes running the simulated runner (fake-runner.sh),
//! a private lock dir per test, and helpers that wait for events with a deadline.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use runner_wrapper::status::{read_lock_dir, ResourceStatus};

pub const FAKE_RUNNER: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/support/fake-runner.sh");

/// The lock group of the tests' lock directories: the default one (the stock runner's gid).
pub const LOCK_GID: u32 = 1001;

/// Make the lock directory and the resources' directories as a lab has them (ghr created the
/// directory 2770 root:1001; the resources existed long before): their lock files are old, so
/// the first grant does not wait for a new lock file to settle (see `lockfile::SETTLE`; the
/// tests of that wait make their directories fresh).
pub fn prepare_lock_dir(dir: &Path, resources: &str) {
    for r in runner_wrapper::contract::parse_resource_list(resources).unwrap() {
        let paths = runner_wrapper::lockdir::ensure_resource(dir, &r, LOCK_GID).unwrap();
        age(&paths.lock);
    }
}

/// Set a file's mtime an hour back.
pub fn age(path: &Path) {
    let f = std::fs::File::options().write(true).open(path).unwrap();
    f.set_modified(std::time::SystemTime::now() - Duration::from_secs(3600))
        .unwrap();
}

/// The runner-wrapper binary under test (RUNNER_WRAPPER_BIN overrides, e.g. the static build).
pub fn wrapper_bin() -> PathBuf {
    std::env::var_os("RUNNER_WRAPPER_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_runner-wrapper")))
}

/// A scratch directory, removed on drop.
pub struct Scratch {
    pub path: PathBuf,
}

impl Scratch {
    pub fn new(tag: &str) -> Scratch {
        static N: AtomicUsize = AtomicUsize::new(0);
        let path = std::env::temp_dir().join(format!(
            "rw-test-{tag}-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::SeqCst)
        ));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).unwrap();
        Scratch { path }
    }

    pub fn lock_dir(&self) -> PathBuf {
        self.path.join("locks")
    }

    /// Write an executable script.
    pub fn script(&self, name: &str, body: &str) -> PathBuf {
        use std::os::unix::fs::PermissionsExt;
        let p = self.path.join(name);
        std::fs::write(&p, body).unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
        p
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
    }
}

/// Lines seen so far on a stream, with a condvar to await new ones.
#[derive(Default)]
pub struct Lines {
    lines: Mutex<(Vec<String>, bool)>,
    cv: Condvar,
}

impl Lines {
    fn pump(self: &Arc<Self>, r: impl std::io::Read + Send + 'static) {
        let me = Arc::clone(self);
        std::thread::spawn(move || {
            for line in BufReader::new(r).lines() {
                let Ok(line) = line else { break };
                me.lines.lock().unwrap().0.push(line);
                me.cv.notify_all();
            }
            me.lines.lock().unwrap().1 = true;
            me.cv.notify_all();
        });
    }

    pub fn all(&self) -> Vec<String> {
        self.lines.lock().unwrap().0.clone()
    }

    /// Wait until the stream ended (every line is in), at most `timeout`.
    pub fn wait_closed(&self, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        let mut g = self.lines.lock().unwrap();
        while !g.1 && Instant::now() < deadline {
            g = self
                .cv
                .wait_timeout(g, deadline - Instant::now())
                .unwrap()
                .0;
        }
    }

    /// Wait until `n` lines match; panics after `timeout`.
    pub fn wait_n(&self, what: &str, n: usize, timeout: Duration, pred: impl Fn(&str) -> bool) {
        let deadline = Instant::now() + timeout;
        let mut g = self.lines.lock().unwrap();
        loop {
            if g.0.iter().filter(|l| pred(l)).count() >= n {
                return;
            }
            let now = Instant::now();
            if now >= deadline || g.1 {
                panic!(
                    "timed out waiting for {n} x {what}; lines so far:\n{}",
                    g.0.join("\n")
                );
            }
            g = self.cv.wait_timeout(g, deadline - now).unwrap().0;
        }
    }

    /// Wait until a line matches; false after `timeout` or when the stream ended.
    pub fn try_wait(&self, timeout: Duration, pred: impl Fn(&str) -> bool) -> bool {
        let deadline = Instant::now() + timeout;
        let mut g = self.lines.lock().unwrap();
        loop {
            if g.0.iter().any(|l| pred(l)) {
                return true;
            }
            let now = Instant::now();
            if now >= deadline || g.1 {
                return false;
            }
            g = self.cv.wait_timeout(g, deadline - now).unwrap().0;
        }
    }

    /// Wait until a line matches; panics after `timeout`.
    pub fn wait(&self, what: &str, timeout: Duration, pred: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + timeout;
        let mut g = self.lines.lock().unwrap();
        loop {
            if let Some(l) = g.0.iter().find(|l| pred(l)) {
                return l.clone();
            }
            let now = Instant::now();
            if now >= deadline || g.1 {
                panic!(
                    "timed out waiting for {what}; lines so far:\n{}",
                    g.0.join("\n")
                );
            }
            g = self.cv.wait_timeout(g, deadline - now).unwrap().0;
        }
    }
}

/// One wrapper running the fake runner; jobs are fed on its stdin.
pub struct Wrapper {
    pub name: String,
    pub child: Child,
    stdin: Option<ChildStdin>,
    pub out: Arc<Lines>,
    pub err: Arc<Lines>,
    pub logdir: PathBuf,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    pub runner: String,
    pub kind: String,
    pub job: String,
    pub rest: Vec<String>,
}

impl Event {
    /// Timestamp (seconds since the epoch) of start/end/startfail/completed events.
    pub fn t(&self) -> f64 {
        self.rest.last().unwrap().parse().unwrap()
    }
}

pub struct Spec<'a> {
    pub name: &'a str,
    pub resource: Option<&'a str>,
    pub env: Vec<(&'a str, String)>,
    /// Run the wrapper (and so the runner) as this uid (and gid), e.g. 1001 like the stock image.
    pub uid: Option<u32>,
    /// Content of the runner root's `.env` before the start.
    pub dotenv: Option<String>,
    /// Wait for the runner's "Listening for Jobs" (false when a health check must pass first).
    pub wait_listening: bool,
    /// With `uid`: give the runner root to that uid too (false: it stays root's, read-only).
    pub chown_root: bool,
    /// With `uid`: its supplementary groups (e.g. the lock group), through `setpriv`.
    pub groups: Vec<u32>,
    /// The wrapper's umask (its files' modes must not depend on it).
    pub umask: Option<u32>,
    /// Make the lock directory and the resource's directory first, as a lab has them (see
    /// [`prepare_lock_dir`]); false: the wrapper makes them itself.
    pub prepare: bool,
    /// Run the wrapper in its own mount namespace with this host directory bind-mounted at the
    /// lock directory, as a container has `RUNNER_LOCK_HOST_PATH` (root only).
    pub bind: Option<PathBuf>,
}

impl<'a> Spec<'a> {
    pub fn new(name: &'a str, resource: &'a str) -> Self {
        Spec {
            name,
            resource: Some(resource),
            env: Vec::new(),
            uid: None,
            dotenv: None,
            wait_listening: true,
            chown_root: true,
            groups: Vec::new(),
            umask: None,
            prepare: true,
            bind: None,
        }
    }

    pub fn bind(mut self, host_dir: &Path) -> Self {
        self.bind = Some(host_dir.to_path_buf());
        self
    }

    pub fn groups(mut self, groups: &[u32]) -> Self {
        self.groups = groups.to_vec();
        self
    }

    pub fn umask(mut self, mask: u32) -> Self {
        self.umask = Some(mask);
        self
    }

    /// Let the wrapper make the lock directory (or what is missing of it) itself.
    pub fn fresh(mut self) -> Self {
        self.prepare = false;
        self
    }

    pub fn env(mut self, k: &'a str, v: impl Into<String>) -> Self {
        self.env.push((k, v.into()));
        self
    }

    pub fn uid(mut self, uid: u32) -> Self {
        self.uid = Some(uid);
        self
    }

    pub fn dotenv(mut self, text: impl Into<String>) -> Self {
        self.dotenv = Some(text.into());
        self
    }

    pub fn no_wait(mut self) -> Self {
        self.wait_listening = false;
        self
    }
}

/// Give a directory to `uid` (tests run as root; the wrapper under test may not).
pub fn chown(path: &Path, uid: u32) {
    std::os::unix::fs::chown(path, Some(uid), Some(uid)).unwrap();
}

impl Wrapper {
    pub fn spawn(s: &Scratch, spec: Spec) -> Wrapper {
        Self::spawn_cmd(s, spec, &[FAKE_RUNNER])
    }

    /// The runner root of a wrapper spawned with the fake runner (its run.sh and .env).
    pub fn root_of(s: &Scratch, name: &str) -> PathBuf {
        s.path.join(format!("root-{name}"))
    }

    pub fn spawn_cmd(s: &Scratch, spec: Spec, cmd: &[&str]) -> Wrapper {
        use std::os::unix::process::CommandExt;
        let logdir = s.path.join(format!("log-{}", spec.name));
        std::fs::create_dir_all(&logdir).unwrap();
        // Runtime dirs of SIGKILLed wrappers go away with the scratch dir.
        let runtime = s.path.join(format!("rt-{}", spec.name));
        std::fs::create_dir_all(&runtime).unwrap();
        let fake = cmd == [FAKE_RUNNER];
        let mut args: Vec<String> = cmd.iter().map(|a| a.to_string()).collect();
        if fake {
            // Each runner has its own root (run.sh's directory), like /home/runner.
            let root = Self::root_of(s, spec.name);
            std::fs::create_dir_all(&root).unwrap();
            let run = root.join("run.sh");
            std::fs::copy(FAKE_RUNNER, &run).unwrap();
            if let Some(text) = &spec.dotenv {
                std::fs::write(root.join(".env"), text).unwrap();
            }
            if let Some(uid) = spec.uid.filter(|_| spec.chown_root) {
                chown(&root, uid);
                if spec.dotenv.is_some() {
                    chown(&root.join(".env"), uid);
                }
            }
            args = vec![run.display().to_string()];
        }
        if let Some(uid) = spec.uid {
            chown(&logdir, uid);
            chown(&runtime, uid);
        }
        if let (true, Some(r)) = (spec.prepare, spec.resource) {
            prepare_lock_dir(&s.lock_dir(), r);
        }
        let mut c = match (spec.uid, spec.groups.is_empty()) {
            _ if spec.bind.is_some() => {
                let mut c = Command::new("unshare");
                c.args(["--mount", "--propagation", "private", "sh", "-c"])
                    .arg("mount --bind \"$0\" \"$1\" && shift && exec \"$@\"")
                    .arg(spec.bind.as_ref().unwrap())
                    .arg(s.lock_dir())
                    .arg(wrapper_bin());
                c
            }
            (Some(uid), false) => {
                let mut c = Command::new("setpriv");
                let groups: Vec<String> = spec.groups.iter().map(|g| g.to_string()).collect();
                c.arg(format!("--reuid={uid}"))
                    .arg(format!("--regid={uid}"))
                    .arg(format!("--groups={}", groups.join(",")))
                    .arg("--")
                    .arg(wrapper_bin());
                c
            }
            _ => Command::new(wrapper_bin()),
        };
        if let Some(mask) = spec.umask {
            // SAFETY: umask is async-signal-safe and touches only the child's own mask.
            unsafe {
                c.pre_exec(move || {
                    libc::umask(mask);
                    Ok(())
                });
            }
        }
        c.arg("--")
            .args(&args)
            .env_remove("ACTIONS_RUNNER_HOOK_JOB_STARTED")
            .env_remove("ACTIONS_RUNNER_HOOK_JOB_COMPLETED")
            .env_remove("RUNNER_LOCK_TIMEOUT")
            .env_remove("RUNNER_LOCK_GROUP")
            .env_remove("RUNNER_WRAPPER_SOCKET")
            .env_remove("GHR_ORG")
            .env_remove("GHR_REPO")
            .env_remove("RUNNER_HEALTHCHECK")
            .env_remove("RUNNER_HEALTHCHECK_INTERVAL")
            .env_remove("RUNNER_MANUALLY_TRAP_SIG")
            .env("RUNNER_LOCK_DIR", s.lock_dir())
            .env("XDG_RUNTIME_DIR", &runtime)
            .env("RUNNER_NAME", spec.name)
            .env("FAKE_RUNNER_LOGDIR", &logdir)
            .env("FAKE_REPOSITORY", format!("org-{0}/repo-{0}", spec.name))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            // Own process group, so cleanup can kill the runner too when the wrapper was SIGKILLed.
            .process_group(0);
        match spec.resource {
            Some(r) => c.env("RUNNER_RESOURCE_ID", r),
            None => c.env_remove("RUNNER_RESOURCE_ID"),
        };
        for (k, v) in &spec.env {
            c.env(k, v);
        }
        if let (Some(uid), true) = (spec.uid, spec.groups.is_empty()) {
            c.uid(uid).gid(uid);
        }
        let mut child = c.spawn().expect("spawn runner-wrapper");
        let out = Arc::new(Lines::default());
        let err = Arc::new(Lines::default());
        out.pump(child.stdout.take().unwrap());
        err.pump(child.stderr.take().unwrap());
        let stdin = child.stdin.take();
        let w = Wrapper {
            name: spec.name.to_string(),
            child,
            stdin,
            out,
            err,
            logdir,
        };
        if fake && spec.wait_listening {
            let listening = w
                .out
                .try_wait(secs(10), |l| l.contains("Listening for Jobs"));
            assert!(
                listening,
                "{} is not listening; stderr:\n{}",
                w.name,
                w.err.all().join("\n")
            );
        }
        w
    }

    /// Queue a job line: "<name> <seconds> [flags]".
    pub fn job(&mut self, line: &str) {
        let stdin = self.stdin.as_mut().expect("stdin open");
        writeln!(stdin, "{line}").unwrap();
        stdin.flush().unwrap();
    }

    pub fn close_stdin(&mut self) {
        self.stdin = None;
    }

    /// Wait for `EVENT <kind> <job>`.
    pub fn wait_event(&self, kind: &str, job: &str, timeout: Duration) -> Event {
        let prefix = format!("EVENT {kind} {job} ");
        if !self.out.try_wait(timeout, |l| l.starts_with(&prefix)) {
            panic!(
                "timed out waiting for {} {prefix}; stdout:\n{}\nstderr:\n{}",
                self.name,
                self.out.all().join("\n"),
                self.err.all().join("\n")
            );
        }
        let l = self.out.all().into_iter().find(|l| l.starts_with(&prefix));
        parse_event(&self.name, &l.unwrap()).unwrap()
    }

    pub fn events(&self) -> Vec<Event> {
        self.out
            .all()
            .iter()
            .filter_map(|l| parse_event(&self.name, l))
            .collect()
    }

    /// The job log (hook output) of one job.
    pub fn job_log(&self, job: &str) -> String {
        std::fs::read_to_string(self.logdir.join(format!("{job}.log"))).unwrap_or_default()
    }

    pub fn pid(&self) -> i32 {
        self.child.id() as i32
    }

    /// Wait for the wrapper to exit; panics after `timeout`.
    pub fn wait_exit(&mut self, timeout: Duration) -> i32 {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(st) = self.child.try_wait().unwrap() {
                use std::os::unix::process::ExitStatusExt;
                // Let the pumps take in the last lines of a wrapper that exited by itself
                // (a killed one may leave its runner holding them open).
                if st.code().is_some() {
                    self.out.wait_closed(secs(2));
                    self.err.wait_closed(secs(2));
                }
                return st.code().unwrap_or_else(|| 128 + st.signal().unwrap_or(0));
            }
            assert!(
                Instant::now() < deadline,
                "{} did not exit; stderr:\n{}",
                self.name,
                self.err.all().join("\n")
            );
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    pub fn signal(&self, sig: i32) {
        kill(self.pid(), sig);
    }
}

impl Drop for Wrapper {
    fn drop(&mut self) {
        kill(-self.pid(), libc::SIGKILL);
        let _ = self.child.wait();
    }
}

pub fn kill(pid: i32, sig: i32) {
    unsafe {
        libc::kill(pid, sig);
    }
}

pub fn parse_event(runner: &str, line: &str) -> Option<Event> {
    let mut it = line.strip_prefix("EVENT ")?.split_whitespace();
    Some(Event {
        runner: runner.to_string(),
        kind: it.next()?.to_string(),
        job: it.next()?.to_string(),
        rest: it.map(str::to_string).collect(),
    })
}

pub fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

/// Poll the lock dir (bounded) until `pred` holds for the resource; the queue is files on disk,
/// there is no event to await.
pub fn wait_status(
    lock_dir: &Path,
    resource: &str,
    what: &str,
    pred: impl Fn(&ResourceStatus) -> bool,
) -> ResourceStatus {
    let deadline = Instant::now() + secs(10);
    loop {
        let all = read_lock_dir(lock_dir).unwrap();
        if let Some(st) = all
            .iter()
            .find(|s| s.resource == resource || s.name == resource)
        {
            if pred(st) {
                return st.clone();
            }
            assert!(
                Instant::now() < deadline,
                "timed out waiting for {what}: {st:#?}"
            );
        } else {
            assert!(
                Instant::now() < deadline,
                "timed out waiting for {what}: no resource"
            );
        }
        std::thread::sleep(Duration::from_millis(2));
    }
}

/// Number of live waiters.
pub fn live_waiters(st: &ResourceStatus) -> Vec<String> {
    st.live_waiters().map(|w| w.record.runner.clone()).collect()
}

/// (start, end, runner, job) intervals of all jobs that ran, sorted by start.
pub fn intervals(wrappers: &[&Wrapper]) -> Vec<(f64, f64, String, String)> {
    let mut v = Vec::new();
    for w in wrappers {
        let ev = w.events();
        for s in ev.iter().filter(|e| e.kind == "start") {
            let end = ev
                .iter()
                .find(|e| e.kind == "end" && e.job == s.job)
                .map(|e| e.t())
                .unwrap_or(f64::INFINITY);
            v.push((s.t(), end, w.name.clone(), s.job.clone()));
        }
    }
    v.sort_by(|a, b| a.0.partial_cmp(&b.0).unwrap());
    v
}

pub fn assert_no_overlap(iv: &[(f64, f64, String, String)]) {
    for pair in iv.windows(2) {
        assert!(
            pair[0].1 <= pair[1].0,
            "jobs overlap: {:?} and {:?}",
            pair[0],
            pair[1]
        );
    }
}

/// Handoff latencies (s): from one job's completed hook returning to the next job's started
/// hook returning, for consecutive jobs (on one resource, or on one pool member when the
/// wrappers share a pool) of different runners, counted only when the next job was already
/// asking when the previous one ended (else the gap is the runner's own turnaround).
pub fn handoffs(wrappers: &[&Wrapper]) -> Vec<f64> {
    let mut by_member: std::collections::BTreeMap<String, Vec<(f64, String, String)>> =
        Default::default();
    for (start, _, runner, job, member) in member_intervals(wrappers) {
        by_member
            .entry(member)
            .or_default()
            .push((start, runner, job));
    }
    let event_t = |runner: &str, kind: &str, job: &str| -> Option<f64> {
        let w = wrappers.iter().find(|w| w.name == runner)?;
        w.events()
            .iter()
            .find(|e| e.kind == kind && e.job == job)
            .map(|e| e.t())
    };
    let mut out = Vec::new();
    for jobs in by_member.values_mut() {
        jobs.sort_by(|a, b| a.0.partial_cmp(&b.0).unwrap());
        for pair in jobs.windows(2) {
            let ((_, pr, pj), (_, nr, nj)) = (&pair[0], &pair[1]);
            if pr == nr {
                continue;
            }
            let (Some(done), Some(asked), Some(granted)) = (
                event_t(pr, "completed", pj),
                event_t(nr, "asking", nj),
                event_t(nr, "granted", nj),
            ) else {
                continue;
            };
            if asked < done {
                out.push(granted - done);
            }
        }
    }
    out
}

pub fn percentile(v: &[f64], p: f64) -> f64 {
    let mut s = v.to_vec();
    s.sort_by(|a, b| a.partial_cmp(b).unwrap());
    if s.is_empty() {
        return f64::NAN;
    }
    let i = ((s.len() - 1) as f64 * p).round() as usize;
    s[i]
}

/// (start, end, runner, job, member) of every job that ran, from the runners' EVENT lines; the
/// member is what the job's step read from $GITHUB_ENV (GHR_RESOURCE).
pub fn member_intervals(wrappers: &[&Wrapper]) -> Vec<(f64, f64, String, String, String)> {
    let mut out = Vec::new();
    for (start, end, runner, job) in intervals(wrappers) {
        let w = wrappers.iter().find(|w| w.name == runner).unwrap();
        let member = w
            .events()
            .iter()
            .find(|e| e.kind == "resource" && e.job == job)
            .map(|e| e.rest[0].clone())
            .unwrap_or_default();
        out.push((start, end, runner, job, member));
    }
    out
}

/// Most jobs that ran at the same time.
pub fn max_concurrency(iv: &[(f64, f64, String, String, String)]) -> usize {
    let mut edges: Vec<(f64, i32)> = Vec::new();
    for i in iv {
        edges.push((i.0, 1));
        edges.push((i.1, -1));
    }
    // Ends before starts at the same instant: touching is not overlapping.
    edges.sort_by(|a, b| a.0.partial_cmp(&b.0).unwrap().then(a.1.cmp(&b.1)));
    let (mut cur, mut max) = (0i32, 0i32);
    for (_, d) in edges {
        cur += d;
        max = max.max(cur);
    }
    max as usize
}
