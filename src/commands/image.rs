//! `ghr image`: rebuild the custom image from ./Dockerfile, whatever the recorded hash says.

use crate::docker::Docker;
use crate::settings::Settings;
use anyhow::Result;

pub fn run(settings: &Settings) -> Result<()> {
    let dir = std::path::Path::new(".");
    if !dir.join(crate::image::DOCKERFILE).exists() {
        return Err(crate::settings::ConfigError::new(
            "there is no ./Dockerfile to build; run ghr image in the directory that holds it",
        )
        .into());
    }
    let ready = crate::image::ensure(settings, &Docker::new(), dir, true)?;
    println!("Built {}", ready.image);
    Ok(())
}
