//! How a container ended, for `ghr serve`'s supervisor of one-job runners: when its current
//! (or last) run started, which `ghr stop` records before it stops one on purpose.

use super::engine::Docker;
use super::process::{checked_stdout, docker};
use crate::world::error::Result;

impl Docker {
    /// When `container`'s current or last run started (Docker's RFC 3339 time; the zero
    /// time when it never ran).
    pub fn started_at(&self, container: &str) -> Result<String> {
        let out = checked_stdout(
            docker(&["inspect", "--format", "{{.State.StartedAt}}", container]),
            "docker inspect",
        )?;
        Ok(out.trim().to_string())
    }
}
