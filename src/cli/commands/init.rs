//! `ghr init [-n N] [-y] [--force NAME...]` and `ghr plan [-n N] [--json]`: make the fleet
//! match the settings, or say what that would take. Both gather the same state and ask the
//! planner; `plan` prints the plan, `init` hands it to the executor.

use crate::cli::args::{InitArgs, PlanArgs};
use crate::cli::carry_out::{carry_out, confirm_despite_warnings, confirm_removals, kept_result};
use crate::cli::targets::Targets;
use crate::cli::ui;
use crate::config::settings::Settings;
use crate::plan::{self, Intent, Plan};

use crate::world::compose_file::Desired;
use crate::world::docker::Docker;
use crate::world::error::Result;
use crate::world::observe;
use crate::world::remote::Remote;
use std::path::Path;

/// The state and plan of one `init` (or `plan`).
struct Planned {
    desired: Desired,
    image: plan::ImageState,
    build_hash: Option<String>,
    plan: Plan,
}

fn make_plan(
    settings: &Settings,
    docker: &Docker,
    remote: Option<&Remote>,
    count: Option<u32>,
    force: &[String],
) -> Result<Planned> {
    let dir = Path::new(".");
    let (image, build_hash) = observe::image(settings, docker, dir)?;
    let desired = Desired::of(settings, count, &image.reference)?;
    let compose_change = desired.change(settings)?;
    // A runner group that does not exist is refused before anything changes.
    let group = match (remote, &settings.runner_group) {
        (Some(remote), Some(name)) => remote.group(name)?,
        _ => None,
    };
    let snapshot = observe::snapshot(settings, docker, remote)?;
    let targets = Targets::new(settings, &desired.runners, &snapshot.local.runners);
    let force = targets.resolve(force)?;
    let specs = desired.compose.specs();
    let plan = plan::plan(&plan::Inputs {
        prefix: &settings.prefix,
        desired: &desired.runners,
        specs: &specs,
        image: &image,
        compose: compose_change,
        local: &snapshot.local.runners,
        volumes: &snapshot.local.volumes,
        github: snapshot.github.as_deref(),
        group: group.as_ref(),
        intent: &Intent::Converge { force, prune: true },
        devices: &desired.compose.resolved_devices,
    });
    Ok(Planned {
        desired,
        image,
        build_hash,
        plan,
    })
}

/// GitHub's view of the fleet, when GH_PAT is set; else (REG_TOKEN only) said once.
fn connect(settings: &Settings) -> Result<Option<Remote>> {
    let remote = Remote::connect_if_possible(settings)?;
    if remote.is_none() {
        ui::warn("GH_PAT is not set: runners register with REG_TOKEN, and GitHub's view is not read (labels, runner groups, registrations GitHub deleted and surplus runners are left as they are)");
    }
    Ok(remote)
}

pub fn plan(settings: &Settings, args: PlanArgs) -> Result<()> {
    let docker = Docker::new();
    let remote = connect(settings)?;
    let planned = make_plan(settings, &docker, remote.as_ref(), args.count.count, &[])?;
    if args.json {
        ui::result(&ui::plan_json(&planned.plan));
    } else {
        ui::result(&ui::plan_text(&planned.plan));
    }
    Ok(())
}

pub fn run(settings: &Settings, args: InitArgs) -> Result<()> {
    let docker = Docker::new();
    let remote = connect(settings)?;
    let planned = make_plan(
        settings,
        &docker,
        remote.as_ref(),
        args.count.count,
        &args.force,
    )?;
    let plan = &planned.plan;
    confirm_despite_warnings(settings, plan, args.yes)?;
    confirm_removals(plan, args.yes, &settings.scope_label())?;
    let outcome = carry_out(
        settings,
        &docker,
        remote.as_ref(),
        &planned.desired,
        &planned.image.reference,
        planned.build_hash.as_deref(),
        plan,
    )?;
    if plan.is_empty() {
        ui::result(&format!(
            "{} runners of {} are as the settings say; nothing to do",
            planned.desired.runners.len(),
            settings.scope_label()
        ));
        return kept_result(plan, &outcome);
    }
    let total = planned.desired.runners.len();
    // A runner whose device is missing waits for it, stopped (see `plan::devices`).
    let waiting = |name: &str| {
        planned
            .desired
            .compose
            .resolved_devices
            .iter()
            .any(|d| d.runner == name && d.node.is_none())
    };
    let up = planned
        .desired
        .runners
        .iter()
        .filter(|r| !outcome.failed.contains(&r.name) && !waiting(&r.name))
        .count();
    let waits = planned
        .desired
        .runners
        .iter()
        .filter(|r| waiting(&r.name))
        .count();
    let waits = match waits {
        0 => String::new(),
        n => format!(", {n} waiting for a device"),
    };
    ui::result(&format!(
        "{up} of {total} runners of {} are up{waits} ({}, image {})",
        settings.scope_label(),
        settings.compose_file.display(),
        planned.image.reference
    ));
    kept_result(plan, &outcome)
}
