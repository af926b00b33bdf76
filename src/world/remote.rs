//! GitHub in the fleet's terms: the REST client for listing, deleting, labelling and
//! grouping runners, and the token cache for registration tokens.

use crate::config::settings::Settings;
use crate::model::fleet::RemoteRunner;
use crate::plan::GroupTarget;
use crate::world::concurrent::map_bounded;
use crate::world::error::{Error, Result};
use crate::world::github::{
    app_token_cache_path, load_app_key, App, Auth, GitHub, GitHubError, Runner, Scope,
    WRITE_CONCURRENCY,
};
use crate::world::token_cache::TokenCache;

/// What deleting one runner on GitHub came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Deleted {
    Removed,
    /// Someone removed it before us.
    Gone,
    /// It is running a job (GitHub says so); its container is kept.
    Busy,
}

pub struct Remote {
    gh: GitHub,
    cache: TokenCache,
    org_scope: bool,
    stats: Option<std::sync::Arc<crate::world::github::ApiStats>>,
}

impl Remote {
    pub fn connect(settings: &Settings) -> Result<Remote> {
        Remote::connect_with(settings, |_| {})
    }

    /// [`Remote::connect`] with the client's options changed by `tune` (a long-running
    /// process counts its calls and does not sleep through rate limits).
    pub fn connect_with(
        settings: &Settings,
        tune: impl FnOnce(&mut crate::world::github::Options),
    ) -> Result<Remote> {
        let scope = Scope::from_settings(&settings.org, settings.repo.as_deref());
        let auth = auth(settings, &scope)?;
        let mut opts = crate::world::github::Options {
            proxy: crate::world::github::ProxySettings {
                http: settings.http_proxy.clone(),
                https: settings.https_proxy.clone(),
                no_proxy: settings.no_proxy.clone(),
            },
            ..Default::default()
        };
        tune(&mut opts);
        let stats = opts.stats.clone();
        let gh = GitHub::with_auth(&settings.github_api_url, scope, auth, opts)?;
        let cache = TokenCache::new(&settings.reg_token_cache_file, settings.reg_token_cache_ttl)
            .for_target(settings.registration_url());
        Ok(Remote {
            gh,
            cache,
            org_scope: settings.repo.is_none(),
            stats,
        })
    }

    /// The counts of this client's calls, when it keeps them.
    pub fn stats(&self) -> Option<&std::sync::Arc<crate::world::github::ApiStats>> {
        self.stats.as_ref()
    }

    /// A client when GH_PAT or a GitHub App is set; `None` when runners register with
    /// REG_TOKEN alone.
    pub fn connect_if_possible(settings: &Settings) -> Result<Option<Remote>> {
        match settings.has_github_credential() {
            true => Remote::connect(settings).map(Some),
            false => Ok(None),
        }
    }

    /// Every runner of the scope (all pages); the caller keeps those of its prefix.
    pub fn list(&self) -> Result<Vec<RemoteRunner>> {
        Ok(self
            .gh
            .list_runners()?
            .into_iter()
            .map(remote_runner)
            .collect())
    }

    /// Unregisters `runners` (name, id), at most `WRITE_CONCURRENCY` requests at a time,
    /// each one's outcome in input order. The one deletion path: `rm`, `purge`, `init`'s
    /// surplus and the benchmark all come here.
    pub fn unregister(&self, runners: &[(String, u64)]) -> Vec<Result<Deleted, GitHubError>> {
        map_bounded(runners, WRITE_CONCURRENCY, |(name, id)| {
            match self.gh.delete_runner(*id, name) {
                Ok(()) => Ok(Deleted::Removed),
                Err(GitHubError::RunnerBusy { .. }) => Ok(Deleted::Busy),
                Err(GitHubError::RunnerNotFound { .. }) => Ok(Deleted::Gone),
                Err(e) => Err(e),
            }
        })
    }

    /// Sets the custom labels of runners (name, id, labels), paced like `unregister`.
    pub fn set_labels(
        &self,
        runners: &[(String, u64, Vec<String>)],
    ) -> Vec<Result<(), GitHubError>> {
        map_bounded(runners, WRITE_CONCURRENCY, |(name, id, labels)| {
            self.gh.set_labels(*id, name, labels).map(|_| ())
        })
    }

    /// Moves runners (name, id) into runner group `group_id`, paced like `unregister`.
    pub fn set_group(
        &self,
        group_id: u64,
        runners: &[(String, u64)],
    ) -> Vec<Result<(), GitHubError>> {
        map_bounded(runners, WRITE_CONCURRENCY, |(name, id)| {
            self.gh.set_runner_group(group_id, *id, name)
        })
    }

    /// The runner group `name` of the organization, checked to exist. Repository runners
    /// have no groups (the settings refuse any but `Default` for them): `None`. The group
    /// `Default` is not looked up: its id is always 1.
    pub fn group(&self, name: &str) -> Result<Option<GroupTarget>> {
        if !self.org_scope {
            return Ok(None);
        }
        if name.eq_ignore_ascii_case("Default") {
            return Ok(Some(GroupTarget {
                name: name.to_string(),
                id: 1,
            }));
        }
        let groups = self.gh.runner_groups()?;
        match groups.iter().find(|g| g.name.eq_ignore_ascii_case(name)) {
            Some(g) => Ok(Some(GroupTarget {
                name: g.name.clone(),
                id: g.id,
            })),
            None => Err(Error::Config(format!(
                "RUNNER_GROUP={name}: {} has no runner group of that name (it has {}); create it on GitHub (organization settings > Actions > Runner groups) or fix RUNNER_GROUP",
                self.gh.scope().describe(),
                groups
                    .iter()
                    .map(|g| g.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ))),
        }
    }

    /// One registration token for the whole command, through the token cache.
    pub fn registration_token(&self) -> Result<String> {
        let token = self.cache.get_or_fetch(|| self.gh.registration_token())?;
        Ok(token.token.expose().to_string())
    }

    /// The JIT configuration of the one-job runner `name` (see `GitHub::generate_jitconfig`),
    /// in runner group `group` (`Default` is 1 and not looked up; repository runners have
    /// only that one).
    pub fn jit_config(
        &self,
        name: &str,
        group: &str,
        labels: &[String],
        work_folder: &str,
    ) -> Result<String> {
        let group_id = self.group(group)?.map_or(1, |g| g.id);
        let blob = self
            .gh
            .generate_jitconfig(name, group_id, labels, work_folder)?;
        Ok(blob.expose().to_string())
    }

    /// Drops the cached token, so the next command fetches a fresh one (a registration with
    /// it failed, perhaps because GitHub no longer accepts it).
    pub fn forget_token(&self) {
        let _ = self.cache.invalidate();
    }
}

/// The registration token for this command: `REG_TOKEN` as given, else one from GitHub
/// (cached with its TTL), which needs GH_PAT.
pub fn registration_token(settings: &Settings, remote: Option<&Remote>) -> Result<String> {
    if let Some(token) = &settings.reg_token {
        return Ok(token.clone());
    }
    match remote {
        Some(remote) => remote.registration_token(),
        None => Err(settings
            .require_pat()
            .err()
            .map(Error::from)
            .unwrap_or_else(|| {
                Error::Config(
                    "GH_PAT is not set; set GH_PAT (or REG_TOKEN) to register runners".into(),
                )
            })),
    }
}

/// The client's credential: the GitHub App when it is set (its key file read and checked
/// now: a missing, readable-by-others or non-RSA key is a settings error), else the PAT.
fn auth(settings: &Settings, scope: &Scope) -> Result<Auth> {
    let Some(app) = &settings.app else {
        return Ok(Auth::Pat(settings.require_pat()?.into()));
    };
    let key = load_app_key(&app.key_file).map_err(Error::Config)?;
    Ok(Auth::App(Box::new(App::new(
        app.id_key,
        app.id.clone(),
        app.key_file.clone(),
        key,
        app.installation_id,
        Some(app_token_cache_path(&settings.reg_token_cache_file, scope)),
    ))))
}

fn remote_runner(r: Runner) -> RemoteRunner {
    RemoteRunner {
        id: r.id,
        status: r.status,
        busy: r.busy,
        custom_labels: r
            .labels
            .iter()
            .filter(|l| !l.read_only)
            .map(|l| l.name.clone())
            .collect(),
        labels: r.labels.into_iter().map(|l| l.name).collect(),
        group_id: r.group_id,
        ephemeral: r.ephemeral,
        name: r.name,
    }
}
