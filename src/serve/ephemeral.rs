//! The supervisor of one-job (ephemeral) runners: every second it looks at the fleets' ended
//! ephemeral containers and replaces each with a fresh runner (a new container on a new,
//! empty volume, with a JIT configuration from GitHub; `world::ephemeral`, decided in
//! `plan::ephemeral`). `ghr serve` holds the fleets' credentials; containers never do.
//! A poll (a `docker ps` and, for an ended runner, an inspect and a `docker cp`) keeps a
//! replacement within the second plus its own time, with nothing to resubscribe.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use super::state::Hub;
use crate::config::settings::Settings;
use crate::plan::ephemeral::Supervise;
use crate::world::docker::Docker;
use crate::world::notify;
use crate::world::remote::Remote;

pub const POLL: Duration = Duration::from_secs(1);

/// Starts the supervisor for the fleets that have ephemeral runners (`dirs[i]`: the
/// directory of `settings[i]`'s file); nothing when none has.
pub fn start(hub: Arc<Hub>, settings: Vec<Settings>, dirs: Vec<PathBuf>) {
    let mut fleets = Vec::new();
    for (s, d) in settings.into_iter().zip(dirs) {
        let any = s.ephemeral || s.boards.iter().any(|b| b.ephemeral == Some(true));
        if !any {
            continue;
        }
        let remote = match Remote::connect_if_possible(&s) {
            Ok(r) => r,
            Err(e) => {
                notify::warn(&format!(
                    "serve: {}: ephemeral runners will not be replaced: {e}",
                    s.scope_label()
                ));
                None
            }
        };
        fleets.push((s, d, remote));
    }
    if fleets.is_empty() {
        return;
    }
    std::thread::Builder::new()
        .name("serve-ephemeral".into())
        .stack_size(512 * 1024)
        .spawn(move || watch(&hub, &fleets))
        .expect("start the ephemeral runners' supervisor");
}

fn watch(hub: &Hub, fleets: &[(Settings, PathBuf, Option<Remote>)]) {
    let docker = Docker::new();
    let mut said: Vec<BTreeSet<String>> = fleets.iter().map(|_| BTreeSet::new()).collect();
    while !hub.stopped() {
        for ((settings, dir, remote), said) in fleets.iter().zip(said.iter_mut()) {
            let scope = settings.scope_label();
            match crate::world::ephemeral::supervise_fleet(settings, dir, &docker, remote.as_ref())
            {
                Ok(decisions) => {
                    for (runner, decision, error) in decisions {
                        let line = match (decision, error) {
                            (Supervise::Replace(why), None) => {
                                said.retain(|l| !l.starts_with(&runner));
                                notify::info(&format!(
                                    "serve: {scope}: replaced {runner} with a fresh runner: {why}"
                                ));
                                continue;
                            }
                            (Supervise::Replace(_), Some(e)) => {
                                format!("{runner} could not be replaced: {e}")
                            }
                            (Supervise::Wait(why), _) => format!("{runner} waits: {why}"),
                            (Supervise::Nothing, _) => continue,
                        };
                        if said.insert(line.clone()) {
                            notify::info(&format!("serve: {scope}: {line}"));
                        }
                    }
                }
                Err(e) => {
                    let line = format!("ephemeral runners: {e}");
                    if said.insert(line.clone()) {
                        notify::info(&format!("serve: {scope}: {line}"));
                    }
                }
            }
        }
        std::thread::sleep(POLL);
    }
}
