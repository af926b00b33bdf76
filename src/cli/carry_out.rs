//! Carrying out a plan on the command line: removals confirmed first, the kept runners and
//! notes reported, then the executor, and the outcome as the command's result.

use crate::cli::ui;
use crate::config::settings::Settings;
use crate::plan::{Action, Plan};
use crate::world::apply::{self, Context};
use crate::world::compose_file::Desired;
use crate::world::docker::Docker;
use crate::world::error::{Error, Result};
use crate::world::remote::Remote;
use std::path::Path;

/// Carries out a plan of `init`, `start` or `register`: the token first when the plan
/// registers for sure (everything that can be refused is refused before the first change),
/// the kept runners and notes reported, then the executor.
pub fn carry_out(
    settings: &Settings,
    docker: &Docker,
    remote: Option<&Remote>,
    desired: &Desired,
    image: &str,
    build_hash: Option<&str>,
    plan: &Plan,
) -> Result<apply::Outcome> {
    // One-job runners start from JIT configurations, asked for one by one: no token for them.
    let one_job = |runner: &Option<String>| {
        desired
            .runners
            .iter()
            .any(|r| r.ephemeral && Some(&r.name) == runner.as_ref())
    };
    let token = if plan.needs_token()
        && plan.steps.iter().any(|s| {
            matches!(
                s.action,
                Action::Register {
                    unless_registered: false
                } | Action::Reregister
            ) && !one_job(&s.runner)
        }) {
        Some(crate::world::remote::registration_token(settings, remote)?)
    } else {
        None
    };
    // A one-job runner's JIT configuration comes from GitHub's API: refused before any change.
    if remote.is_none() {
        let registers = |s: &crate::plan::Step| {
            matches!(s.action, Action::Register { .. } | Action::Reregister) && one_job(&s.runner)
        };
        if let Some(step) = plan.steps.iter().find(|s| registers(s)) {
            let key = desired
                .runners
                .iter()
                .find(|r| Some(&r.name) == step.runner.as_ref())
                .and_then(|r| r.board())
                .filter(|b| b.ephemeral.is_some())
                .map(|b| {
                    format!(
                        "{}{}",
                        crate::config::boards::BOARD_EPHEMERAL_PREFIX,
                        b.key()
                    )
                })
                .unwrap_or_else(|| crate::config::boards::EPHEMERAL.to_string());
            return Err(Error::Config(format!(
                "{key}=true: ephemeral runners get their JIT configuration from GitHub's API, which REG_TOKEN alone cannot call; set GH_PAT or a GitHub App (GITHUB_APP_ID and GITHUB_APP_PRIVATE_KEY_FILE), or set {key}=false"
            )));
        }
    }
    report_kept(plan);
    apply::apply(
        &Context {
            settings,
            docker,
            remote,
            compose: Some(&desired.compose),
            desired: &desired.runners,
            image,
            build_hash,
            dir: Path::new("."),
            token: token.as_deref(),
        },
        plan,
    )
}

/// A plan made while the settings had warnings (an unknown key is often a typo that changes
/// the plan) is asked before it is carried out: on a terminal unless `-y`; without one it
/// goes ahead, and the warnings stay on stderr.
pub fn confirm_despite_warnings(settings: &Settings, plan: &Plan, yes: bool) -> Result<()> {
    if settings.warnings.is_empty() || plan.is_empty() || yes || !ui::can_ask() {
        return Ok(());
    }
    let question = format!(
        "The settings have {} warning(s) (above); carry out this plan anyway?",
        settings.warnings.len()
    );
    if ui::confirm(&question)? {
        Ok(())
    } else {
        Err(Error::Cancelled(
            "cancelled; nothing was changed (fix the warnings, or pass -y to go ahead)".into(),
        ))
    }
}

/// Removals are asked before anything is done: listed by name on a terminal; without one,
/// only `-y` lets them happen (else nothing changes at all, exit 130).
pub fn confirm_removals(plan: &Plan, yes: bool, scope: &str) -> Result<()> {
    let doomed = plan.removals();
    if doomed.is_empty() || yes {
        return Ok(());
    }
    let question = format!(
        "Unregister from {scope} and remove {} runner(s): {}?",
        doomed.len(),
        doomed.join(", ")
    );
    if ui::confirm(&question)? {
        Ok(())
    } else {
        Err(Error::Cancelled("cancelled; nothing was changed".into()))
    }
}

pub fn report_kept(plan: &Plan) {
    for note in &plan.notes {
        ui::info(&format!("{}: {}", note.runner, note.why));
    }
    for kept in &plan.kept {
        ui::warn(&format!("{}: {}", kept.runner, kept.why));
    }
}

/// Ok, unless a runner failed or had to be kept (each already reported). When Docker failed
/// a runner's step, the command fails as Docker failures do (exit 5), the reason on that
/// runner's line.
pub fn kept_result(plan: &Plan, outcome: &apply::Outcome) -> Result<()> {
    let failed = outcome.failed.len();
    let kept = plan.kept.len() + outcome.kept.len();
    if failed + kept == 0 {
        return Ok(());
    }
    let mut parts = Vec::new();
    if failed > 0 {
        parts.push(format!("{failed} runner(s) failed"));
    }
    if kept > 0 {
        parts.push(format!("{kept} runner(s) were kept busy"));
    }
    let message = format!("{}; run the command again to finish", parts.join(" and "));
    if outcome.docker_failed {
        return Err(Error::Docker(format!("Docker failed: {message}")));
    }
    Err(Error::Partial(message))
}
