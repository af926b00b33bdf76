//! `ghr rm [NAME...] [-y]` and `ghr purge [-y] [--env]`: unregister from GitHub, then remove
//! containers and volumes; only this prefix's, found by label and by name.

use super::lifecycle;
use super::remote::{Deleted, Remote};
use crate::cli::{PurgeArgs, RmArgs};
use crate::compose::label;
use crate::docker::Docker;
use crate::exit::Cancelled;
use crate::fleet::{self, Member};
use crate::settings::Settings;
use crate::ui;
use anyhow::Result;

/// How many DELETE requests run at once.
const DELETE_CONCURRENCY: usize = 8;

pub fn run(settings: &Settings, args: RmArgs) -> Result<()> {
    remove(settings, &args.names, args.yes, "")
}

pub fn purge(settings: &Settings, args: PurgeArgs) -> Result<()> {
    let mut files = vec![
        settings.compose_file.clone(),
        settings.reg_token_cache_file.clone(),
        crate::token_cache::TokenCache::new(&settings.reg_token_cache_file, 0).lock_path(),
        settings.dockerfile_hash_file.clone(),
    ];
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
            Ok(()) => println!("deleted {}", file.display()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => anyhow::bail!("cannot delete {}: {e}", file.display()),
        }
    }
    Ok(())
}

fn remove(settings: &Settings, names: &[String], yes: bool, also: &str) -> Result<()> {
    let docker = Docker::new();
    let containers = lifecycle::containers(settings, &docker)?;
    let remote = Remote::connect(settings)?;
    let members = fleet::join(&settings.prefix, containers, remote.list()?);
    let known: Vec<String> = members.iter().map(|m| m.name.clone()).collect();
    let targets: Vec<&Member> = if names.is_empty() {
        members.iter().collect()
    } else {
        let picked = lifecycle::pick(settings, &known, names)?;
        members
            .iter()
            .filter(|m| picked.contains(&m.name))
            .collect()
    };
    let volumes: Vec<(String, String)> = docker
        .volumes_labeled(label::PREFIX, &settings.prefix)?
        .into_iter()
        .filter(|(_, runner)| names.is_empty() || targets.iter().any(|m| &m.name == runner))
        .collect();

    let on_github = targets.iter().filter(|m| m.github.is_some()).count();
    let with_container = targets.iter().filter(|m| m.container.is_some()).count();
    if on_github + with_container + volumes.len() == 0 && also.is_empty() {
        println!("nothing to remove for prefix {}", settings.prefix);
        return Ok(());
    }
    let question = format!(
        "Unregister {on_github} runners from {}, remove {with_container} containers and {} volumes of prefix {}{also}?",
        settings.scope_label(),
        volumes.len(),
        settings.prefix
    );
    if !yes && !ui::confirm(&question)? {
        return Err(Cancelled("cancelled; nothing was removed".into()).into());
    }

    // GitHub first: a runner busy with a job keeps its container, so the job can finish.
    let registered: Vec<&Member> = targets
        .iter()
        .copied()
        .filter(|m| m.github.is_some())
        .collect();
    let deletions = crate::concurrent::map_bounded(&registered, DELETE_CONCURRENCY, |m| {
        remote.delete(m.github.as_ref().expect("filtered on github"))
    });
    let mut kept: Vec<String> = Vec::new();
    for (m, outcome) in registered.iter().zip(deletions) {
        match outcome {
            Ok(Deleted::Removed) => println!("unregistered {}", m.name),
            Ok(Deleted::Gone) => println!("{} was already unregistered", m.name),
            Ok(Deleted::Busy) => {
                eprintln!(
                    "error: {} is running a job; it stays registered and its container is kept",
                    m.name
                );
                kept.push(m.name.clone());
            }
            Err(e) => {
                eprintln!(
                    "error: cannot unregister {}: {e:#}; its container is kept",
                    m.name
                );
                kept.push(m.name.clone());
            }
        }
    }
    let doomed: Vec<String> = targets
        .iter()
        .filter(|m| m.container.is_some() && !kept.contains(&m.name))
        .map(|m| m.name.clone())
        .collect();
    docker.remove_containers(&doomed)?;
    for name in &doomed {
        println!("removed container {name}");
    }
    let doomed_volumes: Vec<String> = volumes
        .into_iter()
        .filter(|(_, runner)| !kept.contains(runner))
        .map(|(v, _)| v)
        .collect();
    docker.remove_volumes(&doomed_volumes)?;
    if !doomed_volumes.is_empty() {
        println!("removed {} volumes", doomed_volumes.len());
    }
    lifecycle::partial(
        kept.len(),
        &format!(
            "{} of {} runners were kept; run `ghr rm` again once their jobs are done",
            kept.len(),
            targets.len()
        ),
    )
}
