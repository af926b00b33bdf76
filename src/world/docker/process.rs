//! Running the docker CLI: each failure is an error carrying the line that says why.

use crate::world::error::{Error, Result};
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
