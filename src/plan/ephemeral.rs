//! `ghr serve`'s supervisor of one-job (ephemeral) runners, the decision: is this runner's
//! container done, and may a new one start? (Effects: `world::ephemeral`; the loop:
//! `serve/ephemeral.rs`.)

use super::types::{Action, Inputs, Plan};
use crate::model::fleet::{ContainerState, DesiredRunner, RemoteRunner};

/// What `ghr plan` says of every one-job runner: what it is, and what replaces it.
pub const NOTE: &str = "ephemeral: runs one job, then its container ends; `ghr serve` replaces it with a fresh runner on a new, empty volume (nothing replaces it while ghr serve does not run)";
pub const BECOMES_EPHEMERAL: &str = "it becomes ephemeral: its long-lived registration is removed and it starts from a JIT configuration (one job)";
pub const BECOMES_LONG_LIVED: &str =
    "it becomes long-lived: it registers with a registration token, for good";

/// One note per one-job runner of the plan.
pub fn notes(input: &Inputs, plan: &mut Plan) {
    for runner in input.desired.iter().filter(|r| r.ephemeral) {
        plan.note(&runner.name, NOTE);
    }
}

/// A runner GitHub lists as the other kind than the settings want (`RUNNER_EPHEMERAL` or a
/// board's key flipped): registered again as the kind it is now (the container is created
/// anew anyway: its restart policy differs).
pub fn life_flip(
    runner: &DesiredRunner,
    remote: Option<&RemoteRunner>,
) -> Option<(Action, &'static str)> {
    let remote = remote?;
    match (runner.ephemeral, remote.ephemeral) {
        (true, false) => Some((Action::Reregister, BECOMES_EPHEMERAL)),
        (false, true) => Some((Action::Reregister, BECOMES_LONG_LIVED)),
        _ => None,
    }
}

/// What the supervisor sees of one ephemeral runner.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EphemeralNow {
    /// Its container's state; `None`: no container (not made yet, or `ghr rm` removed it).
    pub state: Option<ContainerState>,
    /// The exit code of its last run (read for an exited container).
    pub exit_code: Option<i64>,
    /// Whether its volume still holds a registration (read for an exited container): the
    /// runner deletes its configuration after its one job.
    pub configured: Option<bool>,
    /// A board runner whose every board member the wrapper's last health check found
    /// unhealthy.
    pub board_unhealthy: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Supervise {
    Nothing,
    /// Remove its container and volume (and a registration it left), start a fresh one.
    Replace(&'static str),
    /// Its replacement waits (asked again on the next look).
    Wait(&'static str),
}

pub const FINISHED: &str = "it ran its one job";
pub const DIED: &str = "it ended before taking a job; its registration is removed";
pub const UNHEALTHY: &str =
    "its board is unhealthy (the wrapper's health check failed); it starts when a check passes";

/// Exit codes of a runner stopped on purpose (`docker stop`, `ghr stop`): 0 after the
/// runner went offline, 128+TERM or 128+INT when it did not catch the signal, 128+KILL after
/// the grace period.
const STOPPED: [i64; 4] = [0, 130, 137, 143];

/// Decides for one runner. A runner someone stopped stays stopped (its registration stands,
/// as a long-lived runner's does); no container, or one created and not started (parked,
/// or `ghr init` at work), is `ghr init`'s.
pub fn supervise(now: &EphemeralNow) -> Supervise {
    let ended = matches!(
        now.state,
        Some(ContainerState::Exited | ContainerState::Dead)
    );
    if !ended {
        return Supervise::Nothing;
    }
    let why = match (now.configured, now.exit_code) {
        // The runner deleted its configuration: its job is done.
        (Some(false), _) => FINISHED,
        (Some(true), Some(code)) if !STOPPED.contains(&code) => DIED,
        (Some(true), None) | (None, _) => DIED,
        (Some(true), Some(_)) => return Supervise::Nothing,
    };
    match now.board_unhealthy {
        true => Supervise::Wait(UNHEALTHY),
        false => Supervise::Replace(why),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ContainerState::*;

    fn now(
        state: Option<ContainerState>,
        code: Option<i64>,
        configured: Option<bool>,
    ) -> EphemeralNow {
        EphemeralNow {
            state,
            exit_code: code,
            configured,
            board_unhealthy: false,
        }
    }

    #[test]
    fn flipping_the_key_registers_the_runner_again_as_the_other_kind() {
        use crate::plan::fixture::{remote, runner};
        let mut long_lived = runner("1", &["a"]);
        let mut on_github = remote(10, &long_lived.name);
        assert_eq!(life_flip(&long_lived, Some(&on_github)), None);
        assert_eq!(
            life_flip(&long_lived, None),
            None,
            "not registered: registered anyway"
        );
        long_lived.ephemeral = true;
        assert_eq!(
            life_flip(&long_lived, Some(&on_github)),
            Some((Action::Reregister, BECOMES_EPHEMERAL))
        );
        on_github.ephemeral = true;
        assert_eq!(life_flip(&long_lived, Some(&on_github)), None);
        long_lived.ephemeral = false;
        assert_eq!(
            life_flip(&long_lived, Some(&on_github)),
            Some((Action::Reregister, BECOMES_LONG_LIVED))
        );
    }

    #[test]
    fn a_mixed_fleet_plan_notes_its_ephemeral_runners_and_flips_one() {
        use crate::plan::fixture::*;
        let mut w = converged(2);
        w.desired[0].ephemeral = true;
        w.github_mut("1").ephemeral = true;
        let plan = w.init();
        assert!(plan.is_empty(), "{:?}", plan.steps);
        assert_eq!(plan.notes.len(), 1);
        assert_eq!(plan.notes[0].runner, format!("{P}runner-1"));
        assert_eq!(plan.notes[0].why, NOTE);
        // Runner 2 becomes ephemeral too.
        w.desired[1].ephemeral = true;
        let plan = w.init();
        assert!(
            plan.steps
                .iter()
                .any(|s| s.runner.as_deref() == Some(&format!("{P}runner-2"))
                    && s.action == Action::Reregister
                    && s.why == BECOMES_EPHEMERAL),
            "{:?}",
            plan.steps
        );
    }

    #[test]
    fn decisions() {
        for (n, want) in [
            (now(Some(Running), None, None), Supervise::Nothing),
            (now(Some(Created), None, None), Supervise::Nothing),
            (now(Some(Restarting), None, None), Supervise::Nothing),
            (now(None, None, None), Supervise::Nothing),
            (
                now(Some(Exited), Some(0), Some(false)),
                Supervise::Replace(FINISHED),
            ),
            (
                now(Some(Exited), Some(1), Some(false)),
                Supervise::Replace(FINISHED),
            ),
            (
                now(Some(Exited), Some(1), Some(true)),
                Supervise::Replace(DIED),
            ),
            (now(Some(Dead), None, Some(true)), Supervise::Replace(DIED)),
            // Stopped on purpose: left so.
            (now(Some(Exited), Some(0), Some(true)), Supervise::Nothing),
            (now(Some(Exited), Some(143), Some(true)), Supervise::Nothing),
            (now(Some(Exited), Some(137), Some(true)), Supervise::Nothing),
            (
                EphemeralNow {
                    board_unhealthy: true,
                    ..now(Some(Exited), Some(0), Some(false))
                },
                Supervise::Wait(UNHEALTHY),
            ),
            (
                EphemeralNow {
                    board_unhealthy: true,
                    ..now(Some(Running), None, None)
                },
                Supervise::Nothing,
            ),
        ] {
            assert_eq!(supervise(&n), want, "{n:?}");
        }
    }
}
