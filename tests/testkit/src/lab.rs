//! The one harness of ghr's end-to-end tests and benchmarks (in the spirit of just's `Test`):
//! a [`Lab`] is the fake GitHub plus a scratch directory; each [`Fleet`] is one org's working
//! directory with its `.env` (one template for every test), a prefix of its own, and the real
//! `ghr` binary run in it with a hermetic environment. Dropping a fleet removes every
//! container, one-off, volume and image of its prefix, also when the test failed.
//!
//! ```text
//! let lab = Lab::new(env!("CARGO_BIN_EXE_ghr"));
//! let fleet = lab.fleet("life").env("BOARD_RUNNERS=pi:board").build();
//! fleet.ghr(&["init", "-n", "2"]).ok();
//! ```

use crate::FakeGitHub;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// The PAT every lab accepts (admin:org and repo); it must never show in any output.
pub const PAT: &str = "fakepat_labTestPatMustNeverLeak0001";
/// The org fleets belong to unless they say otherwise.
pub const ORG: &str = "acme";

/// The one skip rule of Docker tests: with `GHR_SKIP_DOCKER_TESTS=1` they say so and skip;
/// otherwise a missing engine fails them loudly.
pub fn docker_ready(test: &str) -> bool {
    if let Some(reason) = crate::docker::skip_reason() {
        eprintln!("skipped: {test}: {reason}");
        return false;
    }
    assert!(
        crate::docker::docker_available(),
        "{test} needs a reachable Docker engine; set GHR_SKIP_DOCKER_TESTS=1 to skip the Docker tests"
    );
    true
}

/// Writes a `.env` private (0600), as the README tells users to keep one that holds a PAT
/// (ghr warns about a readable one).
pub fn write_env(path: &Path, contents: &str) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::write(path, contents).expect("write .env");
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).expect("chmod .env");
}

/// A scratch directory, removed on drop.
pub struct TempDir(PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> Self {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let path = std::env::temp_dir().join(format!(
            "ghr-test-{tag}-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).expect("create a scratch directory");
        Self(path)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The real `ghr` binary run in a directory with a hermetic environment: nothing of the
/// caller's shell leaks in but `PATH`, `HOME` and `DOCKER_HOST`.
pub struct Ghr {
    pub dir: TempDir,
    bin: PathBuf,
    env: Vec<(String, String)>,
}

impl Ghr {
    pub fn new(bin: impl Into<PathBuf>, tag: &str) -> Self {
        Self {
            dir: TempDir::new(tag),
            bin: bin.into(),
            env: Vec::new(),
        }
    }

    /// Writes `.env` with exactly `contents`.
    pub fn env_file(self, contents: &str) -> Self {
        write_env(&self.dir.path().join(".env"), contents);
        self
    }

    /// A variable of ghr's process environment.
    pub fn env(mut self, key: &str, value: &str) -> Self {
        self.env.push((key.into(), value.into()));
        self
    }

    pub fn bin(&self) -> &Path {
        &self.bin
    }

    /// The command, with every variable a user's shell could leak cleared.
    pub fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(&self.bin);
        cmd.args(args).current_dir(self.dir.path()).env_clear();
        for key in ["PATH", "HOME", "DOCKER_HOST"] {
            if let Ok(value) = std::env::var(key) {
                cmd.env(key, value);
            }
        }
        cmd.envs(self.env.iter().map(|(k, v)| (k, v)));
        cmd.stdin(Stdio::null());
        cmd
    }

    pub fn run(&self, args: &[&str]) -> Out {
        self.run_with(&[], args)
    }

    /// Runs with extra process environment for this one invocation.
    pub fn run_with(&self, env: &[(&str, &str)], args: &[&str]) -> Out {
        let mut cmd = self.command(args);
        cmd.envs(env.iter().copied());
        Out::new(args, cmd.output().expect("ghr runs"))
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// One more `.env` line; later lines win, so this changes a setting.
    pub fn set_env(&self, line: &str) {
        let path = self.path(".env");
        let mut env = std::fs::read_to_string(&path).expect("read .env");
        env.push_str(line);
        env.push('\n');
        write_env(&path, &env);
    }

    pub fn file(&self, name: &str) -> Option<String> {
        std::fs::read_to_string(self.path(name)).ok()
    }

    /// File names in the directory, sorted.
    pub fn files(&self) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(self.dir.path())
            .expect("read the fleet directory")
            .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }
}

/// What one ghr run printed and how it ended; the checks name the command on failure.
#[derive(Debug, Clone)]
pub struct Out {
    pub what: String,
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl Out {
    pub fn new(args: &[&str], out: Output) -> Out {
        Out {
            what: format!("ghr {}", args.join(" ")),
            code: out.status.code(),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }

    #[track_caller]
    pub fn ok(self) -> Out {
        self.code(0)
    }

    #[track_caller]
    pub fn code(self, code: i32) -> Out {
        assert_eq!(
            self.code,
            Some(code),
            "{} exited {:?}, expected {code}\n--- stdout:\n{}\n--- stderr:\n{}",
            self.what,
            self.code,
            self.stdout,
            self.stderr
        );
        self
    }

    /// stdout has this line (trimmed), exactly.
    #[track_caller]
    pub fn stdout_line(self, line: &str) -> Out {
        assert!(
            self.stdout.lines().any(|l| l.trim() == line),
            "{}: no stdout line {line:?} in:\n{}",
            self.what,
            self.stdout
        );
        self
    }

    /// stderr has this line (trimmed), exactly.
    #[track_caller]
    pub fn stderr_line(self, line: &str) -> Out {
        assert!(
            self.stderr.lines().any(|l| l.trim() == line),
            "{}: no stderr line {line:?} in:\n{}",
            self.what,
            self.stderr
        );
        self
    }

    /// The only thing on stderr is one `error: ...` line starting with `prefix`.
    #[track_caller]
    pub fn error_line(self, prefix: &str) -> Out {
        let lines: Vec<&str> = self
            .stderr
            .lines()
            .filter(|l| !l.trim().is_empty())
            .collect();
        assert!(
            lines.len() == 1 && lines[0].starts_with(&format!("error: {prefix}")),
            "{}: expected one line `error: {prefix}...`, got:\n{}",
            self.what,
            self.stderr
        );
        self
    }

    /// Neither stream holds `secret`.
    #[track_caller]
    pub fn hides(self, secret: &str) -> Out {
        assert!(
            !self.stdout.contains(secret) && !self.stderr.contains(secret),
            "{} printed a secret",
            self.what
        );
        self
    }
}

/// The fake GitHub (org `acme` and the lab PAT), the ghr binary under test, and a scratch
/// directory whose `locks/` is every fleet's `RUNNER_LOCK_HOST_PATH` (not created: ghr does).
pub struct Lab {
    pub gh: FakeGitHub,
    ghr: PathBuf,
    scratch: TempDir,
    tag: String,
}

impl Lab {
    pub fn new(ghr: impl Into<PathBuf>) -> Lab {
        Lab::with_github(ghr, FakeGitHub::start())
    }

    /// A lab around a fake GitHub started otherwise (e.g. [`FakeGitHub::start_as`]).
    pub fn with_github(ghr: impl Into<PathBuf>, gh: FakeGitHub) -> Lab {
        gh.add_org(ORG);
        gh.add_pat(PAT, &["admin:org", "repo"]);
        // Short long polls: a killed runner shows offline within a few seconds.
        gh.set_poll_timeout(Duration::from_secs(5));
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        Lab {
            gh,
            ghr: ghr.into(),
            scratch: TempDir::new("lab"),
            tag: format!(
                "t{}{}",
                std::process::id(),
                NEXT.fetch_add(1, Ordering::Relaxed)
            ),
        }
    }

    /// The shared lock directory of this lab's fleets.
    pub fn lock_dir(&self) -> PathBuf {
        self.scratch.path().join("locks")
    }

    pub fn scratch(&self) -> &Path {
        self.scratch.path()
    }

    /// Two orgs' fleets with the same extra `.env` lines (e.g. one board runner each on a
    /// shared resource): fleets `<tag>a` and `<tag>b` of orgs `<tag>-org-a` and `<tag>-org-b`.
    pub fn two_orgs(&self, tag: &str, env: &[&str]) -> (Fleet, Fleet) {
        let fleet = |org: &str| {
            env.iter()
                .fold(
                    self.fleet(&format!("{tag}{org}"))
                        .org(&format!("{tag}-org-{org}")),
                    |f, line| f.env(line),
                )
                .build()
        };
        (fleet("a"), fleet("b"))
    }

    /// [`Lab::two_orgs`] whose `env` gives each a board runner `pi` (e.g. on a shared
    /// resource), both initialized and their board runners online on the fake GitHub.
    pub fn board_pair(&self, tag: &str, env: &[&str]) -> (Fleet, Fleet) {
        let (a, b) = self.two_orgs(tag, env);
        for f in [&a, &b] {
            f.ghr(&["init", "-n", "0"]).ok();
        }
        let online = self.gh.wait_until(Duration::from_secs(60), |gh| {
            [&a, &b].iter().all(|f| {
                gh.runner(&crate::Scope::Org(&f.org), &f.name("pi"))
                    .is_some_and(|r| r.status == "online")
            })
        });
        assert!(
            online,
            "both board runners come online:\n{}\n{}",
            a.logs(&a.name("pi"), 40),
            b.logs(&b.name("pi"), 40)
        );
        (a, b)
    }

    /// A fleet of org `acme` named after `tag` (its prefix is `<lab>-<tag>-`).
    pub fn fleet(&self, tag: &str) -> FleetBuilder<'_> {
        FleetBuilder {
            lab: self,
            tag: tag.to_string(),
            org: ORG.to_string(),
            lines: Vec::new(),
        }
    }
}

pub struct FleetBuilder<'a> {
    lab: &'a Lab,
    tag: String,
    org: String,
    lines: Vec<String>,
}

impl FleetBuilder<'_> {
    /// The fleet's org (added to the fake GitHub).
    pub fn org(mut self, org: &str) -> Self {
        self.lab.gh.add_org(org);
        self.org = org.to_string();
        self
    }

    /// One more `.env` line (`KEY=VALUE`); later lines win, so this overrides the template.
    pub fn env(mut self, line: &str) -> Self {
        self.lines.push(line.to_string());
        self
    }

    pub fn build(self) -> Fleet {
        let prefix = format!("{}-{}-", self.lab.tag, self.tag);
        let ghr = Ghr::new(&self.lab.ghr, &self.tag);
        let fleet = Fleet {
            ghr,
            org: self.org,
            prefix,
            custom_image: format!("ghr-test-custom-{}-{}:1", self.lab.tag, self.tag),
        };
        let mut env = fleet.template(self.lab);
        for line in &self.lines {
            env.push_str(line);
            env.push('\n');
        }
        write_env(&fleet.ghr.path(".env"), &env);
        fleet
    }
}

/// One org's fleet: a working directory with `.env`, run with the real ghr binary.
pub struct Fleet {
    pub ghr: Ghr,
    pub org: String,
    pub prefix: String,
    custom_image: String,
}

impl Fleet {
    /// The `.env` every fleet starts from: the lab's GitHub, this fleet's prefix, the faithful
    /// runner image as `RUNNER_IMAGE` (the "stock" image: no runner-wrapper in it), nothing of
    /// the host's devices, not privileged (this sandbox refuses it).
    fn template(&self, lab: &Lab) -> String {
        let image = test_image();
        format!(
            "ORG={org}\nGH_PAT={PAT}\nRUNNER_NAME_PREFIX={prefix}\nRUNNER_IMAGE={image}\n\
             RUNNER_CUSTOM_IMAGE={custom}\nGITHUB_API_URL={api}\nGITHUB_SERVER_URL={api}\n\
             RUNNER_LOCK_HOST_PATH={locks}\n\
             MAP_LOOP_DEVICES=false\nMAP_KVM_DEVICE=false\nMAP_USB_DEVICE=false\n\
             MOUNT_UDEV_RULES_DIR=false\nPRIVILEGED=false\n",
            org = self.org,
            prefix = self.prefix,
            custom = self.custom_image,
            api = lab.gh.url(),
            locks = lab.lock_dir().display(),
        )
    }

    pub fn ghr(&self, args: &[&str]) -> Out {
        self.ghr.run(args)
    }

    pub fn ghr_with(&self, env: &[(&str, &str)], args: &[&str]) -> Out {
        self.ghr.run_with(env, args)
    }

    /// One more `.env` line; later lines win, so this changes a setting.
    pub fn set_env(&self, line: &str) {
        self.ghr.set_env(line);
    }

    pub fn custom_image(&self) -> &str {
        &self.custom_image
    }

    /// `<prefix>runner-<short>`.
    pub fn name(&self, short: &str) -> String {
        format!("{}runner-{short}", self.prefix)
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.ghr.path(name)
    }

    /// (name, state) of this prefix's runner containers, sorted.
    pub fn containers(&self) -> Vec<(String, String)> {
        let out = docker(&[
            "ps",
            "-a",
            "--filter",
            &format!("label=ghr.prefix={}", self.prefix),
            "--format",
            "{{.Names}} {{.State}} {{.Label \"ghr.oneoff\"}}",
        ]);
        let mut v: Vec<(String, String)> = out
            .lines()
            .filter_map(|l| {
                let mut parts = l.split_whitespace();
                let (name, state) = (parts.next()?, parts.next()?);
                // One-off registration containers are not runners.
                parts
                    .next()
                    .is_none()
                    .then(|| (name.to_string(), state.to_string()))
            })
            .collect();
        v.sort();
        v
    }

    /// One-off containers (registration) of this prefix that still exist.
    pub fn oneoffs(&self) -> Vec<String> {
        let out = docker(&[
            "ps",
            "-a",
            "--filter",
            &format!("label=ghr.prefix={}", self.prefix),
            "--filter",
            "label=ghr.oneoff",
            "--format",
            "{{.Names}}",
        ]);
        out.lines().map(String::from).collect()
    }

    /// `<id> <started at>`: changes when the container is recreated or restarted.
    pub fn container_id(&self, name: &str) -> String {
        docker(&["inspect", "--format", "{{.Id}} {{.State.StartedAt}}", name])
            .trim()
            .to_string()
    }

    /// `docker inspect --format <format> <name>`, trimmed.
    pub fn inspect(&self, name: &str, format: &str) -> String {
        docker(&["inspect", "--format", format, name])
            .trim()
            .to_string()
    }

    /// This prefix's volumes: ghr's (labelled) and those named after its runners without a
    /// label (runner.sh's, and `<project>_<runner>-...` of older namings), sorted.
    pub fn volumes(&self) -> Vec<String> {
        let mut v: Vec<String> = self
            .volume_filters()
            .iter()
            .flat_map(|filter| {
                docker(&["volume", "ls", "-q", "--filter", filter])
                    .lines()
                    .map(String::from)
                    .collect::<Vec<_>>()
            })
            .collect();
        v.sort();
        v.dedup();
        v
    }

    /// `docker ... --filter` values that find this prefix's things, labelled or not.
    fn volume_filters(&self) -> [String; 2] {
        [
            format!("label=ghr.prefix={}", self.prefix),
            format!("name={}runner-", self.prefix),
        ]
    }

    /// The container's log (stdout and stderr), the last `tail` lines.
    pub fn logs(&self, name: &str, tail: usize) -> String {
        let out = Command::new("docker")
            .args(["logs", "--tail", &tail.to_string(), name])
            .output()
            .expect("docker runs");
        format!(
            "--- {name}:\n{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    }

    /// Waits until `cond` holds, checking every 100 ms; false on timeout.
    pub fn wait(&self, timeout: Duration, mut cond: impl FnMut() -> bool) -> bool {
        let deadline = Instant::now() + timeout;
        loop {
            if cond() {
                return true;
            }
            if Instant::now() >= deadline {
                return false;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Fleet {
    fn drop(&mut self) {
        // By label and by name: a test may have made runner.sh's unlabelled things too.
        let mut ids: Vec<String> = Vec::new();
        for filter in self.volume_filters() {
            ids.extend(
                docker(&["ps", "-aq", "--filter", &filter])
                    .split_whitespace()
                    .map(String::from),
            );
        }
        if !ids.is_empty() {
            let _ = Command::new("docker")
                .args(["rm", "-f", "-v"])
                .args(&ids)
                .output();
        }
        let vols = self.volumes();
        if !vols.is_empty() {
            let _ = Command::new("docker")
                .args(["volume", "rm", "-f"])
                .args(&vols)
                .output();
        }
        let _ = Command::new("docker")
            .args(["rmi", "-f", &self.custom_image])
            .output();
    }
}

/// The faithful runner image (built once per run and reused); a test cannot go on without it.
pub fn test_image() -> String {
    crate::docker::test_image().unwrap_or_else(|e| panic!("the test image cannot be built: {e:#}"))
}

/// `(name, "running")` of each name, sorted: what [`Fleet::containers`] shows of a fleet
/// whose containers all run.
pub fn running(names: &[String]) -> Vec<(String, String)> {
    let mut v: Vec<(String, String)> = names
        .iter()
        .map(|n| (n.clone(), "running".to_string()))
        .collect();
    v.sort();
    v
}

/// `docker args...`, its stdout (empty when it fails).
pub fn docker(args: &[&str]) -> String {
    let out = Command::new("docker")
        .args(args)
        .output()
        .expect("docker runs");
    String::from_utf8_lossy(&out.stdout).into_owned()
}
