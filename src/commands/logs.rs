//! `ghr logs NAME [--tail N] [--no-follow]`: one runner's container logs.

use super::lifecycle;
use crate::cli::LogsArgs;
use crate::docker::{Docker, DockerError};
use crate::settings::Settings;
use anyhow::Result;

pub fn run(settings: &Settings, args: LogsArgs) -> Result<()> {
    let docker = Docker::new();
    let known: Vec<String> = lifecycle::containers(settings, &docker)?
        .into_iter()
        .map(|c| c.name)
        .collect();
    let name = lifecycle::pick(settings, &known, std::slice::from_ref(&args.name))?.remove(0);
    let status = docker.logs(&name, args.tail, !args.no_follow)?;
    if !status.success() {
        return Err(DockerError(format!("docker logs {name} failed ({status})")).into());
    }
    Ok(())
}
