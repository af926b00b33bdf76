//! `ghr logs NAME [--tail N] [--no-follow]`: one runner's container logs.

use crate::cli::args::LogsArgs;
use crate::cli::targets::Targets;
use crate::config::settings::Settings;
use crate::world::docker::Docker;
use crate::world::error::{Error, Result};

pub fn run(settings: &Settings, args: LogsArgs) -> Result<()> {
    let docker = Docker::new();
    let local = crate::world::observe::local(settings, &docker)?.runners;
    let name = Targets::new(settings, &[], &local)
        .resolve(std::slice::from_ref(&args.name))?
        .remove(0);
    let status = docker.logs(&name, args.tail, !args.no_follow)?;
    if !status.success() {
        return Err(Error::Docker(format!(
            "docker logs {name} failed ({status})"
        )));
    }
    Ok(())
}
