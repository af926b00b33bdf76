//! Running the docker CLI: every call has a limit (see `world::children`), and each failure
//! is an error carrying the lines that say why.

use crate::world::children::{self, Failure, Output, Streams};
use crate::world::error::{Error, Result};
use runner_wrapper::contract::format_duration;
use std::process::Command;
use std::time::Duration;

/// Questions and quick changes (`ps`, `inspect`, `cp`, `rm`, `start`, `volume ...`): a
/// healthy engine answers in well under a second.
pub(crate) const QUICK: Duration = Duration::from_secs(120);
/// Creating containers, which may pull their image first, and copying a runner install or
/// an old volume in a one-off container.
pub(crate) const SLOW: Duration = Duration::from_secs(30 * 60);
/// `docker build` of the custom image.
pub(crate) const BUILD: Duration = Duration::from_secs(60 * 60);

/// `docker <verb>` (`docker volume ls`) as shown in messages; other programs by name.
fn shown(cmd: &Command) -> String {
    let program = cmd.get_program().to_string_lossy().into_owned();
    if program != "docker" {
        return program;
    }
    let words: Vec<String> = cmd
        .get_args()
        .map(|a| a.to_string_lossy().into_owned())
        .filter(|a| !a.starts_with('-'))
        .take(2)
        .collect();
    let two = matches!(
        words.first().map(String::as_str),
        Some("volume" | "image" | "container" | "compose")
    );
    let verb = words[..words.len().min(if two { 2 } else { 1 })].join(" ");
    format!("docker {verb}").trim().to_string()
}

/// Runs `cmd` with `limit`, collecting its output; `what` names the wait (for the notice
/// and the timeout message).
pub(crate) fn run_for(
    cmd: &mut Command,
    input: Option<&[u8]>,
    limit: Duration,
    what: &str,
) -> Result<Output> {
    children::run(cmd, input, Streams::Capture, limit, what).map_err(|f| failure(cmd, f, what))
}

/// A child's failure to run as an error.
pub(crate) fn failure(cmd: &Command, failure: Failure, what: &str) -> Error {
    match failure {
        Failure::Spawn(e) => Error::Docker(format!(
            "cannot run {:?}: {e}; is Docker installed?",
            cmd.get_program()
        )),
        Failure::Interrupted => Error::Interrupted(format!("{what}: interrupted")),
        Failure::TimedOut(limit) => Error::Docker(format!(
            "{what}: `{}` did not finish within {}; it was stopped (is the Docker engine hung or overloaded? `docker info` tells)",
            shown(cmd),
            format_duration(limit)
        )),
    }
}

/// Runs a quick docker command (see [`QUICK`]).
pub(crate) fn run(cmd: &mut Command) -> Result<Output> {
    let what = shown(cmd);
    run_for(cmd, None, QUICK, &what)
}

/// Runs `cmd`; a non-zero exit is an error carrying the lines of its output that say why.
pub(crate) fn checked(mut cmd: Command, what: &str) -> Result<Output> {
    let out = run(&mut cmd)?;
    if !out.status.success() {
        return Err(Error::Docker(format!(
            "{what} failed: {}",
            docker_failure(&String::from_utf8_lossy(&out.stderr))
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

/// Why a docker command failed, from its stderr: every line but the CLI's closing advice
/// (`See 'docker run --help'.`, `Run 'docker run --help' for more information`), joined
/// with "; " (the daemon's reason, `Unable to find image ...` and `pull access denied ...`
/// are on lines of their own, not on the last one); "no output" when there is none.
pub(crate) fn docker_failure(stderr: &str) -> String {
    let advice = |l: &str| {
        (l.starts_with("See '") || l.starts_with("Run '"))
            && (l.contains("--help'") || l.ends_with("for more information"))
    };
    let mut reasons: Vec<&str> = Vec::new();
    for line in stderr.lines().map(str::trim) {
        let line = line.strip_prefix("docker: ").unwrap_or(line);
        if line.is_empty() || advice(line) || reasons.contains(&line) {
            continue;
        }
        reasons.push(line);
    }
    if reasons.is_empty() {
        return "no output".into();
    }
    reasons.join("; ")
}

/// `docker <args>` as a command.
pub(crate) fn docker(args: &[&str]) -> Command {
    let mut cmd = Command::new("docker");
    cmd.args(args);
    cmd
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn docker_failures_keep_the_lines_that_say_why() {
        for (stderr, want) in [
            (
                "Unable to find image 'does-not-exist:1' locally\n\
                 docker: Error response from daemon: pull access denied for does-not-exist, repository does not exist or may require 'docker login': denied: requested access to the resource is denied.\n\
                 See 'docker run --help'.\n",
                "Unable to find image 'does-not-exist:1' locally; Error response from daemon: pull access denied for does-not-exist, repository does not exist or may require 'docker login': denied: requested access to the resource is denied.",
            ),
            (
                "Unable to find image 'ghcr.io/x/y:1' locally\n\
                 docker: Error response from daemon: Get \"https://ghcr.io/v2/\": dial tcp: lookup ghcr.io: no such host.\n\
                 Run 'docker run --help' for more information\n",
                "Unable to find image 'ghcr.io/x/y:1' locally; Error response from daemon: Get \"https://ghcr.io/v2/\": dial tcp: lookup ghcr.io: no such host.",
            ),
            (
                "Error response from daemon: manifest for x:1 not found: manifest unknown: manifest unknown\n",
                "Error response from daemon: manifest for x:1 not found: manifest unknown: manifest unknown",
            ),
            (
                "Cannot connect to the Docker daemon at unix:///var/run/docker.sock. Is the docker daemon running?\n",
                "Cannot connect to the Docker daemon at unix:///var/run/docker.sock. Is the docker daemon running?",
            ),
            ("cp: can't create '/x': Permission denied\ncp: can't create '/x': Permission denied\n", "cp: can't create '/x': Permission denied"),
            ("", "no output"),
            ("See 'docker run --help'.\n", "no output"),
        ] {
            assert_eq!(docker_failure(stderr), want);
        }
    }

    #[test]
    fn commands_are_shown_by_their_verb() {
        assert_eq!(shown(&docker(&["volume", "ls", "-q"])), "docker volume ls");
        assert_eq!(shown(&docker(&["ps", "-a", "--filter", "x"])), "docker ps");
        assert_eq!(shown(&docker(&["rm", "-f", "x-runner-1"])), "docker rm");
        let mut compose = Command::new("docker-compose");
        compose.args(["--env-file", "/x", "up"]);
        assert_eq!(shown(&compose), "docker-compose");
    }
}
