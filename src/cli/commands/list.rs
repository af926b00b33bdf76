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
    let oneoffs = match &local {
        Ok(_) => docker.oneoffs(&settings.prefix).unwrap_or_default(),
        Err(_) => Vec::new(),
    };
    let members = fleet::join(
        &settings.prefix,
        local
            .as_ref()
            .map(|l| l.runners.as_slice())
            .unwrap_or_default(),
        github.as_ref().ok().map(Vec::as_slice),
    );
    let volumes = local
        .as_ref()
        .map(|l| l.volumes.as_slice())
        .unwrap_or_default();
    let members = fleet::with_volumes(members, volumes, github.is_ok());
    let members = fleet::with_missing_devices(
        members,
        &crate::world::replug::missing_by_runner(&crate::world::replug::board_devices(settings)),
    );
    if args.json {
        ui::result(&ui::fleet_json(
            &members,
            &oneoffs,
            local.is_ok(),
            github.is_ok(),
        ));
    } else if members.is_empty() && oneoffs.is_empty() && local.is_ok() && github.is_ok() {
        ui::result(&format!(
            "no runners of prefix {} (locally or on {})",
            settings.prefix,
            settings.scope_label()
        ));
    } else {
        let count = fleet::size(
            None,
            crate::world::compose_file::recorded(settings),
            settings.runner_count,
        );
        let ephemeral: Vec<String> = fleet::desired(settings, count)
            .into_iter()
            .filter(|r| r.ephemeral)
            .map(|r| r.name)
            .collect();
        ui::result(&ui::fleet_table(&members, &oneoffs, local.is_ok()));
        if !ephemeral.is_empty() {
            ui::result(&ui::ephemeral_note(&ephemeral));
        }
    }
    // A side that could not be asked shows `unknown` in the table, and its error is the
    // command's (its exit code, said once); when both failed, Docker's comes first.
    let local = local.map_err(|e| e.context("cannot read containers"));
    match (local, github) {
        (Err(docker), Err(github)) => {
            ui::warn(&format!(
                "cannot list GitHub's runners ({github}); their side is unknown"
            ));
            Err(docker)
        }
        (Err(e), Ok(_)) | (Ok(_), Err(e)) => Err(e),
        (Ok(_), Ok(_)) => Ok(()),
    }
}
