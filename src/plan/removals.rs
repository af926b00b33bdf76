//! Runners that go: the surplus of a smaller fleet, and what `ghr rm` names. Unregistered,
//! container and volumes removed; a busy runner is kept.

use super::types::{Action, Inputs, Plan};
use crate::model::fleet::{natural_cmp, RemoteRunner};

/// What the settings no longer have: unregistered and removed (unless busy).
pub fn prune_surplus(input: &Inputs, ours: &[&RemoteRunner], plan: &mut Plan) {
    let desired = |n: &str| input.desired.iter().any(|r| r.name == n);
    let mut names: Vec<String> = input
        .local
        .iter()
        .map(|c| c.name.clone())
        .chain(ours.iter().map(|g| g.name.clone()))
        .chain(input.volumes.iter().map(|(_, r)| r.clone()))
        .filter(|n| !n.is_empty() && !desired(n))
        .collect();
    names.sort_by(|a, b| natural_cmp(a, b));
    names.dedup();
    for name in names {
        if input.github.is_none() {
            plan.keep(
                &name,
                "not in the fleet any more, but unregistering it needs GH_PAT (REG_TOKEN only registers); set GH_PAT and run the command again",
            );
            continue;
        }
        remove(input, ours, &name, "not in the fleet any more", plan);
    }
}

/// Unregister, remove the container, remove the volumes; or keep all of it when busy.
pub fn remove(input: &Inputs, ours: &[&RemoteRunner], name: &str, why: &str, plan: &mut Plan) {
    let remote = ours.iter().find(|g| g.name == name);
    if remote.is_some_and(|g| g.busy) {
        plan.keep(
            name,
            "busy with a job, so not removed; run the command again when it is idle",
        );
        return;
    }
    if let Some(g) = remote {
        plan.push(Some(name), Action::Unregister { id: g.id }, why);
    }
    if input.local.iter().any(|c| c.name == name) {
        plan.push(Some(name), Action::RemoveContainer, why);
    }
    let volumes: Vec<String> = input
        .volumes
        .iter()
        .filter(|(_, r)| r == name)
        .map(|(v, _)| v.clone())
        .collect();
    if !volumes.is_empty() {
        plan.push(Some(name), Action::RemoveVolumes { volumes }, why);
    }
}

/// What `rm --local` leaves registered on GitHub (GitHub not asked): the removed runners
/// whose volume held a registration (`sure`), and those with nothing but a volume, whose
/// registration nobody could read (`perhaps`).
pub fn staying_registrations(input: &Inputs, plan: &Plan) -> (Vec<String>, Vec<String>) {
    let mut sure = Vec::new();
    let mut perhaps = Vec::new();
    for step in &plan.steps {
        let Some(name) = step.runner.as_deref() else {
            continue;
        };
        if sure.iter().chain(&perhaps).any(|n| n == name) {
            continue;
        }
        match input.local.iter().find(|c| c.name == name) {
            Some(c) if c.configured == Some(true) => sure.push(name.to_string()),
            Some(_) => {}
            None => perhaps.push(name.to_string()),
        }
    }
    (sure, perhaps)
}

#[cfg(test)]
mod tests {
    use crate::plan::fixture::*;
    use crate::plan::types::*;

    #[test]
    fn fewer_runners_unregister_and_remove_the_surplus_but_keep_busy_ones() {
        let mut w = converged(4);
        w.desired.truncate(2);
        w.github_mut("4").busy = true;
        // A runner only on GitHub, of this prefix, and one of another prefix.
        w.github.push(remote(99, &format!("{P}runner-9")));
        w.github.push(remote(98, "other-runner-9"));
        let plan = w.init();
        assert_eq!(
            steps(&plan),
            s(&[
                ("3", "unregister"),
                ("9", "unregister"),
                ("3", "remove-container"),
                ("3", "remove-volumes")
            ])
        );
        assert_eq!(
            plan.removals(),
            [format!("{P}runner-3"), format!("{P}runner-9")]
        );
        assert_eq!(plan.kept.len(), 1);
        assert_eq!(plan.kept[0].runner, format!("{P}runner-4"));
        // Without prune nothing goes.
        let plan = w.plan(Intent::Converge {
            force: vec![],
            prune: false,
        });
        assert!(plan.is_empty());
    }

    #[test]
    fn without_github_everything_local_goes_and_the_registrations_stay() {
        let mut w = converged(3);
        w.github.clear();
        w.local[0].configured = Some(true);
        w.local[1].configured = Some(false);
        w.local.remove(2);
        w.volumes.retain(|(v, _)| !v.contains("runner-2"));
        // runner-3: only its volume is left.
        let intent = Intent::Remove { targets: vec![] };
        let input = Inputs {
            prefix: P,
            desired: &[],
            specs: &w.specs,
            image: &w.image,
            compose: None,
            local: &w.local,
            volumes: &w.volumes,
            github: None,
            group: None,
            intent: &intent,
            devices: &[],
        };
        let plan = crate::plan::plan(&input);
        assert_eq!(
            steps(&plan),
            s(&[
                ("1", "remove-container"),
                ("2", "remove-container"),
                ("1", "remove-volumes"),
                ("3", "remove-volumes")
            ])
        );
        assert_eq!(
            super::staying_registrations(&input, &plan),
            (vec![format!("{P}runner-1")], vec![format!("{P}runner-3")])
        );
    }

    #[test]
    fn remove_takes_everything_of_the_targets() {
        let mut w = converged(2);
        w.github.push(remote(99, &format!("{P}runner-9")));
        w.volumes
            .push((format!("{P}runner-8-data"), format!("{P}runner-8")));
        let plan = w.plan(Intent::Remove { targets: vec![] });
        assert_eq!(
            steps(&plan),
            s(&[
                ("1", "unregister"),
                ("2", "unregister"),
                ("9", "unregister"),
                ("1", "remove-container"),
                ("2", "remove-container"),
                ("1", "remove-volumes"),
                ("2", "remove-volumes"),
                ("8", "remove-volumes")
            ])
        );
        let plan = w.plan(Intent::Remove {
            targets: vec![format!("{P}runner-2")],
        });
        assert_eq!(
            steps(&plan),
            s(&[
                ("2", "unregister"),
                ("2", "remove-container"),
                ("2", "remove-volumes")
            ])
        );
    }
}
