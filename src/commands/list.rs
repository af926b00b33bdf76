//! `ghr list [--json]`: local containers beside GitHub's runners of this prefix.

use super::lifecycle;
use super::remote::Remote;
use crate::cli::ListArgs;
use crate::docker::{Docker, DockerError};
use crate::fleet;
use crate::settings::Settings;
use crate::ui;
use anyhow::Result;

pub fn run(settings: &Settings, args: ListArgs) -> Result<()> {
    let docker = Docker::new();
    // Bad settings are refused before anything is asked.
    let remote = Remote::connect(settings)?;
    // Each side is shown even when the other cannot be reached; the exit code still says so.
    let local = lifecycle::containers(settings, &docker);
    let github = remote.list();
    if let Err(e) = &local {
        eprintln!("warning: cannot read containers ({e:#}); showing GitHub's side only");
    }
    if let Err(e) = &github {
        eprintln!("warning: cannot list GitHub's runners ({e:#}); showing local containers only");
    }
    let members = fleet::join(
        &settings.prefix,
        local.as_ref().cloned().unwrap_or_default(),
        github.as_ref().cloned().unwrap_or_default(),
    );
    if args.json {
        println!("{}", ui::fleet_json(&members));
    } else if members.is_empty() {
        println!(
            "no runners of prefix {} (locally or on {})",
            settings.prefix,
            settings.scope_label()
        );
    } else {
        println!("{}", ui::fleet_table(&members));
    }
    match (local, github) {
        (Err(e), _) => Err(DockerError(format!("Docker is unreachable: {e:#}")).into()),
        (_, Err(e)) => Err(e),
        _ => Ok(()),
    }
}
