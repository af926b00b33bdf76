//! Docker, from ghr's side: the engine (containers, volumes, images), the compose driver,
//! and runner registration in one-off containers. State is read from structured output
//! (`docker inspect` JSON), never scraped from tables.

mod compose;
mod engine;
mod registration;

pub use compose::{compose_failure, ComposeFlavor};
pub use engine::{Container, Docker};
pub use registration::{ConfigRun, ONEOFF_LABEL};

use std::process::{Command, Output, Stdio};

/// A failure of the engine, compose or a build: exit code "Docker error".
#[derive(Debug)]
pub struct DockerError(pub String);

impl std::fmt::Display for DockerError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for DockerError {}

pub(crate) fn run(cmd: &mut Command) -> anyhow::Result<Output> {
    cmd.stdin(Stdio::null()).output().map_err(|e| {
        DockerError(format!(
            "cannot run {:?}: {e}; is Docker installed?",
            cmd.get_program()
        ))
        .into()
    })
}

/// Runs `cmd`; a non-zero exit is an error carrying the lines of its output that say why.
pub(crate) fn checked(mut cmd: Command, what: &str) -> anyhow::Result<Output> {
    let out = run(&mut cmd)?;
    if !out.status.success() {
        let stderr = String::from_utf8_lossy(&out.stderr);
        return Err(DockerError(format!("{what} failed: {}", last_line(&stderr))).into());
    }
    Ok(out)
}

pub(crate) fn checked_output(cmd: &mut Command, what: &str) -> anyhow::Result<String> {
    let mut owned = Command::new(cmd.get_program());
    owned.args(cmd.get_args());
    let out = checked(owned, what)?;
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

pub(crate) fn last_line(text: &str) -> &str {
    text.lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("")
        .trim()
}
