//! `ghr compose [-n N]`: write the compose file; no GitHub call, no container touched.

use crate::cli::CountArgs;
use crate::compose::{self, RenderInput};
use crate::docker::Docker;
use crate::fleet;
use crate::fsutil::write_atomic;
use crate::host::HostFacts;
use crate::settings::Settings;
use anyhow::{Context, Result};

pub fn run(settings: &Settings, args: CountArgs) -> Result<()> {
    let count = match args.count {
        Some(n) => n,
        None => current_generic_count(settings).unwrap_or(settings.runner_count),
    };
    let image = crate::image::configured_image(settings, std::path::Path::new("."));
    write(settings, count, &image)?;
    println!(
        "Wrote {} ({} generic, {} board runners)",
        settings.compose_file.display(),
        count,
        settings.boards.len()
    );
    Ok(())
}

/// Renders and writes the compose file for `generic` generic runners plus the boards.
pub fn write(settings: &Settings, generic: u32, image: &str) -> Result<()> {
    let runners = fleet::desired(settings, generic);
    fleet::check_names(&runners)?;
    ensure_ours(settings)?;
    let host = HostFacts::probe(settings.loop_device_count);
    let wrapper = crate::wrapper::for_fleet(settings)?;
    let file = compose::render(&RenderInput {
        settings,
        runners: &runners,
        image,
        host: &host,
        wrapper: wrapper.as_deref(),
    });
    write_atomic(&settings.compose_file, file.to_yaml().as_bytes(), 0o644)
        .with_context(|| format!("cannot write {}", settings.compose_file.display()))
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
pub fn ensure_ours(settings: &Settings) -> Result<(), crate::settings::ConfigError> {
    let path = &settings.compose_file;
    if is_ours(path) {
        return Ok(());
    }
    let origin = settings
        .compose_file_origin
        .as_deref()
        .unwrap_or("the default");
    Err(crate::settings::ConfigError::new(format!(
        "COMPOSE_FILE={} (set in {origin}) is a file ghr did not generate, and ghr never overwrites it; unset COMPOSE_FILE (Docker Compose users often export it for their own projects) or set it in .env to a file of ghr's own",
        path.display()
    )))
}

/// How many generic runner containers this fleet has now (None when Docker cannot tell).
pub fn current_generic_count(settings: &Settings) -> Option<u32> {
    let containers = Docker::new()
        .containers(compose::label::PREFIX, &settings.prefix)
        .ok()?;
    let generic = containers
        .iter()
        .filter(|c| c.labels.get(compose::label::KIND).map(String::as_str) == Some("generic"))
        .count();
    (generic > 0).then_some(generic as u32)
}
