//! `ghr list [--json]`: local containers beside GitHub's runners of this prefix. A side that
//! cannot be asked is shown as unknown (never as "no container" / "not registered"), and the
//! exit code is that side's.

use crate::cli::args::ListArgs;
use crate::cli::ui;
use crate::config::settings::Settings;
use crate::model::fleet;
use crate::world::docker::Docker;
use crate::world::error::Result;
use crate::world::remote::Remote;

pub fn run(settings: &Settings, args: ListArgs) -> Result<()> {
    let docker = Docker::new();
    // Bad settings are refused before anything is asked.
    let remote = Remote::connect(settings)?;
    let (local, github) = crate::world::observe::sides(settings, &docker, &remote);
    if let Err(e) = &local {
        ui::warn(&format!(
            "cannot read containers ({e}); their side is unknown"
        ));
    }
    if let Err(e) = &github {
        ui::warn(&format!(
            "cannot list GitHub's runners ({e}); their side is unknown"
        ));
    }
    let members = fleet::join(
        &settings.prefix,
        local
            .as_ref()
            .map(|l| l.runners.as_slice())
            .unwrap_or_default(),
        github.as_ref().ok().map(Vec::as_slice),
    );
    if args.json {
        ui::result(&ui::fleet_json(&members, local.is_ok(), github.is_ok()));
    } else if members.is_empty() && local.is_ok() && github.is_ok() {
        ui::result(&format!(
            "no runners of prefix {} (locally or on {})",
            settings.prefix,
            settings.scope_label()
        ));
    } else {
        ui::result(&ui::fleet_table(&members, local.is_ok()));
    }
    local?;
    github?;
    Ok(())
}
