//! `ghr release RESOURCE [--force]`: end a maintenance hold, or (with --force) take a lock away
//! from a job, through the holder's control socket in the lock directory.

use crate::cli::args::ReleaseArgs;
use crate::cli::ui;
use crate::config::settings::Settings;
use crate::world::error::{Error, Result};
use runner_wrapper::control::{self, ReleaseError, Released};
use runner_wrapper::hold;
use runner_wrapper::record::HolderKind;
use std::path::Path;

pub fn run(settings: &Settings, args: ReleaseArgs) -> Result<()> {
    let dir = Path::new(&settings.lock_host_path);
    let resource = super::hold::one_resource(dir, &args.resource, &[])?;
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap_or_default();
    let by = format!(
        "{} on {} (ghr release{})",
        hold::current_user(),
        host.trim(),
        if args.force { " --force" } else { "" }
    );
    match control::release(dir, &resource, args.force, &by) {
        Ok(Released::NotHeld) => ui::result(&format!("{resource} is not held")),
        Ok(Released::Released { holder, text }) => {
            ui::result(&format!("released {resource}, held by {}", holder.describe()));
            if holder.kind == HolderKind::Job {
                ui::warn(&text);
            }
        }
        Err(ReleaseError::Unknown) => {
            return Err(Error::Failed(format!(
                "{resource} vanished from {}",
                dir.display()
            )))
        }
        Err(ReleaseError::NeedsForce(holder)) => return Err(Error::Failed(format!(
            "{resource} is held by {}, not by a hold; not released. `ghr release --force {resource}` releases it anyway: that job keeps running on the board while the next job may start on it",
            holder.describe()
        ))),
        Err(ReleaseError::Failed(text)) => {
            return Err(Error::Failed(format!("cannot release {resource}: {text}")))
        }
    }
    Ok(())
}
