//! `ghr stop|restart [NAME...]`: containers of this fleet only; no GitHub call. Each runner
//! gets `RUNNER_STOP_GRACE_PERIOD` to go offline on GitHub before Docker kills it.

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
    docker.containers_do(verb, &targets, Some(settings.stop_grace_period))?;
    drop(progress);
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
