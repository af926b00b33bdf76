//! `ghr rm [NAME...] [-y]` and `ghr purge [-y] [--env]`: unregister from GitHub, then remove
//! containers and volumes; only this prefix's. Through the planner: a runner busy with a job
//! is reported and kept, with all of its things.

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
    remove(settings, &args.names, args.yes, "")
}

pub fn purge(settings: &Settings, args: PurgeArgs) -> Result<()> {
    let mut files = vec![
        settings.reg_token_cache_file.clone(),
        crate::world::token_cache::TokenCache::new(&settings.reg_token_cache_file, 0).lock_path(),
        settings.dockerfile_hash_file.clone(),
    ];
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
        &format!(" and delete {}", shown.join(", ")),
    )?;
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

fn remove(settings: &Settings, names: &[String], yes: bool, also: &str) -> Result<()> {
    let docker = Docker::new();
    let remote = Remote::connect(settings)?;
    let snapshot = crate::world::observe::snapshot(settings, &docker, Some(&remote))?;
    let ours: Vec<String> = snapshot
        .github
        .iter()
        .flatten()
        .filter(|g| crate::model::fleet::is_ours(&settings.prefix, &g.name))
        .map(|g| g.name.clone())
        .collect();
    let mut targets = Targets::new(settings, &[], &snapshot.local.runners);
    targets.add(ours);
    let targets = targets.resolve(names)?;
    let image = crate::world::image::configured_image(settings, Path::new("."));
    let plan = plan::plan(&plan::Inputs {
        prefix: &settings.prefix,
        desired: &[],
        specs: &Default::default(),
        image: &plan::ImageState {
            reference: image.clone(),
            id: None,
            build: None,
        },
        compose: None,
        local: &snapshot.local.runners,
        volumes: &snapshot.local.volumes,
        github: snapshot.github.as_deref(),
        group: None,
        intent: &Intent::Remove { targets },
    });
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
    let question = format!(
        "Unregister {} from {}, remove {} and {} of prefix {}{also}?",
        count(unregister, "runner"),
        settings.scope_label(),
        count(containers, "container"),
        count(volumes, "volume"),
        settings.prefix
    );
    if !yes && !ui::confirm(&question)? {
        return Err(Error::Cancelled("cancelled; nothing was removed".into()));
    }
    report_kept(&plan);
    let outcome = apply::apply(
        &Context {
            settings,
            docker: &docker,
            remote: Some(&remote),
            compose: None,
            desired: &[],
            image: &image,
            build_hash: None,
            dir: Path::new("."),
            token: None,
        },
        &plan,
    )?;
    kept_result(&plan, &outcome)
}
