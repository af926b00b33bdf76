//! The device watcher: boards get unplugged and come back, often as another node
//! (`ttyUSB0` → `ttyUSB1`), and Docker fixes a device's node when it creates a container.
//! So every second this thread looks at the board device paths of the fleets it serves (a
//! `stat` and a `readlink` each: cheap, and no udev needed — inside a container, or on a
//! host without udev's socket, a poll still works) and, when one appears, goes, or leads to
//! another node, brings that fleet's board runners in line (`world::replug`): stopped while a
//! device is gone, started when it is back, created anew on the new node, never while a job
//! runs (it asks again every second until the job ends).

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

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

fn watch(hub: &Hub, fleets: &[(usize, Settings, PathBuf)]) {
    let docker = Docker::new();
    // What each fleet's devices were when it was last brought in line; `None`: not yet, or
    // a runner was waiting (for a job's end, the fleet lock): look again.
    let mut seen: Vec<Option<Vec<BoardDevice>>> = vec![None; fleets.len()];
    while !hub.stopped() {
        for (i, (fleet, settings, dir)) in fleets.iter().enumerate() {
            let now = board_devices(settings);
            if seen[i].as_ref() == Some(&now) {
                continue;
            }
            hub.set_missing_devices(*fleet, missing_by_runner(&now));
            seen[i] = match converge(settings, dir, &docker) {
                Ok(decisions) => {
                    report(settings, &decisions);
                    let waits = decisions.iter().any(|(_, d)| matches!(d, Replug::Wait(_)));
                    (!waits).then_some(now)
                }
                Err(e) => {
                    notify::warn(&format!(
                        "serve: board devices of {}: {e}",
                        settings.scope_label()
                    ));
                    None
                }
            };
        }
        std::thread::sleep(DEVICE_POLL);
    }
}

/// One line per change made (a wait is asked again every second, and said by what it
/// waits for: the job's end shows on the page).
fn report(settings: &Settings, decisions: &[(String, Replug)]) {
    for (runner, decision) in decisions {
        let line = match decision {
            Replug::Stop(why) => format!("stopped {runner}: {why}"),
            Replug::Start(why) => format!("started {runner}: {why}"),
            Replug::Recreate(why) => format!("created {runner} anew and started it: {why}"),
            Replug::Nothing | Replug::Wait(_) => continue,
        };
        notify::info(&format!("serve: {}: {line}", settings.scope_label()));
    }
}
