//! `ghr start [NAME...]` and `ghr register [NAME...]`: create what is missing, register what
//! is not registered (again, when GitHub deleted it), and start it; `start` also starts the
//! stopped ones. Through the planner, like `init`.

use crate::cli::carry_out::{carry_out, kept_result};
use crate::cli::targets::Targets;
use crate::cli::ui;
use crate::config::settings::Settings;
use crate::plan::{self, Intent};
use crate::world::compose_file::Desired;
use crate::world::docker::Docker;
use crate::world::error::Result;
use crate::world::observe;
use crate::world::remote::Remote;
use std::path::Path;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Start,
    Register,
}

pub fn run(settings: &Settings, names: &[String], mode: Mode) -> Result<()> {
    let docker = Docker::new();
    let remote = Remote::connect_if_possible(settings)?;
    let image = crate::world::image::configured_image(settings, Path::new("."));
    let desired = Desired::of(settings, None, &image)?;
    let snapshot = observe::snapshot(settings, &docker, remote.as_ref())?;
    let targets =
        Targets::new(settings, &desired.runners, &snapshot.local.runners).resolve(names)?;
    let intent = match mode {
        Mode::Start => Intent::Start { targets },
        Mode::Register => Intent::Register { targets },
    };
    let image_state = plan::ImageState {
        id: docker.image_id(&image)?,
        reference: image.clone(),
        build: None,
    };
    let specs = desired.compose.specs();
    let plan = plan::plan(&plan::Inputs {
        prefix: &settings.prefix,
        desired: &desired.runners,
        specs: &specs,
        image: &image_state,
        compose: desired.change(settings)?,
        local: &snapshot.local.runners,
        volumes: &snapshot.local.volumes,
        github: snapshot.github.as_deref(),
        group: None,
        intent: &intent,
        devices: &desired.compose.resolved_devices,
    });
    let outcome = carry_out(
        settings,
        &docker,
        remote.as_ref(),
        &desired,
        &image,
        None,
        &plan,
    )?;
    if plan.is_empty() {
        ui::result("nothing to do");
    }
    kept_result(&plan, &outcome)
}
