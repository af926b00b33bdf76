//! The planning core: from the fleet as it should be (settings) and as Docker and GitHub
//! show it, an ordered list of typed actions, each with the reason it is needed. Pure: no
//! I/O, so every rule has a table test below. Commands gather the state, ask for a plan, and
//! hand it to the executor (`apply.rs`); `ghr plan` prints it.

mod containers;
mod devices;
pub mod ephemeral;
#[cfg(test)]
mod fixture;
mod install;
mod labels;
mod registrations;
mod removals;
mod types;

pub use devices::{replug, waiting_why, BoardNow, Replug};
pub use labels::label_change;
pub use registrations::registration_checks;
pub use removals::staying_registrations;
pub use types::{Action, GroupTarget, ImageState, Inputs, Intent, Kept, Phase, Plan, Step};

use crate::model::fleet::{natural_cmp, RemoteRunner};
use containers::{converge, start_or_register};
use removals::{prune_surplus, remove};

pub fn plan(input: &Inputs) -> Plan {
    let mut plan = Plan::default();
    let ours: Vec<&RemoteRunner> = input
        .github
        .unwrap_or_default()
        .iter()
        .filter(|g| crate::model::fleet::is_ours(input.prefix, &g.name))
        .collect();
    match input.intent {
        Intent::Converge { force, prune } => {
            fleet_steps(input, &mut plan);
            for runner in input.desired {
                converge(
                    input,
                    &ours,
                    runner,
                    force.contains(&runner.name),
                    &mut plan,
                );
            }
            if *prune {
                prune_surplus(input, &ours, &mut plan);
            }
            devices::notes(input, &mut plan);
            ephemeral::notes(input, &mut plan);
            devices::hold_back(input, &ours, &[], &mut plan);
        }
        Intent::Start { targets } | Intent::Register { targets } => {
            let register_only = matches!(input.intent, Intent::Register { .. });
            let any = targets.is_empty();
            if input.desired.iter().any(|r| {
                (any || targets.contains(&r.name)) && !input.local.iter().any(|c| c.name == r.name)
            }) {
                fleet_steps(input, &mut plan);
            }
            let mut names: Vec<String> = input
                .desired
                .iter()
                .map(|r| r.name.clone())
                .chain(input.local.iter().map(|c| c.name.clone()))
                .filter(|n| any || targets.contains(n))
                .collect();
            names.sort_by(|a, b| natural_cmp(a, b));
            names.dedup();
            for name in names {
                start_or_register(input, &ours, &name, register_only, &mut plan);
            }
            devices::hold_back(input, &ours, targets, &mut plan);
        }
        Intent::Remove { targets } => {
            let mut names: Vec<String> = input
                .local
                .iter()
                .map(|c| c.name.clone())
                .chain(ours.iter().map(|g| g.name.clone()))
                .chain(input.volumes.iter().map(|(_, runner)| runner.clone()))
                .filter(|n| !n.is_empty() && (targets.is_empty() || targets.contains(n)))
                .collect();
            names.sort_by(|a, b| natural_cmp(a, b));
            names.dedup();
            for name in names {
                remove(input, &ours, &name, "asked for", &mut plan);
            }
        }
    }
    plan.sort();
    plan
}

/// The image and the compose file, when they need work.
fn fleet_steps(input: &Inputs, plan: &mut Plan) {
    if let Some(why) = &input.image.build {
        plan.push(
            None,
            Action::BuildImage {
                tag: input.image.reference.clone(),
            },
            why.clone(),
        );
    }
    if let Some(why) = &input.compose {
        plan.push(None, Action::WriteCompose, why.clone());
    }
}
