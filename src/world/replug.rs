//! Board runners brought in line with their devices as they are now (the effects of
//! `plan::replug`): parked (created anew, not started) when a device is gone, started when it
//! is back, created anew when it came back as another node (Docker fixes a device's node when
//! it creates the container); never while a job runs, never one someone stopped. `ghr serve`'s device watcher calls [`converge`] when a board's
//! device changes; `ghr init` does the same through its plan.

use crate::config::settings::Settings;
use crate::model::fleet::{ContainerState, LocalRunner};
use crate::plan::{replug, BoardNow, Replug};
use crate::world::compose_file::Desired;
use crate::world::docker::Docker;
use crate::world::error::{Error, Result};
use std::path::{Path, PathBuf};

/// One board device of a fleet: its path as the settings give it, and the node it leads to
/// now (`None`: missing).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BoardDevice {
    pub runner: String,
    pub path: String,
    pub node: Option<String>,
}

/// Every board device of the fleet, as it is now: a `stat` and a `readlink` per path, cheap
/// enough to ask every second.
pub fn board_devices(settings: &Settings) -> Vec<BoardDevice> {
    let mut out = Vec::new();
    for runner in crate::model::fleet::desired(settings, 0) {
        for device in runner.board().iter().flat_map(|b| &b.hardware.devices) {
            let path = crate::config::boards::values::device_parts(device).0[0].to_string();
            let node = std::fs::canonicalize(&path)
                .ok()
                .filter(|p| p.exists())
                .map(|p| p.display().to_string());
            out.push(BoardDevice {
                runner: runner.name.clone(),
                path,
                node,
            });
        }
    }
    out
}

/// The devices of `devices` missing now, by runner (for `ghr list`, `ghr locks`, serve).
pub fn missing_by_runner(devices: &[BoardDevice]) -> Vec<(String, Vec<String>)> {
    let mut out: Vec<(String, Vec<String>)> = Vec::new();
    for d in devices.iter().filter(|d| d.node.is_none()) {
        match out.iter_mut().find(|(r, _)| *r == d.runner) {
            Some((_, paths)) if !paths.contains(&d.path) => paths.push(d.path.clone()),
            Some(_) => {}
            None => out.push((d.runner.clone(), vec![d.path.clone()])),
        }
    }
    out
}

/// A settings path as the fleet's own directory sees it (ghr's commands run there; `ghr
/// serve` may run anywhere).
fn in_dir(dir: &Path, path: &Path) -> PathBuf {
    if path.is_absolute() {
        path.to_path_buf()
    } else {
        dir.join(path)
    }
}

/// Brings the board runners of the fleet whose settings file lies in `dir` in line with
/// their devices now; each runner's decision (`Replug::Wait`: ask again later). A fleet
/// another ghr is changing is left alone this time (one `Wait`).
pub fn converge(settings: &Settings, dir: &Path, docker: &Docker) -> Result<Vec<(String, Replug)>> {
    let mut settings = settings.clone();
    settings.compose_file = in_dir(dir, &settings.compose_file);
    settings.fleet_lock_file = in_dir(dir, &settings.fleet_lock_file);
    settings.wrapper_bin = settings.wrapper_bin.as_deref().map(|p| in_dir(dir, p));
    let settings = &settings;
    let _lock = match crate::world::fleet_lock::acquire(
        &settings.fleet_lock_file,
        "serve (board devices)",
        true,
    ) {
        Ok(lock) => lock,
        Err(Error::Busy(why)) => return Ok(vec![(String::new(), Replug::Wait(why))]),
        Err(e) => return Err(e),
    };
    // The image `ghr init` would choose in that directory: the compose file written here must
    // be the one init writes (only the devices' nodes differ).
    let image = match crate::world::image::choice(settings, dir).dockerfile(dir) {
        Some(_) => settings.custom_image.clone(),
        None => settings.runner_image.clone(),
    };
    let desired = Desired::rendered(settings, None, &image, false)?;
    let local = crate::world::observe::local(settings, docker)?.runners;
    let project = crate::model::compose::project_name(&settings.prefix);
    let mut decisions = Vec::new();
    for runner in desired
        .runners
        .iter()
        .filter(|r| r.board().is_some_and(|b| !b.hardware.devices.is_empty()))
    {
        let name = runner.name.as_str();
        // Only ghr's own containers of this fleet (an older maker's is `ghr init`'s to take over).
        let container = local
            .iter()
            .find(|c| c.name == name && c.project.as_deref() == Some(project.as_str()));
        let missing: Vec<&str> = desired
            .compose
            .resolved_devices
            .iter()
            .filter(|d| d.runner == name && d.node.is_none())
            .map(|d| d.stable.as_str())
            .collect();
        let decision = match container {
            None => Replug::Nothing,
            Some(c) => {
                let service = desired.compose.services.0.iter().find(|(n, _)| n == name);
                let (wanted, image) = service
                    .map(|(_, s)| (s.devices.as_slice(), s.image.as_str()))
                    .unwrap_or_default();
                decide(docker, c, wanted, image, missing)?
            }
        };
        decisions.push((name.to_string(), decision));
    }
    if decisions
        .iter()
        .any(|(_, d)| matches!(d, Replug::Recreate(_) | Replug::Park(_)))
        && desired.change(settings)?.is_some()
    {
        crate::world::compose_file::write_file(settings, &desired.compose)?;
    }
    for (name, decision) in &decisions {
        let names = std::slice::from_ref(name);
        match decision {
            // Compose stops it first, with the service's stop_grace_period.
            Replug::Park(_) => {
                docker.compose_create(&project, &settings.compose_file, names, true)?
            }
            Replug::Start(_) => docker.containers_do("start", names, None)?,
            Replug::Recreate(_) => {
                docker.compose_create(&project, &settings.compose_file, names, true)?;
                docker.containers_do("start", names, None)?;
            }
            Replug::Nothing | Replug::Wait(_) => {}
        }
    }
    Ok(decisions)
}

/// Gathers what [`replug`] needs of one container, asking Docker only what the answer
/// depends on.
fn decide(
    docker: &Docker,
    c: &LocalRunner,
    wanted: &[String],
    image: &str,
    missing: Vec<&str>,
) -> Result<Replug> {
    // Someone stopped it (not Docker failing to start it): left so, nothing more to ask.
    let exited = !c.state.is_up() && !matches!(c.state, ContainerState::Created);
    let failed_start = exited && !docker.start_error(&c.name)?.is_empty();
    if exited && !failed_start {
        return Ok(replug(&BoardNow {
            state: Some(c.state.clone()),
            failed_start,
            current: true,
            missing,
            busy: false,
            registered: None,
            same_image: true,
        }));
    }
    let current = missing.is_empty() && docker.device_pairs(&c.name)? == pairs(wanted);
    let running = c.state.is_up();
    let busy = running && (!missing.is_empty() || !current) && docker.runs_a_job(&c.name)?;
    let wants_start = missing.is_empty() && (!current || !running);
    let registered = match wants_start && !busy {
        // Registered, or able to register itself: `ghr init` placed a credential that its
        // first start consumes (good while the registration token lives, an hour).
        true => Some(
            docker.is_configured(&c.name)?
                || docker
                    .file_size(&c.name, crate::model::first_start::CREDENTIAL)?
                    .is_some(),
        ),
        false => None,
    };
    // Asked only when it would be created anew.
    let same_image = match registered == Some(true) && !current {
        true => c.image == image && docker.image_id(image)?.as_deref() == Some(c.image_id.as_str()),
        false => true,
    };
    Ok(replug(&BoardNow {
        state: Some(c.state.clone()),
        failed_start,
        current,
        missing,
        busy,
        registered,
        same_image,
    }))
}

/// Compose's `host:container[:perms]` entries as (host, container) pairs, sorted.
fn pairs(devices: &[String]) -> Vec<(String, String)> {
    let mut v: Vec<(String, String)> = devices
        .iter()
        .map(|d| {
            let (paths, _) = crate::config::boards::values::device_parts(d);
            let host = paths[0].to_string();
            let inside = paths.get(1).map_or_else(|| host.clone(), |p| p.to_string());
            (host, inside)
        })
        .collect();
    v.sort();
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compose_device_entries_pair_up_as_docker_shows_them() {
        let entries = [
            "/dev/ttyUSB1:/dev/serial/by-id/x".to_string(),
            "/dev/ttyUSB1:/dev/console0:rw".to_string(),
            "/dev/ttyS4".to_string(),
        ];
        assert_eq!(
            pairs(&entries),
            [
                ("/dev/ttyS4".into(), "/dev/ttyS4".into()),
                ("/dev/ttyUSB1".into(), "/dev/console0".into()),
                ("/dev/ttyUSB1".into(), "/dev/serial/by-id/x".into()),
            ]
        );
    }

    #[test]
    fn relative_settings_paths_are_the_fleets_directorys() {
        let dir = Path::new("/srv/lab");
        assert_eq!(
            in_dir(dir, Path::new("docker-compose.acme.yml")),
            Path::new("/srv/lab/docker-compose.acme.yml")
        );
        assert_eq!(in_dir(dir, Path::new("/x/y.yml")), Path::new("/x/y.yml"));
    }
}
