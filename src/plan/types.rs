//! The planner's vocabulary: what a command wants (`Intent`), the state it is given
//! (`Inputs`), and what comes out (`Plan`: ordered `Step`s of typed `Action`s, each with why).

use crate::model::fleet::{natural_cmp, DesiredRunner, LocalRunner, RemoteRunner};
use std::collections::BTreeMap;

/// What the command wants done.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Intent {
    /// `ghr init`: make the fleet match the settings. `force`: re-register these runners on
    /// purpose. `prune`: unregister and remove what the settings no longer have.
    Converge { force: Vec<String>, prune: bool },
    /// `ghr start [NAME...]`: create what is missing, register what is not, start.
    Start { targets: Vec<String> },
    /// `ghr register [NAME...]`: register what is not registered, and start it.
    Register { targets: Vec<String> },
    /// `ghr rm [NAME...]` and `ghr purge`: unregister and remove.
    Remove { targets: Vec<String> },
}

/// The image the fleet runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageState {
    pub reference: String,
    /// Its id now, when it exists locally.
    pub id: Option<String>,
    /// Why it must be built (from ./Dockerfile) first, if it must.
    pub build: Option<String>,
}

/// The runner group the fleet's runners belong in (organizations only).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupTarget {
    pub name: String,
    pub id: u64,
}

/// Everything a plan is made from.
pub struct Inputs<'a> {
    pub prefix: &'a str,
    pub desired: &'a [DesiredRunner],
    /// The `ghr.spec` hash of each desired runner's service, by name.
    pub specs: &'a BTreeMap<String, String>,
    pub image: &'a ImageState,
    /// Why the compose file must be written, if it must.
    pub compose: Option<String>,
    pub local: &'a [LocalRunner],
    /// The fleet's volumes that exist, with the runner each belongs to.
    pub volumes: &'a [(String, String)],
    /// GitHub's runners of the scope (all prefixes: the plan keeps its own); `None` when
    /// GitHub is not asked (no GH_PAT: runners register with REG_TOKEN). Then registrations
    /// are judged by the volumes alone, and nothing is unregistered, labelled or moved.
    pub github: Option<&'a [RemoteRunner]>,
    pub group: Option<&'a GroupTarget>,
    pub intent: &'a Intent,
    /// Board devices given by a stable name and the node each resolved to now.
    pub devices: &'a [crate::model::compose::ResolvedDevice],
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "action", rename_all = "kebab-case")]
pub enum Action {
    BuildImage {
        tag: String,
    },
    WriteCompose,
    /// Stop the container (before its registration is redone).
    Stop,
    /// Create the container (compose, not started).
    Create,
    /// Create it anew from the current service and image (compose, not started).
    Recreate,
    /// Remove a container compose does not count as this fleet's (runner.sh made it, or an
    /// older ghr under a directory-derived project) and create ghr's own; volumes stay.
    Replace,
    /// Copy a volume an older naming left (`<project>_<runner>-data`) into the volume of the
    /// fixed name, before the container is created on it; the old one is removed once the
    /// old container is gone: its registration and work directory carry over.
    CarryOver {
        from: String,
        to: String,
    },
    /// Copy the image's runner install into the runner's volume `volume`, keeping the
    /// registration and the work directory (the volume hides every later image's files
    /// otherwise). It runs before the container is (re)created, with the runner stopped: a
    /// container on the new image then always has the new install, so an interrupted copy
    /// leaves the old container, and the next command copies again.
    SyncInstall {
        volume: String,
    },
    /// A credential placed in the created container, so that its first start runs
    /// `config.sh` (see `model::first_start`). `unless_registered`: skip it when the volume
    /// already holds a registration (a volume carried over from runner.sh or an older ghr).
    Register {
        unless_registered: bool,
    },
    /// `config.sh remove --local`, then `config.sh` again (same name, `--replace`), at the
    /// first start as for `Register`.
    Reregister,
    SetLabels {
        id: u64,
        labels: Vec<String>,
    },
    SetGroup {
        id: u64,
        group_id: u64,
        group: String,
    },
    Start,
    Unregister {
        id: u64,
    },
    RemoveContainer,
    RemoveVolumes {
        volumes: Vec<String>,
    },
}

/// Steps run phase by phase, in this order: every build before any write, every create
/// before any registration, ... and a runner's steps keep this order too.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Phase {
    Build,
    Compose,
    Stop,
    SyncInstall,
    CarryOver,
    Create,
    Register,
    GitHub,
    Start,
    Unregister,
    RemoveContainer,
    RemoveVolumes,
}

impl Action {
    pub fn phase(&self) -> Phase {
        match self {
            Action::BuildImage { .. } => Phase::Build,
            Action::WriteCompose => Phase::Compose,
            Action::Stop => Phase::Stop,
            Action::Create | Action::Recreate | Action::Replace => Phase::Create,
            Action::CarryOver { .. } => Phase::CarryOver,
            Action::SyncInstall { .. } => Phase::SyncInstall,
            Action::Register { .. } | Action::Reregister => Phase::Register,
            Action::SetLabels { .. } | Action::SetGroup { .. } => Phase::GitHub,
            Action::Start => Phase::Start,
            Action::Unregister { .. } => Phase::Unregister,
            Action::RemoveContainer => Phase::RemoveContainer,
            Action::RemoveVolumes { .. } => Phase::RemoveVolumes,
        }
    }

    /// The action's name in `ghr plan` (and its JSON).
    pub fn name(&self) -> &'static str {
        match self {
            Action::BuildImage { .. } => "build-image",
            Action::WriteCompose => "write-compose",
            Action::Stop => "stop",
            Action::Create => "create",
            Action::Recreate => "recreate",
            Action::Replace => "replace",
            Action::CarryOver { .. } => "carry-over",
            Action::SyncInstall { .. } => "sync-install",
            Action::Register { .. } => "register",
            Action::Reregister => "reregister",
            Action::SetLabels { .. } => "set-labels",
            Action::SetGroup { .. } => "set-group",
            Action::Start => "start",
            Action::Unregister { .. } => "unregister",
            Action::RemoveContainer => "remove-container",
            Action::RemoveVolumes { .. } => "remove-volumes",
        }
    }

    pub fn is_removal(&self) -> bool {
        matches!(
            self,
            Action::Unregister { .. } | Action::RemoveContainer | Action::RemoveVolumes { .. }
        )
    }
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Step {
    /// The runner it is for; `None` for the fleet (image, compose file).
    pub runner: Option<String>,
    #[serde(flatten)]
    pub action: Action,
    pub why: String,
}

/// A change a runner needs but cannot have now (it is busy with a job).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Kept {
    pub runner: String,
    pub why: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Plan {
    pub steps: Vec<Step>,
    /// Runners that need a change they cannot have now: the command reports each and ends
    /// with exit code 1, so running it again later finishes the job.
    pub kept: Vec<Kept>,
    /// Targets with nothing to do, and why (e.g. already registered).
    pub notes: Vec<Kept>,
}

impl Plan {
    pub fn is_empty(&self) -> bool {
        self.steps.is_empty()
    }

    /// The runners the plan unregisters or removes (asked before anything is done).
    pub fn removals(&self) -> Vec<String> {
        let mut names: Vec<String> = self
            .steps
            .iter()
            .filter(|s| s.action.is_removal())
            .filter_map(|s| s.runner.clone())
            .collect();
        names.sort_by(|a, b| natural_cmp(a, b));
        names.dedup();
        names
    }

    /// Whether the plan registers for sure (then the token is fetched before anything
    /// changes). A registration `unless_registered` fetches one only when the volume turns
    /// out to hold none.
    pub fn needs_token(&self) -> bool {
        self.steps.iter().any(|s| {
            matches!(
                s.action,
                Action::Register {
                    unless_registered: false
                } | Action::Reregister
            )
        })
    }

    /// Steps of this phase, in plan order.
    pub fn of(&self, phase: Phase) -> impl Iterator<Item = &Step> {
        self.steps.iter().filter(move |s| s.action.phase() == phase)
    }

    pub(super) fn push(&mut self, runner: Option<&str>, action: Action, why: impl Into<String>) {
        self.steps.push(Step {
            runner: runner.map(str::to_string),
            action,
            why: why.into(),
        });
    }

    pub(super) fn keep(&mut self, runner: &str, why: impl Into<String>) {
        self.kept.push(Kept {
            runner: runner.to_string(),
            why: why.into(),
        });
    }

    pub(super) fn note(&mut self, runner: &str, why: impl Into<String>) {
        self.notes.push(Kept {
            runner: runner.to_string(),
            why: why.into(),
        });
    }

    pub(super) fn sort(&mut self) {
        self.steps.sort_by(|a, b| {
            a.action.phase().cmp(&b.action.phase()).then_with(|| {
                natural_cmp(
                    a.runner.as_deref().unwrap_or(""),
                    b.runner.as_deref().unwrap_or(""),
                )
            })
        });
    }
}
