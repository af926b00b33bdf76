//! Gathering: what Docker and GitHub say of the fleet, read once per command, for the planner
//! (`plan.rs`) and for `ghr list`. With the executor (`apply.rs`), the only code besides the
//! clients that talks to Docker or GitHub.

use crate::config::settings::Settings;
use crate::model::compose::label;
use crate::model::fleet::{natural_cmp, LocalRunner, RemoteRunner};
use crate::world::concurrent::map_bounded;
use crate::world::docker::Docker;
use crate::world::error::Result;
use crate::world::remote::Remote;

/// Docker's side of a fleet: its runner containers and its volumes (with their runner).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Local {
    pub runners: Vec<LocalRunner>,
    pub volumes: Vec<(String, String)>,
}

/// Both sides, as a plan needs them (GitHub must have answered, when it was asked).
#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    pub local: Local,
    /// `None`: GitHub was not asked (no GH_PAT; runners register with REG_TOKEN).
    pub github: Option<Vec<RemoteRunner>>,
}

/// The fleet's containers and volumes, in natural name order: those carrying ghr's prefix
/// label, and those compose made under the fleet's runner names, which runner.sh (no labels)
/// and older ghr versions (volumes under a directory-derived compose project) made.
pub fn local(settings: &Settings, docker: &Docker) -> Result<Local> {
    let by_label = format!("label={}={}", label::PREFIX, settings.prefix);
    let by_name = format!(
        "name={}",
        crate::model::fleet::runner_name_start(&settings.prefix)
    );
    let filters = [by_label.as_str(), by_name.as_str()];
    let mut runners: Vec<LocalRunner> = docker
        .runners(&filters)?
        .into_iter()
        // Found by name, only compose's (runner.sh's): a container someone made by hand
        // under a runner's name is not taken over; compose then refuses the name, and says so.
        .filter(|r| {
            r.prefix.as_deref() == Some(settings.prefix.as_str())
                || (crate::model::fleet::is_fleet_name(&settings.prefix, &r.name)
                    && r.project.is_some())
        })
        .collect();
    runners.sort_by(|a, b| natural_cmp(&a.name, &b.name));
    let mut volumes: Vec<(String, String)> = docker
        .volumes(&filters)?
        .into_iter()
        .filter_map(|(volume, label)| {
            crate::model::fleet::volume_runner(&settings.prefix, &volume, &label)
                .map(|r| (volume, r))
        })
        .collect();
    volumes.sort_by(|a, b| natural_cmp(&a.0, &b.0));
    Ok(Local { runners, volumes })
}

/// How many `docker cp` run at once to read registrations.
const READ_CONCURRENCY: usize = 8;

/// Reads whether the containers `names` hold a registration (`configured`).
pub fn read_registrations(
    docker: &Docker,
    runners: &mut [LocalRunner],
    names: &[String],
) -> Result<()> {
    let wanted: Vec<usize> = runners
        .iter()
        .enumerate()
        .filter(|(_, r)| names.contains(&r.name))
        .map(|(i, _)| i)
        .collect();
    let answers = map_bounded(&wanted, READ_CONCURRENCY, |i| -> Result<(bool, _)> {
        let name = &runners[*i].name;
        let configured = docker.is_configured(name)?;
        // Not registered: its first start may have said why.
        let failure = match configured {
            true => None,
            false => match docker.first_start(name)? {
                Some(crate::model::first_start::Outcome::Failed(why)) => Some(why),
                _ => None,
            },
        };
        Ok((configured, failure))
    });
    for (i, answer) in wanted.into_iter().zip(answers) {
        let (configured, failure) = answer?;
        runners[i].configured = Some(configured);
        runners[i].first_start_failure = failure;
    }
    Ok(())
}

/// Docker's and GitHub's view, with the registrations read where GitHub's list does not
/// already tell (see `plan::registration_checks`): every one when GitHub is not asked.
pub fn snapshot(settings: &Settings, docker: &Docker, remote: Option<&Remote>) -> Result<Snapshot> {
    let mut local = local(settings, docker)?;
    let github = remote.map(Remote::list).transpose()?;
    let checks = crate::plan::registration_checks(
        &settings.prefix,
        &local.runners,
        github.as_deref().unwrap_or_default(),
    );
    read_registrations(docker, &mut local.runners, &checks)?;
    Ok(Snapshot { local, github })
}

/// Both sides for `ghr list`, each as far as it can be asked: one side that cannot be asked
/// must not hide the other.
pub fn sides(
    settings: &Settings,
    docker: &Docker,
    remote: &Remote,
) -> (Result<Local>, Result<Vec<RemoteRunner>>) {
    let local = local(settings, docker);
    let github = remote.list();
    let local = match (local, &github) {
        (Ok(mut l), Ok(g)) => {
            let checks = crate::plan::registration_checks(&settings.prefix, &l.runners, g);
            read_registrations(docker, &mut l.runners, &checks).map(|()| l)
        }
        (other, _) => other,
    };
    (local, github)
}

/// The image state a plan needs: the reference runners use, its id, and whether
/// `./Dockerfile` must be built first (with the hash to record and why).
pub fn image(
    settings: &Settings,
    docker: &Docker,
    dir: &std::path::Path,
) -> Result<(crate::plan::ImageState, Option<String>)> {
    let plan = crate::world::image::plan(settings, docker, dir, false)?;
    let (reference, build, hash) = match plan {
        crate::world::image::Plan::Build { tag, hash, why, .. } => (tag, Some(why), Some(hash)),
        other => (other.image().to_string(), None, None),
    };
    let id = docker.image_id(&reference)?;
    Ok((
        crate::plan::ImageState {
            reference,
            id,
            build,
        },
        hash,
    ))
}
