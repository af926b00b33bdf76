//! One thin file per command; each composes settings, the fleet, Docker and GitHub.

mod compose;
mod hold;
mod image;
mod init;
mod lifecycle;
mod list;
mod locks;
mod logs;
mod release;
mod remote;
mod rm;
mod start;
mod stop;

use crate::cli::{Cli, Command, GlobalArgs};
use crate::prompt::{self, Need};
use crate::settings::{Settings, Sources};
use anyhow::Result;
use std::collections::HashMap;

pub fn run(cli: Cli) -> Result<()> {
    match cli.command {
        Command::Compose(args) => compose::run(&load(&cli.global, Need::Org)?, args),
        Command::Image => image::run(&load(&cli.global, Need::Org)?),
        Command::Init(args) => init::run(&load(&cli.global, Need::OrgAndPat)?, args),
        Command::Register(args) => start::run(
            &load(&cli.global, Need::OrgAndPat)?,
            &args.names,
            start::Mode::Register,
        ),
        Command::Start(args) => start::run(
            &load(&cli.global, Need::OrgAndPat)?,
            &args.names,
            start::Mode::Start,
        ),
        Command::Stop(args) => stop::run(&load(&cli.global, Need::Org)?, &args.names, "stop"),
        Command::Restart(args) => stop::run(&load(&cli.global, Need::Org)?, &args.names, "restart"),
        Command::Logs(args) => logs::run(&load(&cli.global, Need::Org)?, args),
        Command::List(args) => list::run(&load(&cli.global, Need::OrgAndPat)?, args),
        Command::Rm(args) => rm::run(&load(&cli.global, Need::OrgAndPat)?, args),
        Command::Purge(args) => rm::purge(&load(&cli.global, Need::OrgAndPat)?, args),
        Command::Locks(args) => locks::run(&load(&cli.global, Need::Nothing)?, args),
        Command::Hold(args) => hold::run(&load(&cli.global, Need::Nothing)?, args),
        Command::Release(args) => release::run(&load(&cli.global, Need::Nothing)?, args),
        Command::HoldKeeper(args) => hold::keeper(args),
    }
}

/// Gathers the settings layers, asks for what is missing, resolves and checks every value,
/// and prints the warnings. Nothing has been written or started when this fails.
pub fn load(global: &GlobalArgs, need: Need) -> Result<Settings> {
    let mut cli = HashMap::new();
    if let Some(org) = &global.org {
        cli.insert("ORG".to_string(), org.clone());
    }
    if let Some(repo) = &global.repo {
        cli.insert("REPO".to_string(), repo.clone());
    }
    let mut sources = Sources::gather(cli, global.env_file.clone())?;
    prompt::ensure_required(&mut sources, need)?;
    let settings = Settings::resolve(&sources)?;
    for warning in &settings.warnings {
        eprintln!("warning: {warning}");
    }
    Ok(settings)
}
