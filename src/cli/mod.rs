//! Stage 5, the front end: the command line (clap), one file per command, prompts, signals,
//! exit codes, and `ui`, the only place that prints.

pub mod args;
pub mod carry_out;
pub mod commands;
pub mod credential_check;
pub mod exit;
pub mod prompt;
pub mod prompt_app;
pub mod signals;
pub mod targets;
pub mod ui;

use clap::Parser;
use exit::Exit;

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
    let cli = match args::Cli::try_parse_from(args::normalize(std::env::args_os().collect())) {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return std::process::ExitCode::from(if e.use_stderr() {
                Exit::Usage as u8
            } else {
                0
            });
        }
    };
    ui::install();
    let result = commands::run(cli);
    // Interrupted: the signal thread ends ghr, with 128 + the signal, once it cleaned up.
    crate::world::cancel::checkpoint();
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            ui::error(&error.to_string());
            std::process::ExitCode::from(Exit::of(&error) as u8)
        }
    }
}
