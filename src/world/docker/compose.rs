//! The compose driver: `docker compose` (v2) when the plugin answers, else `docker-compose`
//! (v1). Failures keep the lines that say why, not only compose's closing words.

use super::engine::Docker;
use super::flavor::ComposeFlavor;
use super::process::{run_for, QUICK, SLOW};
use crate::world::children::{self, Failure, Streams};
use crate::world::error::{Error, Result};
use std::path::Path;
use std::process::Command;

/// Whether an executable `name` is on `PATH`.
fn on_path(name: &str) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::env::var_os("PATH").is_some_and(|path| {
        std::env::split_paths(&path).any(|dir| {
            std::fs::metadata(dir.join(name))
                .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        })
    })
}

impl Docker {
    /// `docker compose` when the plugin answers, else `docker-compose`.
    pub fn compose_flavor(&self) -> Result<ComposeFlavor> {
        if let Some(flavor) = self.flavor.get() {
            return Ok(*flavor);
        }
        let answers = |cmd: &mut Command| {
            let what = "asking which Docker Compose this host has";
            match children::run(cmd, None, Streams::Capture, QUICK, what) {
                Ok(out) => Ok(out.status.success()),
                // Not installed: the other flavor may be.
                Err(Failure::Spawn(_)) => Ok(false),
                Err(f) => Err(super::process::failure(cmd, f, what)),
            }
        };
        let flavor = if answers(Command::new("docker").args(["compose", "version"]))? {
            ComposeFlavor::V2
        } else if on_path("docker-compose") {
            // Not asked: `docker-compose version` is a second of Python starting, on every
            // command. One that is there but broken fails at its first real call, saying so.
            ComposeFlavor::V1
        } else {
            return Err(Error::Docker(
                "neither `docker compose` nor `docker-compose` works; install the Docker Compose plugin or docker-compose".into(),
            ));
        };
        Ok(*self.flavor.get_or_init(|| flavor))
    }

    /// A compose command for `file` in `project` (see `compose::project_name`). The user's
    /// `.env` is not handed to compose (ghr already resolved every value, and the file holds
    /// the PAT), nor are the `COMPOSE_*` variables a Docker Compose user may have exported
    /// for their own projects.
    pub fn compose(&self, project: &str, file: &Path) -> Result<Command> {
        let mut cmd = match self.compose_flavor()? {
            ComposeFlavor::V2 => {
                let mut c = Command::new("docker");
                c.arg("compose");
                c
            }
            ComposeFlavor::V1 => Command::new("docker-compose"),
        };
        for (key, _) in std::env::vars_os() {
            if key.to_string_lossy().starts_with("COMPOSE_") {
                cmd.env_remove(key);
            }
        }
        let env_file = match self.env_file.get() {
            Some(f) => f,
            None => {
                let made = super::private_env::PrivateEnvFile::create().map_err(|e| {
                    Error::io("cannot create a private empty env file for compose", e)
                })?;
                self.env_file.get_or_init(|| made)
            }
        };
        cmd.arg("--env-file")
            .arg(env_file.path())
            .arg("-p")
            .arg(project)
            .arg("-f")
            .arg(file);
        cmd.env("COMPOSE_IGNORE_ORPHANS", "1");
        Ok(cmd)
    }

    /// Runs a compose command, failing with the lines of its output that say why.
    pub fn compose_run(&self, project: &str, file: &Path, args: &[&str]) -> Result<()> {
        let mut cmd = self.compose(project, file)?;
        cmd.args(args);
        // `up` may pull images first: the slow limit.
        let what = format!("compose {}", args.join(" "));
        let out = run_for(&mut cmd, None, SLOW, &what)?;
        if !out.status.success() {
            let why = compose_failure(&String::from_utf8_lossy(&out.stderr));
            return Err(Error::Docker(format!(
                "compose {} failed: {why}",
                args.join(" ")
            )));
        }
        Ok(())
    }

    /// `compose up --no-start` of `services`: created (or, with `recreate`, created anew),
    /// not started: a runner starts only once it is registered.
    pub fn compose_create(
        &self,
        project: &str,
        file: &Path,
        services: &[String],
        recreate: bool,
    ) -> Result<()> {
        if services.is_empty() {
            return Ok(());
        }
        let mut args: Vec<&str> = vec!["up", "--no-start"];
        if recreate {
            args.push("--force-recreate");
        }
        args.extend(services.iter().map(String::as_str));
        self.compose_run(project, file, &args)
    }
}

/// Why compose failed, from its stderr: its `ERROR:` lines (v1) or `Error ...` lines (v2),
/// each once, without v1's closing "Encountered errors while bringing up the project.";
/// else the last line it printed.
pub fn compose_failure(stderr: &str) -> String {
    const CLOSING: &str = "Encountered errors while bringing up the project.";
    let mut reasons: Vec<String> = Vec::new();
    for line in stderr.lines().map(str::trim) {
        let reason = if let Some(rest) = line.strip_prefix("ERROR: for ") {
            // "ERROR: for <service>  <why>": v1 prints it once per container and service.
            rest.split_once("  ")
                .map(|(_, why)| why.trim())
                .unwrap_or(rest)
        } else if let Some(rest) = line.strip_prefix("ERROR: ") {
            rest
        } else if line.starts_with("Error ") || line.starts_with("Error:") {
            line
        } else {
            continue;
        };
        if !reason.is_empty() && reason != CLOSING && !reasons.iter().any(|r| r == reason) {
            reasons.push(reason.to_string());
        }
    }
    if reasons.is_empty() {
        let last = stderr
            .lines()
            .map(str::trim)
            .rev()
            .find(|l| !l.is_empty() && *l != CLOSING);
        return last.unwrap_or("no output").to_string();
    }
    reasons.join("; ")
}

#[cfg(test)]
mod tests {
    use super::compose_failure;

    #[test]
    fn failures_keep_their_cause() {
        let v1_exec = "Creating x-runner-pi ... \nCreating x-runner-pi ... error\n\n\
            ERROR: for x-runner-pi  Cannot start service x-runner-pi: OCI runtime create failed: container_linux.go:380: starting container process caused: exec: \"/opt/ghr/runner-wrapper\": stat /opt/ghr/runner-wrapper: no such file or directory: unknown\n\n\
            ERROR: for x-runner-pi  Cannot start service x-runner-pi: OCI runtime create failed: container_linux.go:380: starting container process caused: exec: \"/opt/ghr/runner-wrapper\": stat /opt/ghr/runner-wrapper: no such file or directory: unknown\n\
            ERROR: Encountered errors while bringing up the project.\n";
        let v1_name = "Creating a ... error\n\nERROR: for a  Cannot create container for service a: Conflict. The container name \"/a\" is already in use by container \"0f3e\". You have to remove (or rename) that container to be able to reuse that name.\nEncountered errors while bringing up the project.\n";
        let v2 = " Container x  Creating\nError response from daemon: Conflict. The container name \"/x\" is already in use by container \"12ab\".\n";
        for (stderr, want) in [
            (
                v1_exec,
                "Cannot start service x-runner-pi: OCI runtime create failed: container_linux.go:380: starting container process caused: exec: \"/opt/ghr/runner-wrapper\": stat /opt/ghr/runner-wrapper: no such file or directory: unknown",
            ),
            (
                v1_name,
                "Cannot create container for service a: Conflict. The container name \"/a\" is already in use by container \"0f3e\". You have to remove (or rename) that container to be able to reuse that name.",
            ),
            (
                v2,
                "Error response from daemon: Conflict. The container name \"/x\" is already in use by container \"12ab\".",
            ),
            ("something odd\nEncountered errors while bringing up the project.\n", "something odd"),
            ("", "no output"),
        ] {
            assert_eq!(compose_failure(stderr), want);
        }
    }
}
