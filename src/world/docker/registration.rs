//! One-off containers on a runner's volumes: registration (`config.sh`), re-registration,
//! and bringing the image's runner install into the volume. The runner's own container
//! never starts unconfigured (it would only crash-loop).
//!
//! The registration token goes in on the one-off's stdin and is read by a shell into
//! `ACTIONS_RUNNER_INPUT_TOKEN` (which config.sh reads and removes from its environment), so
//! it is on no command line and in no container's configuration, not even the one-off's.
//! One-offs carry labels, so a command interrupted while one ran (even by SIGKILL) leaves
//! nothing the next command cannot find and remove.

use super::engine::Docker;
use super::labels::ONEOFF_LABEL;
use super::process::{
    checked, checked_stdout, docker, docker_failure, last_line, run, run_for, SLOW,
};
use crate::world::children::{self, Failure, Streams};
use crate::world::error::{Error, Result};
use std::time::Duration;

/// Where the runner keeps its registration; `.runner_migrated` counts as configured too
/// (the real runner writes it when it migrates a registration).
pub const RUNNER_FILES: [&str; 2] = ["/home/runner/.runner", "/home/runner/.runner_migrated"];
pub const CONFIG_SCRIPT: &str = "/home/runner/config.sh";

/// Reads the token from stdin, hands it to config.sh the way config.sh reads inputs, and
/// runs the script given as the first argument with the rest. `remove --local` first when
/// the first argument is `again` (a registration GitHub deleted is redone under its name).
const READ_TOKEN_THEN_CONFIGURE: &str = "IFS= read -r ACTIONS_RUNNER_INPUT_TOKEN || { echo 'no registration token on stdin' >&2; exit 3; }; export ACTIONS_RUNNER_INPUT_TOKEN; if [ \"$1\" = again ]; then shift; \"$1\" remove --local; fi; exec \"$@\"";

/// What survives in the runner's volume when the image's install is copied over it: the
/// registration, the runner's own `.env`/`.path`, its work and diagnostics directories.
pub const SYNC_KEEPS: [&str; 7] = [
    ".runner",
    ".runner_migrated",
    ".credentials*",
    ".env",
    ".path",
    "_work",
    "_diag",
];

/// What `config.sh` needs to register one runner; the token travels separately.
#[derive(Debug, Clone)]
pub struct ConfigRun<'a> {
    /// The (created) container whose volumes hold the runner's files.
    pub container: &'a str,
    pub prefix: &'a str,
    pub image: &'a str,
    pub url: &'a str,
    pub name: &'a str,
    pub labels: &'a [String],
    pub group: &'a str,
    pub workdir: Option<&'a str>,
    pub disable_update: bool,
    /// Proxy variables (`HTTP_PROXY`, `https_proxy`, ...) config.sh needs to reach GitHub.
    pub proxy_env: &'a [(String, String)],
    /// Drop the local registration first (`config.sh remove --local`).
    pub again: bool,
    /// `RUNNER_REGISTER_TIMEOUT`: past it the one-off is stopped and removed.
    pub timeout: Duration,
}

/// The one-off's name: one per runner and job, so a leftover is found (and replaced) by name too.
pub fn oneoff_name(runner: &str, what: &str) -> String {
    format!("{runner}-{what}")
}

impl Docker {
    /// Whether the runner in `container` has been configured. `docker cp` reads from created
    /// and stopped containers too, so nothing has to run for the answer.
    pub fn is_configured(&self, container: &str) -> Result<bool> {
        for file in RUNNER_FILES {
            let source = format!("{container}:{file}");
            let out = run(&mut docker(&["cp", &source, "-"]))?;
            if out.status.success() {
                return Ok(true);
            }
            let stderr = String::from_utf8_lossy(&out.stderr);
            if stderr.contains("No such container") {
                return Err(Error::Docker(format!(
                    "container {container} does not exist"
                )));
            }
            if stderr.contains("Cannot connect") {
                return Err(Error::Docker(last_line(&stderr).to_string()));
            }
        }
        Ok(false)
    }

    /// The start of a one-off container on `container`'s volumes, labelled as ghr's.
    fn oneoff(&self, prefix: &str, runner: &str, what: &str) -> std::process::Command {
        let name = oneoff_name(runner, what);
        // A leftover of an interrupted run would block the name.
        let _ = run(&mut docker(&["rm", "-f", &name]));
        let mut cmd = docker(&["run", "--rm", "--name", &name]);
        cmd.args(["--label", &format!("{ONEOFF_LABEL}={what}")])
            .args([
                "--label",
                &format!("{}={prefix}", crate::model::compose::label::PREFIX),
            ])
            .args([
                "--label",
                &format!("{}={runner}", crate::model::compose::label::RUNNER),
            ]);
        cmd
    }

    /// Runs `config.sh` once in a throw-away container that shares `cfg.container`'s volumes,
    /// with the token on stdin (see the module docs).
    pub fn configure(&self, cfg: &ConfigRun, token: &str) -> Result<()> {
        let mut cmd = self.oneoff(cfg.prefix, cfg.name, "register");
        cmd.args(["-i", "--network", "host", "--volumes-from", cfg.container]);
        for (key, value) in cfg.proxy_env {
            // By name: the value travels in the docker client's environment, not on argv.
            cmd.args(["-e", key]).env(key, value);
        }
        cmd.args([
            "--entrypoint",
            "/bin/bash",
            cfg.image,
            "-c",
            READ_TOKEN_THEN_CONFIGURE,
            "bash",
        ]);
        if cfg.again {
            cmd.arg("again");
        }
        cmd.arg(CONFIG_SCRIPT)
            .args(["--url", cfg.url, "--name", cfg.name])
            .args(["--labels", &cfg.labels.join(",")])
            .args(["--runnergroup", cfg.group, "--unattended", "--replace"]);
        if let Some(work) = cfg.workdir {
            cmd.args(["--work", work]);
        }
        if cfg.disable_update {
            cmd.arg("--disableupdate");
        }
        let what = format!("registering {}", cfg.name);
        let input = format!("{token}\n");
        let ran = children::run(
            &mut cmd,
            Some(input.as_bytes()),
            Streams::Capture,
            cfg.timeout,
            &what,
        );
        let out = match ran {
            Ok(out) => out,
            Err(Failure::TimedOut(_)) => {
                // Timed out: the client is gone, the one-off container is not.
                let _ = run(&mut docker(&[
                    "rm",
                    "-f",
                    &oneoff_name(cfg.name, "register"),
                ]));
                return Err(Error::Failed(format!(
                    "GitHub did not answer within {} (RUNNER_REGISTER_TIMEOUT), so config.sh was stopped and its one-off container removed; run the command again when GitHub answers",
                    runner_wrapper::contract::format_duration(cfg.timeout)
                )));
            }
            Err(f) => return Err(super::process::failure(&cmd, f, &what)),
        };
        if !out.status.success() {
            let stdout = String::from_utf8_lossy(&out.stdout);
            let stderr = String::from_utf8_lossy(&out.stderr);
            // Docker's own failure (the one-off never ran config.sh): the daemon says why.
            if out.status.code() == Some(125) || stderr.contains("Error response from daemon") {
                return Err(Error::Docker(format!(
                    "docker run of the registration failed: {}",
                    docker_failure(&stderr)
                )));
            }
            // config.sh reports on stdout and stderr; keep its last words, minus any secret.
            let text = format!("{stdout}\n{stderr}");
            let line = last_line(&text).replace(token, "***");
            return Err(Error::Failed(format!(
                "config.sh failed ({}): {line}",
                out.status
            )));
        }
        Ok(())
    }

    /// Copies the runner install of `image` (its /home/runner) into `volume`, keeping what
    /// [`SYNC_KEEPS`] names and `workdir` when it is a directory of its own there; the volume's
    /// top directory gets the owner and mode of the image's /home/runner.
    ///
    /// As root, because of what an interrupted run leaves: Docker seeds a named volume from
    /// the image (files, owner and mode of /home/runner) only when a container is created on
    /// it while it is empty. Compose killed between making the volume and making the
    /// container leaves it empty and root's; the runner's user cannot copy into that, and
    /// compose would no longer seed it once anything is in it. Root can, and leaves the
    /// volume as Docker's seeding would have: a half-copied volume is copied again.
    pub fn sync_install(
        &self,
        prefix: &str,
        runner: &str,
        image: &str,
        volume: &str,
        workdir: Option<&str>,
    ) -> Result<()> {
        let mut cmd = self.oneoff(prefix, runner, "sync");
        cmd.args(["--user", "0:0"])
            .args(["-v", &format!("{volume}:/ghr-volume")])
            .args([
                "--entrypoint",
                "/bin/sh",
                image,
                "-c",
                &sync_script(workdir),
            ]);
        checked_slow(cmd, &format!("copying the runner install into {volume}"))
    }

    /// Makes volume `to` (created when missing) a copy of volume `from`, everything in it
    /// replaced. As root in the one-off: the udev rules volume is root's, the runner's home
    /// the runner's, and `cp -a` keeps both owners.
    pub fn carry_over(
        &self,
        prefix: &str,
        runner: &str,
        image: &str,
        from: &str,
        to: &str,
    ) -> Result<()> {
        let mut cmd = self.oneoff(prefix, runner, "carry-over");
        cmd.args(["--user", "0:0"])
            .args(["-v", &format!("{from}:/ghr-from:ro")])
            .args(["-v", &format!("{to}:/ghr-to")])
            .args(["--entrypoint", "/bin/sh", image, "-c", CARRY_OVER_SCRIPT]);
        checked_slow(cmd, &format!("copying volume {from} into {to}"))
    }

    /// The one-off containers of this prefix that exist (an interrupted command's, or the
    /// running command's own).
    pub fn oneoffs(&self, prefix: &str) -> Result<Vec<String>> {
        let out = checked_stdout(
            docker(&[
                "ps",
                "-a",
                "--filter",
                &format!("label={ONEOFF_LABEL}"),
                "--filter",
                &format!("label={}={prefix}", crate::model::compose::label::PREFIX),
                "--format",
                "{{.Names}}",
            ]),
            "docker ps",
        )?;
        Ok(out
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .map(String::from)
            .collect())
    }

    /// Removes the one-off containers an interrupted command of this prefix left behind.
    /// Returns their names.
    pub fn remove_leftovers(&self, prefix: &str) -> Result<Vec<String>> {
        let names = self.oneoffs(prefix)?;
        if !names.is_empty() {
            let mut cmd = docker(&["rm", "-f"]);
            cmd.args(&names);
            checked(cmd, "docker rm")?;
        }
        Ok(names)
    }
}

/// Runs a one-off that copies (see [`SLOW`]); a failure keeps the lines that say why.
fn checked_slow(mut cmd: std::process::Command, what: &str) -> Result<()> {
    let out = run_for(&mut cmd, None, SLOW, what)?;
    if !out.status.success() {
        return Err(Error::Docker(format!(
            "{what} failed: {}",
            docker_failure(&String::from_utf8_lossy(&out.stderr))
        )));
    }
    Ok(())
}

/// Empties /ghr-to, then copies /ghr-from into it with owners, modes and times: the result
/// is the old volume exactly, not a mix with the image's files compose seeded it with.
const CARRY_OVER_SCRIPT: &str = "set -e; cd /ghr-to; for f in * .[!.]* ..?*; do \
     [ -e \"$f\" ] || [ -L \"$f\" ] || continue; rm -rf \"$f\"; done; \
     cp -a /ghr-from/. /ghr-to/";

/// The shell script of [`Docker::sync_install`]: every entry of the image's /home/runner but
/// the kept ones replaces its namesake in the volume (mounted at /ghr-volume); entries only
/// the volume has (a self-updated runner's versions, the user's files) stay; then the
/// volume's top directory takes /home/runner's owner and mode (`cp -a` keeps those of the
/// entries).
pub fn sync_script(workdir: Option<&str>) -> String {
    let mut keeps: Vec<String> = SYNC_KEEPS.iter().map(|k| k.to_string()).collect();
    // A relative work folder is a directory of /home/runner: the jobs' checkouts stay.
    if let Some(work) = workdir.filter(|w| !w.starts_with('/') && !w.is_empty()) {
        let top = work.split('/').next().unwrap_or(work);
        if top
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c))
        {
            keeps.push(top.to_string());
        }
    }
    format!(
        "set -e; cd /home/runner; for f in * .[!.]* ..?*; do \
         [ -e \"$f\" ] || [ -L \"$f\" ] || continue; \
         case \"$f\" in {}) continue;; esac; \
         rm -rf \"/ghr-volume/$f\"; cp -a \"$f\" /ghr-volume/; done; \
         chown \"$(stat -c %u:%g .)\" /ghr-volume; chmod \"$(stat -c %a .)\" /ghr-volume",
        keeps.join("|")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sync_keeps_the_registration_and_a_relative_work_folder() {
        let script = sync_script(None);
        assert!(script.contains(
            "case \"$f\" in .runner|.runner_migrated|.credentials*|.env|.path|_work|_diag) continue;; esac"
        ));
        assert!(
            script.ends_with("done; chown \"$(stat -c %u:%g .)\" /ghr-volume; chmod \"$(stat -c %a .)\" /ghr-volume"),
            "the volume's top directory is the runner's, as Docker seeds it: {script}"
        );
        assert!(sync_script(Some("jobs")).contains("|_diag|jobs)"));
        assert!(sync_script(Some("jobs/x")).contains("|_diag|jobs)"));
        assert_eq!(sync_script(Some("/srv/work")), script);
        assert_eq!(
            sync_script(Some("a b")),
            script,
            "nothing odd goes into the script"
        );
    }
}
