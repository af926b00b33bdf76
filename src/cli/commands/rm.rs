//! `ghr rm [NAME...] [-y] [--local]` and `ghr purge [-y] [--env] [--local]`: unregister from
//! GitHub, then remove containers and volumes; only this prefix's. Through the planner: a
//! runner busy with a job is reported and kept, with all of its things. With `--local`
//! GitHub is not asked (a revoked PAT, an unreachable GitHub must not keep a leaving user's
//! containers and volumes): those go, the registrations stay, and ghr says which.

use crate::cli::args::{PurgeArgs, RmArgs};
use crate::cli::carry_out::{kept_result, report_kept};
use crate::cli::targets::Targets;
use crate::cli::ui;
use crate::config::settings::Settings;
use crate::plan::{self, Action, Intent, Plan};
use crate::world::apply::{self, Context};
use crate::world::docker::Docker;
use crate::world::error::{Error, Result};
use crate::world::remote::Remote;
use std::path::Path;

pub fn run(settings: &Settings, args: RmArgs) -> Result<()> {
    remove(settings, &args.names, args.yes, args.local, "")
}

pub fn purge(settings: &Settings, args: PurgeArgs) -> Result<()> {
    let mut files = vec![
        settings.reg_token_cache_file.clone(),
        crate::world::token_cache::TokenCache::new(&settings.reg_token_cache_file, 0).lock_path(),
        settings.dockerfile_hash_file.clone(),
    ];
    // A GitHub App's installation-token cache sits beside the registration-token cache.
    if settings.app.is_some() {
        let scope =
            crate::world::github::Scope::from_settings(&settings.org, settings.repo.as_deref());
        files.push(crate::world::github::app_token_cache_path(
            &settings.reg_token_cache_file,
            &scope,
        ));
    }
    // Only a compose file ghr wrote: COMPOSE_FILE may name somebody else's.
    if crate::world::compose_file::is_ours(&settings.compose_file) {
        files.insert(0, settings.compose_file.clone());
    } else {
        ui::warn(&format!(
            "{} is not a file ghr generated; it is kept",
            settings.compose_file.display()
        ));
    }
    if args.env {
        files.push(settings.env_path.clone());
    }
    let shown: Vec<String> = files.iter().map(|f| f.display().to_string()).collect();
    remove(
        settings,
        &[],
        args.yes,
        args.local,
        &format!(" and delete {}", shown.join(", ")),
    )
    .map_err(|e| {
        e.hint(
            "`ghr purge --local` removes them without GitHub (their registrations stay on GitHub)",
        )
    })?;
    for file in &files {
        match std::fs::remove_file(file) {
            Ok(()) => ui::result(&format!("deleted {}", file.display())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(Error::io(format!("cannot delete {}", file.display()), e)),
        }
    }
    Ok(())
}

fn count(plan: &Plan, matches: impl Fn(&Action) -> usize) -> usize {
    plan.steps.iter().map(|s| matches(&s.action)).sum()
}

/// A missing GH_PAT (no GitHub to ask) says that `ghr <command> --local` exists.
pub fn without_pat(error: Error, command: &str) -> Error {
    match &error {
        Error::Config(m) if m.starts_with("GH_PAT is not set") => error.hint(format!(
            "or `ghr {command} --local` removes the containers and volumes without GitHub (their registrations stay on GitHub)"
        )),
        _ => error,
    }
}

/// What `rm` says when GitHub cannot be asked.
const LOCAL_HINT: &str =
    "`ghr rm --local` removes the containers and volumes without GitHub (their registrations stay on GitHub)";

fn remove(settings: &Settings, names: &[String], yes: bool, local: bool, also: &str) -> Result<()> {
    let docker = Docker::new();
    let remote = match local {
        true => None,
        false => Some(Remote::connect(settings).map_err(|e| e.hint(LOCAL_HINT))?),
    };
    let snapshot =
        crate::world::observe::snapshot(settings, &docker, remote.as_ref()).map_err(|e| {
            match remote {
                Some(_) => e.hint(LOCAL_HINT),
                None => e,
            }
        })?;
    let ours: Vec<String> = snapshot
        .github
        .iter()
        .flatten()
        .filter(|g| crate::model::fleet::is_ours(&settings.prefix, &g.name))
        .map(|g| g.name.clone())
        .collect();
    let mut targets = Targets::new(settings, &[], &snapshot.local.runners);
    targets.add(ours);
    targets.add(
        snapshot
            .local
            .volumes
            .iter()
            .map(|(_, r)| r.clone())
            .collect::<Vec<String>>(),
    );
    let targets = targets.resolve(names)?;
    let image = crate::world::image::configured_image(settings, Path::new("."));
    let image_state = plan::ImageState {
        reference: image.clone(),
        id: None,
        build: None,
    };
    let specs = Default::default();
    let intent = Intent::Remove { targets };
    let inputs = plan::Inputs {
        prefix: &settings.prefix,
        desired: &[],
        specs: &specs,
        image: &image_state,
        compose: None,
        local: &snapshot.local.runners,
        volumes: &snapshot.local.volumes,
        github: snapshot.github.as_deref(),
        group: None,
        intent: &intent,
        devices: &[],
    };
    let plan = plan::plan(&inputs);
    if plan.is_empty() && plan.kept.is_empty() && also.is_empty() {
        ui::result(&format!("nothing to remove for prefix {}", settings.prefix));
        return Ok(());
    }
    let unregister = count(&plan, |a| matches!(a, Action::Unregister { .. }) as usize);
    let containers = count(&plan, |a| matches!(a, Action::RemoveContainer) as usize);
    let volumes = count(&plan, |a| match a {
        Action::RemoveVolumes { volumes } => volumes.len(),
        _ => 0,
    });
    let count = crate::world::notify::count;
    let question = match local {
        false => format!(
            "Unregister {} from {}, remove {} and {} of prefix {}{also}?",
            count(unregister, "runner"),
            settings.scope_label(),
            count(containers, "container"),
            count(volumes, "volume"),
            settings.prefix
        ),
        true => format!(
            "Remove {} and {} of prefix {}{also}, without asking GitHub (their registrations stay on GitHub)?",
            count(containers, "container"),
            count(volumes, "volume"),
            settings.prefix
        ),
    };
    if !yes && !ui::confirm(&question)? {
        return Err(Error::Cancelled("cancelled; nothing was removed".into()));
    }
    report_kept(&plan);
    let outcome = apply::apply(
        &Context {
            settings,
            docker: &docker,
            remote: remote.as_ref(),
            compose: None,
            desired: &[],
            image: &image,
            build_hash: None,
            dir: Path::new("."),
            token: None,
        },
        &plan,
    )?;
    if local {
        say_what_stays(settings, &inputs, &plan);
    }
    kept_result(&plan, &outcome)
}

/// After `--local`: the registrations left on GitHub, and what becomes of them.
fn say_what_stays(settings: &Settings, inputs: &plan::Inputs, plan: &Plan) {
    let (sure, perhaps) = plan::staying_registrations(inputs, plan);
    if sure.is_empty() && perhaps.is_empty() {
        return;
    }
    let mut said = Vec::new();
    if !sure.is_empty() {
        said.push(format!(
            "these registrations stay on GitHub ({}): {}",
            settings.scope_label(),
            sure.join(", ")
        ));
    }
    if !perhaps.is_empty() {
        said.push(format!(
            "{} had only a volume left, so whether GitHub has {} was not known",
            perhaps.join(", "),
            if perhaps.len() == 1 { "it" } else { "them" }
        ));
    }
    ui::warn(&format!(
        "{}; GitHub deletes self-hosted runners that were offline for 14 days, or remove them now in the settings of {} (Actions > Runners), or with `ghr rm` once GitHub answers",
        said.join("; "),
        settings.scope_label()
    ));
}
