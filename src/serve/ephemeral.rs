//! The supervisor of one-job (ephemeral) runners: it replaces each ended one with a fresh
//! runner (a new container on a new, empty volume, with a JIT configuration from GitHub;
//! `world::ephemeral`, decided in `plan::ephemeral`). `ghr serve` holds the fleets'
//! credentials; containers never do.
//!
//! It reads nothing while nothing ended: it looks at serve's own Docker view (kept fresh by
//! `docker events`, see `refresh`), and only a runner that ended there starts a look of its
//! own (under the fleet lock: a `docker ps`, and per ended runner an inspect and a stat).

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::state::{Hub, Snapshot};
use crate::config::settings::Settings;
use crate::model::fleet::Side;
use crate::plan::ephemeral::Supervise;
use crate::world::docker::Docker;
use crate::world::notify;
use crate::world::remote::Remote;

/// How soon a look that left something to do (a replacement GitHub or Docker refused, a
/// runner waiting for its board) is made again; also the pace while Docker's side is unknown.
pub const POLL: Duration = Duration::from_secs(1);
/// How often ended runners that were looked at are looked at again anyway: serve's view may
/// have missed a generation that ran and ended between two of its reads.
pub const RECHECK: Duration = Duration::from_secs(10);

/// What the supervisor knows of one fleet since its last look.
#[derive(Debug, Clone)]
pub struct Looked {
    /// The ended one-job runners in serve's view at the last check.
    pub ended: BTreeSet<String>,
    /// When it last looked itself.
    pub at: Instant,
    /// Whether that look left something to do again.
    pub again: bool,
}

/// Whether to look at a fleet now, given the ended one-job runners in serve's Docker view
/// (`None`: Docker's side is unknown there).
pub fn due(ended: Option<&BTreeSet<String>>, last: &Looked, now: Instant) -> bool {
    let since = now.saturating_duration_since(last.at);
    match ended {
        None => since >= POLL,
        Some(ended) if ended.is_empty() => false,
        Some(ended) => {
            !ended.is_subset(&last.ended) || (last.again && since >= POLL) || since >= RECHECK
        }
    }
}

/// One supervised fleet: its index in the hub, settings, directory and GitHub.
struct Fleet {
    index: usize,
    settings: Settings,
    dir: PathBuf,
    remote: Option<Remote>,
}

/// Starts the supervisor for the fleets that have ephemeral runners (`dirs[i]`: the
/// directory of `settings[i]`'s file, `settings[i]` the hub's fleet `i`); nothing when none
/// has.
pub fn start(hub: Arc<Hub>, settings: Vec<Settings>, dirs: Vec<PathBuf>) {
    let mut fleets = Vec::new();
    for (index, (s, d)) in settings.into_iter().zip(dirs).enumerate() {
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
        fleets.push(Fleet {
            index,
            settings: s,
            dir: d,
            remote,
        });
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

/// The ended one-job runners of `fleet` in serve's Docker view.
/// Which runners are one-job runners is read (from the settings and the compose file) only
/// when some container of the view ended.
fn ended_in_view(snapshot: &Snapshot, fleet: &Fleet) -> Option<BTreeSet<String>> {
    match &snapshot.fleets.get(fleet.index)?.docker {
        Side::Known(local) if local.runners.iter().any(|c| c.state.has_ended()) => Some(
            crate::world::ephemeral::ended_names(&fleet.settings, &fleet.dir, &local.runners)
                .into_iter()
                .collect(),
        ),
        Side::Known(_) => Some(BTreeSet::new()),
        Side::Unknown(_) => None,
    }
}

fn watch(hub: &Hub, fleets: &[Fleet]) {
    let docker = Docker::new();
    let mut said: Vec<BTreeSet<String>> = fleets.iter().map(|_| BTreeSet::new()).collect();
    // Never looked: whatever ended before serve started is due at once.
    let long_ago = Instant::now()
        .checked_sub(RECHECK)
        .unwrap_or_else(Instant::now);
    let mut looked: Vec<Looked> = fleets
        .iter()
        .map(|_| Looked {
            ended: BTreeSet::new(),
            at: long_ago,
            again: false,
        })
        .collect();
    let mut seen = 0;
    while !hub.stopped() {
        let snapshot = hub.snapshot();
        for ((fleet, said), last) in fleets.iter().zip(said.iter_mut()).zip(looked.iter_mut()) {
            let ended = ended_in_view(&snapshot, fleet);
            let now = Instant::now();
            if !due(ended.as_ref(), last, now) {
                if let Some(ended) = ended {
                    last.ended = ended;
                }
                continue;
            }
            last.again = look(fleet, &docker, said);
            last.at = now;
            last.ended = ended.unwrap_or_default();
        }
        // Woken by any change of serve's view; at the latest when a look is due again.
        seen = hub.wait_change(seen, POLL);
    }
}

/// One look of its own at `fleet`, saying what it did (each waiting or failing runner once);
/// whether something is left to do again.
fn look(fleet: &Fleet, docker: &Docker, said: &mut BTreeSet<String>) -> bool {
    let settings = &fleet.settings;
    let scope = settings.scope_label();
    match crate::world::ephemeral::supervise_fleet(
        settings,
        &fleet.dir,
        docker,
        fleet.remote.as_ref(),
    ) {
        Ok(decisions) => {
            let mut again = false;
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
                again = true;
                if said.insert(line.clone()) {
                    notify::info(&format!("serve: {scope}: {line}"));
                }
            }
            again
        }
        Err(e) => {
            let line = format!("ephemeral runners: {e}");
            if said.insert(line.clone()) {
                notify::info(&format!("serve: {scope}: {line}"));
            }
            true
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fleet_is_looked_at_when_a_runner_newly_ended_or_a_look_is_due_again() {
        let t0 = Instant::now();
        let set = |names: &[&str]| names.iter().map(|n| n.to_string()).collect::<BTreeSet<_>>();
        let looked = |ended: &[&str], again: bool| Looked {
            ended: set(ended),
            at: t0,
            again,
        };
        let soon = t0 + Duration::from_millis(100);
        let after_poll = t0 + POLL;
        let after_recheck = t0 + RECHECK;
        for (view, last, now, want, why) in [
            (
                Some(set(&[])),
                looked(&[], false),
                after_recheck,
                false,
                "nothing ended: nothing read",
            ),
            (
                Some(set(&["r1"])),
                looked(&[], false),
                soon,
                true,
                "r1 newly ended",
            ),
            (
                Some(set(&["r1", "r2"])),
                looked(&["r1"], false),
                soon,
                true,
                "r2 newly ended",
            ),
            (
                Some(set(&["r1"])),
                looked(&["r1"], false),
                after_poll,
                false,
                "r1 was dealt with (stopped on purpose)",
            ),
            (
                Some(set(&["r1"])),
                looked(&["r1"], true),
                soon,
                false,
                "a retry waits for POLL",
            ),
            (
                Some(set(&["r1"])),
                looked(&["r1"], true),
                after_poll,
                true,
                "its replacement failed: again",
            ),
            (
                Some(set(&["r1"])),
                looked(&["r1"], false),
                after_recheck,
                true,
                "a generation the view missed",
            ),
            (
                None,
                looked(&[], false),
                soon,
                false,
                "Docker unknown: at the pace of POLL",
            ),
            (
                None,
                looked(&[], false),
                after_poll,
                true,
                "Docker unknown: a look of its own",
            ),
        ] {
            assert_eq!(due(view.as_ref(), &last, now), want, "{why}");
        }
    }
}
