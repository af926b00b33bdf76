//! ghr: GitHub Actions self-hosted runner fleets as Docker Compose services.
//!
//! The stages, each a folder that imports only the ones before it (ARCHITECTURE.md):
//! `config` (settings) -> `model` (the desired fleet) -> `plan` (desired + observed -> actions)
//! -> `report` (what is shown: JSON, Prometheus text) -> `world` (Docker, GitHub, files: all
//! I/O) -> `serve` (the long-running dashboard) -> `cli` (commands; the only place that prints).

pub mod cli;
pub mod config;
pub mod model;
pub mod plan;
pub mod report;
pub mod serve;
pub mod world;

pub use cli::{main, WRAPPER_NAME};
