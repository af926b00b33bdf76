//! The Docker engine: containers, volumes and images of a fleet, read from `docker inspect`.

use super::flavor::ComposeFlavor;
use super::labels::{COMPOSE_PROJECT_LABEL, ONEOFF_LABEL};
use super::process::{
    checked, checked_stdout, docker, docker_failure, run, run_for, BUILD, QUICK, SLOW,
};
use crate::model::fleet::{ContainerState, LocalRunner};
use crate::world::error::{Error, Result};
use serde::Deserialize;
use std::collections::HashMap;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

#[derive(Debug, Default)]
pub struct Docker {
    pub(super) flavor: std::sync::OnceLock<ComposeFlavor>,
    /// The empty env file compose is given (see `private_env`), made on first use.
    pub(super) env_file: std::sync::OnceLock<super::private_env::PrivateEnvFile>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Inspect {
    name: String,
    /// The id of the image it runs.
    image: String,
    state: InspectState,
    config: InspectConfig,
    #[serde(default)]
    mounts: Vec<InspectMount>,
    #[serde(default)]
    host_config: Option<InspectHostConfig>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct InspectHostConfig {
    #[serde(default)]
    devices: Option<Vec<InspectDevice>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct InspectDevice {
    path_on_host: String,
    path_in_container: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct InspectState {
    status: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct InspectConfig {
    /// The image reference it was created from.
    image: String,
    #[serde(default)]
    labels: Option<HashMap<String, String>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct InspectMount {
    #[serde(default)]
    name: Option<String>,
    destination: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct VolumeInspect {
    name: String,
    #[serde(default)]
    labels: Option<HashMap<String, String>>,
}

impl Docker {
    pub fn new() -> Self {
        Self::default()
    }

    /// The id of image `reference`, `None` when it is not here.
    pub fn image_id(&self, reference: &str) -> Result<Option<String>> {
        let out = run(&mut docker(&[
            "image", "inspect", "--format", "{{.Id}}", reference,
        ]))?;
        if out.status.success() {
            return Ok(Some(
                String::from_utf8_lossy(&out.stdout).trim().to_string(),
            ));
        }
        let stderr = String::from_utf8_lossy(&out.stderr);
        if stderr.contains("No such image") || stderr.contains("No such object") {
            return Ok(None);
        }
        Err(Error::Docker(format!(
            "docker image inspect {reference} failed: {}",
            docker_failure(&stderr)
        )))
    }

    /// `docker pull reference`; a failure carries the lines that say why.
    pub fn pull(&self, reference: &str) -> Result<()> {
        let what = format!("pulling image {reference}");
        let out = run_for(&mut docker(&["pull", reference]), None, SLOW, &what)?;
        if !out.status.success() {
            return Err(Error::Docker(format!(
                "cannot pull image {reference}: {}",
                docker_failure(&String::from_utf8_lossy(&out.stderr))
            )));
        }
        Ok(())
    }

    /// `docker build -t tag -f dockerfile context`, its progress on our stderr.
    pub fn build(&self, tag: &str, dockerfile: &Path, context: &Path) -> Result<()> {
        let mut cmd = Command::new("docker");
        cmd.arg("build")
            .arg("-t")
            .arg(tag)
            .arg("-f")
            .arg(dockerfile)
            .arg(context);
        let what = format!("building {tag}");
        let status = crate::world::children::run(
            &mut cmd,
            None,
            crate::world::children::Streams::Show,
            BUILD,
            &what,
        )
        .map_err(|f| super::process::failure(&cmd, f, &what))?
        .status;
        if !status.success() {
            return Err(Error::Docker(format!(
                "docker build of {tag} failed ({status}); see the build output above"
            )));
        }
        Ok(())
    }

    /// The runner containers any of `docker ps -a --filter <filter>` finds (one-offs left
    /// out), running or not, read with one `docker inspect`.
    pub fn runners(&self, filters: &[&str]) -> Result<Vec<LocalRunner>> {
        let mut ids: Vec<String> = Vec::new();
        for filter in filters {
            let out = checked_stdout(
                docker(&["ps", "-a", "-q", "--no-trunc", "--filter", filter]),
                "docker ps",
            )?;
            ids.extend(
                out.lines()
                    .map(str::trim)
                    .filter(|l| !l.is_empty())
                    .map(String::from),
            );
        }
        ids.sort();
        ids.dedup();
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let mut cmd = docker(&["inspect"]);
        cmd.args(&ids);
        let out = run(&mut cmd)?;
        // A container can vanish between `ps` and `inspect`; inspect still prints the others.
        let parsed: Vec<Inspect> = serde_json::from_slice(&out.stdout)
            .map_err(|e| Error::Docker(format!("cannot read `docker inspect` output: {e}")))?;
        Ok(parsed
            .into_iter()
            .filter_map(|c| {
                let labels = c.config.labels.unwrap_or_default();
                if labels.contains_key(ONEOFF_LABEL) {
                    return None;
                }
                let label = |k: &str| labels.get(k).cloned();
                Some(LocalRunner {
                    name: c.name.trim_start_matches('/').to_string(),
                    state: ContainerState::parse(&c.state.status),
                    image: c.config.image,
                    image_id: c.image,
                    spec: label(crate::model::compose::label::SPEC),
                    project: label(COMPOSE_PROJECT_LABEL),
                    prefix: label(crate::model::compose::label::PREFIX),
                    kind: label(crate::model::compose::label::KIND).unwrap_or_default(),
                    home_volume: c
                        .mounts
                        .iter()
                        .find(|m| m.destination == crate::model::compose::RUNNER_HOME)
                        .and_then(|m| m.name.clone()),
                    configured: None,
                    first_start_failure: None,
                    devices: c
                        .host_config
                        .and_then(|h| h.devices)
                        .unwrap_or_default()
                        .into_iter()
                        .filter(|d| d.path_on_host != d.path_in_container)
                        .map(|d| (d.path_in_container, d.path_on_host))
                        .collect(),
                })
            })
            .collect())
    }

    /// The volumes any of `docker volume ls --filter <filter>` finds, each with its
    /// `ghr.runner` label (empty when absent), read with one `docker volume inspect`.
    pub fn volumes(&self, filters: &[&str]) -> Result<Vec<(String, String)>> {
        let mut names: Vec<String> = Vec::new();
        for filter in filters {
            let out = checked_stdout(
                docker(&["volume", "ls", "-q", "--filter", filter]),
                "docker volume ls",
            )?;
            names.extend(
                out.lines()
                    .map(str::trim)
                    .filter(|l| !l.is_empty())
                    .map(String::from),
            );
        }
        names.sort();
        names.dedup();
        if names.is_empty() {
            return Ok(Vec::new());
        }
        let mut cmd = docker(&["volume", "inspect"]);
        cmd.args(&names);
        let out = run(&mut cmd)?;
        // A volume can vanish between `ls` and `inspect`; inspect still prints the others.
        let parsed: Vec<VolumeInspect> = serde_json::from_slice(&out.stdout).map_err(|e| {
            Error::Docker(format!("cannot read `docker volume inspect` output: {e}"))
        })?;
        Ok(parsed
            .into_iter()
            .map(|v| {
                let runner = v
                    .labels
                    .and_then(|mut l| l.remove(crate::model::compose::label::RUNNER))
                    .unwrap_or_default();
                (v.name, runner)
            })
            .collect())
    }

    /// `docker start|stop|restart names...` for existing containers. `grace`: how long
    /// stop and restart let a runner go offline before Docker kills it.
    pub fn containers_do(
        &self,
        verb: &str,
        names: &[String],
        grace: Option<std::time::Duration>,
    ) -> Result<()> {
        if names.is_empty() {
            return Ok(());
        }
        let mut cmd = docker(&[verb]);
        let mut limit = QUICK;
        if let Some(grace) = grace.filter(|_| verb != "start") {
            let secs = grace.as_secs().max(1);
            cmd.args(["--time", &secs.to_string()]);
            // Docker kills a runner that is not gone by then; the rest is the engine's time.
            limit += Duration::from_secs(secs);
        }
        cmd.args(names);
        let what = format!("docker {verb}");
        let out = run_for(&mut cmd, None, limit, &what)?;
        if !out.status.success() {
            return Err(Error::Docker(format!(
                "{what} failed: {}",
                docker_failure(&String::from_utf8_lossy(&out.stderr))
            )));
        }
        Ok(())
    }

    /// Removes containers (running or not) with their anonymous volumes. A runner whose
    /// registration was just deleted exits, and Docker restarts it (its restart policy): caught
    /// in that moment, `rm -f` fails for it ("Could not kill running container ..., is not
    /// running"); the ones still there are removed again, twice at most.
    pub fn remove_containers(&self, names: &[String]) -> Result<()> {
        let mut left = names.to_vec();
        for attempt in 1.. {
            if left.is_empty() {
                return Ok(());
            }
            let mut cmd = docker(&["rm", "-f", "-v"]);
            cmd.args(&left);
            match checked(cmd, "docker rm") {
                Ok(_) => return Ok(()),
                Err(e) if attempt < 3 && caught_restarting(&e.to_string()) => {
                    std::thread::sleep(Duration::from_millis(250));
                    let all = checked_stdout(
                        docker(&["ps", "-a", "--format", "{{.Names}}"]),
                        "docker ps",
                    )?;
                    let there: Vec<&str> = all.lines().map(str::trim).collect();
                    left.retain(|n| there.contains(&n.as_str()));
                }
                Err(e) => return Err(e),
            }
        }
        unreachable!("the loop returns")
    }

    pub fn remove_volumes(&self, names: &[String]) -> Result<()> {
        if names.is_empty() {
            return Ok(());
        }
        let mut cmd = docker(&["volume", "rm", "-f"]);
        cmd.args(names);
        checked(cmd, "docker volume rm").map(|_| ())
    }

    /// `docker logs`, straight to our stdout/stderr; returns docker's exit status.
    pub fn logs(
        &self,
        name: &str,
        tail: Option<u32>,
        follow: bool,
    ) -> Result<std::process::ExitStatus> {
        let mut cmd = docker(&["logs"]);
        if follow {
            cmd.arg("--follow");
        }
        if let Some(n) = tail {
            cmd.args(["--tail", &n.to_string()]);
        }
        cmd.arg(name)
            .status()
            .map_err(|e| Error::Docker(format!("cannot run docker: {e}; is Docker installed?")))
    }
}

/// Whether `docker rm -f` failed because it caught a container between exiting and Docker
/// restarting it (the engine's words for that moment), which asking again gets past.
fn caught_restarting(error: &str) -> bool {
    error.contains("Could not kill running container") || error.contains("is restarting")
}

#[cfg(test)]
mod tests {
    use super::caught_restarting;

    #[test]
    fn only_the_restart_moment_is_asked_again() {
        for (error, want) in [
            ("docker rm failed: Error response from daemon: Could not kill running container 71e7, cannot remove - Container 71e7 is not running", true),
            ("docker rm failed: Error response from daemon: You cannot remove a restarting container 71e7. Stop the container before attempting removal or force remove", false),
            ("docker rm failed: Error response from daemon: Conflict, container 71e7 is restarting", true),
            ("docker rm failed: Error: No such container: x", false),
            ("docker rm failed: Cannot connect to the Docker daemon", false),
        ] {
            assert_eq!(caught_restarting(error), want, "{error}");
        }
    }
}
