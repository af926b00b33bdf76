//! `ghr image`: rebuild the custom image from ./Dockerfile, whatever the recorded hash says.

use crate::docker::Docker;
use crate::error::{Error, Result};
use crate::settings::Settings;

pub fn run(settings: &Settings) -> Result<()> {
    let dir = std::path::Path::new(".");
    if !dir.join(crate::image::DOCKERFILE).exists() {
        return Err(Error::Config(
            "there is no ./Dockerfile to build; run ghr image in the directory that holds it"
                .into(),
        ));
    }
    let ready = crate::image::ensure(settings, &Docker::new(), dir, true)?;
    crate::ui::result(&format!("Built {}", ready.image));
    Ok(())
}
