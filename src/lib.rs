//! ghr: GitHub Actions self-hosted runner fleets as Docker Compose services.

pub mod boards;
pub mod cli;
pub mod commands;
pub mod compose;
pub mod concurrent;
pub mod docker;
pub mod env_file;
pub mod exit;
pub mod fleet;
pub mod fsutil;
pub mod github;
pub mod host;
pub mod image;
pub mod names;
pub mod prompt;
pub mod settings;
pub mod token_cache;
pub mod ui;

use clap::Parser;

/// Parses the command line, runs the command, and turns the outcome into an exit code.
pub fn main() -> std::process::ExitCode {
    let cli = match cli::Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return std::process::ExitCode::from(if e.use_stderr() {
                exit::Exit::Usage as u8
            } else {
                0
            });
        }
    };
    match commands::run(cli) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            std::process::ExitCode::from(exit::classify(&error) as u8)
        }
    }
}
