//! What the lifecycle commands share: finding the fleet's containers, resolving names,
//! registering runners concurrently with one token, and reporting per runner.

use super::remote::Remote;
use crate::boards;
use crate::compose::label;
use crate::concurrent::map_bounded;
use crate::docker::{ConfigRun, Container, Docker};
use crate::exit::PartialFailure;
use crate::fleet;
use crate::names;
use crate::settings::Settings;
use crate::ui;
use anyhow::{anyhow, Result};
use std::sync::{Mutex, OnceLock};

/// How many registrations (one `docker run` each) run at once.
pub const REGISTER_CONCURRENCY: usize = 8;

/// The fleet's containers (by the prefix label), in natural name order.
pub fn containers(settings: &Settings, docker: &Docker) -> Result<Vec<Container>> {
    let mut list = docker.containers(label::PREFIX, &settings.prefix)?;
    list.sort_by(|a, b| fleet::natural_cmp(&a.name, &b.name));
    Ok(list)
}

/// How many generic runners the compose file describes now: those with containers, else RUNNER_COUNT.
pub fn generic_count(settings: &Settings, containers: &[Container]) -> u32 {
    let generic = containers
        .iter()
        .filter(|c| c.labels.get(label::KIND).map(String::as_str) == Some("generic"))
        .count() as u32;
    if generic > 0 {
        generic
    } else {
        settings.runner_count
    }
}

/// Resolves the command line's names against `known`; warns about each unknown one and
/// fails when none is left. No names means all of `known`.
pub fn pick(settings: &Settings, known: &[String], wanted: &[String]) -> Result<Vec<String>> {
    if wanted.is_empty() {
        return Ok(known.to_vec());
    }
    let resolved = names::resolve(&settings.prefix, known, wanted);
    for name in &resolved.unknown {
        eprintln!(
            "warning: {name} is no runner of this fleet (prefix {})",
            settings.prefix
        );
    }
    if resolved.found.is_empty() {
        return Err(anyhow!(
            "none of the given names is a runner of this fleet (prefix {}); `ghr list` shows them",
            settings.prefix
        ));
    }
    Ok(resolved.found)
}

/// The labels a runner registers with: its board's, or RUNNER_LABELS; de-duplicated.
pub fn runner_labels(settings: &Settings, container: &Container) -> Vec<String> {
    let board = container.labels.get(label::BOARD).filter(|b| !b.is_empty());
    let labels = match board.and_then(|b| settings.boards.iter().find(|x| &x.name == b)) {
        Some(board) => board.labels.clone(),
        None => settings.labels.clone(),
    };
    boards::dedup(labels)
}

/// What happened to one runner in `register`.
#[derive(Debug)]
pub enum Registration {
    Registered,
    AlreadyConfigured,
    Failed(String),
}

/// Registers every unconfigured runner of `targets` (containers that exist), at most
/// REGISTER_CONCURRENCY at a time, with one registration token fetched only if needed.
/// Reports each runner on its own line; returns the outcomes in input order.
/// `say_skipped`: print a line for each runner that was configured already (`ghr register`).
pub fn register(
    settings: &Settings,
    docker: &Docker,
    remote: &Remote,
    targets: &[Container],
    say_skipped: bool,
) -> Registrations {
    let token_error: Mutex<Option<anyhow::Error>> = Mutex::new(None);
    if targets.is_empty() {
        return Registrations {
            outcomes: Vec::new(),
            token_error: None,
        };
    }
    let bar = ui::progress(targets.len(), "registering");
    let token: OnceLock<std::result::Result<String, String>> = OnceLock::new();
    let url = settings.registration_url();
    let proxy_env = settings.proxy_env();
    let outcomes = map_bounded(targets, REGISTER_CONCURRENCY, |c| {
        let outcome = (|| -> Result<Registration, String> {
            if docker
                .is_configured(&c.name)
                .map_err(|e| format!("{e:#}"))?
            {
                return Ok(Registration::AlreadyConfigured);
            }
            let token = token
                .get_or_init(|| {
                    remote.registration_token().map_err(|e| {
                        let line = format!("no registration token: {e:#}");
                        *token_error.lock().expect("not poisoned") = Some(e);
                        line
                    })
                })
                .as_ref()
                .map_err(Clone::clone)?;
            let labels = runner_labels(settings, c);
            let cfg = ConfigRun {
                container: &c.name,
                prefix: &settings.prefix,
                proxy_env: &proxy_env,
                image: &c.image,
                url: &url,
                name: &c.name,
                labels: &labels,
                group: &settings.runner_group,
                workdir: settings.workdir.as_deref(),
                disable_update: settings.disable_auto_update,
            };
            docker
                .configure(&cfg, token)
                .map_err(|e| format!("{e:#}"))?;
            Ok(Registration::Registered)
        })()
        .unwrap_or_else(Registration::Failed);
        let line = match &outcome {
            Registration::Registered => Some(format!("registered {}", c.name)),
            Registration::AlreadyConfigured if say_skipped => {
                Some(format!("{} is already configured; skipped", c.name))
            }
            Registration::AlreadyConfigured => None,
            Registration::Failed(why) => Some(format!("error: {} did not register: {why}", c.name)),
        };
        if let Some(line) = line {
            ui::note(&bar, &line);
        }
        bar.inc(1);
        outcome
    });
    bar.finish_and_clear();
    // A token GitHub no longer takes would fail every retry until the TTL ran out.
    if token.get().is_some_and(|t| t.is_ok())
        && outcomes
            .iter()
            .any(|o| matches!(o, Registration::Failed(_)))
    {
        remote.forget_token();
    }
    Registrations {
        outcomes,
        token_error: token_error.into_inner().expect("not poisoned"),
    }
}

/// The outcomes of `register`, and GitHub's refusal of a token when that was the cause.
pub struct Registrations {
    pub outcomes: Vec<Registration>,
    token_error: Option<anyhow::Error>,
}

impl Registrations {
    pub fn failed(&self) -> usize {
        self.outcomes
            .iter()
            .filter(|o| matches!(o, Registration::Failed(_)))
            .count()
    }

    /// Ok when every runner is configured; else an error whose exit code is GitHub's (or the
    /// settings') when no token could be had, the partial-failure code otherwise.
    pub fn result(self, retry: &str) -> Result<()> {
        let (failed, total) = (self.failed(), self.outcomes.len());
        let summary = format!("{failed} of {total} runners did not register; {retry}");
        match self.token_error {
            Some(cause) if failed > 0 => Err(cause.context(summary)),
            _ => partial(failed, &summary),
        }
    }
}

/// A partial failure saying `summary` when `failed` > 0.
pub fn partial(failed: usize, summary: &str) -> Result<()> {
    if failed == 0 {
        return Ok(());
    }
    Err(PartialFailure(summary.to_string()).into())
}
