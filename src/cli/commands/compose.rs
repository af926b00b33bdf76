//! `ghr compose [-n N]`: write the compose file; no GitHub call, no container touched.

use crate::cli::args::CountArgs;
use crate::cli::ui;
use crate::config::settings::Settings;
use crate::world::compose_file::{write_file, Desired};
use crate::world::error::Result;

pub fn run(settings: &Settings, args: CountArgs) -> Result<()> {
    let image = crate::world::image::configured_image(settings, std::path::Path::new("."));
    let desired = Desired::of(settings, args.count, &image)?;
    let done = match desired.change(settings)? {
        Some(_) => {
            write_file(settings, &desired.compose)?;
            "Wrote"
        }
        None => "Unchanged:",
    };
    ui::result(&format!(
        "{done} {} ({} generic, {} board runners)",
        settings.compose_file.display(),
        desired.count,
        settings.boards.len()
    ));
    Ok(())
}
