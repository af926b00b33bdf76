//! Layered settings: CLI flags > process environment > `.env` > defaults.
//!
//! Every key of the shell tool keeps its meaning and default, so an existing `.env` works
//! unchanged. Values are checked here, once, before anything is written or started.

use crate::config::boards::{self, Board};
use crate::config::env_file;
use crate::config::error::ConfigError;
use crate::config::keys;
use runner_wrapper::contract;
use std::collections::HashMap;
use std::path::PathBuf;
use std::time::Duration;

pub const DEFAULT_ENV_FILE: &str = ".env";
pub const DEFAULT_RUNNER_IMAGE: &str = "ghcr.io/actions/actions-runner:latest";
pub const DEFAULT_CUSTOM_IMAGE: &str = "qc-actions-runner:v0.0.1";
pub use runner_wrapper::contract::DEFAULT_LOCK_DIR;
/// Long enough for an idle runner to go offline and a busy one to cancel its job cleanly.
pub const DEFAULT_STOP_GRACE_PERIOD: Duration = Duration::from_secs(60);
/// How long one registration (`config.sh` in its one-off container) may take: GitHub
/// answers in seconds; the runner's own retries would wait many minutes.
pub const DEFAULT_REGISTER_TIMEOUT: Duration = Duration::from_secs(120);

/// Where each value comes from, highest priority first.
pub struct Sources {
    cli: HashMap<String, String>,
    process: HashMap<String, String>,
    file: HashMap<String, String>,
    pub env_path: PathBuf,
    /// The `.env` file's permission bits, when it exists.
    file_mode: Option<u32>,
    /// This host's `/etc/group`, for a `RUNNER_LOCK_GROUP` given by name.
    host_groups: String,
}

impl Sources {
    /// Reads the process environment and the `.env` file (`env_file`, else `ENV_FILE`, else `.env`).
    pub fn gather(
        cli: HashMap<String, String>,
        env_file: Option<PathBuf>,
    ) -> Result<Self, ConfigError> {
        let process: HashMap<String, String> = std::env::vars().collect();
        // A file named on purpose must exist (a typo would otherwise mean an empty `.env`:
        // a first run's prompts, or settings silently missing); only `.env` may be absent.
        let named = match env_file {
            Some(path) => Some(("--env-file ", path)),
            None => process
                .get("ENV_FILE")
                .filter(|v| !v.is_empty())
                .map(|v| ("ENV_FILE=", PathBuf::from(v))),
        };
        if let Some((key, path)) = &named {
            if !path.exists() {
                return Err(ConfigError::new(format!(
                    "{key}{}: the file does not exist; fix the path, or create it (e.g. cp .env.example {})",
                    path.display(),
                    path.display()
                )));
            }
        }
        let env_path = named
            .map(|(_, path)| path)
            .unwrap_or_else(|| PathBuf::from(DEFAULT_ENV_FILE));
        let file = env_file::read(&env_path)?;
        let file_mode = env_file::mode(&env_path);
        let host_groups = std::fs::read_to_string("/etc/group").unwrap_or_default();
        Ok(Self {
            cli,
            process,
            file,
            env_path,
            file_mode,
            host_groups,
        })
    }

    /// Builds sources from explicit maps (tests, and callers that already hold the values).
    pub fn from_maps(process: HashMap<String, String>, file: HashMap<String, String>) -> Self {
        Self {
            cli: HashMap::new(),
            process,
            file,
            env_path: PathBuf::from(DEFAULT_ENV_FILE),
            file_mode: None,
            host_groups: String::new(),
        }
    }

    /// The value of `key`; an empty value counts as unset, like the shell tool's `${KEY:-default}`.
    pub fn get(&self, key: &str) -> Option<String> {
        [&self.cli, &self.process, &self.file]
            .into_iter()
            .find_map(|layer| layer.get(key).filter(|v| !v.is_empty()))
            .cloned()
    }

    /// Where `key` is set, for messages: "the command line", "the environment" or the
    /// `.env` file; `None` when it is not set (its default applies).
    pub fn origin(&self, key: &str) -> Option<String> {
        let set = |layer: &HashMap<String, String>| layer.get(key).is_some_and(|v| !v.is_empty());
        if set(&self.cli) {
            Some("the command line".into())
        } else if set(&self.process) {
            Some("the environment".into())
        } else if set(&self.file) {
            Some(self.env_path.display().to_string())
        } else {
            None
        }
    }

    pub fn set_cli(&mut self, key: &str, value: String) {
        self.cli.insert(key.to_string(), value);
    }

    /// The keys the `.env` file sets (with a value or not), sorted.
    pub fn file_keys(&self) -> Vec<String> {
        let mut keys: Vec<String> = self.file.keys().cloned().collect();
        keys.sort();
        keys
    }

    /// Every key with a value in any layer, sorted (for the board key families); an empty
    /// value counts as unset, as everywhere.
    pub fn set_keys(&self) -> Vec<String> {
        let mut keys: Vec<String> = self
            .cli
            .keys()
            .chain(self.process.keys())
            .chain(self.file.keys())
            .filter(|k| self.get(k).is_some())
            .cloned()
            .collect();
        keys.sort();
        keys.dedup();
        keys
    }

    fn bool(&self, key: &str, default: bool) -> Result<bool, ConfigError> {
        match self.get(key) {
            None => Ok(default),
            Some(v) => parse_bool(&v).ok_or_else(|| {
                ConfigError::new(format!(
                    "{key}={v} is not a boolean; set {key} to true or false (also 1/0, yes/no)"
                ))
            }),
        }
    }

    fn number<T: std::str::FromStr>(
        &self,
        key: &str,
        default: T,
        what: &str,
    ) -> Result<T, ConfigError> {
        match self.get(key) {
            None => Ok(default),
            Some(v) => v.trim().parse().map_err(|_| {
                ConfigError::new(format!("{key}={v} is not {what}; set {key} to {what}"))
            }),
        }
    }

    /// A limit in the wrapper's duration syntax (`30`, `30s`, `5m`, `1h`): unset, empty or
    /// zero is no limit.
    fn optional_duration(&self, key: &str) -> Result<Option<Duration>, ConfigError> {
        contract::optional_duration(key, self.get(key).as_deref()).map_err(ConfigError::new)
    }

    /// An interval in the wrapper's duration syntax; unset or empty is `default`.
    fn duration_or(&self, key: &str, default: Duration) -> Result<Duration, ConfigError> {
        contract::duration_or(key, self.get(key).as_deref(), default).map_err(ConfigError::new)
    }

    /// Like `duration_or`, but `None` when unset (the wrapper then applies its default).
    fn interval(&self, key: &str) -> Result<Option<Duration>, ConfigError> {
        match self.get(key) {
            None => Ok(None),
            Some(_) => self.duration_or(key, Duration::ZERO).map(Some),
        }
    }

    fn optional_number<T: std::str::FromStr>(
        &self,
        key: &str,
        what: &str,
    ) -> Result<Option<T>, ConfigError> {
        match self.get(key) {
            None => Ok(None),
            Some(v) => v.trim().parse().map(Some).map_err(|_| {
                ConfigError::new(format!(
                    "{key}={v} is not {what}; set {key} to {what} or leave it empty"
                ))
            }),
        }
    }
}

/// Keys whose value is a secret when `.env` holds it.
const SECRET_KEYS: [&str; 2] = ["GH_PAT", "REG_TOKEN"];

/// A warning when the `.env` file holds a secret and others may read it (as ssh says of a key
/// file): the file, its mode, and the `chmod` that fixes it.
pub fn exposed_secret(
    file: &str,
    mode: Option<u32>,
    keys: &[String],
    has_value: impl Fn(&str) -> bool,
) -> Option<String> {
    let mode = mode? & 0o777;
    let secret = SECRET_KEYS
        .iter()
        .find(|k| keys.iter().any(|key| key == *k) && has_value(k))?;
    (mode & 0o077 != 0).then(|| {
        format!(
            "{file} holds {secret} and others can read it (mode {mode:04o}); run chmod 600 {file}"
        )
    })
}

pub fn parse_bool(value: &str) -> Option<bool> {
    match value.trim().to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" => Some(true),
        "false" | "0" | "no" => Some(false),
        _ => None,
    }
}

/// The whole configuration of one fleet (one org or repo on this host).
/// Deliberately not `Debug`: it holds the PAT.
#[derive(Clone)]
pub struct Settings {
    pub env_path: PathBuf,
    pub org: String,
    pub pat: Option<String>,
    /// The GitHub App ghr authenticates as instead of the PAT (it wins when both are set).
    pub app: Option<crate::config::github_app::AppSettings>,
    /// REG_TOKEN: a registration token used as is (runner.sh's key); then registering needs
    /// no PAT, but reading GitHub's runners (list, rm) still does.
    pub reg_token: Option<String>,
    pub repo: Option<String>,
    pub prefix: String,
    /// RUNNER_GROUP; `None` when unset: runners register into the default group and ghr
    /// makes no runner-group call at all.
    pub runner_group: Option<String>,
    pub labels: Vec<String>,
    pub runner_image: String,
    pub custom_image: String,
    /// RUNNER_DOCKERFILE: the Dockerfile of the custom image (relative to the directory ghr
    /// runs in); unset: `./Dockerfile` only where it was built before (see `world::image`).
    pub dockerfile: Option<PathBuf>,
    pub workdir: Option<String>,
    pub disable_auto_update: bool,
    pub runner_count: u32,
    /// Board runners of both syntaxes (`BOARD_RUNNERS` first, then `RUNNER_BOARD_COUNT`).
    pub boards: Vec<Board>,
    pub lock_dir: String,
    pub lock_host_path: String,
    /// RUNNER_LOCK_GROUP as a gid (default 1001): the group of the lock directory, and of every
    /// board container that locks in it.
    pub lock_group: u32,
    /// RUNNER_LOCK_TIMEOUT; `None` waits as long as it takes.
    pub lock_timeout: Option<Duration>,
    /// RUNNER_HEALTHCHECK_INTERVAL / _TIMEOUT for boards with a health check; `None`: the
    /// wrapper's defaults.
    pub healthcheck_interval: Option<Duration>,
    pub healthcheck_timeout: Option<Duration>,
    /// RUNNER_REPAIR_ATTEMPTS for boards with a repair; `None`: the wrapper's default.
    pub repair_attempts: Option<u32>,
    /// RUNNER_QUEUE_AT_GITHUB: board runners go offline while their board is busy (each
    /// board's `BOARD_QUEUE_AT_GITHUB_<BOARD>` wins).
    pub queue_at_github: bool,
    /// RUNNER_EPHEMERAL: one-job runners (JIT configurations, replaced by `ghr serve`);
    /// each board's `BOARD_EPHEMERAL_<BOARD>` wins for it.
    pub ephemeral: bool,
    /// RUNNER_QUEUE_COURTESY, passed on when set (the wrapper's default otherwise).
    pub queue_courtesy: Option<Duration>,
    pub wrapper_bin: Option<PathBuf>,
    /// RUNNER_STOP_GRACE_PERIOD: how long a stopping runner may take to go offline (and
    /// finish a cancelled job) before Docker kills it.
    pub stop_grace_period: Duration,
    /// RUNNER_LOG_DRIVER / RUNNER_LOG_OPTS: every runner's compose `logging:`.
    pub logging: crate::config::logging::LogConfig,
    /// RUNNER_REGISTER_TIMEOUT: past it a registration's one-off is stopped and removed, and
    /// the runner reported as not registered.
    pub register_timeout: Duration,
    pub reg_token_cache_file: PathBuf,
    pub reg_token_cache_ttl: u64,
    pub compose_file: PathBuf,
    /// Where COMPOSE_FILE was set (see `Sources::origin`); `None`: the per-scope default.
    pub compose_file_origin: Option<String>,
    /// `.ghr.<org>[.<repo>].lock`: held by the command that changes the fleet.
    pub fleet_lock_file: PathBuf,
    pub dockerfile_hash_file: PathBuf,
    pub http_proxy: Option<String>,
    pub https_proxy: Option<String>,
    pub no_proxy: Option<String>,
    pub privileged: bool,
    pub map_loop_devices: bool,
    pub loop_device_count: u32,
    pub map_kvm_device: bool,
    pub map_usb_device: bool,
    pub mount_udev_rules_dir: bool,
    pub mount_docker_sock: bool,
    pub kvm_gid: Option<u32>,
    pub github_api_url: String,
    pub github_server_url: String,
    /// Per-board keys that name no board: the caller prints them as warnings.
    pub warnings: Vec<String>,
}

impl Settings {
    /// Resolves every key. `ORG` must be known by now (prompts happen before this).
    pub fn resolve(src: &Sources) -> Result<Settings, ConfigError> {
        let org = src.get("ORG").unwrap_or_default();
        check_name("ORG", &org)?;
        let repo = src.get("REPO");
        if let Some(repo) = &repo {
            check_name("REPO", repo)?;
        }
        let prefix = match src.get("RUNNER_NAME_PREFIX") {
            Some(p) => {
                check_container_chars("RUNNER_NAME_PREFIX", &p)?;
                if p.ends_with('-') {
                    p
                } else {
                    format!("{p}-")
                }
            }
            None => default_prefix(&hostname(), &org, repo.as_deref()),
        };
        let scoped = |base: &str, ext: &str| -> PathBuf {
            let mut name = base.to_string();
            if !org.is_empty() {
                name.push('.');
                name.push_str(&org);
                if let Some(repo) = &repo {
                    name.push('.');
                    name.push_str(repo);
                }
            }
            name.push_str(ext);
            PathBuf::from(name)
        };
        let boards::Boards {
            boards,
            mut warnings,
        } = boards::resolve(|k| src.get(k), &src.set_keys())?;
        let env_name = src.env_path.display().to_string();
        warnings.extend(exposed_secret(
            &env_name,
            src.file_mode,
            &src.file_keys(),
            |k| src.file.get(k).is_some_and(|v| !v.is_empty()),
        ));
        warnings.extend(
            src.file_keys()
                .iter()
                .filter(|key| !keys::is_known(key))
                .map(|key| keys::unknown_key_warning(key, &env_name)),
        );
        let labels = boards::dedup(boards::split_list(
            &src.get("RUNNER_LABELS").unwrap_or_else(|| "intel".into()),
            ',',
        ));
        let runner_group = src.get("RUNNER_GROUP");
        if let Some(runner_group) = runner_group
            .as_ref()
            .filter(|g| repo.is_some() && !g.eq_ignore_ascii_case("Default"))
        {
            return Err(ConfigError::new(format!(
                "RUNNER_GROUP={runner_group} cannot apply: repository runners have no runner groups; remove RUNNER_GROUP or register at the organization (no REPO)"
            )));
        }
        let github_api_url = url_setting(src, "GITHUB_API_URL", "https://api.github.com")?;
        let github_server_url = url_setting(src, "GITHUB_SERVER_URL", "https://github.com")?;
        let runner_count = src.number("RUNNER_COUNT", 2u32, "a whole number")?;
        check_count(&format!("RUNNER_COUNT={runner_count}"), runner_count)?;
        check_labels("RUNNER_LABELS", &labels)?;
        for board in &boards {
            check_labels(
                &format!("the labels of board {}", board.name),
                &board.labels,
            )?;
        }
        // A NUL cannot pass through a command line, the compose file or the environment.
        if let Some(key) = src
            .set_keys()
            .into_iter()
            .find(|k| keys::is_known(k) && src.get(k).is_some_and(|v| v.contains('\0')))
        {
            return Err(ConfigError::new(format!(
                "{key} holds a NUL byte, which no setting can carry; rewrite {key} in {} (a copy-paste from a binary file?)",
                src.origin(&key).unwrap_or_default()
            )));
        }
        let lock_host_path = src
            .get("RUNNER_LOCK_HOST_PATH")
            .unwrap_or_else(|| DEFAULT_LOCK_DIR.into());
        if !lock_host_path.starts_with('/') {
            return Err(ConfigError::new(format!(
                "RUNNER_LOCK_HOST_PATH={lock_host_path} is not an absolute path; compose mounts it into every board runner, so set an absolute host path such as {DEFAULT_LOCK_DIR}"
            )));
        }
        let kvm_gid = src.optional_number("RUNNER_KVM_GID", "a numeric group id")?;
        if kvm_gid == Some(0) {
            return Err(ConfigError::new(
                "RUNNER_KVM_GID=0 is root's group, which ghr never gives runners; set RUNNER_KVM_GID to the id of a group of its own for /dev/kvm (`getent group kvm`)",
            ));
        }

        Ok(Settings {
            env_path: src.env_path.clone(),
            pat: src.get("GH_PAT"),
            app: crate::config::github_app::resolve(|k| src.get(k))?,
            reg_token: src.get("REG_TOKEN").map(|t| t.trim().to_string()),
            prefix,
            runner_group,
            labels,
            runner_image: src
                .get("RUNNER_IMAGE")
                .unwrap_or_else(|| DEFAULT_RUNNER_IMAGE.into()),
            custom_image: src
                .get("RUNNER_CUSTOM_IMAGE")
                .unwrap_or_else(|| DEFAULT_CUSTOM_IMAGE.into()),
            dockerfile: src.get("RUNNER_DOCKERFILE").map(PathBuf::from),
            workdir: src.get("RUNNER_WORKDIR"),
            disable_auto_update: src.bool("DISABLE_AUTO_UPDATE", false)?,
            runner_count,
            boards,
            lock_dir: src
                .get("RUNNER_LOCK_DIR")
                .unwrap_or_else(|| DEFAULT_LOCK_DIR.into()),
            lock_host_path,
            lock_group: match src.get(contract::env::LOCK_GROUP) {
                None => contract::DEFAULT_LOCK_GROUP,
                Some(v) => match crate::config::lock_group::resolve_group(&v, &src.host_groups)
                    .map_err(ConfigError::new)?
                {
                    0 => return Err(ConfigError::new(format!(
                        "{}={v} is root's group, which ghr never gives runners; set it to a group of the runners (e.g. 1001, the stock image's) or create one (sudo groupadd ghr-locks)",
                        contract::env::LOCK_GROUP
                    ))),
                    gid => gid,
                },
            },
            lock_timeout: src.optional_duration(contract::env::LOCK_TIMEOUT)?,
            healthcheck_interval: src.interval(contract::env::HEALTHCHECK_INTERVAL)?,
            healthcheck_timeout: src.interval(contract::env::HEALTHCHECK_TIMEOUT)?,
            repair_attempts: match src.get(contract::env::REPAIR_ATTEMPTS) {
                None => None,
                Some(v) => Some(contract::repair_attempts(Some(&v)).map_err(ConfigError::new)?),
            },
            queue_at_github: src.bool(contract::env::QUEUE_AT_GITHUB, false)?,
            ephemeral: src.bool(crate::config::boards::EPHEMERAL, false)?,
            queue_courtesy: match src.get(contract::env::QUEUE_COURTESY) {
                None => None,
                Some(v) => Some(contract::queue_courtesy(Some(&v)).map_err(ConfigError::new)?),
            },
            wrapper_bin: src.get("RUNNER_WRAPPER_BIN").map(PathBuf::from),
            stop_grace_period: src
                .duration_or("RUNNER_STOP_GRACE_PERIOD", DEFAULT_STOP_GRACE_PERIOD)?,
            logging: crate::config::logging::resolve(
                src.get(crate::config::logging::DRIVER_KEY).as_deref(),
                src.get(crate::config::logging::OPTS_KEY).as_deref(),
            )
            .map_err(ConfigError::new)?,
            register_timeout: src
                .duration_or("RUNNER_REGISTER_TIMEOUT", DEFAULT_REGISTER_TIMEOUT)?,
            reg_token_cache_file: src
                .get("REG_TOKEN_CACHE_FILE")
                .map(PathBuf::from)
                .unwrap_or_else(|| scoped(".reg_token.cache", "")),
            reg_token_cache_ttl: src.number(
                "REG_TOKEN_CACHE_TTL",
                300u64,
                "a number of seconds",
            )?,
            compose_file: src
                .get("COMPOSE_FILE")
                .map(PathBuf::from)
                .unwrap_or_else(|| scoped("docker-compose", ".yml")),
            compose_file_origin: src.origin("COMPOSE_FILE"),
            fleet_lock_file: scoped(".ghr", ".lock"),
            dockerfile_hash_file: src
                .get("DOCKERFILE_HASH_FILE")
                .map(PathBuf::from)
                .unwrap_or_else(|| scoped(".dockerfile", ".sha256")),
            http_proxy: src.get("HTTP_PROXY"),
            https_proxy: src.get("HTTPS_PROXY"),
            no_proxy: src.get("NO_PROXY"),
            privileged: src.bool("PRIVILEGED", true)?,
            map_loop_devices: src.bool("MAP_LOOP_DEVICES", true)?,
            loop_device_count: src.number("LOOP_DEVICE_COUNT", 4u32, "a whole number")?,
            map_kvm_device: src.bool("MAP_KVM_DEVICE", true)?,
            map_usb_device: src.bool("MAP_USB_DEVICE", true)?,
            mount_udev_rules_dir: src.bool("MOUNT_UDEV_RULES_DIR", true)?,
            mount_docker_sock: src.bool("MOUNT_DOCKER_SOCK", false)?,
            kvm_gid,
            github_api_url,
            github_server_url,
            warnings,
            org,
            repo,
        })
    }

    /// `https://github.com/<org>[/<repo>]`: what runners register to.
    pub fn registration_url(&self) -> String {
        match &self.repo {
            Some(repo) => format!("{}/{}/{}", self.github_server_url, self.org, repo),
            None => format!("{}/{}", self.github_server_url, self.org),
        }
    }

    /// The proxy variables, in both spellings (many tools read only the lower-case one).
    pub fn proxy_env(&self) -> Vec<(String, String)> {
        let mut env = Vec::new();
        for (key, value) in [
            ("HTTP_PROXY", &self.http_proxy),
            ("HTTPS_PROXY", &self.https_proxy),
            ("NO_PROXY", &self.no_proxy),
        ] {
            if let Some(value) = value {
                env.push((key.to_string(), value.clone()));
                env.push((key.to_ascii_lowercase(), value.clone()));
            }
        }
        env
    }

    /// `org` or `org/repo`, for messages.
    pub fn scope_label(&self) -> String {
        match &self.repo {
            Some(repo) => format!("{}/{}", self.org, repo),
            None => self.org.clone(),
        }
    }

    /// Whether ghr can talk to GitHub: a PAT or a GitHub App is set.
    pub fn has_github_credential(&self) -> bool {
        self.pat.is_some() || self.app.is_some()
    }

    /// The GitHub PAT, or a config error saying how to provide it.
    pub fn require_pat(&self) -> Result<&str, ConfigError> {
        self.pat.as_deref().ok_or_else(|| {
            let token_note = if self.reg_token.is_some() {
                " (REG_TOKEN registers runners, but reading and removing them on GitHub takes the PAT)"
            } else {
                ""
            };
            ConfigError::new(format!(
                "GH_PAT is not set{token_note}; add GH_PAT=<classic PAT> to {} or export GH_PAT (or authenticate as a GitHub App: GITHUB_APP_ID and GITHUB_APP_PRIVATE_KEY_FILE)",
                self.env_path.display()
            ))
        })
    }
}

/// The shell tool's default prefix: `<hostname>-<org>-[<repo>-]`.
pub fn default_prefix(host: &str, org: &str, repo: Option<&str>) -> String {
    [Some(host), (!org.is_empty()).then_some(org), repo]
        .into_iter()
        .flatten()
        .map(|part| format!("{part}-"))
        .collect()
}

pub fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .or_else(|_| std::fs::read_to_string("/etc/hostname"))
        .map(|h| h.trim().to_string())
        .ok()
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "localhost".into())
}

// ORG and REPO end up in URLs, file names and container names: refuse anything GitHub would.
fn check_name(key: &str, value: &str) -> Result<(), ConfigError> {
    if let Some(c) = value
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || "-_.".contains(*c)))
    {
        return Err(ConfigError::new(format!(
            "{key}={} has '{}', which GitHub names cannot hold; use letters, digits, '-', '_', '.'",
            value.escape_debug(),
            c.escape_debug()
        )));
    }
    // `.` and `..` would name a parent in GitHub's URLs and in ghr's file names.
    if value.starts_with('.') {
        return Err(ConfigError::new(format!(
            "{key}={value} starts with '.', which no GitHub organization or repository name does; set {key} to the name as GitHub shows it"
        )));
    }
    Ok(())
}

/// Labels travel to config.sh and GitHub's labels API: no quotes, backslashes, blanks or
/// control characters, which would be taken apart on the way (a label is one word).
pub fn check_labels(what: &str, labels: &[String]) -> Result<(), ConfigError> {
    for label in labels {
        if let Some(c) = label
            .chars()
            .find(|c| "\"'`\\".contains(*c) || c.is_whitespace() || c.is_control())
        {
            return Err(ConfigError::new(format!(
                "{what}: label '{}' has '{}', which a runner label cannot hold; use letters, digits and - _ . : / + (labels are separated by ',')",
                label.escape_debug(),
                c.escape_debug()
            )));
        }
    }
    Ok(())
}

/// The most runners one fleet may have: more is a typo (`-n 100000` would write a 76 MB
/// compose file), and no host runs that many containers.
pub const MAX_RUNNERS: u32 = 1000;

/// `count` generic runners; `given` shows where the number came from (`-n 5`,
/// `RUNNER_COUNT=5`).
pub fn check_count(given: &str, count: u32) -> Result<(), ConfigError> {
    if count > MAX_RUNNERS {
        return Err(ConfigError::new(format!(
            "{given} is more runners than one fleet may have (at most {MAX_RUNNERS}); give a smaller number"
        )));
    }
    Ok(())
}

fn check_container_chars(key: &str, value: &str) -> Result<(), ConfigError> {
    let bad_start = !value.starts_with(|c: char| c.is_ascii_alphanumeric());
    let bad_char = value
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || "-_.".contains(*c)));
    if bad_start || bad_char.is_some() {
        return Err(ConfigError::new(format!(
            "{key}={value} cannot start a container name; use letters, digits, '-', '_', '.', starting with a letter or digit"
        )));
    }
    Ok(())
}

fn url_setting(src: &Sources, key: &str, default: &str) -> Result<String, ConfigError> {
    let value = src.get(key).unwrap_or_else(|| default.to_string());
    if !(value.starts_with("https://") || value.starts_with("http://"))
        || value.contains(char::is_whitespace)
    {
        return Err(ConfigError::new(format!(
            "{key}={value} is not an http(s) URL; set it like {default}"
        )));
    }
    Ok(value.trim_end_matches('/').to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn a_readable_env_with_a_secret_is_named() {
        let keys = |k: &[&str]| k.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let all = |_: &str| true;
        let cases = [
            (Some(0o100644), keys(&["ORG", "GH_PAT"]), true),
            (Some(0o100640), keys(&["GH_PAT"]), true),
            (Some(0o100600), keys(&["GH_PAT"]), false),
            (Some(0o100644), keys(&["ORG"]), false),
            (None, keys(&["GH_PAT"]), false),
        ];
        for (mode, keys, warned) in cases {
            assert_eq!(
                exposed_secret(".env", mode, &keys, all).is_some(),
                warned,
                "{mode:?} {keys:?}"
            );
        }
        assert_eq!(
            exposed_secret(".env", Some(0o100644), &keys(&["GH_PAT"]), all).unwrap(),
            ".env holds GH_PAT and others can read it (mode 0644); run chmod 600 .env"
        );
        // An empty GH_PAT= line holds nothing.
        assert!(exposed_secret(".env", Some(0o644), &keys(&["GH_PAT"]), |_| false).is_none());
    }

    #[test]
    fn process_env_beats_file_and_cli_beats_both() {
        let mut src = Sources::from_maps(
            map(&[("ORG", "from-env"), ("RUNNER_GROUP", "")]),
            map(&[("ORG", "from-file"), ("RUNNER_GROUP", "lab")]),
        );
        let s = Settings::resolve(&src).unwrap();
        assert_eq!(s.org, "from-env");
        assert_eq!(
            s.runner_group.as_deref(),
            Some("lab"),
            "an empty value counts as unset"
        );
        src.set_cli("ORG", "from-cli".into());
        assert_eq!(Settings::resolve(&src).unwrap().org, "from-cli");
    }

    #[test]
    fn defaults_and_scoped_file_names_follow_the_shell_tool() {
        let src = Sources::from_maps(HashMap::new(), map(&[("ORG", "acme"), ("REPO", "fw")]));
        let s = Settings::resolve(&src).unwrap();
        assert_eq!(s.compose_file, PathBuf::from("docker-compose.acme.fw.yml"));
        assert_eq!(
            s.reg_token_cache_file,
            PathBuf::from(".reg_token.cache.acme.fw")
        );
        assert_eq!(
            s.dockerfile_hash_file,
            PathBuf::from(".dockerfile.acme.fw.sha256")
        );
        assert_eq!(s.prefix, format!("{}-acme-fw-", hostname()));
        assert_eq!(s.runner_count, 2);
        assert!(s.privileged && s.map_kvm_device && !s.mount_docker_sock);
        assert_eq!(s.registration_url(), "https://github.com/acme/fw");
    }

    #[test]
    fn prefix_gets_its_dash() {
        let src = Sources::from_maps(
            map(&[("ORG", "o"), ("RUNNER_NAME_PREFIX", "lab")]),
            HashMap::new(),
        );
        assert_eq!(Settings::resolve(&src).unwrap().prefix, "lab-");
    }

    #[test]
    fn bad_values_name_key_value_and_fix() {
        for (key, value, needle) in [
            (
                "PRIVILEGED",
                "maybe",
                "PRIVILEGED=maybe is not a boolean; set PRIVILEGED to true or false",
            ),
            (
                "RUNNER_COUNT",
                "two",
                "RUNNER_COUNT=two is not a whole number",
            ),
            ("REG_TOKEN_CACHE_TTL", "-5", "REG_TOKEN_CACHE_TTL=-5"),
            ("ORG", "a/b", "ORG=a/b has '/'"),
            (
                "GITHUB_API_URL",
                "ftp://x",
                "GITHUB_API_URL=ftp://x is not an http(s) URL",
            ),
            (
                "RUNNER_NAME_PREFIX",
                "-x",
                "RUNNER_NAME_PREFIX=-x cannot start a container name",
            ),
        ] {
            let src = Sources::from_maps(map(&[("ORG", "o"), (key, value)]), HashMap::new());
            let err = Settings::resolve(&src).err().expect(key).to_string();
            assert!(err.contains(needle), "{err}");
        }
    }

    #[test]
    fn durations_use_the_wrappers_syntax() {
        let resolve = |pairs: &[(&str, &str)]| {
            let mut all = vec![("ORG", "o")];
            all.extend_from_slice(pairs);
            Settings::resolve(&Sources::from_maps(map(&all), HashMap::new()))
        };
        let s = resolve(&[
            ("RUNNER_LOCK_TIMEOUT", "30s"),
            ("RUNNER_STOP_GRACE_PERIOD", "1.5m"),
            ("RUNNER_REGISTER_TIMEOUT", "45"),
        ])
        .unwrap();
        assert_eq!(s.lock_timeout, Some(Duration::from_secs(30)));
        assert_eq!(s.stop_grace_period, Duration::from_secs(90));
        assert_eq!(s.register_timeout, Duration::from_secs(45));
        assert_eq!(s.healthcheck_interval, None);
        let s = resolve(&[
            ("RUNNER_LOCK_TIMEOUT", "0"),
            ("RUNNER_HEALTHCHECK_INTERVAL", "5m"),
        ])
        .unwrap();
        assert_eq!(s.lock_timeout, None, "0: no limit, as the wrapper reads it");
        assert_eq!(s.healthcheck_interval, Some(Duration::from_secs(300)));
        assert_eq!(
            resolve(&[]).unwrap().stop_grace_period,
            DEFAULT_STOP_GRACE_PERIOD
        );
        assert_eq!(
            resolve(&[]).unwrap().register_timeout,
            Duration::from_secs(120),
            "2m by default"
        );
        for (key, value, needle) in [
            ("RUNNER_LOCK_TIMEOUT", "-3", "RUNNER_LOCK_TIMEOUT=-3 is not a duration; set RUNNER_LOCK_TIMEOUT to seconds (30, 1.5)"),
            ("RUNNER_LOCK_TIMEOUT", "5d", "RUNNER_LOCK_TIMEOUT=5d is not a duration"),
            ("RUNNER_STOP_GRACE_PERIOD", "soon", "RUNNER_STOP_GRACE_PERIOD=soon is not a duration"),
            ("RUNNER_HEALTHCHECK_INTERVAL", "0", "RUNNER_HEALTHCHECK_INTERVAL=0 must be more than zero"),
            ("RUNNER_HEALTHCHECK_TIMEOUT", "1e3", "RUNNER_HEALTHCHECK_TIMEOUT=1e3 is not a duration"),
            ("RUNNER_REPAIR_ATTEMPTS", "two", "RUNNER_REPAIR_ATTEMPTS=two is not a number of repairs; set it to a whole number from 0"),
            ("RUNNER_REGISTER_TIMEOUT", "0", "RUNNER_REGISTER_TIMEOUT=0 must be more than zero; set RUNNER_REGISTER_TIMEOUT to seconds (30, 1.5) or a number with s, m or h (30s, 5m, 1h), or leave it empty for 2m00s"),
            ("RUNNER_REGISTER_TIMEOUT", "forever", "RUNNER_REGISTER_TIMEOUT=forever is not a duration"),
        ] {
            let err = resolve(&[(key, value)]).err().expect(key).to_string();
            assert!(err.starts_with(needle), "{err}");
        }
    }

    #[test]
    fn booleans_accept_the_usual_spellings() {
        for (v, b) in [
            ("true", true),
            ("1", true),
            ("YES", true),
            ("false", false),
            ("0", false),
            ("no", false),
        ] {
            assert_eq!(parse_bool(v), Some(b), "{v}");
        }
        assert_eq!(parse_bool("on"), None);
    }
}
