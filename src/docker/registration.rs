//! Runner registration: `config.sh` in a one-off container on the runner's volumes, so the
//! runner's own container never starts unconfigured (it would only crash-loop).
//!
//! The registration token goes in on the one-off's stdin and is read by a shell into
//! `ACTIONS_RUNNER_INPUT_TOKEN` (which config.sh reads and removes from its environment), so
//! it is on no command line and in no container's configuration, not even the one-off's.
//! One-offs carry labels, so a command interrupted while one ran (even by SIGKILL) leaves
//! nothing the next command cannot find and remove.

use super::{checked, checked_output, last_line, run, Docker, DockerError};
use anyhow::Result;
use std::io::Write;
use std::process::{Command, Stdio};

/// Where the runner keeps its registration; `.runner_migrated` counts as configured too
/// (the real runner writes it when it migrates a registration).
pub const RUNNER_FILES: [&str; 2] = ["/home/runner/.runner", "/home/runner/.runner_migrated"];
pub const CONFIG_SCRIPT: &str = "/home/runner/config.sh";
/// Label of one-off containers (value: what they do), beside `ghr.prefix` and `ghr.runner`.
pub const ONEOFF_LABEL: &str = "ghr.oneoff";

/// Reads the token from stdin, hands it to config.sh the way config.sh reads inputs, and
/// runs config.sh with the arguments that follow.
const READ_TOKEN_THEN_CONFIGURE: &str = "IFS= read -r ACTIONS_RUNNER_INPUT_TOKEN || { echo 'no registration token on stdin' >&2; exit 3; }; export ACTIONS_RUNNER_INPUT_TOKEN; exec /home/runner/config.sh \"$@\"";

/// What `config.sh` needs to register one runner; the token travels separately.
#[derive(Debug, Clone)]
pub struct ConfigRun<'a> {
    /// The (created) container whose volumes hold the runner's files.
    pub container: &'a str,
    pub prefix: &'a str,
    pub image: &'a str,
    pub url: &'a str,
    pub name: &'a str,
    pub labels: &'a [String],
    pub group: &'a str,
    pub workdir: Option<&'a str>,
    pub disable_update: bool,
    /// Proxy variables (`HTTP_PROXY`, `https_proxy`, ...) config.sh needs to reach GitHub.
    pub proxy_env: &'a [(String, String)],
}

/// The one-off's name: one per runner, so a leftover is found (and replaced) by name too.
pub fn oneoff_name(runner: &str) -> String {
    format!("{runner}-register")
}

impl Docker {
    /// Whether the runner in `container` has been configured. `docker cp` reads from created
    /// and stopped containers too, so nothing has to run for the answer.
    pub fn is_configured(&self, container: &str) -> Result<bool> {
        for file in RUNNER_FILES {
            let source = format!("{container}:{file}");
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
        }
        Ok(false)
    }

    /// Runs `config.sh` once in a throw-away container that shares `cfg.container`'s volumes,
    /// with the token on stdin (see the module docs).
    pub fn configure(&self, cfg: &ConfigRun, token: &str) -> Result<()> {
        let name = oneoff_name(cfg.name);
        // A leftover of an interrupted run would block the name.
        let _ = run(Command::new("docker").args(["rm", "-f", &name]));
        let mut cmd = Command::new("docker");
        cmd.args(["run", "--rm", "-i", "--name", &name])
            .args(["--label", &format!("{ONEOFF_LABEL}=register")])
            .args([
                "--label",
                &format!("{}={}", crate::compose::label::PREFIX, cfg.prefix),
            ])
            .args([
                "--label",
                &format!("{}={}", crate::compose::label::RUNNER, cfg.name),
            ])
            .args(["--network", "host", "--volumes-from", cfg.container]);
        for (key, value) in cfg.proxy_env {
            // By name: the value travels in the docker client's environment, not on argv.
            cmd.args(["-e", key]).env(key, value);
        }
        cmd.args([
            "--entrypoint",
            "/bin/bash",
            cfg.image,
            "-c",
            READ_TOKEN_THEN_CONFIGURE,
        ])
        .arg(CONFIG_SCRIPT)
        .args(["--url", cfg.url, "--name", cfg.name])
        .args(["--labels", &cfg.labels.join(",")])
        .args(["--runnergroup", cfg.group, "--unattended", "--replace"]);
        if let Some(work) = cfg.workdir {
            cmd.args(["--work", work]);
        }
        if cfg.disable_update {
            cmd.arg("--disableupdate");
        }
        let mut child = cmd
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| DockerError(format!("cannot run docker: {e}; is Docker installed?")))?;
        if let Some(mut stdin) = child.stdin.take() {
            // A failed write shows as config.sh's own complaint below.
            let _ = stdin.write_all(format!("{token}\n").as_bytes());
        }
        let out = child
            .wait_with_output()
            .map_err(|e| DockerError(format!("docker run of {name} failed: {e}")))?;
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

    /// Removes the one-off containers an interrupted command of this prefix left behind.
    /// Returns their names.
    pub fn remove_leftovers(&self, prefix: &str) -> Result<Vec<String>> {
        let out = checked_output(
            Command::new("docker").args([
                "ps",
                "-a",
                "--filter",
                &format!("label={ONEOFF_LABEL}"),
                "--filter",
                &format!("label={}={prefix}", crate::compose::label::PREFIX),
                "--format",
                "{{.Names}}",
            ]),
            "docker ps",
        )?;
        let names: Vec<String> = out
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .map(String::from)
            .collect();
        if !names.is_empty() {
            let mut cmd = Command::new("docker");
            cmd.args(["rm", "-f"]).args(&names);
            checked(cmd, "docker rm")?;
        }
        Ok(names)
    }
}
