//! The planning core: from the fleet as it should be (settings) and as Docker and GitHub
//! show it, an ordered list of typed actions, each with the reason it is needed. Pure: no
//! I/O, so every rule has a table test below. Commands gather the state, ask for a plan, and
//! hand it to the executor (`apply.rs`); `ghr plan` prints it.

use crate::model::fleet::{natural_cmp, ContainerState, DesiredRunner, LocalRunner, RemoteRunner};
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
    /// `config.sh` in a one-off container. `unless_registered`: skip it when the volume
    /// already holds a registration (a volume carried over from runner.sh or an older ghr).
    Register {
        unless_registered: bool,
    },
    /// `config.sh remove --local`, then `config.sh` again (same name, `--replace`).
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

    fn push(&mut self, runner: Option<&str>, action: Action, why: impl Into<String>) {
        self.steps.push(Step {
            runner: runner.map(str::to_string),
            action,
            why: why.into(),
        });
    }

    fn keep(&mut self, runner: &str, why: impl Into<String>) {
        self.kept.push(Kept {
            runner: runner.to_string(),
            why: why.into(),
        });
    }

    fn note(&mut self, runner: &str, why: impl Into<String>) {
        self.notes.push(Kept {
            runner: runner.to_string(),
            why: why.into(),
        });
    }

    fn sort(&mut self) {
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
const LISTED_BUT_NOT_CONFIGURED: &str = "GitHub lists it but its volume holds no registration (an interrupted registration?); registered again under its name";

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

fn has_volume(input: &Inputs, runner: &str) -> bool {
    input.volumes.iter().any(|(_, r)| r == runner)
}

/// The volume that holds a runner's /home/runner: its container's, else its data volume
/// (the fixed name before an older naming, which a carry-over then copies from).
fn home_volume(input: &Inputs, local: Option<&LocalRunner>, runner: &str) -> Option<String> {
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

/// One desired runner of `init`.
fn converge(
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
            let Some(remote) = remote else {
                return finish(local, name, recreating, stopping, plan);
            };
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
            if let Some(group) = input.group.filter(|g| g.id != remote.group_id) {
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
    }

    finish(local, name, recreating, stopping, plan);
}

/// Running at the end, whatever happened on the way.
fn finish(local: &LocalRunner, name: &str, recreating: bool, stopping: bool, plan: &mut Plan) {
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
fn foreign_maker(input: &Inputs, local: &LocalRunner) -> Option<String> {
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

/// The volumes of `name` under an older naming (`<project>_<runner>-data`), each with the
/// fixed name it becomes.
fn old_volumes<'a>(input: &'a Inputs, name: &str) -> Vec<(&'a str, String)> {
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
fn carry_overs(input: &Inputs, name: &str, home: Option<&str>) -> Vec<(String, String)> {
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

fn push_carry_overs(carry: Vec<(String, String)>, name: &str, plan: &mut Plan) {
    for (from, to) in carry {
        let why = format!(
            "{from} is named as compose named it before ghr fixed volume names; it becomes {to}"
        );
        plan.push(Some(name), Action::CarryOver { from, to }, why);
    }
}

/// Old volumes that are not carried over: reported, never removed behind the user's back.
fn note_old_volumes(input: &Inputs, name: &str, plan: &mut Plan) {
    for (volume, fixed) in old_volumes(input, name) {
        plan.note(
            name,
            format!("volume {volume} (an older naming) is not used, since {fixed} is; `ghr rm` removes both with the runner"),
        );
    }
}

/// A desired runner without a container.
fn create_and_register(input: &Inputs, remote: Option<&RemoteRunner>, name: &str, plan: &mut Plan) {
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

/// What a runner's registration needs, judged by GitHub's list (`remote`: its entry) and,
/// where GitHub does not list it or was not asked, by its volume (`configured`).
fn registration_redo(
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

/// `ghr start` / `ghr register` for one runner.
fn start_or_register(
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

/// What the settings no longer have: unregistered and removed (unless busy).
fn prune_surplus(input: &Inputs, ours: &[&RemoteRunner], plan: &mut Plan) {
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
fn remove(input: &Inputs, ours: &[&RemoteRunner], name: &str, why: &str, plan: &mut Plan) {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::fleet::tests::{local, remote};
    use crate::model::fleet::{ContainerState, RunnerKind};

    const P: &str = "h-";

    fn runner(short: &str, labels: &[&str]) -> DesiredRunner {
        DesiredRunner {
            name: format!("{P}runner-{short}"),
            kind: RunnerKind::Generic { index: 1 },
            labels: labels.iter().map(|l| l.to_string()).collect(),
        }
    }

    /// A fleet state: desired runners, containers, volumes, GitHub's runners.
    struct World {
        desired: Vec<DesiredRunner>,
        specs: BTreeMap<String, String>,
        image: ImageState,
        compose: Option<String>,
        local: Vec<LocalRunner>,
        volumes: Vec<(String, String)>,
        github: Vec<RemoteRunner>,
        group: Option<GroupTarget>,
    }

    /// `n` runners, each with a container (current spec and image), a volume, and a GitHub
    /// registration online with labels `a`: nothing to do.
    fn converged(n: usize) -> World {
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
        }
    }

    impl World {
        fn plan(&self, intent: Intent) -> Plan {
            self.plan_with(intent, Some(&self.github))
        }

        fn plan_with(&self, intent: Intent, github: Option<&[RemoteRunner]>) -> Plan {
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
            })
        }

        fn init(&self) -> Plan {
            self.plan(Intent::Converge {
                force: vec![],
                prune: true,
            })
        }

        fn local_mut(&mut self, short: &str) -> &mut LocalRunner {
            let name = format!("{P}runner-{short}");
            self.local.iter_mut().find(|c| c.name == name).unwrap()
        }

        fn github_mut(&mut self, short: &str) -> &mut RemoteRunner {
            let name = format!("{P}runner-{short}");
            self.github.iter_mut().find(|g| g.name == name).unwrap()
        }
    }

    /// `(runner short name or "-", action name)` of every step, in order.
    fn steps(plan: &Plan) -> Vec<(String, &'static str)> {
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

    fn s(v: &[(&str, &'static str)]) -> Vec<(String, &'static str)> {
        v.iter().map(|(a, b)| (a.to_string(), *b)).collect()
    }

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
        w.github_mut("1").group_id = 7;
        assert!(w.init().is_empty());
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

    #[test]
    fn stopped_containers_are_started() {
        let mut w = converged(2);
        w.local_mut("2").state = ContainerState::Exited;
        let plan = w.init();
        assert_eq!(steps(&plan), s(&[("2", "start")]));
        assert_eq!(plan.steps[0].why, "it is exited");
    }

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
