//! ghr: GitHub Actions self-hosted runner fleets as Docker Compose services.

pub mod apply;
pub mod boards;
pub mod cli;
pub mod commands;
pub mod compose;
pub mod concurrent;
pub mod docker;
pub mod env_file;
pub mod error;
pub mod exit;
pub mod fleet;
pub mod fleet_lock;
pub mod fsutil;
pub mod github;
pub mod host;
pub mod image;
pub mod interrupt;
pub mod lockdir;
pub mod names;
pub mod observe;
pub mod plan;
pub mod prompt;
pub mod remote;
pub mod report;
pub mod serve;
pub mod settings;
pub mod token_cache;
pub mod ui;
pub mod wrapper;

use clap::Parser;

/// The name under which ghr is runner-wrapper (board containers run it by that name).
pub const WRAPPER_NAME: &str = "runner-wrapper";

/// Parses the command line, runs the command, and turns the outcome into an exit code.
/// Started as `runner-wrapper` (its mount point in board containers), ghr is the wrapper.
pub fn main() -> std::process::ExitCode {
    let mut args = std::env::args_os();
    let argv0 = args.next().unwrap_or_default();
    if std::path::Path::new(&argv0).file_name() == Some(std::ffi::OsStr::new(WRAPPER_NAME)) {
        let code = runner_wrapper::cli::run(args.collect());
        return std::process::ExitCode::from(u8::try_from(code).unwrap_or(1));
    }
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
    let result = commands::run(cli);
    // Interrupted: the signal thread ends ghr, with 128 + the signal, once it cleaned up.
    interrupt::checkpoint();
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            ui::error(&error.to_string());
            std::process::ExitCode::from(error.exit() as u8)
        }
    }
}
