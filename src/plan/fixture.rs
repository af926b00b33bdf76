//! The table tests' world: a converged fleet to change one thing of, and the plan of it
//! as `(runner, action)` pairs.

use super::plan;
use super::types::*;
pub use crate::model::fleet::tests::{local, remote};
use crate::model::fleet::{DesiredRunner, LocalRunner, RemoteRunner, RunnerKind};
use std::collections::BTreeMap;

pub const P: &str = "h-";

pub fn runner(short: &str, labels: &[&str]) -> DesiredRunner {
    DesiredRunner {
        name: format!("{P}runner-{short}"),
        kind: RunnerKind::Generic { index: 1 },
        labels: labels.iter().map(|l| l.to_string()).collect(),
        ephemeral: false,
    }
}

/// A fleet state: desired runners, containers, volumes, GitHub's runners.
pub struct World {
    pub desired: Vec<DesiredRunner>,
    pub specs: BTreeMap<String, String>,
    pub image: ImageState,
    pub compose: Option<String>,
    pub local: Vec<LocalRunner>,
    pub volumes: Vec<(String, String)>,
    pub github: Vec<RemoteRunner>,
    pub group: Option<GroupTarget>,
    pub devices: Vec<crate::model::compose::ResolvedDevice>,
}

/// `n` runners, each with a container (current spec and image), a volume, and a GitHub
/// registration online with labels `a`: nothing to do.
pub fn converged(n: usize) -> World {
    let desired: Vec<DesiredRunner> = (1..=n).map(|i| runner(&i.to_string(), &["a"])).collect();
    let specs = desired
        .iter()
        .map(|r| (r.name.clone(), "spec1".to_string()))
        .collect();
    let local = desired
        .iter()
        .map(|r| LocalRunner {
            spec: Some("spec1".into()),
            ..local(&r.name)
        })
        .collect();
    let volumes = desired
        .iter()
        .map(|r| (format!("{}-data", r.name), r.name.clone()))
        .collect();
    let github = desired
        .iter()
        .enumerate()
        .map(|(i, r)| RemoteRunner {
            labels: vec![
                "self-hosted".into(),
                "Linux".into(),
                "X64".into(),
                "a".into(),
            ],
            custom_labels: vec!["a".into()],
            ..remote(i as u64 + 10, &r.name)
        })
        .collect();
    World {
        desired,
        specs,
        image: ImageState {
            reference: "img".into(),
            id: Some("sha256:1".into()),
            build: None,
        },
        compose: None,
        local,
        volumes,
        github,
        group: None,
        devices: Vec::new(),
    }
}

impl World {
    pub fn plan(&self, intent: Intent) -> Plan {
        self.plan_with(intent, Some(&self.github))
    }

    pub fn plan_with(&self, intent: Intent, github: Option<&[RemoteRunner]>) -> Plan {
        plan(&Inputs {
            prefix: P,
            desired: &self.desired,
            specs: &self.specs,
            image: &self.image,
            compose: self.compose.clone(),
            local: &self.local,
            volumes: &self.volumes,
            github,
            group: self.group.as_ref(),
            intent: &intent,
            devices: &self.devices,
        })
    }

    pub fn init(&self) -> Plan {
        self.plan(Intent::Converge {
            force: vec![],
            prune: true,
        })
    }

    pub fn local_mut(&mut self, short: &str) -> &mut LocalRunner {
        let name = format!("{P}runner-{short}");
        self.local.iter_mut().find(|c| c.name == name).unwrap()
    }

    pub fn github_mut(&mut self, short: &str) -> &mut RemoteRunner {
        let name = format!("{P}runner-{short}");
        self.github.iter_mut().find(|g| g.name == name).unwrap()
    }
}

/// `(runner short name or "-", action name)` of every step, in order.
pub fn steps(plan: &Plan) -> Vec<(String, &'static str)> {
    plan.steps
        .iter()
        .map(|s| {
            let who = s
                .runner
                .as_deref()
                .map(|r| r.trim_start_matches(&format!("{P}runner-")).to_string())
                .unwrap_or_else(|| "-".into());
            (who, s.action.name())
        })
        .collect()
}

pub fn s(v: &[(&str, &'static str)]) -> Vec<(String, &'static str)> {
    v.iter().map(|(a, b)| (a.to_string(), *b)).collect()
}
