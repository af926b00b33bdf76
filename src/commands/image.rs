//! `ghr image`: rebuild the custom image from ./Dockerfile, whatever the recorded hash says.

use crate::docker::Docker;
use crate::settings::Settings;
use anyhow::Result;

pub fn run(settings: &Settings) -> Result<()> {
    if !std::path::Path::new(crate::image::DOCKERFILE).exists() {
        return Err(crate::settings::ConfigError::new(
            "there is no ./Dockerfile to build; run ghr image in the directory that holds it",
        )
        .into());
    }
    let image = crate::image::ensure(settings, &Docker::new(), true)?;
    println!("Built {image}");
    Ok(())
}
