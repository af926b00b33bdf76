//! One-job (ephemeral) runners, the effects: their JIT configuration from GitHub, and a
//! finished runner replaced by a fresh one (`ghr serve`'s supervisor, decided in
//! `plan::ephemeral`).

use crate::config::settings::Settings;
use crate::model::ephemeral::{DEFAULT_WORK_FOLDER, STOPPED_MARK};
use crate::model::first_start;
use crate::model::fleet::{DesiredRunner, LocalRunner};
use crate::plan::ephemeral::{supervise, EphemeralNow, Supervise};
use crate::world::docker::Docker;
use crate::world::error::{Error, Result};
use crate::world::remote::{Deleted, Remote};
use std::path::{Path, PathBuf};

/// The first-start credential of the one-job runner `name`: a JIT configuration from GitHub.
/// A registration of that name left on GitHub (a runner that ended before taking a job, or
/// one whose container was removed) blocks the name (409): it is removed, unless busy, and
/// the configuration asked for again, once.
pub fn credential(
    settings: &Settings,
    remote: Option<&Remote>,
    name: &str,
    labels: &[String],
) -> Result<String> {
    let Some(remote) = remote else {
        return Err(Error::Config(format!(
            "{name} is an ephemeral runner (RUNNER_EPHEMERAL or BOARD_EPHEMERAL_*), and its JIT configuration comes from GitHub's API; set GH_PAT or a GitHub App (GITHUB_APP_ID), or make it long-lived"
        )));
    };
    let group = settings.runner_group.as_deref().unwrap_or("Default");
    let work = settings.workdir.as_deref().unwrap_or(DEFAULT_WORK_FOLDER);
    let blob = match remote.jit_config(name, group, labels, work) {
        Ok(blob) => blob,
        Err(first) => {
            if !forget_leftover(remote, name)? {
                return Err(first);
            }
            remote.jit_config(name, group, labels, work)?
        }
    };
    first_start::jit_credential(&blob)
        .ok_or_else(|| Error::Failed("GitHub's JIT configuration holds a line break".into()))
}

/// Removes the registration named `name` from GitHub when it is there and idle; whether it
/// was removed.
pub fn forget_leftover(remote: &Remote, name: &str) -> Result<bool> {
    let Some(found) = remote.list()?.into_iter().find(|r| r.name == name) else {
        return Ok(false);
    };
    match remote.unregister(&[(found.name.clone(), found.id)]).pop() {
        Some(Ok(Deleted::Removed | Deleted::Gone)) => Ok(true),
        Some(Ok(Deleted::Busy)) | None => Ok(false),
        Some(Err(e)) => Err(e.into()),
    }
}

/// Replaces the ended one-job runner `runner` of the fleet (compose file as `settings` names
/// it): its JIT configuration asked for, its container and work volume removed, a new
/// container created on a new, empty volume (Docker seeds a named volume from the image's
/// /home/runner when a container is created on it while it is empty: the runner install,
/// owner and mode; so no install sync is needed), the configuration placed, started.
pub fn replace(
    settings: &Settings,
    docker: &Docker,
    remote: Option<&Remote>,
    runner: &LocalRunner,
    labels: &[String],
) -> Result<()> {
    let name = runner.name.as_str();
    let project = crate::model::compose::project_name(&settings.prefix);
    let names = [name.to_string()];
    // GitHub first: when it cannot answer, the ended container stays, and the next look
    // tries again.
    let credential = credential(settings, remote, name, labels)?;
    docker.remove_containers(&names)?;
    let volume = runner
        .home_volume
        .clone()
        .unwrap_or_else(|| format!("{name}-data"));
    docker.remove_volumes(&[volume])?;
    docker.compose_create(&project, &settings.compose_file, &names, false)?;
    docker.place_credential(name, &credential)?;
    docker.start_one(name)
}

/// A settings path as the fleet's own directory sees it (`ghr serve` may run anywhere).
fn in_dir(dir: &Path, path: &Path) -> PathBuf {
    match path.is_absolute() {
        true => path.to_path_buf(),
        false => dir.join(path),
    }
}

/// The settings of the fleet whose settings file lies in `dir`, its paths as that directory
/// sees them, and its one-job runners.
fn fleet_in(settings: &Settings, dir: &Path) -> (Settings, Vec<DesiredRunner>) {
    let mut settings = settings.clone();
    settings.compose_file = in_dir(dir, &settings.compose_file);
    settings.fleet_lock_file = in_dir(dir, &settings.fleet_lock_file);
    let count = crate::model::fleet::size(
        None,
        crate::world::compose_file::recorded(&settings),
        settings.runner_count,
    );
    let desired = crate::model::fleet::desired(&settings, count)
        .into_iter()
        .filter(|r| r.ephemeral)
        .collect();
    (settings, desired)
}

/// The containers of `local` that are ended one-job runners of this fleet, with their labels.
fn ended_of(
    settings: &Settings,
    desired: &[DesiredRunner],
    local: &[LocalRunner],
) -> Vec<(LocalRunner, Vec<String>)> {
    let project = crate::model::compose::project_name(&settings.prefix);
    desired
        .iter()
        .filter_map(|r| {
            local
                .iter()
                .find(|c| c.name == r.name && c.project.as_deref() == Some(project.as_str()))
                .filter(|c| c.state.has_ended())
                .map(|c| (c.clone(), r.labels.clone()))
        })
        .collect()
}

/// The names of the fleet's one-job runners that ended, as `local` (a view already read,
/// e.g. `ghr serve`'s) lists them; reads no more than the settings' compose file.
pub fn ended_names(settings: &Settings, dir: &Path, local: &[LocalRunner]) -> Vec<String> {
    let (settings, desired) = fleet_in(settings, dir);
    ended_of(&settings, &desired, local)
        .into_iter()
        .map(|(c, _)| c.name)
        .collect()
}

/// One look at the one-job runners of the fleet whose settings file lies in `dir`: each
/// ended one is replaced (see `plan::ephemeral`). Returns what was decided for each runner
/// that needed something. A `docker ps` when none ended; the rest is read, under the fleet
/// lock, only when one did. A fleet another ghr is changing is left alone this time.
pub fn supervise_fleet(
    settings: &Settings,
    dir: &Path,
    docker: &Docker,
    remote: Option<&Remote>,
) -> Result<Vec<(String, Supervise, Option<Error>)>> {
    let (settings, desired) = fleet_in(settings, dir);
    let settings = &settings;
    if desired.is_empty() {
        return Ok(Vec::new());
    }
    let ended = |local: &[LocalRunner]| ended_of(settings, &desired, local);
    if ended(&crate::world::observe::local(settings, docker)?.runners).is_empty() {
        return Ok(Vec::new());
    }
    // Under the fleet lock, looked at again: `ghr init` may have started (or stopped) them
    // meanwhile.
    let _lock = match crate::world::fleet_lock::acquire(
        &settings.fleet_lock_file,
        "serve (ephemeral runners)",
        true,
    ) {
        Ok(lock) => lock,
        Err(Error::Busy(_)) => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    let health = runner_wrapper::status::read_lock_dir(Path::new(&settings.lock_host_path))
        .unwrap_or_default();
    let mut decisions = Vec::new();
    for (c, labels) in ended(&crate::world::observe::local(settings, docker)?.runners) {
        let board = desired
            .iter()
            .find(|r| r.name == c.name)
            .and_then(|r| r.board());
        let now_ms = runner_wrapper::contract::now_epoch_ms();
        let interval = settings
            .healthcheck_interval
            .unwrap_or(runner_wrapper::contract::DEFAULT_HEALTHCHECK_INTERVAL);
        let board_unhealthy = board.is_some_and(|b| {
            let members: Vec<_> = b
                .resources
                .iter()
                .map(|member| {
                    health
                        .iter()
                        .find(|r| r.resource == *member)
                        .and_then(|r| r.health.as_ref())
                        .map(|h| {
                            let age = now_ms.saturating_sub(h.checked_at_ms);
                            (h.healthy, std::time::Duration::from_millis(age))
                        })
                })
                .collect();
            crate::plan::ephemeral::board_unhealthy(&members, interval)
        });
        let now = EphemeralNow {
            state: Some(c.state.clone()),
            configured: Some(docker.is_configured(&c.name)?),
            stopped_on_purpose: stopped_on_purpose(docker, &c.name)?,
            board_unhealthy,
        };
        let decision = supervise(&now);
        if decision != Supervise::Nothing {
            decisions.push((c, labels, decision));
        }
    }
    let results = crate::world::concurrent::map_bounded(&decisions, 4, |(c, labels, d)| match d {
        Supervise::Replace(_) => replace(settings, docker, remote, c, labels).err(),
        _ => None,
    });
    Ok(decisions
        .into_iter()
        .zip(results)
        .map(|((c, _, d), e)| (c.name, d, e))
        .collect())
}

/// Whether `ghr stop` stopped the last run of `container` (its mark holds that run's start).
fn stopped_on_purpose(docker: &Docker, container: &str) -> Result<bool> {
    let Some(mark) = docker.read_file(container, STOPPED_MARK)? else {
        return Ok(false);
    };
    Ok(String::from_utf8_lossy(&mark).trim() == docker.started_at(container)?)
}

/// Marks the running one-job runners among `names` as stopped on purpose (before `ghr stop`
/// stops them), so `ghr serve` leaves them stopped.
pub fn mark_stopped(docker: &Docker, names: &[String]) -> Result<()> {
    for name in names {
        let started = docker.started_at(name)?;
        docker.put_home_files(
            name,
            &[(STOPPED_MARK, 0o644, started.as_bytes())],
            &format!("marking {name} as stopped"),
        )?;
    }
    Ok(())
}

/// The registrations of the one-job runners among `names` that GitHub lists idle (name,
/// id): what `ghr stop` removes after it stopped them (a stopped one-job runner never runs
/// its job; a busy one keeps its registration, as a busy runner does on `ghr rm`).
pub fn idle_registrations(
    settings: &Settings,
    remote: &Remote,
    names: &[String],
) -> Result<Vec<(String, u64)>> {
    let one_job = one_job_runners(settings, names);
    if one_job.is_empty() {
        return Ok(Vec::new());
    }
    Ok(remote
        .list()?
        .into_iter()
        .filter(|r| one_job.contains(&r.name) && !r.busy)
        .map(|r| (r.name, r.id))
        .collect())
}

/// The one-job runners among `names` (the fleet's size as every command reads it).
pub fn one_job_runners(settings: &Settings, names: &[String]) -> Vec<String> {
    let count = crate::model::fleet::size(
        None,
        crate::world::compose_file::recorded(settings),
        settings.runner_count,
    );
    crate::model::fleet::desired(settings, count)
        .into_iter()
        .filter(|r| r.ephemeral && names.contains(&r.name))
        .map(|r| r.name)
        .collect()
}
