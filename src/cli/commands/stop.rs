//! `ghr stop|restart [NAME...]`: containers of this fleet only. Each runner gets
//! `RUNNER_STOP_GRACE_PERIOD` to go offline on GitHub before Docker kills it. GitHub is
//! asked only when `stop` stops one-job (ephemeral) runners: the registrations of the idle
//! ones are removed (a stopped one-job runner would never run its job).

use crate::cli::targets::Targets;
use crate::cli::ui;
use crate::config::settings::Settings;
use crate::world::docker::Docker;
use crate::world::error::{Error, Result};

pub fn run(settings: &Settings, names: &[String], verb: &str) -> Result<()> {
    let docker = Docker::new();
    let local = crate::world::observe::local(settings, &docker)?.runners;
    if local.is_empty() {
        return Err(Error::Config(format!(
            "this fleet (prefix {}) has no containers; run `ghr init` first",
            settings.prefix
        )));
    }
    let targets = Targets::new(settings, &[], &local).resolve(names)?;
    let targets = if targets.is_empty() {
        local.iter().map(|c| c.name.clone()).collect()
    } else {
        targets
    };
    let progress = ui::Progress::new(
        targets.len(),
        if verb == "stop" {
            "stopping"
        } else {
            "restarting"
        },
    );
    // Which one-job runners are idle, asked before they stop (then GitHub shows them offline).
    let remote = match verb {
        "stop"
            if settings.ephemeral || settings.boards.iter().any(|b| b.ephemeral == Some(true)) =>
        {
            crate::world::remote::Remote::connect_if_possible(settings)?
        }
        _ => None,
    };
    let idle = match &remote {
        Some(remote) => crate::world::ephemeral::idle_registrations(settings, remote, &targets)?,
        None => Vec::new(),
    };
    if verb == "stop" {
        // So that `ghr serve` leaves them stopped.
        let one_job = crate::world::ephemeral::one_job_runners(settings, &targets);
        let running: Vec<String> = local
            .iter()
            .filter(|c| c.state.is_up() && one_job.contains(&c.name))
            .map(|c| c.name.clone())
            .collect();
        crate::world::ephemeral::mark_stopped(&docker, &running)?;
    }
    docker.containers_do(verb, &targets, Some(settings.stop_grace_period))?;
    drop(progress);
    if let Some(remote) = &remote {
        for ((name, _), result) in idle.iter().zip(remote.unregister(&idle)) {
            match result {
                Ok(crate::world::remote::Deleted::Busy) => ui::warn(&format!(
                    "{name} took a job as it stopped; its registration stays"
                )),
                Ok(_) => ui::result(&format!(
                    "removed the registration of {name} (ephemeral: a stopped one never runs its job)"
                )),
                Err(e) => ui::warn(&format!("{name}: its registration stays: {e}")),
            }
        }
    }
    let done = if verb == "stop" {
        "stopped"
    } else {
        "restarted"
    };
    for name in &targets {
        ui::result(&format!("{done} {name}"));
    }
    Ok(())
}
