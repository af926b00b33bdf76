//! A runner's volumes: the one that holds its install and registration, the runner
//! install copied in when the image changes, and volumes of older namings carried over to
//! their fixed names (or reported).

use super::types::{Action, Inputs, Plan};
use crate::model::fleet::LocalRunner;

pub fn has_volume(input: &Inputs, runner: &str) -> bool {
    input.volumes.iter().any(|(_, r)| r == runner)
}

/// The volume that holds a runner's /home/runner: its container's, else its data volume
/// (the fixed name before an older naming, which a carry-over then copies from).
pub fn home_volume(input: &Inputs, local: Option<&LocalRunner>, runner: &str) -> Option<String> {
    if let Some(volume) = local.and_then(|c| c.home_volume.clone()) {
        return Some(volume);
    }
    let fixed = crate::model::fleet::volume_name(runner, "-data");
    let data = input
        .volumes
        .iter()
        .filter(|(v, r)| r == runner && v.ends_with("-data"))
        .map(|(v, _)| v);
    let mut data: Vec<&String> = data.collect();
    data.sort_by_key(|v| **v != fixed);
    data.first().map(|v| v.to_string())
}

/// The volumes of `name` under an older naming (`<project>_<runner>-data`), each with the
/// fixed name it becomes.
pub fn old_volumes<'a>(input: &'a Inputs, name: &str) -> Vec<(&'a str, String)> {
    input
        .volumes
        .iter()
        .filter(|(_, r)| r == name)
        .filter_map(|(volume, _)| {
            let suffix = crate::model::fleet::VOLUME_SUFFIXES
                .iter()
                .find(|suffix| volume.ends_with(*suffix))?;
            let fixed = crate::model::fleet::volume_name(name, suffix);
            (*volume != fixed).then_some((volume.as_str(), fixed))
        })
        .collect()
}

/// Which old volumes are copied into their fixed names: all of them when they are what the
/// runner uses (its container mounts the old home volume, or the fixed one does not exist
/// yet); none when the fixed home volume is in use or exists already (then they are only
/// reported). `home`: the volume the runner's container mounts at /home/runner, if any.
pub fn carry_overs(input: &Inputs, name: &str, home: Option<&str>) -> Vec<(String, String)> {
    let old = old_volumes(input, name);
    let fixed_home = crate::model::fleet::volume_name(name, "-data");
    let uses_old = home.is_some_and(|h| old.iter().any(|(v, _)| *v == h));
    let fixed_exists = input.volumes.iter().any(|(v, _)| *v == fixed_home);
    if uses_old || (home.is_none() && !fixed_exists) {
        old.into_iter().map(|(v, f)| (v.to_string(), f)).collect()
    } else {
        Vec::new()
    }
}

pub fn push_carry_overs(carry: Vec<(String, String)>, name: &str, plan: &mut Plan) {
    for (from, to) in carry {
        let why = format!(
            "{from} is named as compose named it before ghr fixed volume names; it becomes {to}"
        );
        plan.push(Some(name), Action::CarryOver { from, to }, why);
    }
}

/// Old volumes that are not carried over: reported, never removed behind the user's back.
pub fn note_old_volumes(input: &Inputs, name: &str, plan: &mut Plan) {
    for (volume, fixed) in old_volumes(input, name) {
        plan.note(
            name,
            format!("volume {volume} (an older naming) is not used, since {fixed} is; `ghr rm` removes both with the runner"),
        );
    }
}

#[cfg(test)]
mod tests {
    use crate::model::fleet::{ContainerState, LocalRunner};
    use crate::plan::fixture::*;
    use crate::plan::types::*;

    #[test]
    fn old_volumes_without_container_are_carried_over_or_reported() {
        let mut w = converged(3);
        w.local.clear();
        w.local.push(LocalRunner {
            spec: Some("spec1".into()),
            ..local(&format!("{P}runner-3"))
        });
        w.volumes = vec![
            (format!("lab_{P}runner-1-data"), format!("{P}runner-1")),
            (
                format!("lab_{P}runner-1-udev-rules"),
                format!("{P}runner-1"),
            ),
            (format!("lab_{P}runner-2-data"), format!("{P}runner-2")),
            (format!("{P}runner-2-data"), format!("{P}runner-2")),
            (format!("lab_{P}runner-3-data"), format!("{P}runner-3")),
            (format!("{P}runner-3-data"), format!("{P}runner-3")),
        ];
        let plan = w.init();
        assert_eq!(
            steps(&plan),
            s(&[
                ("1", "sync-install"),
                ("2", "sync-install"),
                ("1", "carry-over"),
                ("1", "carry-over"),
                ("1", "create"),
                ("2", "create"),
                ("1", "register"),
                ("2", "register"),
                ("1", "start"),
                ("2", "start"),
            ])
        );
        assert_eq!(
            plan.steps[3].action,
            Action::CarryOver {
                from: format!("lab_{P}runner-1-udev-rules"),
                to: format!("{P}runner-1-udev-rules")
            }
        );
        // The install goes into the volume that is carried over, or the one of the fixed
        // name when that exists already.
        assert_eq!(
            (&plan.steps[0].action, &plan.steps[1].action),
            (
                &Action::SyncInstall {
                    volume: format!("lab_{P}runner-1-data")
                },
                &Action::SyncInstall {
                    volume: format!("{P}runner-2-data")
                }
            )
        );
        // Where the fixed volume is used (or there first), an old one is only reported.
        let notes: Vec<&str> = plan.notes.iter().map(|n| n.why.as_str()).collect();
        assert_eq!(notes.len(), 2, "{notes:?}");
        assert!(
            notes[0].contains("is not used, since h-runner-2-data is"),
            "{notes:?}"
        );
        assert!(
            notes[1].contains("is not used, since h-runner-3-data is"),
            "{notes:?}"
        );
    }

    #[test]
    fn an_interrupted_install_copy_is_done_again() {
        // ghr stopped runner-1 and was interrupted while copying the new install: the
        // container still runs the old image, so the next plan copies again.
        let mut w = converged(1);
        w.image.id = Some("sha256:2".into());
        w.local_mut("1").state = ContainerState::Exited;
        assert_eq!(
            steps(&w.init()),
            s(&[("1", "sync-install"), ("1", "recreate"), ("1", "start")])
        );
        // Once the container runs the new image, its volume has the new install.
        w.local_mut("1").image_id = "sha256:2".into();
        w.local_mut("1").configured = Some(true);
        assert_eq!(steps(&w.init()), s(&[("1", "start")]));
    }
}
