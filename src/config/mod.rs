//! Stage 1, the settings: `.env` and the environment read, checked and named. Pure apart
//! from reading the `.env` file; its errors are [`error::ConfigError`].

pub mod boards;
pub mod env_file;
pub mod error;
pub mod github_app;
pub mod keys;
pub mod lock_group;
pub mod logging;
pub mod names;
pub mod runner_image;
pub mod settings;
