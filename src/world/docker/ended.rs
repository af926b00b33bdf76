//! How a container ended: its exit code, for `ghr serve`'s supervisor of one-job runners
//! (a runner that finished its job exits 0; one that died exits otherwise).

use super::engine::Docker;
use super::process::{checked_stdout, docker};
use crate::world::error::Result;

impl Docker {
    /// The exit code of `container`'s last run (`None`: it never ran, or Docker did not say).
    pub fn exit_code(&self, container: &str) -> Result<Option<i64>> {
        let out = checked_stdout(
            docker(&["inspect", "--format", "{{.State.ExitCode}}", container]),
            "docker inspect",
        )?;
        Ok(out.trim().parse().ok())
    }
}
