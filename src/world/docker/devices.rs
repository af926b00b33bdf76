//! What a board runner's container was given and is doing, for the device watcher
//! (`world::replug`): its device mappings, and whether a job runs in it.

use super::engine::Docker;
use super::process::{checked_stdout, docker};
use crate::world::error::Result;

impl Docker {
    /// The (node on the host, path inside) pairs `container` was created with, sorted.
    pub fn device_pairs(&self, container: &str) -> Result<Vec<(String, String)>> {
        let out = checked_stdout(
            docker(&[
                "inspect",
                "--format",
                "{{range .HostConfig.Devices}}{{.PathOnHost}}\t{{.PathInContainer}}\n{{end}}",
                container,
            ]),
            "docker inspect",
        )?;
        let mut v: Vec<(String, String)> = out
            .lines()
            .filter_map(|l| l.split_once('\t'))
            .map(|(h, c)| (h.to_string(), c.to_string()))
            .collect();
        v.sort();
        Ok(v)
    }

    /// Why Docker last failed to start `container` (empty: it did not fail), e.g. a device
    /// missing when the host came up and the restart policy started it.
    pub fn start_error(&self, container: &str) -> Result<String> {
        let out = checked_stdout(
            docker(&["inspect", "--format", "{{.State.Error}}", container]),
            "docker inspect",
        )?;
        Ok(out.trim().to_string())
    }

    /// Whether a job runs in `container`: the runner starts one `Runner.Worker` process per
    /// job, seen from the host with `docker top` (nothing is needed inside the image).
    pub fn runs_a_job(&self, container: &str) -> Result<bool> {
        let out = checked_stdout(docker(&["top", container]), "docker top")?;
        Ok(out.contains("Runner.Worker"))
    }
}
