//! ghr: GitHub Actions self-hosted runner fleets as Docker Compose services.
//!
//! The stages, each a folder that imports only the ones before it (ARCHITECTURE.md):
//! `config` (settings) -> `model` (the desired fleet) -> `plan` (desired + observed -> actions)
//! -> `world` (Docker, GitHub, files: all I/O) -> `cli` (commands; the only place that prints).

pub mod cli;
pub mod config;
pub mod model;
pub mod plan;
pub mod world;

pub use cli::{main, WRAPPER_NAME};
