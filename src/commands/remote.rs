//! The GitHub side of the lifecycle commands, in the fleet's own terms: the REST client
//! for listing and deleting, the token cache for registration tokens.

use crate::fleet::RemoteRunner;
use crate::github::{GitHub, GitHubError, Scope};
use crate::settings::Settings;
use crate::token_cache::TokenCache;
use anyhow::Result;

/// What deleting one runner on GitHub came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Deleted {
    Removed,
    /// Someone removed it before us.
    Gone,
    /// It is running a job (GitHub answers 422); its container is kept.
    Busy,
}

pub struct Remote {
    gh: GitHub,
    cache: TokenCache,
}

impl Remote {
    pub fn connect(settings: &Settings) -> Result<Remote> {
        let pat = settings.require_pat()?;
        let scope = Scope::from_settings(&settings.org, settings.repo.as_deref());
        let opts = crate::github::Options {
            proxy: crate::github::ProxySettings {
                http: settings.http_proxy.clone(),
                https: settings.https_proxy.clone(),
                no_proxy: settings.no_proxy.clone(),
            },
            ..Default::default()
        };
        let gh = GitHub::with_options(&settings.github_api_url, scope, pat, opts)?;
        let cache = TokenCache::new(&settings.reg_token_cache_file, settings.reg_token_cache_ttl);
        Ok(Remote { gh, cache })
    }

    /// Every runner of the scope (all pages); the caller keeps those of its prefix.
    pub fn list(&self) -> Result<Vec<RemoteRunner>> {
        Ok(self
            .gh
            .list_runners()?
            .into_iter()
            .map(|r| RemoteRunner {
                id: r.id,
                name: r.name,
                status: r.status,
                busy: r.busy,
                labels: r.labels,
            })
            .collect())
    }

    pub fn delete(&self, runner: &RemoteRunner) -> Result<Deleted> {
        match self.gh.delete_runner(runner.id) {
            Ok(()) => Ok(Deleted::Removed),
            Err(GitHubError::RunnerBusy { .. }) => Ok(Deleted::Busy),
            Err(GitHubError::RunnerNotFound { .. }) => Ok(Deleted::Gone),
            Err(e) => Err(e.into()),
        }
    }

    /// One registration token for the whole command, through the token cache.
    pub fn registration_token(&self) -> Result<String> {
        let token = self.cache.get_or_fetch(|| self.gh.registration_token())?;
        Ok(token.token.expose().to_string())
    }

    /// Drops the cached token, so the next command fetches a fresh one (a registration with
    /// it failed, perhaps because GitHub no longer accepts it).
    pub fn forget_token(&self) {
        let _ = self.cache.invalidate();
    }
}
