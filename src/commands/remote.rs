//! The GitHub side of the lifecycle commands, in the fleet's own terms.
//! (Placeholder until the REST client lands on main.)

use crate::fleet::RemoteRunner;
use crate::settings::Settings;
use anyhow::Result;

/// What deleting one runner on GitHub came to.
#[derive(Debug, Clone, PartialEq, Eq)]
#[allow(dead_code)] // built by the GitHub client once it lands
pub enum Deleted {
    Removed,
    /// Someone removed it before us.
    Gone,
    /// It is running a job (GitHub answers 422); its container is kept.
    Busy,
}

pub struct Remote {
    _private: (),
}

impl Remote {
    pub fn connect(settings: &Settings) -> Result<Remote> {
        settings.require_pat()?;
        anyhow::bail!("the GitHub client is not available in this build yet")
    }

    pub fn list(&self) -> Result<Vec<RemoteRunner>> {
        unreachable!()
    }

    pub fn delete(&self, _runner: &RemoteRunner) -> Result<Deleted> {
        unreachable!()
    }

    /// One registration token for the whole command, through the token cache.
    pub fn registration_token(&self) -> Result<String> {
        unreachable!()
    }

    /// Drops the cached token, so the next command fetches a fresh one.
    pub fn forget_token(&self) {}
}
