//! Docker, from ghr's side: the engine (containers, volumes, images), the compose driver,
//! and runner registration in one-off containers. State is read from structured output
//! (`docker inspect` JSON), never scraped from tables.

mod compose;
mod engine;
mod registration;

pub use compose::{compose_failure, ComposeFlavor};
pub use engine::Docker;
pub use registration::{oneoff_name, ConfigRun, ONEOFF_LABEL, SYNC_KEEPS};

use crate::world::error::{Error, Result};

/// The label compose puts on what it creates: which project a container belongs to.
pub const COMPOSE_PROJECT_LABEL: &str = "com.docker.compose.project";
use std::process::{Command, Output, Stdio};

pub(crate) fn run(cmd: &mut Command) -> Result<Output> {
    cmd.stdin(Stdio::null()).output().map_err(|e| {
        Error::Docker(format!(
            "cannot run {:?}: {e}; is Docker installed?",
            cmd.get_program()
        ))
    })
}

/// Runs `cmd`; a non-zero exit is an error carrying the line of its output that says why.
pub(crate) fn checked(mut cmd: Command, what: &str) -> Result<Output> {
    let out = run(&mut cmd)?;
    if !out.status.success() {
        let stderr = String::from_utf8_lossy(&out.stderr);
        return Err(Error::Docker(format!(
            "{what} failed: {}",
            last_line(&stderr)
        )));
    }
    Ok(out)
}

pub(crate) fn checked_stdout(cmd: Command, what: &str) -> Result<String> {
    let out = checked(cmd, what)?;
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

pub(crate) fn last_line(text: &str) -> &str {
    text.lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("")
        .trim()
}

/// `docker <args>` as a command.
pub(crate) fn docker(args: &[&str]) -> Command {
    let mut cmd = Command::new("docker");
    cmd.args(args);
    cmd
}
