//! `ghr init [-n N]`: compose file, image, containers created, unconfigured runners
//! registered, configured runners started. Safe to run again: it converges.

use super::lifecycle::{self, Registration};
use super::remote::Remote;
use crate::cli::CountArgs;
use crate::docker::Docker;
use crate::fleet;
use crate::settings::Settings;
use anyhow::Result;

pub fn run(settings: &Settings, args: CountArgs) -> Result<()> {
    let count = args.count.unwrap_or(settings.runner_count);
    // Everything that can be refused is refused before GitHub, a file or a container is touched.
    fleet::check_names(&fleet::desired(settings, count))?;
    super::compose::ensure_ours(settings)?;
    let shared_lock_dir = crate::wrapper::for_fleet(settings)?.is_some();
    let docker = Docker::new();
    let remote = Remote::connect(settings)?;
    // A runner without a container will need registering: get the (cached) token before
    // anything is built, written or created, so a rejected PAT changes nothing.
    let existing = lifecycle::containers(settings, &docker)?;
    let missing = fleet::desired(settings, count)
        .iter()
        .any(|r| !existing.iter().any(|c| c.name == r.name));
    if missing {
        remote.registration_token()?;
    }
    let image = crate::image::ensure(settings, &docker, std::path::Path::new("."), false)?.image;
    super::compose::write(settings, count, &image)?;
    if shared_lock_dir {
        prepare_lock_dir(settings)?;
    }
    let file = &settings.compose_file;
    // Containers and volumes exist after this, but nothing runs: an unconfigured runner
    // would only exit and be restarted, over and over.
    docker.compose_up(file, false, &[])?;

    let desired: Vec<String> = fleet::desired(settings, count)
        .into_iter()
        .map(|r| r.name)
        .collect();
    let all = lifecycle::containers(settings, &docker)?;
    let extra: Vec<&str> = all
        .iter()
        .map(|c| c.name.as_str())
        .filter(|n| !desired.iter().any(|d| d == n))
        .collect();
    if !extra.is_empty() {
        eprintln!(
            "warning: {} not in the compose file any more; `ghr rm` removes them",
            extra.join(", ")
        );
    }
    let targets: Vec<_> = all
        .into_iter()
        .filter(|c| desired.contains(&c.name))
        .collect();
    let registrations = lifecycle::register(settings, &docker, &remote, &targets, false);
    let outcomes = &registrations.outcomes;
    let ready: Vec<String> = targets
        .iter()
        .zip(outcomes)
        .filter(|(_, o)| !matches!(o, Registration::Failed(_)))
        .map(|(c, _)| c.name.clone())
        .collect();
    if !ready.is_empty() {
        docker.compose_up(file, true, &ready)?;
    }
    println!(
        "{} of {} runners of {} are up ({}, image {image})",
        ready.len(),
        targets.len(),
        settings.scope_label(),
        file.display()
    );
    registrations.result("run `ghr init` again to retry them")
}

/// The shared lock directory must exist, usable by every runner user, before compose mounts it.
pub fn prepare_lock_dir(settings: &Settings) -> Result<()> {
    let path = std::path::Path::new(&settings.lock_host_path);
    match crate::lockdir::prepare(path)? {
        crate::lockdir::Prepared::Created => {
            eprintln!("Created the lock directory {} (mode 1777)", path.display())
        }
        crate::lockdir::Prepared::Widened { from } => eprintln!(
            "Made the lock directory {} usable by every runner user (mode {from:04o} -> 1777)",
            path.display()
        ),
        crate::lockdir::Prepared::Ready => {}
    }
    Ok(())
}
