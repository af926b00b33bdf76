//! The Docker engine and compose driver. State is read from structured output
//! (`docker inspect` JSON), never scraped from tables.

use anyhow::{Context, Result};
use serde::Deserialize;
use std::collections::HashMap;
use std::path::Path;
use std::process::{Command, Output, Stdio};

/// A failure of the engine, compose or a build: exit code "Docker error".
#[derive(Debug)]
pub struct DockerError(pub String);

impl std::fmt::Display for DockerError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for DockerError {}

/// Which compose implementation this host has.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ComposeFlavor {
    /// `docker compose` (the v2 plugin).
    V2,
    /// `docker-compose` (the v1 Python tool).
    V1,
}

/// One container of a ghr fleet, as the engine reports it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Container {
    pub id: String,
    pub name: String,
    /// `created`, `running`, `restarting`, `exited`, `paused`, `dead`.
    pub state: String,
    pub image: String,
    #[serde(skip)]
    pub labels: HashMap<String, String>,
}

#[derive(Deserialize)]
struct Inspect {
    #[serde(rename = "Id")]
    id: String,
    #[serde(rename = "Name")]
    name: String,
    #[serde(rename = "State")]
    state: InspectState,
    #[serde(rename = "Config")]
    config: InspectConfig,
}

#[derive(Deserialize)]
struct InspectState {
    #[serde(rename = "Status")]
    status: String,
}

#[derive(Deserialize)]
struct InspectConfig {
    #[serde(rename = "Image")]
    image: String,
    #[serde(rename = "Labels", default)]
    labels: Option<HashMap<String, String>>,
}

#[derive(Debug, Default)]
pub struct Docker {
    flavor: std::sync::OnceLock<ComposeFlavor>,
}

impl Docker {
    pub fn new() -> Self {
        Self::default()
    }

    /// `docker compose` when the plugin answers, else `docker-compose`.
    pub fn compose_flavor(&self) -> Result<ComposeFlavor> {
        if let Some(flavor) = self.flavor.get() {
            return Ok(*flavor);
        }
        let answers = |cmd: &mut Command| {
            cmd.stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|s| s.success())
        };
        let flavor = if answers(Command::new("docker").args(["compose", "version"])) {
            ComposeFlavor::V2
        } else if answers(Command::new("docker-compose").arg("version")) {
            ComposeFlavor::V1
        } else {
            return Err(DockerError(
                "neither `docker compose` nor `docker-compose` works; install the Docker Compose plugin or docker-compose".into(),
            )
            .into());
        };
        Ok(*self.flavor.get_or_init(|| flavor))
    }

    /// A compose command for `file`. The user's `.env` is not handed to compose: ghr already
    /// resolved every value, and the file holds the PAT.
    pub fn compose(&self, file: &Path) -> Result<Command> {
        let mut cmd = match self.compose_flavor()? {
            ComposeFlavor::V2 => {
                let mut c = Command::new("docker");
                c.arg("compose");
                c
            }
            ComposeFlavor::V1 => Command::new("docker-compose"),
        };
        cmd.arg("--env-file")
            .arg(empty_env_file()?)
            .arg("-f")
            .arg(file);
        cmd.env("COMPOSE_IGNORE_ORPHANS", "1");
        Ok(cmd)
    }

    /// Runs a compose command, failing with its stderr.
    pub fn compose_run(&self, file: &Path, args: &[&str]) -> Result<()> {
        let mut cmd = self.compose(file)?;
        cmd.args(args);
        checked(cmd, &format!("compose {}", args.join(" "))).map(|_| ())
    }

    pub fn image_exists(&self, tag: &str) -> Result<bool> {
        let out =
            run(Command::new("docker").args(["image", "inspect", "--format", "{{.Id}}", tag]))?;
        Ok(out.status.success())
    }

    /// `docker build -t tag -f dockerfile context`, its progress on our stderr.
    pub fn build(&self, tag: &str, dockerfile: &Path, context: &Path) -> Result<()> {
        let status = Command::new("docker")
            .arg("build")
            .arg("-t")
            .arg(tag)
            .arg("-f")
            .arg(dockerfile)
            .arg(context)
            .stdout(Stdio::from(std::io::stderr()))
            .status()
            .map_err(|e| DockerError(format!("cannot run docker: {e}")))?;
        if !status.success() {
            return Err(DockerError(format!(
                "docker build of {tag} failed ({status}); see the build output above"
            ))
            .into());
        }
        Ok(())
    }

    /// Every container carrying `label=value`, running or not.
    pub fn containers(&self, label: &str, value: &str) -> Result<Vec<Container>> {
        let filter = format!("label={label}={value}");
        let out = checked_output(
            Command::new("docker").args(["ps", "-a", "-q", "--no-trunc", "--filter", &filter]),
            "docker ps",
        )?;
        let ids: Vec<&str> = out
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .collect();
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        self.inspect(&ids)
    }

    fn inspect(&self, ids: &[&str]) -> Result<Vec<Container>> {
        let mut cmd = Command::new("docker");
        cmd.arg("inspect").args(ids);
        let out = run(&mut cmd)?;
        // A container can vanish between `ps` and `inspect`; inspect still prints the others.
        let parsed: Vec<Inspect> =
            serde_json::from_slice(&out.stdout).context("cannot parse `docker inspect` output")?;
        let mut containers: Vec<Container> = parsed
            .into_iter()
            .map(|c| Container {
                id: c.id,
                name: c.name.trim_start_matches('/').to_string(),
                state: c.state.status,
                image: c.config.image,
                labels: c.config.labels.unwrap_or_default(),
            })
            .collect();
        containers.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(containers)
    }

    /// Volumes carrying `label=value`.
    pub fn volumes(&self, label: &str, value: &str) -> Result<Vec<String>> {
        let filter = format!("label={label}={value}");
        let out = checked_output(
            Command::new("docker").args(["volume", "ls", "-q", "--filter", &filter]),
            "docker volume ls",
        )?;
        Ok(out
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .map(String::from)
            .collect())
    }
}

// compose v1 wants a regular file for --env-file; /dev/null will not do.
fn empty_env_file() -> Result<std::path::PathBuf> {
    let path = std::env::temp_dir().join("ghr-empty.env");
    if std::fs::metadata(&path)
        .map(|m| m.len() != 0 || !m.is_file())
        .unwrap_or(true)
    {
        crate::fsutil::write_atomic(&path, b"", 0o644)
            .context("cannot create an empty env file for compose")?;
    }
    Ok(path)
}

fn run(cmd: &mut Command) -> Result<Output> {
    cmd.stdin(Stdio::null()).output().map_err(|e| {
        DockerError(format!(
            "cannot run {:?}: {e}; is Docker installed?",
            cmd.get_program()
        ))
        .into()
    })
}

fn checked(mut cmd: Command, what: &str) -> Result<Output> {
    let out = run(&mut cmd)?;
    if !out.status.success() {
        let stderr = String::from_utf8_lossy(&out.stderr);
        let last = stderr
            .lines()
            .rev()
            .find(|l| !l.trim().is_empty())
            .unwrap_or("")
            .trim();
        return Err(DockerError(format!("{what} failed: {last}")).into());
    }
    Ok(out)
}

fn checked_output(cmd: &mut Command, what: &str) -> Result<String> {
    let mut owned = Command::new(cmd.get_program());
    owned.args(cmd.get_args());
    let out = checked(owned, what)?;
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// What `config.sh` needs to register one runner; the token travels separately.
#[derive(Debug, Clone)]
pub struct ConfigRun<'a> {
    /// The (created) container whose volumes hold the runner's files.
    pub container: &'a str,
    pub image: &'a str,
    pub url: &'a str,
    pub name: &'a str,
    pub labels: &'a [String],
    pub group: &'a str,
    pub workdir: Option<&'a str>,
    pub disable_update: bool,
}

/// Where the runner keeps its registration; present once `config.sh` succeeded.
pub const RUNNER_FILE: &str = "/home/runner/.runner";
pub const CONFIG_SCRIPT: &str = "/home/runner/config.sh";
/// The actions runner reads any `--x` option from `ACTIONS_RUNNER_INPUT_X` when it is not on argv.
pub const TOKEN_ENV: &str = "ACTIONS_RUNNER_INPUT_TOKEN";

impl Docker {
    /// Compose `up`, optionally without starting (`--no-start`), for `services` (all when empty).
    pub fn compose_up(&self, file: &Path, start: bool, services: &[String]) -> Result<()> {
        let mut args: Vec<&str> = vec!["up"];
        args.push(if start { "-d" } else { "--no-start" });
        args.extend(services.iter().map(String::as_str));
        self.compose_run(file, &args)
    }

    /// Whether the runner in `container` has been configured. `docker cp` reads from created
    /// and stopped containers too, so nothing has to run for the answer.
    pub fn is_configured(&self, container: &str) -> Result<bool> {
        let source = format!("{container}:{RUNNER_FILE}");
        let out = run(Command::new("docker").args(["cp", &source, "-"]))?;
        if out.status.success() {
            return Ok(true);
        }
        let stderr = String::from_utf8_lossy(&out.stderr);
        if stderr.contains("No such container") {
            return Err(DockerError(format!("container {container} does not exist")).into());
        }
        if stderr.contains("Cannot connect") {
            return Err(DockerError(last_line(&stderr).to_string()).into());
        }
        Ok(false)
    }

    /// Runs `config.sh` once in a throw-away container that shares `run.container`'s volumes.
    /// The token is put only in the docker client's environment and forwarded by name with
    /// `-e`, so it never shows on any command line (`ps`) or in output.
    pub fn configure(&self, run_cfg: &ConfigRun, token: &str) -> Result<()> {
        let mut cmd = Command::new("docker");
        cmd.args([
            "run",
            "--rm",
            "--network",
            "host",
            "--volumes-from",
            run_cfg.container,
        ])
        .args(["--entrypoint", CONFIG_SCRIPT, "-e", TOKEN_ENV])
        .env(TOKEN_ENV, token)
        .arg(run_cfg.image)
        .args(["--url", run_cfg.url, "--name", run_cfg.name])
        .args(["--labels", &run_cfg.labels.join(",")])
        .args(["--runnergroup", run_cfg.group, "--unattended", "--replace"]);
        if let Some(work) = run_cfg.workdir {
            cmd.args(["--work", work]);
        }
        if run_cfg.disable_update {
            cmd.arg("--disableupdate");
        }
        let out = run(&mut cmd)?;
        if !out.status.success() {
            // config.sh reports on stdout and stderr; keep its last words, minus any secret.
            let text = format!(
                "{}\n{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
            let line = last_line(&text).replace(token, "***");
            return Err(DockerError(format!("config.sh failed ({}): {line}", out.status)).into());
        }
        Ok(())
    }

    /// `docker start|stop|restart names...` for existing containers.
    pub fn containers_do(&self, verb: &str, names: &[String]) -> Result<()> {
        if names.is_empty() {
            return Ok(());
        }
        let mut cmd = Command::new("docker");
        cmd.arg(verb).args(names);
        checked(cmd, &format!("docker {verb}")).map(|_| ())
    }

    /// Removes containers (running or not) with their anonymous volumes.
    pub fn remove_containers(&self, names: &[String]) -> Result<()> {
        if names.is_empty() {
            return Ok(());
        }
        let mut cmd = Command::new("docker");
        cmd.args(["rm", "-f", "-v"]).args(names);
        checked(cmd, "docker rm").map(|_| ())
    }

    pub fn remove_volumes(&self, names: &[String]) -> Result<()> {
        if names.is_empty() {
            return Ok(());
        }
        let mut cmd = Command::new("docker");
        cmd.args(["volume", "rm", "-f"]).args(names);
        checked(cmd, "docker volume rm").map(|_| ())
    }

    /// `docker logs`, straight to our stdout/stderr; returns docker's exit status.
    pub fn logs(
        &self,
        name: &str,
        tail: Option<u32>,
        follow: bool,
    ) -> Result<std::process::ExitStatus> {
        let mut cmd = Command::new("docker");
        cmd.arg("logs");
        if follow {
            cmd.arg("--follow");
        }
        if let Some(n) = tail {
            cmd.args(["--tail", &n.to_string()]);
        }
        cmd.arg(name).status().map_err(|e| {
            DockerError(format!("cannot run docker: {e}; is Docker installed?")).into()
        })
    }
}

#[derive(Deserialize)]
struct VolumeInspect {
    #[serde(rename = "Name")]
    name: String,
    #[serde(rename = "Labels", default)]
    labels: Option<HashMap<String, String>>,
}

impl Docker {
    /// Volumes carrying `label=value`, each with its `ghr.runner` label (empty when absent).
    pub fn volumes_labeled(&self, label: &str, value: &str) -> Result<Vec<(String, String)>> {
        let names = self.volumes(label, value)?;
        if names.is_empty() {
            return Ok(Vec::new());
        }
        let mut cmd = Command::new("docker");
        cmd.args(["volume", "inspect"]).args(&names);
        let out = run(&mut cmd)?;
        // A volume can vanish between `ls` and `inspect`; inspect still prints the others.
        let parsed: Vec<VolumeInspect> = serde_json::from_slice(&out.stdout)
            .context("cannot parse `docker volume inspect` output")?;
        Ok(parsed
            .into_iter()
            .map(|v| {
                let runner = v
                    .labels
                    .and_then(|mut l| l.remove(crate::compose::label::RUNNER))
                    .unwrap_or_default();
                (v.name, runner)
            })
            .collect())
    }
}

fn last_line(text: &str) -> &str {
    text.lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("")
        .trim()
}
