//! `ghr image`: rebuild the custom image from its Dockerfile (`RUNNER_DOCKERFILE`, else
//! `./Dockerfile`), whatever the recorded hash says.

use crate::config::settings::Settings;
use crate::world::docker::Docker;
use crate::world::error::{Error, Result};

pub fn run(settings: &Settings) -> Result<()> {
    let dir = std::path::Path::new(".");
    if settings.dockerfile.is_none() && !dir.join(crate::world::image::DOCKERFILE).exists() {
        return Err(Error::Config(
            "there is no ./Dockerfile to build; run ghr image in the directory that holds it, or set RUNNER_DOCKERFILE"
                .into(),
        ));
    }
    let ready = crate::world::image::ensure(settings, &Docker::new(), dir, true)?;
    crate::cli::ui::result(&format!("Built {}", ready.image));
    Ok(())
}
