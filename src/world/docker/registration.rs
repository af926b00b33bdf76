//! A runner's registration, and one-off containers on its volumes.
//!
//! Registration needs no container of its own: the token goes into the runner's created
//! container as a credential file (`docker cp`, on stdin), and the runner's first start
//! registers (see `model::first_start`); ghr reads the outcome back the same way.
//!
//! One-offs remain for bringing the image's runner install into an adopted volume and for
//! carrying old volumes over. They carry labels, so a command interrupted while one ran
//! (even by SIGKILL) leaves nothing the next command cannot find and remove.

use super::engine::Docker;
use super::labels::ONEOFF_LABEL;
use super::process::{
    checked, checked_stdout, docker, docker_failure, last_line, run, run_for, QUICK, SLOW,
};
use crate::model::first_start;
use crate::world::error::{Error, Result};

/// The runner's home in every runner image, and its user (uid and gid).
const RUNNER_HOME: &str = "/home/runner";
const RUNNER_UID: u32 = 1001;

/// Where the runner keeps its registration; `.runner_migrated` counts as configured too
/// (the real runner writes it when it migrates a registration).
pub const RUNNER_FILES: [&str; 2] = ["/home/runner/.runner", "/home/runner/.runner_migrated"];

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

/// The one-off's name: one per runner and job, so a leftover is found (and replaced) by name too.
pub fn oneoff_name(runner: &str, what: &str) -> String {
    format!("{runner}-{what}")
}

impl Docker {
    /// Whether the runner in `container` has been configured. `docker cp` reads from created
    /// and stopped containers too, so nothing has to run for the answer.
    pub fn is_configured(&self, container: &str) -> Result<bool> {
        for file in RUNNER_FILES {
            if self.file_size(container, file)?.is_some() {
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// The size of `file` in `container` (created, stopped or running); `None` when it has
    /// none. On the engine's socket this reads nothing (`HEAD .../archive`, a stat): reading a
    /// file that is there costs the engine a helper process each time (tens of ms of CPU).
    pub fn file_size(&self, container: &str, file: &str) -> Result<Option<u64>> {
        let Some(socket) = super::api::socket() else {
            return Ok(self.read_file(container, file)?.map(|d| d.len() as u64));
        };
        let path = format!(
            "/containers/{}/archive?path={}",
            super::api::escape(container),
            super::api::escape(file)
        );
        let answer = super::api::call(&socket, "HEAD", &path, None, QUICK)
            .map_err(|e| Error::Docker(format!("looking for {file} in {container}: {e}")))?;
        match answer.status {
            200 => answer
                .header("x-docker-container-path-stat")
                .and_then(path_stat_size)
                .map(Some)
                .ok_or_else(|| {
                    Error::Docker(format!(
                        "looking for {file} in {container}: the engine's answer has no size"
                    ))
                }),
            // No file, or no container: a HEAD answer has no message to tell which, and
            // reading a missing file is cheap.
            404 => Ok(self.read_file(container, file)?.map(|d| d.len() as u64)),
            status => Err(Error::Docker(format!(
                "looking for {file} in {container}: the engine answered {status}"
            ))),
        }
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

    /// Places the registration `credential` (see `model::first_start`) in `container`'s
    /// /home/runner, mode 0600 and owned by the runner's user, with the first start's status
    /// reset to pending. `docker cp` writes into the volume of a created or stopped container
    /// (and of a running one); the credential travels on its stdin only.
    pub fn place_credential(&self, container: &str, credential: &str) -> Result<()> {
        self.put_home_files(
            container,
            &[
                (first_start::STATUS, 0o644, first_start::PENDING.as_bytes()),
                (first_start::CREDENTIAL, 0o600, credential.as_bytes()),
            ],
            &format!("placing the registration token in {container}"),
        )
    }

    /// Writes `files` (path under /home/runner, mode, content) into `container`'s
    /// /home/runner, owned by the runner's user; the content travels on stdin (or the engine
    /// API) only.
    pub fn put_home_files(
        &self,
        container: &str,
        files: &[(&str, u32, &[u8])],
        what: &str,
    ) -> Result<()> {
        let mtime = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        let entries: Vec<super::tar::Entry> = files
            .iter()
            .map(|(path, mode, data)| super::tar::Entry {
                name: path.trim_start_matches(RUNNER_HOME).trim_start_matches('/'),
                mode: *mode,
                uid: RUNNER_UID,
                gid: RUNNER_UID,
                data,
            })
            .collect();
        let tar = super::tar::archive(&entries, mtime);
        if let Some(socket) = super::api::socket() {
            let path = format!(
                "/containers/{}/archive?path={}",
                super::api::escape(container),
                super::api::escape(RUNNER_HOME)
            );
            let answer = super::api::call(
                &socket,
                "PUT",
                &path,
                Some(("application/x-tar", &tar)),
                QUICK,
            )
            .map_err(|e| Error::Docker(format!("{what}: {e}")))?;
            return match answer.status {
                200..=299 => Ok(()),
                _ => Err(Error::Docker(format!(
                    "{what} failed: {}",
                    answer.message()
                ))),
            };
        }
        let target = format!("{container}:{RUNNER_HOME}");
        let out = run_for(&mut docker(&["cp", "-", &target]), Some(&tar), QUICK, what)?;
        if !out.status.success() {
            return Err(Error::Docker(format!(
                "{what} failed: {}",
                docker_failure(&String::from_utf8_lossy(&out.stderr))
            )));
        }
        Ok(())
    }

    /// What `container`'s first start says of its registration (`None`: nothing, as in a
    /// volume no first start of ghr's ran on).
    pub fn first_start(&self, container: &str) -> Result<Option<first_start::Outcome>> {
        // Pending or registered are told by the size; a failure is read for its reason.
        match self.file_size(container, first_start::STATUS)? {
            None => return Ok(None),
            Some(size) => {
                if let Some(outcome) = first_start::outcome_by_size(size) {
                    return Ok(Some(outcome));
                }
            }
        }
        Ok(self
            .read_file(container, first_start::STATUS)?
            .map(|text| first_start::outcome(&String::from_utf8_lossy(&text))))
    }

    /// A small file of `container` (created, stopped or running); `None` when it has none.
    pub fn read_file(&self, container: &str, file: &str) -> Result<Option<Vec<u8>>> {
        if let Some(socket) = super::api::socket() {
            let path = format!(
                "/containers/{}/archive?path={}",
                super::api::escape(container),
                super::api::escape(file)
            );
            let answer = super::api::call(&socket, "GET", &path, None, QUICK)
                .map_err(|e| Error::Docker(format!("reading {file} of {container}: {e}")))?;
            return match answer.status {
                200 => Ok(super::tar::first_file(&answer.body)),
                404 if answer.message().contains("No such container") => Err(Error::Docker(
                    format!("container {container} does not exist"),
                )),
                404 => Ok(None),
                _ => Err(Error::Docker(format!(
                    "reading {file} of {container}: {}",
                    answer.message()
                ))),
            };
        }
        let source = format!("{container}:{file}");
        let out = run(&mut docker(&["cp", &source, "-"]))?;
        if !out.status.success() {
            let stderr = String::from_utf8_lossy(&out.stderr);
            if stderr.contains("No such container") {
                return Err(Error::Docker(format!(
                    "container {container} does not exist"
                )));
            }
            if stderr.contains("Cannot connect") {
                return Err(Error::Docker(last_line(&stderr).to_string()));
            }
            return Ok(None);
        }
        Ok(super::tar::first_file(&out.stdout))
    }

    /// Starts the container `name` (already running is fine).
    pub fn start_one(&self, name: &str) -> Result<()> {
        match super::api::socket() {
            Some(socket) => {
                let path = format!("/containers/{}/start", super::api::escape(name));
                let answer = super::api::call(&socket, "POST", &path, None, QUICK)
                    .map_err(|e| Error::Docker(format!("starting {name}: {e}")))?;
                match answer.status {
                    // 304: already running.
                    200..=299 | 304 => Ok(()),
                    _ => Err(Error::Docker(format!(
                        "docker start failed: {}",
                        answer.message()
                    ))),
                }
            }
            None => self.containers_do("start", &[name.to_string()], None),
        }
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

/// The size in the engine's path-stat header (base64 of JSON: name, size, mode, mtime, ...).
fn path_stat_size(header: &str) -> Option<u64> {
    use base64::Engine;
    let json = base64::engine::general_purpose::STANDARD
        .decode(header.trim())
        .ok()?;
    serde_json::from_slice::<serde_json::Value>(&json)
        .ok()?
        .get("size")?
        .as_u64()
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
    fn the_size_comes_from_the_engines_path_stat() {
        // As Docker 20.10 sends it for an 11-byte file.
        let header = "eyJuYW1lIjoiLmdoci1maXJzdC1zdGFydCIsInNpemUiOjExLCJtb2RlIjo0MjAsIm10aW1lIjoiMjAyNi0xMi0wNVQwNDoyNTowNi44NzM2Mzc1MTNaIiwibGlua1RhcmdldCI6IiJ9";
        assert_eq!(path_stat_size(header), Some(11));
        assert_eq!(path_stat_size("e30="), None, "{{}}: no size");
        assert_eq!(path_stat_size("not base64!"), None);
    }

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
