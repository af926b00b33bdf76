//! The compose file on disk: the fleet as the settings want it rendered for this host (see
//! `model::compose`), whether the file already says that, and writing it: atomically, and
//! never over a file ghr did not generate.

use crate::config::error::ConfigError;
use crate::config::settings::Settings;
use crate::model::compose::{self, ComposeFile, RenderInput};
use crate::model::fleet::{self, DesiredRunner};
use crate::world::error::{Error, Result};
use crate::world::fsutil::write_atomic;
use crate::world::host;

/// The fleet as the settings want it, and the compose file that describes it.
pub struct Desired {
    pub runners: Vec<DesiredRunner>,
    pub compose: ComposeFile,
    /// How many generic runners (see `fleet::size`).
    pub count: u32,
}

/// The host paths of every board's devices (`host[:container[:rwm]]`).
fn board_device_paths(settings: &Settings) -> Vec<String> {
    settings
        .boards
        .iter()
        .flat_map(|b| &b.hardware.devices)
        .map(|d| crate::config::boards::values::device_parts(d).0[0].to_string())
        .collect()
}

impl Desired {
    /// For `-n` `cli` (or the recorded one, or `RUNNER_COUNT`) and the image `image`.
    pub fn of(settings: &Settings, cli: Option<u32>, image: &str) -> Result<Desired> {
        Desired::rendered(settings, cli, image, true)
    }

    /// As [`Desired::of`]; `warn`: say what the host facts mean (once per command, not
    /// every time `ghr serve` looks again).
    pub fn rendered(
        settings: &Settings,
        cli: Option<u32>,
        image: &str,
        warn: bool,
    ) -> Result<Desired> {
        let recorded = recorded(settings);
        let count = fleet::size(cli, recorded, settings.runner_count);
        let runners = fleet::desired(settings, count);
        fleet::check_names(&runners)?;
        let wrapper = crate::world::wrapper_bin::for_fleet(settings)?;
        let host = host::probe(settings.loop_device_count, &board_device_paths(settings));
        for warning in compose::host_warnings(settings, &host)
            .into_iter()
            .filter(|_| warn)
        {
            crate::world::notify::warn(&warning);
        }
        let compose = compose::render(&RenderInput {
            settings,
            runners: &runners,
            image,
            host: &host,
            wrapper: wrapper.as_deref(),
            recorded_count: cli.or(recorded),
        });
        Ok(Desired {
            runners,
            compose,
            count,
        })
    }

    /// Why the compose file must be written, or `None` when it already says exactly this.
    pub fn change(&self, settings: &Settings) -> Result<Option<String>> {
        ensure_ours(settings)?;
        let path = &settings.compose_file;
        match std::fs::read_to_string(path) {
            Ok(text) if text == self.compose.to_yaml() => Ok(None),
            Ok(_) => Ok(Some("the settings changed".into())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                Ok(Some("there is none yet".into()))
            }
            Err(e) => Err(Error::io(format!("cannot read {}", path.display()), e)),
        }
    }
}

/// The `-n` recorded in ghr's compose file, if there is one.
pub fn recorded(settings: &Settings) -> Option<u32> {
    if !is_ours(&settings.compose_file) {
        return None;
    }
    std::fs::read_to_string(&settings.compose_file)
        .ok()
        .and_then(|text| compose::recorded_count(&text))
}

/// Writes the compose file atomically (readers see the old one or the new one).
pub fn write_file(settings: &Settings, file: &ComposeFile) -> Result<()> {
    ensure_ours(settings)?;
    write_atomic(&settings.compose_file, file.to_yaml().as_bytes(), 0o644).map_err(|e| {
        Error::io(
            format!("cannot write {}", settings.compose_file.display()),
            e,
        )
    })
}

/// Whether the file at `path` is one ghr generated (or does not exist yet).
pub fn is_ours(path: &std::path::Path) -> bool {
    use std::io::Read;
    let mut head = [0u8; 64];
    match std::fs::File::open(path) {
        Err(_) => !path.exists(),
        Ok(mut f) => {
            let n = f.read(&mut head).unwrap_or(0);
            head[..n].starts_with(compose::HEADER_MARK.as_bytes())
        }
    }
}

/// ghr never overwrites (or deletes) a compose file it did not generate: `COMPOSE_FILE` is
/// also Docker Compose's own variable, which users export for their own projects.
pub fn ensure_ours(settings: &Settings) -> Result<(), ConfigError> {
    let path = &settings.compose_file;
    if is_ours(path) {
        return Ok(());
    }
    let origin = settings
        .compose_file_origin
        .as_deref()
        .unwrap_or("the default");
    Err(ConfigError::new(format!(
        "COMPOSE_FILE={} (set in {origin}) is a file ghr did not generate, and ghr never overwrites it; unset COMPOSE_FILE (Docker Compose users often export it for their own projects) or set it in .env to a file of ghr's own",
        path.display()
    )))
}
