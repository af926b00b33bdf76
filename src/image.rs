//! The runner image: the stock one, or the custom one built from `./Dockerfile` whenever the
//! Dockerfile's hash changes or the image is missing.

use crate::docker::Docker;
use crate::fsutil::write_atomic;
use crate::settings::Settings;
use anyhow::{Context, Result};
use sha2::{Digest, Sha256};
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

pub fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The image compose should name, without touching Docker (for `ghr compose`).
pub fn configured_image(settings: &Settings) -> String {
    if Path::new(DOCKERFILE).exists() {
        settings.custom_image.clone()
    } else {
        settings.runner_image.clone()
    }
}

pub fn plan(settings: &Settings, docker: &Docker, force: bool) -> Result<Plan> {
    let dockerfile = Path::new(DOCKERFILE);
    if !dockerfile.exists() {
        return Ok(Plan::Stock(settings.runner_image.clone()));
    }
    let contents = std::fs::read(dockerfile).context("cannot read Dockerfile")?;
    let hash = sha256_hex(&contents);
    let recorded = std::fs::read_to_string(&settings.dockerfile_hash_file)
        .ok()
        .and_then(|s| s.split_whitespace().next().map(str::to_string));
    let tag = settings.custom_image.clone();
    let why = if force {
        "asked for"
    } else if recorded.as_deref() != Some(hash.as_str()) {
        "the Dockerfile changed"
    } else if !docker.image_exists(&tag)? {
        "the image is missing"
    } else {
        return Ok(Plan::Custom(tag));
    };
    Ok(Plan::Build { tag, hash, why })
}

/// Carries out `plan` and returns the image to run. The hash is recorded only after a
/// successful build, so a failed one is retried next time.
pub fn ensure(settings: &Settings, docker: &Docker, force: bool) -> Result<String> {
    match plan(settings, docker, force)? {
        Plan::Build { tag, hash, why } => {
            eprintln!("Building {tag} from {DOCKERFILE} ({why})");
            docker.build(&tag, Path::new(DOCKERFILE), Path::new("."))?;
            write_atomic(
                &settings.dockerfile_hash_file,
                format!("{hash}\n").as_bytes(),
                0o644,
            )
            .with_context(|| format!("cannot write {}", settings.dockerfile_hash_file.display()))?;
            Ok(tag)
        }
        other => Ok(other.image().to_string()),
    }
}
