//! Board devices: given by a stable name (`/dev/serial/by-id/...`), the node each one is
//! mapped from is fixed when the container is created, so the plan says which node that is;
//! and a device that is missing now (the board is unplugged) is no settings error: its
//! runner waits for it, created with its first-start credential but not started (offline, so the
//! board's jobs stay queued there, and nothing crash-loops), and `ghr serve` starts it, or
//! creates it anew on the new node, when the device appears (see [`replug`]).

use super::types::{Action, Inputs, Plan};
use crate::model::fleet::{ContainerState, RemoteRunner};

/// Why a runner is waiting, for the plan and `ghr list`: the paths missing now.
pub fn waiting_why(missing: &[&str]) -> String {
    format!(
        "waits for its device {} (missing now): kept stopped, offline on GitHub; `ghr serve` starts it when the device appears (without serve, run `ghr init` then)",
        missing.join(", ")
    )
}

pub(super) fn notes(input: &Inputs, plan: &mut Plan) {
    for d in input.devices {
        if let Some(node) = &d.node {
            plan.note(
                &d.runner,
                format!(
                    "device {} is {node} now (mapped from it, seen under its own name)",
                    d.stable
                ),
            );
        }
    }
}

/// The devices of `runner` that are missing now.
fn missing_of<'a>(input: &'a Inputs, runner: &str) -> Vec<&'a str> {
    let mut v: Vec<&str> = input
        .devices
        .iter()
        .filter(|d| d.runner == runner && d.node.is_none())
        .map(|d| d.stable.as_str())
        .collect();
    v.dedup();
    v
}

/// A runner whose device is missing is not started (Docker would refuse, with a restart
/// policy's loop to follow) but *parked*: created anew and not started, so it is offline and
/// takes no job it cannot run, and its state (`created`, never started) says it waits for its
/// device — what `ghr serve` starts when the device appears (a runner someone stopped is
/// `exited`, and serve leaves it so). One busy with a job is left to finish it.
/// `targets`: the runners the command is about (empty: all).
pub(super) fn hold_back(
    input: &Inputs,
    ours: &[&RemoteRunner],
    targets: &[String],
    plan: &mut Plan,
) {
    let mut runners: Vec<&str> = input
        .devices
        .iter()
        .filter(|d| d.node.is_none())
        .map(|d| d.runner.as_str())
        .filter(|r| targets.is_empty() || targets.iter().any(|t| t == r))
        .collect();
    runners.dedup();
    for runner in runners {
        let missing = missing_of(input, runner);
        let mine = |s: &super::types::Step| s.runner.as_deref() == Some(runner);
        plan.steps
            .retain(|s| !(mine(s) && matches!(s.action, Action::Start)));
        let created_anyway = plan.steps.iter().any(|s| {
            mine(s)
                && matches!(
                    s.action,
                    Action::Create | Action::Recreate | Action::Replace
                )
        });
        let parked = input
            .local
            .iter()
            .find(|c| c.name == runner)
            .is_none_or(|c| matches!(c.state, ContainerState::Created));
        if !created_anyway && !parked {
            let busy = ours.iter().any(|g| g.name == runner && g.busy);
            if busy {
                plan.keep(
                    runner,
                    format!(
                        "busy with a job while its device {} is missing; parked when idle (`ghr serve` does it, or run `ghr init` again)",
                        missing.join(", ")
                    ),
                );
            } else {
                plan.push(
                    Some(runner),
                    Action::Recreate,
                    format!(
                        "its device {} is missing: created anew and not started, to wait for it",
                        missing.join(", ")
                    ),
                );
            }
        }
        plan.note(runner, waiting_why(&missing));
    }
}

/// One board runner as `ghr serve`'s device watcher sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BoardNow<'a> {
    /// Its container's state; `None`: it has none (`ghr init` has not made it).
    pub state: Option<ContainerState>,
    /// Whether Docker failed to start it (an `exited` container with a start error: a device
    /// missing when the host came up), as opposed to someone stopping it.
    pub failed_start: bool,
    /// Whether the container was made from the service the settings give now (with the
    /// nodes the devices resolve to now); `false` after a replug to another node.
    pub current: bool,
    /// The board's devices missing now.
    pub missing: Vec<&'a str>,
    /// Whether a job runs in it (a `Runner.Worker` process); asked only of a running one.
    pub busy: bool,
    /// Whether its volume holds a registration, or the credential its first start registers
    /// with; asked only before a start.
    pub registered: Option<bool>,
    /// Whether it runs the image the settings give now (reference and id): a new image needs
    /// its runner install copied into the volume first, which is `ghr init`'s.
    pub same_image: bool,
}

/// What the device watcher does to one board runner.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Replug {
    Nothing,
    /// Create it anew, not started: a device is gone, and it would take a job it cannot run.
    Park(String),
    /// Create it anew from the current service (the device is another node now), then start.
    Recreate(String),
    /// Start it: the devices are here.
    Start(String),
    /// Ask again later: a job runs, or something only `ghr init` can do is needed.
    Wait(String),
}

impl BoardNow<'_> {
    /// Whether it is meant to run: it runs, it waits for its devices (parked: created, never
    /// started), or Docker failed to start it. A runner someone stopped is not.
    fn meant_to_run(&self) -> bool {
        match &self.state {
            None => false,
            Some(ContainerState::Created) => true,
            Some(s) => s.is_up() || self.failed_start,
        }
    }
}

/// The watcher's decision for one board runner: never cuts a running job, never starts a
/// runner someone stopped, starts only a runner that is registered or holds the credential
/// `ghr init` placed for its first start (the watcher has no token), and creates anew only on
/// the image the runner already has.
pub fn replug(now: &BoardNow) -> Replug {
    let Some(state) = &now.state else {
        return Replug::Nothing;
    };
    if !now.meant_to_run() {
        return Replug::Nothing;
    }
    let running = state.is_up();
    if !now.missing.is_empty() {
        let gone = now.missing.join(", ");
        return match (state, now.busy) {
            (ContainerState::Created, _) => Replug::Nothing,
            (_, true) => Replug::Wait(format!(
                "its device {gone} is missing, but a job runs: parked when it ends"
            )),
            (_, false) => Replug::Park(format!("its device {gone} is missing")),
        };
    }
    if running && now.current {
        return Replug::Nothing;
    }
    if running && now.busy {
        return Replug::Wait(
            "its device is another node now, but a job runs: created anew when it ends".into(),
        );
    }
    match now.registered {
        None => Replug::Wait("is it registered?".into()),
        Some(false) => Replug::Nothing,
        Some(true) if now.current => Replug::Start("its devices are here".into()),
        Some(true) if !now.same_image => Replug::Wait(
            "its device is another node now, but its image changed too: run `ghr init` (it copies the new runner install first)".into(),
        ),
        Some(true) => Replug::Recreate("its device is another node now".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::compose::ResolvedDevice;
    use crate::model::fleet::ContainerState as C;
    use crate::plan::fixture::*;
    use crate::plan::types::Intent;

    const GONE: &str = "/dev/serial/by-id/usb-FTDI_A5-if00-port0";

    fn unplugged(runner: &str) -> ResolvedDevice {
        ResolvedDevice {
            runner: format!("{P}runner-{runner}"),
            stable: GONE.into(),
            node: None,
        }
    }

    #[test]
    fn each_resolved_device_is_a_note_of_its_runner() {
        let mut w = converged(1);
        assert!(w.init().notes.is_empty());
        w.devices = vec![ResolvedDevice {
            runner: "h-runner-1".into(),
            stable: "/dev/serial/by-id/usb-FTDI_A5-if00-port0".into(),
            node: Some("/dev/ttyUSB1".into()),
        }];
        let plan = w.init();
        assert!(plan.steps.is_empty(), "a note changes nothing: {plan:?}");
        assert_eq!(plan.notes.len(), 1);
        assert_eq!(plan.notes[0].runner, "h-runner-1");
        assert_eq!(
            plan.notes[0].why,
            "device /dev/serial/by-id/usb-FTDI_A5-if00-port0 is /dev/ttyUSB1 now (mapped from it, seen under its own name)"
        );
    }

    #[test]
    fn a_missing_device_parks_its_runner_and_nothing_else() {
        // (what happens to runner 1 when its device is missing, its plan steps, kept)
        type Setup = fn(&mut World);
        type Case = (&'static str, Setup, Vec<(String, &'static str)>, bool);
        let cases: [Case; 6] = [
            (
                "new: created with its credential, not started",
                |w| {
                    w.local.retain(|c| !c.name.ends_with("-1"));
                    w.volumes.retain(|(_, r)| !r.ends_with("-1"));
                    w.github.retain(|g| !g.name.ends_with("-1"));
                },
                s(&[("1", "create"), ("1", "register"), ("2", "start")]),
                false,
            ),
            (
                "running and idle: parked (created anew, not started)",
                |_| {},
                s(&[("1", "recreate"), ("2", "start")]),
                false,
            ),
            (
                "running and busy: kept until idle",
                |w| w.github_mut("1").busy = true,
                s(&[("2", "start")]),
                true,
            ),
            (
                "exited: parked, not started",
                |w| w.local_mut("1").state = C::Exited,
                s(&[("1", "recreate"), ("2", "start")]),
                false,
            ),
            (
                "parked already: nothing",
                |w| w.local_mut("1").state = C::Created,
                s(&[("2", "start")]),
                false,
            ),
            (
                "settings changed: created anew, not started",
                |w| w.local_mut("1").spec = Some("old".into()),
                s(&[("1", "recreate"), ("2", "start")]),
                false,
            ),
        ];
        for (what, setup, want, kept) in cases {
            let mut w = converged(2);
            w.local_mut("2").state = C::Exited;
            setup(&mut w);
            w.devices = vec![unplugged("1")];
            let plan = w.init();
            assert_eq!(steps(&plan), want, "{what}");
            assert_eq!(!plan.kept.is_empty(), kept, "{what}: {:?}", plan.kept);
            assert!(
                plan.notes
                    .iter()
                    .any(|n| n.runner == "h-runner-1" && n.why == waiting_why(&[GONE])),
                "{what}: {:?}",
                plan.notes
            );
        }
    }

    #[test]
    fn start_parks_a_runner_whose_device_is_missing_instead_of_starting_it() {
        let mut w = converged(3);
        w.local_mut("1").state = C::Exited;
        w.local_mut("3").state = C::Created;
        w.devices = vec![unplugged("1"), unplugged("2"), unplugged("3")];
        let plan = w.plan(Intent::Start { targets: vec![] });
        assert_eq!(
            steps(&plan),
            s(&[("1", "recreate"), ("2", "recreate")]),
            "{plan:?}"
        );
        assert_eq!(
            plan.notes.iter().filter(|n| n.why.contains(GONE)).count(),
            3
        );
        // `ghr start runner-3`: the others are not its business.
        let plan = w.plan(Intent::Start {
            targets: vec![format!("{P}runner-3")],
        });
        assert_eq!(steps(&plan), s(&[]), "{plan:?}");
        assert!(
            plan.notes.iter().all(|n| n.runner.ends_with("-3")),
            "{plan:?}"
        );
    }

    #[test]
    fn the_watcher_never_cuts_a_job_nor_starts_what_someone_stopped() {
        let now = |state, current, missing: &[&'static str], busy, registered| BoardNow {
            state,
            failed_start: false,
            current,
            missing: missing.to_vec(),
            busy,
            registered,
            same_image: true,
        };
        let kind = |d: Replug| match d {
            Replug::Nothing => "nothing",
            Replug::Park(_) => "park",
            Replug::Recreate(_) => "recreate",
            Replug::Start(_) => "start",
            Replug::Wait(_) => "wait",
        };
        let (run, cre, exi) = (Some(C::Running), Some(C::Created), Some(C::Exited));
        let cases = [
            // (state, current spec, missing, busy, registered) -> decision
            (now(None, false, &[], false, Some(true)), "nothing"),
            // unplugged
            (now(run.clone(), true, &[GONE], false, None), "park"),
            (now(run.clone(), true, &[GONE], true, None), "wait"),
            (now(cre.clone(), false, &[GONE], false, None), "nothing"),
            (now(exi.clone(), true, &[GONE], false, None), "nothing"),
            // plugged in: a parked runner starts, or is made anew on its new node
            (now(cre.clone(), true, &[], false, None), "wait"),
            (now(cre.clone(), true, &[], false, Some(true)), "start"),
            (now(cre.clone(), true, &[], false, Some(false)), "nothing"),
            (now(cre.clone(), false, &[], false, Some(true)), "recreate"),
            // replugged as another node under a running runner
            (now(run.clone(), false, &[], false, Some(true)), "recreate"),
            (now(run.clone(), false, &[], true, Some(true)), "wait"),
            (now(run.clone(), false, &[], false, None), "wait"),
            (now(run.clone(), true, &[], false, None), "nothing"),
            // stopped by someone: left so, whatever its devices do
            (now(exi.clone(), false, &[], false, Some(true)), "nothing"),
            (now(exi.clone(), true, &[], false, Some(true)), "nothing"),
        ];
        for (input, want) in cases {
            assert_eq!(kind(replug(&input)), want, "{input:?}");
        }
        // Docker could not start it (its device was missing when the host came up): as parked.
        let failed = |current, missing: &[&'static str]| BoardNow {
            failed_start: true,
            ..now(exi.clone(), current, missing, false, Some(true))
        };
        assert_eq!(kind(replug(&failed(true, &[]))), "start");
        assert_eq!(kind(replug(&failed(false, &[]))), "recreate");
        assert_eq!(kind(replug(&failed(true, &[GONE]))), "park");
        // Another image since it was created: not made anew here (no install copy), said.
        let new_image = BoardNow {
            same_image: false,
            ..now(cre.clone(), false, &[], false, Some(true))
        };
        assert_eq!(kind(replug(&new_image)), "wait");
        let started = BoardNow {
            same_image: false,
            ..now(cre.clone(), true, &[], false, Some(true))
        };
        assert_eq!(
            kind(replug(&started)),
            "start",
            "on the image it was made with"
        );
    }
}
