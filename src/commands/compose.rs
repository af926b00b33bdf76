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
    let host = HostFacts::probe(settings.loop_device_count);
    let file = compose::render(&RenderInput {
        settings,
        runners: &runners,
        image,
        host: &host,
    });
    write_atomic(&settings.compose_file, file.to_yaml().as_bytes(), 0o644)
        .with_context(|| format!("cannot write {}", settings.compose_file.display()))
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
