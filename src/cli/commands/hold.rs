//! `ghr hold RESOURCE [--reason TEXT] [--for DURATION] [--no-wait]`: a maintenance hold. ghr
//! starts a keeper (itself, detached: `ghr __hold-keeper`) that waits its turn in the
//! resource's queue like a job, shows the progress here, and keeps the lock after ghr exits,
//! until `ghr release`, the end of `--for`, or a reboot (see runner-wrapper's `hold`).

use crate::cli::args::{HoldArgs, HoldKeeperArgs};
use crate::cli::ui;
use crate::config::error::ConfigError;
use crate::config::settings::Settings;
use crate::world::error::{Error, Result};
use runner_wrapper::contract::{self, format_utc, parse_duration};
use runner_wrapper::hold::{self, HoldSpec};
use std::path::Path;
use std::process::Command;
use std::time::Duration;

/// How often a waiting `ghr hold` says who holds the resource.
const STATUS_INTERVAL: Duration = Duration::from_secs(5);

pub fn run(settings: &Settings, args: HoldArgs) -> Result<()> {
    let dir = Path::new(&settings.lock_host_path);
    // A board `.env` configures can be taken out of service before its runner ever started
    // (a new board; a lock directory a reboot emptied): the lock directory is made for it.
    let configured = configured_resources(settings);
    let resource = one_resource(dir, &args.resource, &configured)?;
    if configured.contains(&resource) {
        crate::world::lockdir::prepare_for(settings)?;
    }
    let until = match &args.duration {
        None => None,
        Some(text) => {
            let d = parse_duration(text).map_err(|e| ConfigError::new(e.message("--for")))?;
            if d.is_zero() {
                return Err(ConfigError::new(format!(
                    "--for {text} must be more than zero; give a duration such as 30m or 2h, or leave --for out to hold until `ghr release`"
                ))
                .into());
            }
            Some(contract::now_epoch() + d.as_secs().max(1))
        }
    };
    let spec = HoldSpec {
        dir: dir.to_path_buf(),
        resource: resource.clone(),
        user: hold::current_user(),
        reason: args.reason.unwrap_or_default(),
        until,
        no_wait: args.no_wait,
        status_interval: STATUS_INTERVAL,
    };
    let exe = std::env::current_exe()
        .map_err(|e| Error::io("cannot find the ghr executable to start the keeper", e))?;
    let mut keeper = Command::new(exe);
    keeper.arg("__hold-keeper");
    let held = hold::request(keeper, &spec, &mut |line| ui::info(line)).map_err(Error::Failed)?;
    ui::result(&held);
    match until {
        Some(u) => ui::result(&format!(
            "Released by itself at {}, or earlier with: ghr release {resource}",
            format_utc(u as i64)
        )),
        None => ui::result(&format!("Release it with: ghr release {resource}")),
    }
    Ok(())
}

/// The detached keeper (`ghr __hold-keeper ...`).
pub fn keeper(args: HoldKeeperArgs) -> Result<()> {
    let spec = hold::parse_args(&args.args).map_err(Error::Failed)?;
    std::process::exit(hold::keep(&spec));
}

/// The resource ids this fleet's boards use (pool members one by one).
pub(crate) fn configured_resources(settings: &Settings) -> Vec<String> {
    let mut ids: Vec<String> = settings
        .boards
        .iter()
        .flat_map(|b| b.resources.iter().cloned())
        .collect();
    ids.sort();
    ids.dedup();
    ids
}

/// One resource that the lock directory or `configured` knows, else a settings error (exit 3).
pub(crate) fn one_resource(dir: &Path, resource: &str, configured: &[String]) -> Result<String> {
    let ids = contract::parse_resource_list(resource)
        .map_err(|e| ConfigError::new(format!("RESOURCE {e}")))?;
    if ids.len() > 1 {
        return Err(ConfigError::new(format!(
            "{resource} is a pool; name one member at a time (e.g. {})",
            ids[0]
        ))
        .into());
    }
    let id = ids.into_iter().next().unwrap_or_default();
    if configured.contains(&id) {
        return Ok(id);
    }
    let in_dir = dir.exists()
        && hold::known(dir, &id).map_err(|e| {
            Error::io(
                format!("cannot read the lock directory {}", dir.display()),
                e,
            )
        })?;
    if !in_dir {
        let mut known: Vec<String> = runner_wrapper::read_lock_dir(dir)
            .unwrap_or_default()
            .into_iter()
            .map(|r| r.resource)
            .chain(configured.iter().cloned())
            .collect();
        known.sort();
        known.dedup();
        return Err(ConfigError::new(format!(
            "{id} is not a resource in the lock directory {} (RUNNER_LOCK_HOST_PATH) or of this fleet's boards; known: {}; check the spelling (`ghr locks` lists the lock directory's)",
            dir.display(),
            if known.is_empty() { "none".to_string() } else { known.join(", ") }
        ))
        .into());
    }
    Ok(id)
}
