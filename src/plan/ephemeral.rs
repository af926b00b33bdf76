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

/// What `ghr plan` says of a long-lived runner in a fleet that has one-job runners too.
pub const NOTE_LONG_LIVED: &str =
    "long-lived: keeps its registration and its volume (work folder, caches) from job to job";

/// One note per one-job runner of the plan; in a mixed fleet, one per long-lived runner too.
pub fn notes(input: &Inputs, plan: &mut Plan) {
    if !input.desired.iter().any(|r| r.ephemeral) {
        return;
    }
    for runner in input.desired {
        plan.note(
            &runner.name,
            match runner.ephemeral {
                true => NOTE,
                false => NOTE_LONG_LIVED,
            },
        );
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
    /// Whether its volume still holds a registration (read for an exited container): the
    /// runner deletes its configuration after its one job.
    pub configured: Option<bool>,
    /// `ghr stop` stopped this run of it (its mark names the run's start time).
    pub stopped_on_purpose: bool,
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

/// Whether a board counts as unhealthy for a new generation of its runner: every member's
/// last check (`members`: per member, healthy or not and the record's age; `None`: none ran)
/// failed, and recently: within two check `interval`s a live wrapper is still checking and
/// will say when it passes. A failed check older than that has nobody checking it any more
/// (every runner of the board ended): the new generation starts, and its wrapper checks
/// before it takes a job (and takes its runner offline while the board stays unhealthy).
pub fn board_unhealthy(
    members: &[Option<(bool, std::time::Duration)>],
    interval: std::time::Duration,
) -> bool {
    !members.is_empty()
        && members
            .iter()
            .all(|m| matches!(m, Some((false, age)) if *age <= interval * 2))
}

/// Decides for one runner. A runner `ghr stop` stopped stays stopped; no container, or one
/// created and not started (parked, or `ghr init` at work), is `ghr init`'s. One that ended
/// by itself still configured (its runner crashed, Docker or the host restarted: its
/// container has no restart policy) never took its job: replaced, its registration removed.
pub fn supervise(now: &EphemeralNow) -> Supervise {
    if !now.state.as_ref().is_some_and(ContainerState::has_ended) {
        return Supervise::Nothing;
    }
    let why = match (now.configured, now.stopped_on_purpose) {
        (_, true) => return Supervise::Nothing,
        // The runner deleted its configuration: its job is done. (actions/runner's Runner.cs
        // deletes .runner and .credentials when an ephemeral runner's one job completed, and
        // when GitHub answers 404 for its registration: gone there too.)
        (Some(false), false) => FINISHED,
        (Some(true) | None, false) => DIED,
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

    fn now(state: Option<ContainerState>, stopped: bool, configured: Option<bool>) -> EphemeralNow {
        EphemeralNow {
            state,
            configured,
            stopped_on_purpose: stopped,
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
        let notes: Vec<(&str, &str)> = plan
            .notes
            .iter()
            .map(|n| (n.runner.as_str(), n.why.as_str()))
            .collect();
        let (one, two) = (format!("{P}runner-1"), format!("{P}runner-2"));
        assert_eq!(
            notes,
            [(one.as_str(), NOTE), (two.as_str(), NOTE_LONG_LIVED)]
        );
        // A fleet of long-lived runners only: no notes.
        assert!(converged(2).init().notes.is_empty());
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
    fn a_board_is_unhealthy_while_every_member_failed_a_recent_check() {
        use std::time::Duration;
        let m = Duration::from_secs(60);
        let i = Duration::from_secs(600);
        for (members, want) in [
            (vec![], false),
            (vec![None], false),
            (vec![Some((true, m))], false),
            (vec![Some((false, m))], true),
            (vec![Some((false, i * 2))], true),
            (vec![Some((false, i * 2 + m))], false),
            // A pool: one healthy member is enough.
            (vec![Some((false, m)), Some((true, m))], false),
            (vec![Some((false, m)), None], false),
            (vec![Some((false, m)), Some((false, m))], true),
        ] {
            assert_eq!(board_unhealthy(&members, i), want, "{members:?}");
        }
    }

    #[test]
    fn decisions() {
        for (n, want) in [
            (now(Some(Running), false, None), Supervise::Nothing),
            (now(Some(Created), false, None), Supervise::Nothing),
            (now(Some(Restarting), false, None), Supervise::Nothing),
            (now(None, false, None), Supervise::Nothing),
            (
                now(Some(Exited), false, Some(false)),
                Supervise::Replace(FINISHED),
            ),
            (
                now(Some(Exited), false, Some(true)),
                Supervise::Replace(DIED),
            ),
            (now(Some(Dead), false, Some(true)), Supervise::Replace(DIED)),
            (now(Some(Exited), false, None), Supervise::Replace(DIED)),
            // Stopped on purpose (`ghr stop`): left so, before or after its job.
            (now(Some(Exited), true, Some(true)), Supervise::Nothing),
            (now(Some(Exited), true, Some(false)), Supervise::Nothing),
            (
                EphemeralNow {
                    board_unhealthy: true,
                    ..now(Some(Exited), false, Some(false))
                },
                Supervise::Wait(UNHEALTHY),
            ),
            (
                EphemeralNow {
                    board_unhealthy: true,
                    ..now(Some(Running), false, None)
                },
                Supervise::Nothing,
            ),
        ] {
            assert_eq!(supervise(&n), want, "{n:?}");
        }
    }
}
