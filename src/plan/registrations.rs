//! Registrations: which volumes must be read to plan, and what a runner's registration
//! needs (nothing, register, register again), judged by GitHub's list and the volume.

use super::types::{Action, Inputs};
use crate::model::fleet::{ContainerState, LocalRunner, RemoteRunner};

/// The containers whose volume must be read to plan (does it hold a registration?): those
/// GitHub does not list, and those not running. A running runner GitHub lists is registered;
/// one that is not running may not be: a registration interrupted after GitHub took it but
/// before `config.sh` wrote `.runner` leaves GitHub ahead of the volume, and starting such a
/// container would only crash-loop. Reading every volume would cost a `docker cp` each on
/// every command; a converged fleet needs none.
pub fn registration_checks(
    prefix: &str,
    local: &[LocalRunner],
    github: &[RemoteRunner],
) -> Vec<String> {
    local
        .iter()
        .filter(|c| {
            c.state != ContainerState::Running
                || !github
                    .iter()
                    .any(|g| g.name == c.name && crate::model::fleet::is_ours(prefix, &g.name))
        })
        .map(|c| c.name.clone())
        .collect()
}

/// Why a runner GitHub lists is registered again: its volume holds no registration.
pub const LISTED_BUT_NOT_CONFIGURED: &str = "GitHub lists it but its volume holds no registration (an interrupted registration?); registered again under its name";

/// What a runner's registration needs, judged by GitHub's list (`remote`: its entry) and,
/// where GitHub does not list it or was not asked, by its volume (`configured`).
pub fn registration_redo(
    input: &Inputs,
    remote: Option<&RemoteRunner>,
    local: &LocalRunner,
) -> Option<(Action, &'static str)> {
    let register = |unless_registered| Action::Register { unless_registered };
    match (remote, input.github.is_some(), local.configured) {
        (Some(_), _, Some(false)) => Some((register(false), LISTED_BUT_NOT_CONFIGURED)),
        (Some(_), _, _) => None,
        (None, true, Some(true)) => Some((
            Action::Reregister,
            "GitHub deleted its registration (runners offline for 14 days are); it is registered again",
        )),
        // Without GitHub's view (REG_TOKEN, no GH_PAT), a registration in the volume stands.
        (None, false, Some(true)) => None,
        (None, _, Some(false)) => Some((register(false), "not registered")),
        (None, true, None) => Some((register(true), "GitHub does not know it")),
        (None, false, None) => Some((register(true), "unless its volume holds a registration")),
    }
}

#[cfg(test)]
mod tests {
    use super::{registration_checks, LISTED_BUT_NOT_CONFIGURED};
    use crate::model::fleet::ContainerState;
    use crate::plan::fixture::*;
    use crate::plan::types::*;

    #[test]
    fn a_volume_without_container_is_adopted_not_registered_again() {
        let mut w = converged(1);
        w.local.clear();
        let plan = w.init();
        assert_eq!(
            steps(&plan),
            s(&[
                ("1", "sync-install"),
                ("1", "create"),
                ("1", "register"),
                ("1", "start")
            ])
        );
        assert_eq!(
            plan.steps[0].action,
            Action::SyncInstall {
                volume: format!("{P}runner-1-data")
            }
        );
        assert_eq!(
            plan.steps[2].action,
            Action::Register {
                unless_registered: true
            }
        );
    }

    #[test]
    fn without_github_registrations_are_judged_by_the_volumes_and_nothing_is_unregistered() {
        let mut w = converged(3);
        w.local_mut("1").configured = Some(true);
        w.local_mut("2").configured = Some(false);
        w.local_mut("3").configured = None;
        w.desired.truncate(2);
        w.desired.push(runner("4", &["a"]));
        let init = Intent::Converge {
            force: vec![],
            prune: true,
        };
        let plan = w.plan_with(init, None);
        assert_eq!(
            steps(&plan),
            s(&[
                ("2", "stop"),
                ("4", "create"),
                ("2", "register"),
                ("4", "register"),
                ("2", "start"),
                ("4", "start"),
            ])
        );
        assert_eq!(plan.kept.len(), 1);
        assert!(plan.kept[0].why.contains("unregistering it needs GH_PAT"));
        assert!(
            !plan.steps.iter().any(|s| s.action.is_removal()),
            "nothing is removed that GitHub may still hold"
        );
        // Labels are not compared: GitHub's view is not there.
        let mut w = converged(1);
        w.desired[0].labels = vec!["other".into()];
        w.local_mut("1").configured = Some(true);
        assert!(w
            .plan_with(Intent::Start { targets: vec![] }, None)
            .is_empty());
    }

    #[test]
    fn a_registration_deleted_on_github_is_redone() {
        let mut w = converged(2);
        w.github.remove(1);
        // Nobody read the volume yet: the gatherer is told to.
        assert_eq!(
            registration_checks(P, &w.local, &w.github),
            [format!("{P}runner-2")]
        );
        w.local_mut("2").configured = Some(true);
        w.local_mut("2").state = ContainerState::Restarting;
        let plan = w.init();
        assert_eq!(
            steps(&plan),
            s(&[("2", "stop"), ("2", "reregister"), ("2", "start")])
        );
        // Never configured (e.g. a registration that failed): registered, not re-registered.
        w.local_mut("2").configured = Some(false);
        w.local_mut("2").state = ContainerState::Created;
        assert_eq!(steps(&w.init()), s(&[("2", "register"), ("2", "start")]));
    }

    #[test]
    fn a_runner_github_lists_without_a_registration_in_its_volume_is_registered_again() {
        // ghr killed after GitHub took runner-2's registration, before config.sh wrote
        // .runner; the next command removed the one-off, so the volume holds none.
        let mut w = converged(3);
        w.local_mut("2").state = ContainerState::Created;
        w.local_mut("3").state = ContainerState::Restarting;
        // Not running: read, though GitHub lists them; the running one is not read.
        assert_eq!(
            registration_checks(P, &w.local, &w.github),
            [format!("{P}runner-2"), format!("{P}runner-3")]
        );
        w.local_mut("2").configured = Some(false);
        w.local_mut("3").configured = Some(false);
        let want = s(&[
            ("3", "stop"),
            ("2", "register"),
            ("3", "register"),
            ("2", "start"),
            ("3", "start"),
        ]);
        let plan = w.init();
        assert_eq!(steps(&plan), want);
        assert_eq!(
            plan.steps[1].action,
            Action::Register {
                unless_registered: false
            }
        );
        assert_eq!(plan.steps[1].why, LISTED_BUT_NOT_CONFIGURED);
        // `ghr start` does the same.
        assert_eq!(steps(&w.plan(Intent::Start { targets: vec![] })), want);
        // Stopped but registered: only started, as before.
        w.local_mut("2").configured = Some(true);
        w.local_mut("3").configured = Some(true);
        w.local_mut("3").state = ContainerState::Exited;
        assert_eq!(steps(&w.init()), s(&[("2", "start"), ("3", "start")]));
    }

    #[test]
    fn force_reregisters_on_purpose_but_never_a_busy_runner() {
        let w = converged(2);
        let plan = w.plan(Intent::Converge {
            force: vec![format!("{P}runner-1")],
            prune: true,
        });
        assert_eq!(
            steps(&plan),
            s(&[("1", "stop"), ("1", "reregister"), ("1", "start")])
        );
        let mut w = converged(1);
        w.github_mut("1").busy = true;
        let plan = w.plan(Intent::Converge {
            force: vec![format!("{P}runner-1")],
            prune: true,
        });
        assert!(plan.is_empty());
        assert_eq!(plan.kept.len(), 1);
    }
}
