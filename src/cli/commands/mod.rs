//! One thin file per command; each composes settings, the gatherer, the planner and the
//! executor (or, for the read-only ones, the gatherer and `ui`).

pub mod compose;
mod hold;
mod image;
pub mod init;
mod list;
mod locks;
mod logs;
mod release;
mod rm;
mod serve;
mod start;
mod stop;
mod systemd;

use crate::cli::args::{Cli, Command, GlobalArgs};
use crate::cli::prompt::{self, Need};
use crate::config::settings::{Settings, Sources};
use crate::world::compose_file;
use crate::world::error::{Error, Result};
use std::collections::HashMap;

pub fn run(cli: Cli) -> Result<()> {
    let g = &cli.global;
    let count = match &cli.command {
        Command::Init(a) => a.count.count,
        Command::Compose(a) => a.count,
        _ => None,
    };
    // Commands that change the fleet check what can be refused, then hold the fleet for
    // their whole run (see `begin`).
    let changing = |need: Need, command: &str, docker: bool| -> Result<(Settings, Change)> {
        let settings = load(g, need)?;
        preflight(&settings, count)?;
        let change = begin(&settings, g, command, docker)?;
        Ok((settings, change))
    };
    match cli.command {
        Command::Compose(args) => {
            let (s, _change) = changing(Need::Org, "compose", false)?;
            compose::run(&s, args)
        }
        Command::Image => {
            let (s, _change) = changing(Need::Org, "image", true)?;
            image::run(&s)
        }
        Command::Init(args) => {
            let (s, _change) = changing(Need::OrgAndRegistration, "init", true)?;
            init::run(&s, args)
        }
        Command::Plan(args) => {
            let s = load(g, Need::OrgAndRegistration)?;
            preflight(&s, args.count.count)?;
            init::plan(&s, args)
        }
        Command::Register(args) => {
            let (s, _change) = changing(Need::OrgAndRegistration, "register", true)?;
            start::run(&s, &args.names, start::Mode::Register)
        }
        Command::Start(args) => {
            let (s, _change) = changing(Need::OrgAndRegistration, "start", true)?;
            start::run(&s, &args.names, start::Mode::Start)
        }
        Command::Stop(args) => {
            let (s, _change) = changing(Need::Org, "stop", true)?;
            stop::run(&s, &args.names, "stop")
        }
        Command::Restart(args) => {
            let (s, _change) = changing(Need::Org, "restart", true)?;
            stop::run(&s, &args.names, "restart")
        }
        Command::Rm(args) => {
            let need = if args.local {
                Need::Org
            } else {
                Need::OrgAndPat
            };
            let (s, _change) = changing(need, "rm", true).map_err(|e| rm::without_pat(e, "rm"))?;
            rm::run(&s, args)
        }
        Command::Purge(args) => {
            let need = if args.local {
                Need::Org
            } else {
                Need::OrgAndPat
            };
            let (s, _change) =
                changing(need, "purge", true).map_err(|e| rm::without_pat(e, "purge"))?;
            rm::purge(&s, args)
        }
        Command::Logs(args) => logs::run(&load(g, Need::Org)?, args),
        Command::List(args) => list::run(&load(g, Need::OrgAndPat)?, args),
        Command::Locks(args) => locks::run(&load(g, Need::Nothing)?, args),
        Command::Hold(args) => hold::run(&load(g, Need::Nothing)?, args),
        Command::Release(args) => release::run(&load(g, Need::Nothing)?, args),
        Command::HoldKeeper(args) => hold::keeper(args),
        Command::Serve(args) => serve::run(g, args),
        Command::Systemd(args) => systemd::run(g, args),
    }
}

/// What a command that writes the compose file or creates containers must not get wrong,
/// checked before it changes anything: runner names GitHub takes, a wrapper that can run in
/// the image, and a compose file that is ghr's to write.
fn preflight(settings: &Settings, count: Option<u32>) -> Result<()> {
    let recorded = compose_file::recorded(settings);
    if let Some(n) = count {
        crate::config::settings::check_count(&format!("-n {n}"), n)?;
    }
    let size = crate::model::fleet::size(count, recorded, settings.runner_count);
    crate::model::fleet::check_names(&crate::model::fleet::desired(settings, size))?;
    if settings.boards.iter().any(|b| b.is_shared()) {
        crate::world::lockdir::check_path(std::path::Path::new(&settings.lock_host_path))?;
    }
    crate::world::wrapper_bin::for_fleet(settings)?;
    compose_file::ensure_ours(settings)?;
    Ok(())
}

/// A command that changes the fleet: interrupts clean up instead of killing ghr mid-step, no
/// other ghr command changes the fleet meanwhile, and one-off containers an earlier,
/// interrupted command left behind are gone. Dropping it lets the next command in.
pub struct Change {
    _lock: crate::world::fleet_lock::FleetLock,
}

/// Starts a change of the fleet by `command`; `docker`: whether the command uses Docker (then
/// leftovers are removed now, and on interrupt).
pub fn begin(
    settings: &Settings,
    global: &GlobalArgs,
    command: &str,
    docker: bool,
) -> Result<Change> {
    crate::cli::signals::install();
    let lock =
        crate::world::fleet_lock::acquire(&settings.fleet_lock_file, command, global.no_wait)?;
    if docker {
        let prefix = settings.prefix.clone();
        crate::world::cancel::on_interrupt(move || {
            // Again until none is found: a one-off whose creation the engine was finishing
            // when its client was killed shows up a moment later.
            for _ in 0..3 {
                match crate::world::docker::Docker::new().remove_leftovers(&prefix) {
                    Ok(names) if !names.is_empty() => {
                        for name in names {
                            crate::cli::ui::info(&format!("removed one-off container {name}"));
                        }
                    }
                    _ => break,
                }
            }
        });
        // Docker being unreachable is reported by the command's first real Docker call.
        if let Ok(names) = crate::world::docker::Docker::new().remove_leftovers(&settings.prefix) {
            for name in names {
                crate::cli::ui::info(&format!(
                    "removed one-off container {name}, left over by an interrupted ghr"
                ));
            }
        }
    }
    Ok(Change { _lock: lock })
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
    let env_file = match global.env_file.as_slice() {
        [] => None,
        [one] => Some(one.clone()),
        _ => {
            return Err(Error::Config(
                "--env-file is given more than once; only `ghr serve` serves several fleets".into(),
            ))
        }
    };
    let mut sources = Sources::gather(cli, env_file)?;
    prompt::ensure_required(&mut sources, need)?;
    let settings = Settings::resolve(&sources)?;
    for warning in &settings.warnings {
        crate::cli::ui::warn(warning);
    }
    Ok(settings)
}
