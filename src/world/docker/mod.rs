//! Docker, from ghr's side: the engine (containers, volumes, images), the compose driver,
//! and runner registration in one-off containers. State is read from structured output
//! (`docker inspect` JSON), never scraped from tables.

mod compose;
mod devices;
mod engine;
mod flavor;
mod labels;
mod private_env;
mod process;
mod registration;

pub use compose::compose_failure;
pub use engine::Docker;
pub use flavor::ComposeFlavor;
pub use labels::{COMPOSE_PROJECT_LABEL, ONEOFF_LABEL};
pub use registration::{oneoff_name, ConfigRun, SYNC_KEEPS};
