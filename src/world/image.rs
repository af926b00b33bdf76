//! The runner image: the stock one (`RUNNER_IMAGE`), or the custom one built from a
//! Dockerfile whenever the Dockerfile's hash changes or the image is missing.
//!
//! The custom image is a choice: `RUNNER_DOCKERFILE` names the Dockerfile. runner.sh built
//! from any `./Dockerfile`; ghr keeps that only for a directory where it was done before (the
//! Dockerfile's hash is recorded), so a Dockerfile that merely lies there (ghr's own
//! checkout has one) never replaces `RUNNER_IMAGE` by surprise.

use crate::config::settings::Settings;
use crate::world::docker::Docker;
use crate::world::error::{Error, Result};
use crate::world::fsutil::write_atomic;
use std::path::{Path, PathBuf};

pub const DOCKERFILE: &str = "Dockerfile";

/// Which Dockerfile, if any, makes the runner image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Choice {
    /// `RUNNER_IMAGE` as it is.
    Stock,
    /// `RUNNER_DOCKERFILE` names it.
    Named(PathBuf),
    /// `./Dockerfile`, as runner.sh did: its hash was recorded before, so this directory has
    /// used the custom image already.
    Beside,
    /// `./Dockerfile` exists but nothing chose it: `RUNNER_IMAGE` is used, and ghr says so.
    Unused,
}

impl Choice {
    /// Decides from the setting and two facts of the directory.
    pub fn of(setting: Option<&Path>, dockerfile_beside: bool, hash_recorded: bool) -> Choice {
        match setting {
            Some(path) => Choice::Named(path.to_path_buf()),
            None if dockerfile_beside && hash_recorded => Choice::Beside,
            None if dockerfile_beside => Choice::Unused,
            None => Choice::Stock,
        }
    }

    /// The Dockerfile to build, if any (relative to `dir`).
    pub fn dockerfile(&self, dir: &Path) -> Option<PathBuf> {
        match self {
            Choice::Named(path) => Some(dir.join(path)),
            Choice::Beside => Some(dir.join(DOCKERFILE)),
            Choice::Stock | Choice::Unused => None,
        }
    }
}

/// The choice for the directory `dir`.
pub fn choice(settings: &Settings, dir: &Path) -> Choice {
    Choice::of(
        settings.dockerfile.as_deref(),
        dir.join(DOCKERFILE).is_file(),
        dir.join(&settings.dockerfile_hash_file).is_file(),
    )
}

/// The line that says a `./Dockerfile` is not used, and how to use it.
pub const UNUSED_NOTE: &str = "./Dockerfile is not used: the runners run RUNNER_IMAGE; set RUNNER_DOCKERFILE=./Dockerfile to build the runner image from it";

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
        /// The Dockerfile to build.
        dockerfile: PathBuf,
        why: String,
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
    let choice = choice(settings, dir);
    if choice == Choice::Unused {
        crate::world::notify::info(UNUSED_NOTE);
    }
    match choice.dockerfile(dir) {
        Some(_) => settings.custom_image.clone(),
        None => settings.runner_image.clone(),
    }
}

/// Decides from the chosen Dockerfile, the recorded hash and the local images. `force`
/// (`ghr image`) builds `./Dockerfile` even when nothing chose it yet: asking is choosing.
pub fn plan(settings: &Settings, docker: &Docker, dir: &Path, force: bool) -> Result<Plan> {
    let choice = choice(settings, dir);
    let dockerfile = match (choice.dockerfile(dir), &choice) {
        (Some(path), _) => path,
        (None, Choice::Unused) if force => dir.join(DOCKERFILE),
        (None, Choice::Unused) => {
            crate::world::notify::info(UNUSED_NOTE);
            return Ok(Plan::Stock(settings.runner_image.clone()));
        }
        (None, _) => return Ok(Plan::Stock(settings.runner_image.clone())),
    };
    let contents = std::fs::read(&dockerfile).map_err(|e| {
        Error::Config(format!(
            "cannot read the Dockerfile {} ({e}); {}",
            dockerfile.display(),
            match &choice {
                Choice::Named(path) => format!(
                    "RUNNER_DOCKERFILE={} must name a Dockerfile (relative to the directory ghr runs in), or be removed to run RUNNER_IMAGE",
                    path.display()
                ),
                _ => "make it readable".to_string(),
            }
        ))
    })?;
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
    let why = match choice {
        // runner.sh's rule, kept for its directories: say why the stock image is not used.
        Choice::Beside if !force => format!(
            "./Dockerfile exists (and was built here before), so the custom image replaces RUNNER_IMAGE; {why}"
        ),
        _ => why.to_string(),
    };
    Ok(Plan::Build {
        tag,
        hash,
        dockerfile,
        why,
    })
}

/// Carries out `plan` for the Dockerfile in `dir`. The hash is recorded only after a
/// successful build, so a failed one is retried next time.
pub fn ensure(settings: &Settings, docker: &Docker, dir: &Path, force: bool) -> Result<Ready> {
    match plan(settings, docker, dir, force)? {
        Plan::Build {
            tag,
            hash,
            dockerfile,
            why,
        } => {
            build(settings, docker, dir, &dockerfile, &tag, &hash, &why)?;
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

/// Builds `tag` from `dockerfile` (its directory is the build context) and records its
/// `hash` in `dir` once the build worked.
pub fn build(
    settings: &Settings,
    docker: &Docker,
    dir: &Path,
    dockerfile: &Path,
    tag: &str,
    hash: &str,
    why: &str,
) -> Result<()> {
    let shown = dockerfile.strip_prefix(dir).unwrap_or(dockerfile);
    crate::world::notify::info(&format!("Building {tag} from {} ({why})", shown.display()));
    let context = dockerfile.parent().filter(|p| !p.as_os_str().is_empty());
    docker.build(tag, dockerfile, context.unwrap_or(dir))?;
    let hash_file = dir.join(&settings.dockerfile_hash_file);
    write_atomic(&hash_file, format!("{hash}\n").as_bytes(), 0o644)
        .map_err(|e| Error::io(format!("cannot write {}", hash_file.display()), e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_custom_image_is_a_choice() {
        let named = Some(Path::new("lab/Dockerfile"));
        let cases = [
            // (RUNNER_DOCKERFILE, ./Dockerfile, hash recorded) -> choice
            (None, false, false, Choice::Stock),
            (None, false, true, Choice::Stock),
            (None, true, false, Choice::Unused),
            (None, true, true, Choice::Beside),
            (named, false, false, Choice::Named("lab/Dockerfile".into())),
            (named, true, true, Choice::Named("lab/Dockerfile".into())),
        ];
        for (setting, beside, recorded, want) in cases {
            assert_eq!(
                Choice::of(setting, beside, recorded),
                want,
                "{setting:?} {beside} {recorded}"
            );
        }
        assert_eq!(Choice::Unused.dockerfile(Path::new(".")), None);
        assert_eq!(
            Choice::Beside.dockerfile(Path::new("/lab")),
            Some(PathBuf::from("/lab/Dockerfile"))
        );
    }
}
