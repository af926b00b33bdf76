//! `ghr stop|restart [NAME...]`: containers of this fleet only; no GitHub call.

use super::lifecycle;
use crate::docker::Docker;
use crate::settings::Settings;
use anyhow::Result;

pub fn run(settings: &Settings, names: &[String], verb: &str) -> Result<()> {
    let docker = Docker::new();
    let existing = lifecycle::containers(settings, &docker)?;
    if existing.is_empty() {
        anyhow::bail!(
            "this fleet (prefix {}) has no containers; run `ghr init` first",
            settings.prefix
        );
    }
    let known: Vec<String> = existing.iter().map(|c| c.name.clone()).collect();
    let targets = lifecycle::pick(settings, &known, names)?;
    docker.containers_do(verb, &targets, Some(settings.stop_grace_period))?;
    let done = if verb == "stop" {
        "stopped"
    } else {
        "restarted"
    };
    for name in &targets {
        println!("{done} {name}");
    }
    Ok(())
}
