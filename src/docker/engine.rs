//! The Docker engine: containers, volumes and images of a fleet, read from `docker inspect`.

use super::{checked, checked_output, run, DockerError};
use anyhow::{Context, Result};
use serde::Deserialize;
use std::collections::HashMap;
use std::path::Path;
use std::process::{Command, Stdio};

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
    pub(super) flavor: std::sync::OnceLock<super::ComposeFlavor>,
}

impl Docker {
    pub fn new() -> Self {
        Self::default()
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

impl Docker {
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
        let mut cmd = Command::new("docker");
        cmd.arg(verb);
        if let Some(grace) = grace.filter(|_| verb != "start") {
            cmd.args(["--time", &grace.as_secs().max(1).to_string()]);
        }
        cmd.args(names);
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
