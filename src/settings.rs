//! Layered settings: CLI flags > process environment > `.env` > defaults.
//!
//! Every key of the shell tool keeps its meaning and default, so an existing `.env` works
//! unchanged. Values are checked here, once, before anything is written or started.

use crate::boards::{self, Board};
use crate::env_file;
use std::collections::HashMap;
use std::path::PathBuf;

/// Bad configuration: a one-line message naming the key, the value and the fix.
#[derive(Debug)]
pub struct ConfigError(String);

impl ConfigError {
    pub fn new(message: impl Into<String>) -> Self {
        Self(message.into())
    }
}

impl std::fmt::Display for ConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ConfigError {}

pub const DEFAULT_ENV_FILE: &str = ".env";
pub const DEFAULT_RUNNER_IMAGE: &str = "ghcr.io/actions/actions-runner:latest";
pub const DEFAULT_CUSTOM_IMAGE: &str = "qc-actions-runner:v0.0.1";
pub const DEFAULT_LOCK_DIR: &str = "/tmp/github-runner-locks";
/// Long enough for an idle runner to go offline and a busy one to cancel its job cleanly.
pub const DEFAULT_STOP_GRACE_PERIOD: std::time::Duration = std::time::Duration::from_secs(60);

/// Where each value comes from, highest priority first.
pub struct Sources {
    cli: HashMap<String, String>,
    process: HashMap<String, String>,
    file: HashMap<String, String>,
    pub env_path: PathBuf,
}

impl Sources {
    /// Reads the process environment and the `.env` file (`env_file`, else `ENV_FILE`, else `.env`).
    pub fn gather(
        cli: HashMap<String, String>,
        env_file: Option<PathBuf>,
    ) -> crate::error::Result<Self> {
        let process: HashMap<String, String> = std::env::vars().collect();
        let env_path = env_file
            .or_else(|| {
                process
                    .get("ENV_FILE")
                    .filter(|v| !v.is_empty())
                    .map(PathBuf::from)
            })
            .unwrap_or_else(|| PathBuf::from(DEFAULT_ENV_FILE));
        let file = env_file::read(&env_path)?;
        Ok(Self {
            cli,
            process,
            file,
            env_path,
        })
    }

    /// Builds sources from explicit maps (tests, and callers that already hold the values).
    pub fn from_maps(process: HashMap<String, String>, file: HashMap<String, String>) -> Self {
        Self {
            cli: HashMap::new(),
            process,
            file,
            env_path: PathBuf::from(DEFAULT_ENV_FILE),
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

    /// Every key set in any layer (for the per-board key families).
    pub fn keys(&self) -> Vec<String> {
        let mut keys: Vec<String> = self
            .cli
            .keys()
            .chain(self.process.keys())
            .chain(self.file.keys())
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

    /// A duration: `90`, `90s`, `1.5m`, `2h` (a bare number is seconds).
    fn duration(
        &self,
        key: &str,
        default: Option<std::time::Duration>,
    ) -> Result<Option<std::time::Duration>, ConfigError> {
        match self.get(key) {
            None => Ok(default),
            Some(v) => parse_duration(&v).map(Some).ok_or_else(|| {
                ConfigError::new(format!(
                    "{key}={v} is not a duration; set {key} to seconds like 90 or 90s, or to 5m or 1h"
                ))
            }),
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

/// `90`, `90s`, `1.5m`, `2h`, `500ms`; `None` for anything else (negative, empty, garbage).
pub fn parse_duration(value: &str) -> Option<std::time::Duration> {
    let v = value.trim();
    let (number, unit) = match v.find(|c: char| c.is_ascii_alphabetic()) {
        Some(i) => (&v[..i], &v[i..]),
        None => (v, "s"),
    };
    let scale = match unit {
        "ms" => 0.001,
        "s" => 1.0,
        "m" => 60.0,
        "h" => 3600.0,
        _ => return None,
    };
    let n: f64 = number.trim().parse().ok()?;
    (n.is_finite() && n >= 0.0).then(|| std::time::Duration::from_secs_f64(n * scale))
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
    pub repo: Option<String>,
    pub prefix: String,
    pub runner_group: String,
    pub labels: Vec<String>,
    pub runner_image: String,
    pub custom_image: String,
    pub workdir: Option<String>,
    pub disable_auto_update: bool,
    pub runner_count: u32,
    pub boards: Vec<Board>,
    pub resource_id: Option<String>,
    pub lock_dir: String,
    pub lock_host_path: String,
    /// RUNNER_LOCK_TIMEOUT; `None` waits as long as it takes.
    pub lock_timeout: Option<std::time::Duration>,
    pub wrapper_bin: Option<PathBuf>,
    /// RUNNER_STOP_GRACE_PERIOD: how long a stopping runner may take to go offline (and
    /// finish a cancelled job) before Docker kills it.
    pub stop_grace_period: std::time::Duration,
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
        let entries = boards::parse_board_runners(&src.get("BOARD_RUNNERS").unwrap_or_default())?;
        let keys = src.keys();
        let warnings = boards::orphan_keys(keys.iter().map(String::as_str), &entries)
            .into_iter()
            .map(|k| {
                format!("{k} names no board of BOARD_RUNNERS; it is ignored (check the spelling)")
            })
            .collect();
        let resource_id = src.get("RUNNER_RESOURCE_ID");
        let boards = boards::resolve(entries, resource_id.as_deref(), |k| src.get(k))?;
        let labels = boards::dedup(boards::split_list(
            &src.get("RUNNER_LABELS").unwrap_or_else(|| "intel".into()),
            ',',
        ));
        let runner_group = src.get("RUNNER_GROUP").unwrap_or_else(|| "Default".into());
        if repo.is_some() && !runner_group.eq_ignore_ascii_case("Default") {
            return Err(ConfigError::new(format!(
                "RUNNER_GROUP={runner_group} cannot apply: repository runners have no runner groups; remove RUNNER_GROUP or register at the organization (no REPO)"
            )));
        }
        let github_api_url = url_setting(src, "GITHUB_API_URL", "https://api.github.com")?;
        let github_server_url = url_setting(src, "GITHUB_SERVER_URL", "https://github.com")?;
        let runner_count = src.number("RUNNER_COUNT", 2u32, "a whole number")?;

        Ok(Settings {
            env_path: src.env_path.clone(),
            pat: src.get("GH_PAT"),
            prefix,
            runner_group,
            labels,
            runner_image: src
                .get("RUNNER_IMAGE")
                .unwrap_or_else(|| DEFAULT_RUNNER_IMAGE.into()),
            custom_image: src
                .get("RUNNER_CUSTOM_IMAGE")
                .unwrap_or_else(|| DEFAULT_CUSTOM_IMAGE.into()),
            workdir: src.get("RUNNER_WORKDIR"),
            disable_auto_update: src.bool("DISABLE_AUTO_UPDATE", false)?,
            runner_count,
            boards,
            resource_id,
            lock_dir: src
                .get("RUNNER_LOCK_DIR")
                .unwrap_or_else(|| DEFAULT_LOCK_DIR.into()),
            lock_host_path: src
                .get("RUNNER_LOCK_HOST_PATH")
                .unwrap_or_else(|| DEFAULT_LOCK_DIR.into()),
            lock_timeout: src
                .duration("RUNNER_LOCK_TIMEOUT", None)?
                .filter(|d| !d.is_zero()),
            wrapper_bin: src.get("RUNNER_WRAPPER_BIN").map(PathBuf::from),
            stop_grace_period: src
                .duration("RUNNER_STOP_GRACE_PERIOD", Some(DEFAULT_STOP_GRACE_PERIOD))?
                .unwrap_or(DEFAULT_STOP_GRACE_PERIOD),
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
            kvm_gid: src.optional_number("RUNNER_KVM_GID", "a numeric group id")?,
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

    /// The GitHub PAT, or a config error saying how to provide it.
    pub fn require_pat(&self) -> Result<&str, ConfigError> {
        self.pat.as_deref().ok_or_else(|| {
            ConfigError::new(format!(
                "GH_PAT is not set; add GH_PAT=<classic PAT> to {} or export GH_PAT",
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
    match value.chars().find(|c| !(c.is_ascii_alphanumeric() || "-_.".contains(*c))) {
        Some(c) => Err(ConfigError::new(format!(
            "{key}={value} has '{c}', which GitHub names cannot hold; use letters, digits, '-', '_', '.'"
        ))),
        None => Ok(()),
    }
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
    fn process_env_beats_file_and_cli_beats_both() {
        let mut src = Sources::from_maps(
            map(&[("ORG", "from-env"), ("RUNNER_GROUP", "")]),
            map(&[("ORG", "from-file"), ("RUNNER_GROUP", "lab")]),
        );
        let s = Settings::resolve(&src).unwrap();
        assert_eq!(s.org, "from-env");
        assert_eq!(s.runner_group, "lab", "an empty value counts as unset");
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
    fn durations_accept_seconds_and_units() {
        use std::time::Duration;
        for (v, d) in [
            ("30", Some(Duration::from_secs(30))),
            ("30s", Some(Duration::from_secs(30))),
            (" 1.5m ", Some(Duration::from_secs(90))),
            ("2h", Some(Duration::from_secs(7200))),
            ("250ms", Some(Duration::from_millis(250))),
            ("0", Some(Duration::ZERO)),
            ("-1", None),
            ("soon", None),
            ("5d", None),
            ("", None),
        ] {
            assert_eq!(parse_duration(v), d, "{v}");
        }
        let src = Sources::from_maps(
            map(&[("ORG", "o"), ("RUNNER_LOCK_TIMEOUT", "30s")]),
            HashMap::new(),
        );
        let s = Settings::resolve(&src).unwrap();
        assert_eq!(s.lock_timeout, Some(Duration::from_secs(30)));
        assert_eq!(s.stop_grace_period, DEFAULT_STOP_GRACE_PERIOD);
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
