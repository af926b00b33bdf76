//! The device watcher: boards get unplugged and come back, often as another node
//! (`ttyUSB0` → `ttyUSB1`), and Docker fixes a device's node when it creates a container.
//! So every second this thread looks at the board device paths of the fleets it serves (a
//! `stat` and a `readlink` each: cheap, and no udev needed — inside a container, or on a
//! host without udev's socket, a poll still works) and, when one appears, goes, or leads to
//! another node, brings that fleet's board runners in line (`world::replug`): parked while a
//! device is gone, started when it is back, created anew on the new node, never while a job
//! runs (it looks again every `WAIT_RETRY` until the job ends).

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::state::Hub;
use crate::config::settings::Settings;
use crate::plan::Replug;
use crate::world::docker::Docker;
use crate::world::notify;
use crate::world::replug::{board_devices, converge, missing_by_runner, BoardDevice};

pub const DEVICE_POLL: Duration = Duration::from_secs(1);

/// Starts the watcher for the fleets that have board devices (`dirs[i]`: the directory of
/// `settings[i]`'s file); nothing when none has.
pub fn start(hub: Arc<Hub>, settings: Vec<Settings>, dirs: Vec<PathBuf>) {
    let fleets: Vec<(usize, Settings, PathBuf)> = settings
        .into_iter()
        .zip(dirs)
        .enumerate()
        .filter(|(_, (s, _))| s.boards.iter().any(|b| !b.hardware.devices.is_empty()))
        .map(|(i, (s, d))| (i, s, d))
        .collect();
    if fleets.is_empty() {
        return;
    }
    std::thread::Builder::new()
        .name("serve-devices".into())
        .stack_size(256 * 1024)
        .spawn(move || watch(&hub, &fleets))
        .expect("start the device watcher");
}

/// How soon a fleet whose runner had to wait (a job runs, another ghr holds the fleet, Docker
/// failed) is looked at again when its devices did not change meanwhile.
pub const WAIT_RETRY: Duration = Duration::from_secs(5);

/// One fleet's watch.
#[derive(Default)]
struct Watched {
    /// Its devices when its runners were last brought in line (`None`: not yet, or one had
    /// to wait).
    in_line: Option<Vec<BoardDevice>>,
    /// Its devices at the last try, and when to try again if they stay so.
    tried: Option<Vec<BoardDevice>>,
    retry_at: Option<Instant>,
    /// What was said of its waits and errors, so each is said once, not every try.
    said: BTreeSet<String>,
}

fn watch(hub: &Hub, fleets: &[(usize, Settings, PathBuf)]) {
    let docker = Docker::new();
    let mut watched: Vec<Watched> = fleets.iter().map(|_| Watched::default()).collect();
    while !hub.stopped() {
        for ((fleet, settings, dir), w) in fleets.iter().zip(watched.iter_mut()) {
            let now = board_devices(settings);
            if w.in_line.as_ref() == Some(&now) {
                continue;
            }
            let changed = w.tried.as_ref() != Some(&now);
            if !changed && w.retry_at.is_some_and(|at| Instant::now() < at) {
                continue;
            }
            hub.set_missing_devices(*fleet, missing_by_runner(&now));
            let scope = settings.scope_label();
            w.in_line = match converge(settings, dir, &docker) {
                Ok(decisions) => {
                    report(&scope, &decisions);
                    let waits: Vec<String> = decisions
                        .iter()
                        .filter_map(|(runner, d)| match d {
                            Replug::Wait(why) if runner.is_empty() => Some(why.clone()),
                            Replug::Wait(why) => Some(format!("{runner} {why}")),
                            _ => None,
                        })
                        .collect();
                    say_once(&mut w.said, &scope, &waits);
                    waits.is_empty().then(|| now.clone())
                }
                Err(e) => {
                    say_once(&mut w.said, &scope, &[format!("board devices: {e}")]);
                    None
                }
            };
            if w.in_line.is_some() {
                w.said.clear();
            }
            w.tried = Some(now);
            w.retry_at = Some(Instant::now() + WAIT_RETRY);
        }
        std::thread::sleep(DEVICE_POLL);
    }
}

fn say_once(said: &mut BTreeSet<String>, scope: &str, lines: &[String]) {
    for line in lines {
        if said.insert(line.clone()) {
            notify::info(&format!("serve: {scope}: {line}"));
        }
    }
}

/// One line per change made.
fn report(scope: &str, decisions: &[(String, Replug)]) {
    for (runner, decision) in decisions {
        let line = match decision {
            Replug::Park(why) => format!("parked {runner} (created anew, not started): {why}"),
            Replug::Start(why) => format!("started {runner}: {why}"),
            Replug::Recreate(why) => format!("created {runner} anew and started it: {why}"),
            Replug::Nothing | Replug::Wait(_) => continue,
        };
        notify::info(&format!("serve: {scope}: {line}"));
    }
}
