//! `ghr start|register [NAME...]`: create what is missing, register what is not configured,
//! then start (start: every target; register: the ones it just registered).

use super::lifecycle::{self, Registration};
use super::remote::Remote;
use crate::docker::Docker;
use crate::fleet;
use crate::settings::Settings;
use anyhow::Result;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Start,
    Register,
}

pub fn run(settings: &Settings, names: &[String], mode: Mode) -> Result<()> {
    let docker = Docker::new();
    let existing = lifecycle::containers(settings, &docker)?;
    let mut known: Vec<String> = existing.iter().map(|c| c.name.clone()).collect();
    for runner in fleet::desired(settings, lifecycle::generic_count(settings, &existing)) {
        if !known.contains(&runner.name) {
            known.push(runner.name);
        }
    }
    known.sort_by(|a, b| fleet::natural_cmp(a, b));
    let targets = lifecycle::pick(settings, &known, names)?;

    let missing: Vec<String> = targets
        .iter()
        .filter(|t| !existing.iter().any(|c| &c.name == *t))
        .cloned()
        .collect();
    if !missing.is_empty() {
        if !settings.compose_file.exists() {
            anyhow::bail!(
                "{} has no container and there is no {}; run `ghr init` first",
                missing.join(", "),
                settings.compose_file.display()
            );
        }
        if crate::wrapper::for_fleet(settings)?.is_some() {
            super::init::prepare_lock_dir(settings)?;
        }
        docker.compose_up(&settings.compose_file, false, &missing)?;
    }
    let containers: Vec<_> = lifecycle::containers(settings, &docker)?
        .into_iter()
        .filter(|c| targets.contains(&c.name))
        .collect();
    let remote = Remote::connect(settings)?;
    let registrations = lifecycle::register(
        settings,
        &docker,
        &remote,
        &containers,
        mode == Mode::Register,
    );

    let mut to_start = Vec::new();
    let mut to_restart = Vec::new();
    for (c, outcome) in containers.iter().zip(&registrations.outcomes) {
        let wanted = !matches!(
            (mode, outcome),
            (_, Registration::Failed(_)) | (Mode::Register, Registration::AlreadyConfigured)
        );
        let running = matches!(c.state.as_str(), "running" | "restarting");
        match (wanted, running, outcome) {
            (false, ..) => {}
            // It ran without configuration: start over with the new one.
            (true, true, Registration::Registered) => to_restart.push(c.name.clone()),
            (true, true, _) => println!("{} is already running", c.name),
            (true, false, _) => to_start.push(c.name.clone()),
        }
    }
    docker.containers_do("start", &to_start, None)?;
    docker.containers_do("restart", &to_restart, Some(settings.stop_grace_period))?;
    for name in to_start.iter().chain(&to_restart) {
        println!("started {name}");
    }
    registrations.result("run the command again to retry them")
}
