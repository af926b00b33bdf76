//! The runner image: the stock one, or the custom one built from `./Dockerfile` whenever the
//! Dockerfile's hash changes or the image is missing.

use crate::config::settings::Settings;
use crate::world::docker::Docker;
use crate::world::error::{Error, Result};
use crate::world::fsutil::write_atomic;
use std::path::Path;

pub const DOCKERFILE: &str = "Dockerfile";

/// What `ensure` will do, decided from cheap facts before anything runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Plan {
    /// No Dockerfile: `RUNNER_IMAGE` as it is.
    Stock(String),
    /// The custom image is current.
    Custom(String),
    /// Build the custom image, then record `hash`.
    Build {
        tag: String,
        hash: String,
        why: &'static str,
    },
}

impl Plan {
    pub fn image(&self) -> &str {
        match self {
            Plan::Stock(image) | Plan::Custom(image) => image,
            Plan::Build { tag, .. } => tag,
        }
    }
}

/// The image to run, and whether it was built just now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ready {
    pub image: String,
    pub built: bool,
}

/// The image compose should name, without touching Docker (for `ghr compose`).
pub fn configured_image(settings: &Settings, dir: &Path) -> String {
    if dir.join(DOCKERFILE).exists() {
        settings.custom_image.clone()
    } else {
        settings.runner_image.clone()
    }
}

/// Decides from the Dockerfile in `dir`, the recorded hash and the local images.
pub fn plan(settings: &Settings, docker: &Docker, dir: &Path, force: bool) -> Result<Plan> {
    let dockerfile = dir.join(DOCKERFILE);
    if !dockerfile.exists() {
        return Ok(Plan::Stock(settings.runner_image.clone()));
    }
    let contents =
        std::fs::read(&dockerfile).map_err(|e| Error::io("cannot read Dockerfile", e))?;
    let hash = crate::model::digest::sha256_hex(&contents);
    let recorded = std::fs::read_to_string(dir.join(&settings.dockerfile_hash_file))
        .ok()
        .and_then(|s| s.split_whitespace().next().map(str::to_string));
    let tag = settings.custom_image.clone();
    let why = if force {
        "asked for"
    } else if recorded.as_deref() != Some(hash.as_str()) {
        "the Dockerfile changed"
    } else if docker.image_id(&tag)?.is_none() {
        "the image is missing"
    } else {
        return Ok(Plan::Custom(tag));
    };
    Ok(Plan::Build { tag, hash, why })
}

/// Carries out `plan` for the Dockerfile in `dir`. The hash is recorded only after a
/// successful build, so a failed one is retried next time.
pub fn ensure(settings: &Settings, docker: &Docker, dir: &Path, force: bool) -> Result<Ready> {
    match plan(settings, docker, dir, force)? {
        Plan::Build { tag, hash, why } => {
            build(settings, docker, dir, &tag, &hash, why)?;
            Ok(Ready {
                image: tag,
                built: true,
            })
        }
        other => Ok(Ready {
            image: other.image().to_string(),
            built: false,
        }),
    }
}

/// Builds `tag` from the Dockerfile in `dir` and records its `hash` once the build worked.
pub fn build(
    settings: &Settings,
    docker: &Docker,
    dir: &Path,
    tag: &str,
    hash: &str,
    why: &str,
) -> Result<()> {
    crate::world::notify::info(&format!("Building {tag} from {DOCKERFILE} ({why})"));
    docker.build(tag, &dir.join(DOCKERFILE), dir)?;
    let hash_file = dir.join(&settings.dockerfile_hash_file);
    write_atomic(&hash_file, format!("{hash}\n").as_bytes(), 0o644)
        .map_err(|e| Error::io(format!("cannot write {}", hash_file.display()), e))
}
