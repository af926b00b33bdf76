//! Docker, from ghr's side: the engine (containers, volumes, images), the compose driver,
//! runner registration (a credential placed for the first start) and one-off containers. State is read from structured output
//! (`docker inspect` JSON), never scraped from tables.

pub mod api;
mod compose;
mod devices;
mod ended;
mod engine;
mod flavor;
mod labels;
mod private_env;
mod process;
mod registration;
mod tar;

pub use compose::compose_failure;
pub use engine::Docker;
pub use flavor::ComposeFlavor;
pub use labels::{COMPOSE_PROJECT_LABEL, ONEOFF_LABEL};
pub use registration::{oneoff_name, SYNC_KEEPS};
