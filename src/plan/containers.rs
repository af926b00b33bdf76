//! Runner containers: created, recreated when their service or image changed, replaced
//! when another maker made them, started; and, through the other parts, their volumes,
//! registrations and labels.

use super::install::{carry_overs, has_volume, home_volume, note_old_volumes, push_carry_overs};
use super::labels::labels_and_group;
use super::registrations::registration_redo;
use super::types::{Action, Inputs, Plan};
use crate::model::fleet::{DesiredRunner, LocalRunner, RemoteRunner};

/// One desired runner of `init`.
pub fn converge(
    input: &Inputs,
    ours: &[&RemoteRunner],
    runner: &DesiredRunner,
    forced: bool,
    plan: &mut Plan,
) {
    let name = runner.name.as_str();
    let remote = ours.iter().find(|g| g.name == name).copied();
    let Some(local) = input.local.iter().find(|c| c.name == name) else {
        create_and_register(input, remote, name, plan);
        return;
    };
    let busy = remote.is_some_and(|g| g.busy);

    // The container itself: is it ghr's, and does it run the current service and image?
    let foreign = foreign_maker(input, local);
    let mut recreate: Vec<String> = Vec::new();
    if let Some(maker) = &foreign {
        recreate.push(maker.clone());
    } else if local.spec.as_deref() != input.specs.get(name).map(String::as_str) {
        recreate.push("its settings changed".into());
    }
    let image_changed = input.image.build.is_some()
        || input
            .image
            .id
            .as_ref()
            .is_some_and(|id| *id != local.image_id)
        || local.image != input.image.reference;
    if image_changed {
        recreate.push(
            if input.image.build.is_some() {
                "its image is rebuilt"
            } else {
                "its image changed"
            }
            .into(),
        );
    }
    let recreating = !recreate.is_empty() && !busy;
    if !recreate.is_empty() && busy {
        plan.keep(
            name,
            format!(
                "busy with a job, so not recreated ({}); run `ghr init` again when it is idle",
                recreate.join(", ")
            ),
        );
    }
    let mut stopping = false;
    if recreating {
        // The new install goes into the volume before the container changes image, with the
        // runner stopped, so no container ever runs a new image over an old install; and a
        // volume of an older naming is copied, with the runner stopped, before the container
        // that uses it goes (so an interrupted copy is simply done again).
        let sync = image_changed
            .then(|| home_volume(input, Some(local), name))
            .flatten();
        let carry = carry_overs(input, name, local.home_volume.as_deref());
        if carry.is_empty() {
            note_old_volumes(input, name, plan);
        }
        if (sync.is_some() || !carry.is_empty()) && local.state.is_up() {
            plan.push(Some(name), Action::Stop, "before its volume is copied into");
            stopping = true;
        }
        if let Some(volume) = sync {
            plan.push(
                Some(name),
                Action::SyncInstall { volume },
                "its volume still holds the runner install of the old image",
            );
        }
        push_carry_overs(carry, name, plan);
        let action = match foreign {
            Some(_) => Action::Replace,
            None => Action::Recreate,
        };
        plan.push(Some(name), action, recreate.join(", "));
    } else {
        note_old_volumes(input, name, plan);
    }

    // Its registration: there, gone from GitHub, or to be redone on purpose.
    let redo = if forced {
        Some((Action::Reregister, "asked for (--force)"))
    } else {
        registration_redo(input, remote, local)
            .or_else(|| super::ephemeral::life_flip(runner, remote))
    };
    match redo {
        Some(_) if busy => plan.keep(name, "busy with a job, so not registered again now"),
        Some((action, why)) => {
            if local.state.is_up() && !recreating {
                plan.push(
                    Some(name),
                    Action::Stop,
                    "before its registration is redone",
                );
                stopping = true;
            }
            plan.push(Some(name), action, why);
        }
        // Registered; its labels and group are compared when GitHub was asked.
        None => {
            if let Some(remote) = remote {
                labels_and_group(input, runner, remote, plan);
            }
        }
    }

    finish(local, name, recreating, stopping, plan);
}

/// Running at the end, whatever happened on the way.
pub fn finish(local: &LocalRunner, name: &str, recreating: bool, stopping: bool, plan: &mut Plan) {
    if recreating || stopping {
        plan.push(Some(name), Action::Start, "after the changes above");
    } else if !local.state.is_up() {
        plan.push(
            Some(name),
            Action::Start,
            format!("it is {}", local.state.as_str()),
        );
    }
}

/// Who made a container that is not this fleet's compose project's, for the reason of its
/// replacement; `None` when it is ghr's own.
pub fn foreign_maker(input: &Inputs, local: &LocalRunner) -> Option<String> {
    // The fleet's compose project follows from its prefix (see `compose::project_name`).
    let project = crate::model::compose::project_name(input.prefix);
    match local.project.as_deref() {
        Some(p) if p == project => None,
        Some(p) if local.spec.is_some() => Some(format!(
            "an older ghr made it under compose project {p} (now {project})"
        )),
        Some(p) => Some(format!(
            "runner.sh made it (compose project {p}); ghr takes it over, keeping its volumes"
        )),
        // (gathering leaves unlabelled containers compose did not make out)
        None => Some("made outside compose, with ghr's labels; created anew".into()),
    }
}

/// A desired runner without a container.
pub fn create_and_register(
    input: &Inputs,
    remote: Option<&RemoteRunner>,
    name: &str,
    plan: &mut Plan,
) {
    let adopted = has_volume(input, name);
    plan.push(
        Some(name),
        Action::Create,
        if adopted {
            "no container; its volume is kept"
        } else {
            "new runner"
        },
    );
    if adopted {
        let carry = carry_overs(input, name, None);
        if carry.is_empty() {
            note_old_volumes(input, name, plan);
        }
        push_carry_overs(carry, name, plan);
        if let Some(volume) = home_volume(input, None, name) {
            plan.push(
                Some(name),
                Action::SyncInstall { volume },
                "its volume may hold an older runner install",
            );
        }
        plan.push(
            Some(name),
            Action::Register {
                unless_registered: true,
            },
            "unless its volume holds a registration",
        );
    } else {
        let why = match remote {
            Some(_) => {
                "GitHub knows the name, the new container does not (--replace takes it over)"
            }
            None => "new runner",
        };
        plan.push(
            Some(name),
            Action::Register {
                unless_registered: false,
            },
            why,
        );
    }
    plan.push(Some(name), Action::Start, "new container");
}

/// `ghr start` / `ghr register` for one runner.
pub fn start_or_register(
    input: &Inputs,
    ours: &[&RemoteRunner],
    name: &str,
    register_only: bool,
    plan: &mut Plan,
) {
    let remote = ours.iter().find(|g| g.name == name).copied();
    let Some(local) = input.local.iter().find(|c| c.name == name) else {
        create_and_register(input, remote, name, plan);
        return;
    };
    let redo = registration_redo(input, remote, local);
    match redo {
        Some((action, why)) => {
            if local.state.is_up() {
                plan.push(
                    Some(name),
                    Action::Stop,
                    "before its registration is redone",
                );
            }
            plan.push(Some(name), action, why);
            plan.push(Some(name), Action::Start, "registered");
        }
        None if register_only => plan.note(name, "already registered; skipped"),
        None if !local.state.is_up() => plan.push(
            Some(name),
            Action::Start,
            format!("it is {}", local.state.as_str()),
        ),
        None => plan.note(name, "already running"),
    }
}

#[cfg(test)]
mod tests {
    use crate::model::fleet::ContainerState;
    use crate::plan::fixture::*;
    use crate::plan::registration_checks;
    use crate::plan::types::*;

    #[test]
    fn a_converged_fleet_needs_nothing() {
        let w = converged(3);
        let plan = w.init();
        assert!(plan.is_empty(), "{:?}", plan.steps);
        assert!(plan.kept.is_empty());
        assert!(!plan.needs_token());
        // No volume has to be read: GitHub lists every runner.
        assert!(registration_checks(P, &w.local, &w.github).is_empty());
    }

    #[test]
    fn new_runners_are_created_registered_and_started() {
        let mut w = converged(1);
        w.desired.push(runner("2", &["a"]));
        w.compose = Some("a runner was added".into());
        let plan = w.init();
        assert_eq!(
            steps(&plan),
            s(&[
                ("-", "write-compose"),
                ("2", "create"),
                ("2", "register"),
                ("2", "start")
            ])
        );
        assert!(plan.needs_token());
        assert_eq!(
            plan.steps[2].action,
            Action::Register {
                unless_registered: false
            }
        );
    }

    #[test]
    fn containers_of_runner_sh_or_an_older_ghr_are_replaced_keeping_their_volumes() {
        let mut w = converged(4);
        // runner.sh: compose project of its directory, no ghr labels at all; beside its
        // volume, one an older ghr made for the same name (not used: only reported).
        w.local_mut("1").project = Some("github-runners".into());
        w.local_mut("1").spec = None;
        w.volumes
            .push((format!("lab_{P}runner-1-data"), format!("{P}runner-1")));
        // An older ghr: its labels, a directory-derived project, an old volume name in use.
        let old = format!("lab_{P}runner-2-data");
        w.local_mut("2").project = Some("lab".into());
        w.local_mut("2").home_volume = Some(old.clone());
        w.volumes[1].0 = old.clone();
        // Killed during an earlier copy: the fixed volume exists, but the container still
        // uses the old one, which is the truth: copied again.
        let old4 = format!("lab_{P}runner-4-data");
        w.local_mut("4").project = Some("lab".into());
        w.local_mut("4").home_volume = Some(old4.clone());
        w.volumes.push((old4.clone(), format!("{P}runner-4")));
        // Busy: not now.
        w.local_mut("3").project = Some("lab".into());
        w.github_mut("3").busy = true;
        let plan = w.init();
        assert_eq!(
            steps(&plan),
            s(&[
                ("2", "stop"),
                ("4", "stop"),
                ("2", "carry-over"),
                ("4", "carry-over"),
                ("1", "replace"),
                ("2", "replace"),
                ("4", "replace"),
                ("1", "start"),
                ("2", "start"),
                ("4", "start"),
            ])
        );
        let why = |short: &str, action: &str| {
            plan.steps
                .iter()
                .find(|s| {
                    s.runner == Some(format!("{P}runner-{short}")) && s.action.name() == action
                })
                .map(|s| s.why.clone())
                .unwrap()
        };
        assert!(
            why("1", "replace").starts_with("runner.sh made it (compose project github-runners)")
        );
        assert!(why("2", "replace")
            .starts_with("an older ghr made it under compose project lab (now ghr-h)"));
        assert_eq!(
            plan.steps[2].action,
            Action::CarryOver {
                from: old,
                to: format!("{P}runner-2-data")
            }
        );
        assert_eq!(plan.kept.len(), 1);
        assert_eq!(plan.notes.len(), 1);
        assert!(plan.notes[0].why.starts_with(&format!(
            "volume lab_{P}runner-1-data (an older naming) is not used, since {P}runner-1-data is"
        )));
        assert!(!plan.needs_token(), "registrations stay where they are");
    }

    #[test]
    fn a_new_image_or_changed_settings_recreate_idle_runners_only() {
        let mut w = converged(3);
        w.image.id = Some("sha256:2".into());
        w.github_mut("3").busy = true;
        w.local_mut("2").spec = Some("old".into());
        let plan = w.init();
        // The new install goes into each volume with the runner stopped, before the
        // container changes image.
        assert_eq!(
            steps(&plan),
            s(&[
                ("1", "stop"),
                ("2", "stop"),
                ("1", "sync-install"),
                ("2", "sync-install"),
                ("1", "recreate"),
                ("2", "recreate"),
                ("1", "start"),
                ("2", "start")
            ])
        );
        assert_eq!(
            plan.steps[2].action,
            Action::SyncInstall {
                volume: format!("{P}runner-1-data")
            }
        );
        assert_eq!(plan.steps[5].why, "its settings changed, its image changed");
        assert_eq!(plan.kept.len(), 1);
        assert!(plan.kept[0]
            .why
            .starts_with("busy with a job, so not recreated"));
        // Settings alone: no install to copy.
        let mut w = converged(1);
        w.local_mut("1").spec = None;
        assert_eq!(steps(&w.init()), s(&[("1", "recreate"), ("1", "start")]));
        // A Dockerfile change: build first, then every runner follows the new image.
        let mut w = converged(1);
        w.image.build = Some("the Dockerfile changed".into());
        assert_eq!(
            steps(&w.init()),
            s(&[
                ("-", "build-image"),
                ("1", "stop"),
                ("1", "sync-install"),
                ("1", "recreate"),
                ("1", "start")
            ])
        );
    }

    #[test]
    fn stopped_containers_are_started() {
        let mut w = converged(2);
        w.local_mut("2").state = ContainerState::Exited;
        let plan = w.init();
        assert_eq!(steps(&plan), s(&[("2", "start")]));
        assert_eq!(plan.steps[0].why, "it is exited");
    }

    #[test]
    fn start_and_register_touch_only_their_targets() {
        let mut w = converged(3);
        w.local_mut("1").state = ContainerState::Exited;
        w.local_mut("2").state = ContainerState::Exited;
        let plan = w.plan(Intent::Start {
            targets: vec![format!("{P}runner-2")],
        });
        assert_eq!(steps(&plan), s(&[("2", "start")]));
        w.github.remove(2);
        w.local_mut("3").configured = Some(false);
        let plan = w.plan(Intent::Register { targets: vec![] });
        assert_eq!(
            steps(&plan),
            s(&[("3", "stop"), ("3", "register"), ("3", "start")])
        );
        assert!(plan.kept.is_empty());
        assert_eq!(
            plan.notes.len(),
            2,
            "the registered ones are skipped, and said so"
        );
    }
}
