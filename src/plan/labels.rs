//! Labels and the runner group of a registered runner: compared with the settings and set
//! through GitHub's API, never by registering again.

use super::types::{Action, Inputs, Plan};
use crate::model::fleet::{DesiredRunner, RemoteRunner};

/// The labels to set on GitHub when they differ from what the runner has, else `None`.
/// GitHub's labels are case-insensitive; read-only ones (self-hosted, OS, arch) are not ours.
pub fn label_change(desired: &[String], remote: &RemoteRunner) -> Option<Vec<String>> {
    let read_only: Vec<&String> = remote
        .labels
        .iter()
        .filter(|l| {
            !remote
                .custom_labels
                .iter()
                .any(|c| c.eq_ignore_ascii_case(l))
        })
        .collect();
    let mut want: Vec<String> = Vec::new();
    for label in desired {
        let dup = want.iter().any(|w| w.eq_ignore_ascii_case(label))
            || read_only.iter().any(|r| r.eq_ignore_ascii_case(label));
        if !dup {
            want.push(label.clone());
        }
    }
    let same = want.len() == remote.custom_labels.len()
        && want.iter().all(|w| {
            remote
                .custom_labels
                .iter()
                .any(|c| c.eq_ignore_ascii_case(w))
        });
    (!same).then_some(want)
}

/// A registered runner's labels and runner group, set through GitHub's API where they
/// differ from the settings (no re-registration).
pub fn labels_and_group(
    input: &Inputs,
    runner: &DesiredRunner,
    remote: &RemoteRunner,
    plan: &mut Plan,
) {
    let name = runner.name.as_str();
    if let Some(labels) = label_change(&runner.labels, remote) {
        let why = format!(
            "labels {} -> {}",
            remote.custom_labels.join(","),
            labels.join(",")
        );
        plan.push(
            Some(name),
            Action::SetLabels {
                id: remote.id,
                labels,
            },
            why,
        );
    }
    // A runner whose group GitHub did not say is left where it is.
    if let Some(group) = input
        .group
        .filter(|g| remote.group_id.is_some_and(|id| id != g.id))
    {
        plan.push(
            Some(name),
            Action::SetGroup {
                id: remote.id,
                group_id: group.id,
                group: group.name.clone(),
            },
            format!("belongs in runner group {}", group.name),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::label_change;
    use crate::model::fleet::RemoteRunner;
    use crate::plan::fixture::*;
    use crate::plan::types::*;

    #[test]
    fn changed_labels_are_set_through_the_api_without_touching_containers() {
        let mut w = converged(2);
        for r in &mut w.desired {
            r.labels = vec!["b".into(), "self-hosted".into(), "B".into()];
        }
        let plan = w.init();
        assert_eq!(steps(&plan), s(&[("1", "set-labels"), ("2", "set-labels")]));
        assert_eq!(
            plan.steps[0].action,
            Action::SetLabels {
                id: 10,
                labels: vec!["b".into()]
            }
        );
        assert_eq!(plan.steps[0].why, "labels a -> b");
        // Case and order do not matter to GitHub.
        let mut w = converged(1);
        w.desired[0].labels = vec!["A".into()];
        assert!(w.init().is_empty());
    }

    #[test]
    fn the_runner_group_is_followed() {
        let mut w = converged(1);
        w.group = Some(GroupTarget {
            name: "lab".into(),
            id: 7,
        });
        let plan = w.init();
        assert_eq!(
            plan.steps,
            [Step {
                runner: Some(format!("{P}runner-1")),
                action: Action::SetGroup {
                    id: 10,
                    group_id: 7,
                    group: "lab".into()
                },
                why: "belongs in runner group lab".into()
            }]
        );
        w.github_mut("1").group_id = Some(7);
        assert!(w.init().is_empty());
        // GitHub's runner object may leave the group out: unknown is never "elsewhere".
        w.github_mut("1").group_id = None;
        assert!(w.init().is_empty());
    }

    #[test]
    fn label_changes_ignore_case_order_and_read_only_labels() {
        let r = RemoteRunner {
            labels: vec!["self-hosted".into(), "Linux".into(), "x".into(), "Y".into()],
            custom_labels: vec!["x".into(), "Y".into()],
            ..remote(1, "r")
        };
        let v = |l: &[&str]| l.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(label_change(&v(&["y", "X"]), &r), None);
        assert_eq!(label_change(&v(&["x", "linux", "y"]), &r), None);
        assert_eq!(label_change(&v(&["x"]), &r), Some(v(&["x"])));
        assert_eq!(
            label_change(&v(&["x", "y", "z"]), &r),
            Some(v(&["x", "y", "z"]))
        );
        assert_eq!(label_change(&v(&[]), &r), Some(vec![]));
    }
}
