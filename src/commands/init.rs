//! `ghr init [-n N] [-y] [--force NAME...]` and `ghr plan [-n N] [--json]`: make the fleet
//! match the settings, or say what that would take. Both gather the same state and ask the
//! planner; `plan` prints the plan, `init` hands it to the executor.

use super::compose::Desired;
use super::Targets;
use crate::apply::{self, Context};
use crate::cli::{InitArgs, PlanArgs};
use crate::docker::Docker;
use crate::error::{Error, Result};
use crate::observe;
use crate::plan::{self, Intent, Plan};
use crate::remote::Remote;
use crate::settings::Settings;
use crate::ui;
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
    let group = match remote {
        Some(remote) => remote.group(&settings.runner_group)?,
        None => None,
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
    let up = planned
        .desired
        .runners
        .iter()
        .filter(|r| !outcome.failed.contains(&r.name))
        .count();
    ui::result(&format!(
        "{up} of {total} runners of {} are up ({}, image {})",
        settings.scope_label(),
        settings.compose_file.display(),
        planned.image.reference
    ));
    kept_result(plan, &outcome)
}

/// Carries out a plan of `init`, `start` or `register`: the token first when the plan
/// registers for sure (everything that can be refused is refused before the first change),
/// the kept runners and notes reported, then the executor.
pub fn carry_out(
    settings: &Settings,
    docker: &Docker,
    remote: Option<&Remote>,
    desired: &Desired,
    image: &str,
    build_hash: Option<&str>,
    plan: &Plan,
) -> Result<apply::Outcome> {
    let token = if plan.needs_token() {
        Some(crate::remote::registration_token(settings, remote)?)
    } else {
        None
    };
    report_kept(plan);
    apply::apply(
        &Context {
            settings,
            docker,
            remote,
            compose: Some(&desired.compose),
            desired: &desired.runners,
            image,
            build_hash,
            dir: Path::new("."),
            token: token.as_deref(),
        },
        plan,
    )
}

/// Removals are asked before anything is done: listed by name on a terminal; without one,
/// only `-y` lets them happen (else nothing changes at all, exit 130).
pub fn confirm_removals(plan: &Plan, yes: bool, scope: &str) -> Result<()> {
    let doomed = plan.removals();
    if doomed.is_empty() || yes {
        return Ok(());
    }
    let question = format!(
        "Unregister from {scope} and remove {} runner(s): {}?",
        doomed.len(),
        doomed.join(", ")
    );
    if ui::confirm(&question)? {
        Ok(())
    } else {
        Err(Error::Cancelled("cancelled; nothing was changed".into()))
    }
}

pub fn report_kept(plan: &Plan) {
    for note in &plan.notes {
        ui::info(&format!("{}: {}", note.runner, note.why));
    }
    for kept in &plan.kept {
        ui::warn(&format!("{}: {}", kept.runner, kept.why));
    }
}

/// Ok, unless a runner failed or had to be kept (each already reported).
pub fn kept_result(plan: &Plan, outcome: &apply::Outcome) -> Result<()> {
    let failed = outcome.failed.len();
    let kept = plan.kept.len() + outcome.kept.len();
    if failed + kept == 0 {
        return Ok(());
    }
    let mut parts = Vec::new();
    if failed > 0 {
        parts.push(format!("{failed} runner(s) failed"));
    }
    if kept > 0 {
        parts.push(format!("{kept} runner(s) were kept busy"));
    }
    Err(Error::Partial(format!(
        "{}; run the command again to finish",
        parts.join(" and ")
    )))
}

/// The shared lock directory must exist, usable by the runners (the lock group) and root only,
/// before compose mounts it.
pub fn prepare_lock_dir(settings: &Settings) -> Result<()> {
    let path = Path::new(&settings.lock_host_path);
    let gid = settings.lock_group;
    match crate::lockdir::prepare(path, gid)? {
        crate::lockdir::Prepared::Created => ui::info(&format!(
            "Created the lock directory {} (root:{gid}, mode 2770: root and the runners' lock group only)",
            path.display()
        )),
        crate::lockdir::Prepared::Secured { from } => ui::info(&format!(
            "Secured the lock directory {} ({from} -> root:{gid} mode 2770, and what is inside): only root and the runners' lock group may use it",
            path.display()
        )),
        crate::lockdir::Prepared::Ready => {}
    }
    Ok(())
}
