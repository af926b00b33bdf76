//! The executor: carries out a plan phase by phase (see `plan::Action::phase`), with progress
//! on a terminal and a line per runner. A runner whose step fails is reported and skipped in
//! the later phases; the others go on. GitHub writes run a few at a time
//! (`github::WRITE_CONCURRENCY`), one-off containers eight at a time.

use crate::config::settings::Settings;
use crate::model::compose::ComposeFile;
use crate::model::first_start;
use crate::model::fleet::DesiredRunner;
use crate::plan::{Action, Phase, Plan, Step};
use crate::world::concurrent::map_bounded;
use crate::world::docker::Docker;
use crate::world::error::{Error, Result};
use crate::world::notify::{self as ui, Progress};
use crate::world::remote::{Deleted, Remote};
use std::collections::BTreeSet;
use std::path::Path;

/// How many per-container Docker steps (credentials, install copies, reads) run at once.
pub const ONEOFF_CONCURRENCY: usize = 8;
/// How many containers start at once (the engine starts them side by side; `docker start a
/// b c` starts one after the other).
const START_CONCURRENCY: usize = 8;

/// What the executor works with besides the plan.
pub struct Context<'a> {
    pub settings: &'a Settings,
    pub docker: &'a Docker,
    /// `None` for plans that need nothing from GitHub.
    pub remote: Option<&'a Remote>,
    /// The compose file to write (and to create containers from), for plans that do.
    pub compose: Option<&'a ComposeFile>,
    pub desired: &'a [DesiredRunner],
    /// The image reference the fleet runs.
    pub image: &'a str,
    /// The Dockerfile's hash to record after a build.
    pub build_hash: Option<&'a str>,
    /// Where `./Dockerfile` is.
    pub dir: &'a Path,
    /// A registration token fetched before anything changed (when the plan registers).
    pub token: Option<&'a str>,
}

/// How a plan went.
#[derive(Debug, Default)]
pub struct Outcome {
    /// Runners whose step failed (each already reported).
    pub failed: BTreeSet<String>,
    /// Runners GitHub found busy at the moment of a removal (kept, reported).
    pub kept: BTreeSet<String>,
    /// Whether a failure was Docker's (the engine, compose or a container that could not
    /// run), not the runner's or GitHub's: the command then exits as Docker failures do.
    pub docker_failed: bool,
}

impl Outcome {
    fn skip(&self, runner: &str) -> bool {
        self.failed.contains(runner) || self.kept.contains(runner)
    }

    /// `runner` failed because of `error`.
    fn fail(&mut self, runner: &str, error: &Error) {
        self.failed.insert(runner.to_string());
        self.docker_failed |= matches!(error, Error::Docker(_));
    }

    /// One runner's step: its line when it went well; else its error, and the runner is
    /// skipped in the later phases.
    fn report(
        &mut self,
        progress: &Progress,
        runner: &str,
        result: std::result::Result<String, (String, Error)>,
    ) {
        match result {
            Ok(line) => progress.line(&line),
            Err((line, error)) => {
                progress.error(&line);
                self.fail(runner, &error);
            }
        }
        progress.inc();
    }
}

/// Carries out `plan`. Fails as a whole only when a fleet-wide step fails (the image, the
/// compose file, Docker itself); per-runner failures are in the outcome.
pub fn apply(ctx: &Context, plan: &Plan) -> Result<Outcome> {
    let mut out = Outcome::default();
    for step in plan.of(Phase::Build) {
        if let Action::BuildImage { tag } = &step.action {
            // The same choice the plan was made from (the same files, under the fleet lock).
            let dockerfile = crate::world::image::choice(ctx.settings, ctx.dir)
                .dockerfile(ctx.dir)
                .unwrap_or_else(|| ctx.dir.join(crate::world::image::DOCKERFILE));
            crate::world::image::build(
                ctx.settings,
                ctx.docker,
                ctx.dir,
                &dockerfile,
                tag,
                ctx.build_hash.unwrap_or_default(),
                &step.why,
            )?;
        }
    }
    // The image, once, when a step needs it and it is not here: a pull that fails stops
    // the command with Docker's reason before anything (the compose file, a volume) is made.
    let needs_image = plan.steps.iter().any(|s| {
        matches!(
            s.action,
            Action::SyncInstall { .. }
                | Action::CarryOver { .. }
                | Action::Create
                | Action::Recreate
                | Action::Replace
        )
    });
    if needs_image && ctx.docker.image_id(ctx.image)?.is_none() {
        ui::info(&format!("pulling image {}", ctx.image));
        ctx.docker.pull(ctx.image)?;
    }
    if let Some(compose) = ctx
        .compose
        .filter(|_| plan.of(Phase::Compose).next().is_some())
    {
        crate::world::compose_file::write_file(ctx.settings, compose)?;
        ui::info(&format!(
            "wrote {} ({})",
            ctx.settings.compose_file.display(),
            plan.of(Phase::Compose)
                .map(|s| s.why.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    let starts_containers = plan.steps.iter().any(|s| {
        matches!(
            s.action,
            Action::Create | Action::Recreate | Action::Replace | Action::Start
        )
    });
    // (the wrapper binary itself was checked when the compose file was rendered)
    if starts_containers && ctx.settings.boards.iter().any(|b| b.is_shared()) {
        crate::world::lockdir::prepare_for(ctx.settings)?;
    }
    batch(
        plan,
        &mut out,
        Phase::Stop,
        "stopping",
        "stopped",
        |names| {
            ctx.docker
                .containers_do("stop", names, Some(ctx.settings.stop_grace_period))
        },
    );
    // Between phases: an interrupted command goes no further (see `interrupt`).
    let checkpoint = crate::world::cancel::checkpoint;
    checkpoint();
    sync_installs(ctx, plan, &mut out);
    checkpoint();
    carry_over(ctx, plan, &mut out);
    checkpoint();
    create(ctx, plan, &mut out)?;
    remove_carried_over(ctx, plan, &out);
    checkpoint();
    let placed = register(ctx, plan, &mut out);
    checkpoint();
    github_writes(ctx, plan, &mut out);
    checkpoint();
    start(ctx, plan, &mut out, &placed);
    checkpoint();
    await_first_starts(ctx, plan, &placed, &mut out);
    checkpoint();
    unregister(ctx, plan, &mut out);
    checkpoint();
    batch(
        plan,
        &mut out,
        Phase::RemoveContainer,
        "removing",
        "removed container",
        |names| ctx.docker.remove_containers(names),
    );
    remove_volumes(ctx, plan, &mut out);
    Ok(out)
}

/// The runners of phase `phase` not skipped yet.
fn runners_of(plan: &Plan, phase: Phase, out: &Outcome) -> Vec<String> {
    plan.of(phase)
        .filter_map(|s| s.runner.clone())
        .filter(|r| !out.skip(r))
        .collect()
}

/// One Docker call for every runner of a phase; when it fails, each of them failed.
fn batch(
    plan: &Plan,
    out: &mut Outcome,
    phase: Phase,
    doing: &str,
    done: &str,
    call: impl Fn(&[String]) -> Result<()>,
) {
    let names = runners_of(plan, phase, out);
    if names.is_empty() {
        return;
    }
    let progress = Progress::new(names.len(), doing);
    match call(&names) {
        Ok(()) => {
            for name in &names {
                progress.line(&format!("{done} {name}"));
                progress.inc();
            }
        }
        Err(e) => {
            progress.error(&format!("{doing} {}: {e}", names.join(", ")));
            for name in &names {
                out.fail(name, &e);
            }
        }
    }
}

/// Starts the runners of the start phase, side by side; one that does not start fails alone.
/// None starts once the command is interrupted (see [`Placed::start`]).
fn start(ctx: &Context, plan: &Plan, out: &mut Outcome, placed: &Placed) {
    let names = runners_of(plan, Phase::Start, out);
    if names.is_empty() {
        return;
    }
    let progress = Progress::new(names.len(), "starting");
    let results = map_bounded(&names, START_CONCURRENCY, |name| {
        placed.start(ctx.docker, name)
    });
    for (name, result) in names.iter().zip(results) {
        let result = result
            .map(|()| format!("started {name}"))
            .map_err(|e| (format!("starting {name}: {e}"), e));
        out.report(&progress, name, result);
    }
}

/// Create, recreate and replace: compose creates the containers, not started. A container
/// compose does not count as the fleet's (runner.sh's, an older ghr's) is stopped (it goes
/// offline) and removed first, or compose would refuse its name.
fn create(ctx: &Context, plan: &Plan, out: &mut Outcome) -> Result<()> {
    let project = crate::model::compose::project_name(&ctx.settings.prefix);
    let of = |action: fn(&Action) -> bool, out: &Outcome| -> Vec<String> {
        plan.of(Phase::Create)
            .filter(|s| action(&s.action))
            .filter_map(|s| s.runner.clone())
            .filter(|r| !out.skip(r))
            .collect()
    };
    let replaced = of(|a| matches!(a, Action::Replace), out);
    if !replaced.is_empty() {
        let progress = Progress::new(replaced.len(), "taking over");
        ctx.docker
            .containers_do("stop", &replaced, Some(ctx.settings.stop_grace_period))?;
        ctx.docker.remove_containers(&replaced)?;
        for step in plan.of(Phase::Create) {
            if let (Action::Replace, Some(name)) = (&step.action, &step.runner) {
                if replaced.contains(name) {
                    progress.line(&format!("took over {name}: {}", step.why));
                    progress.inc();
                }
            }
        }
    }
    for (recreate, doing, done) in [
        (false, "creating", "created"),
        (true, "recreating", "recreated"),
    ] {
        let mut names = match recreate {
            false => of(|a| matches!(a, Action::Create), out),
            true => of(|a| matches!(a, Action::Recreate), out),
        };
        if !recreate {
            names.extend(replaced.iter().cloned());
        }
        if names.is_empty() {
            continue;
        }
        let progress = Progress::new(names.len(), doing);
        // Compose failing is Docker failing: nothing after it would work either.
        ctx.docker
            .compose_create(&project, &ctx.settings.compose_file, &names, recreate)?;
        for name in &names {
            progress.line(&format!("{done} {name}"));
            progress.inc();
        }
    }
    Ok(())
}

/// Volumes of an older naming: copied into the fixed-name volume (made here when missing),
/// with the runner stopped, before its container is created on it.
fn carry_over(ctx: &Context, plan: &Plan, out: &mut Outcome) {
    let steps: Vec<(&str, &str, &str)> = plan
        .of(Phase::CarryOver)
        .filter_map(|s| match (&s.runner, &s.action) {
            (Some(r), Action::CarryOver { from, to }) if !out.skip(r) => {
                Some((r.as_str(), from.as_str(), to.as_str()))
            }
            _ => None,
        })
        .collect();
    if steps.is_empty() {
        return;
    }
    let progress = Progress::new(steps.len(), "carrying volumes over");
    let results = map_bounded(&steps, ONEOFF_CONCURRENCY, |(runner, from, to)| {
        ctx.docker
            .carry_over(&ctx.settings.prefix, runner, ctx.image, from, to)
    });
    for ((runner, from, to), result) in steps.iter().zip(results) {
        let result = result
            .map(|()| format!("{from} carried over into {to}"))
            .map_err(|e| (format!("{runner}: {e}"), e));
        out.report(&progress, runner, result);
    }
}

/// The old volumes carried over, once their old containers are gone (Docker keeps a volume
/// a container refers to). One that cannot go is reported; `ghr rm` removes it later.
fn remove_carried_over(ctx: &Context, plan: &Plan, out: &Outcome) {
    for step in plan.of(Phase::CarryOver) {
        if let (Some(runner), Action::CarryOver { from, .. }) = (&step.runner, &step.action) {
            if out.skip(runner) {
                continue;
            }
            if let Err(e) = ctx.docker.remove_volumes(std::slice::from_ref(from)) {
                ui::warn(&format!(
                    "{runner}: volume {from} was carried over but stays ({e}); `ghr rm` removes it with the runner"
                ));
            }
        }
    }
}

/// The image's runner install into the volumes, before the containers are (re)created.
fn sync_installs(ctx: &Context, plan: &Plan, out: &mut Outcome) {
    let steps: Vec<(&str, &str)> = plan
        .of(Phase::SyncInstall)
        .filter_map(|s| match (&s.runner, &s.action) {
            (Some(r), Action::SyncInstall { volume }) if !out.skip(r) => {
                Some((r.as_str(), volume.as_str()))
            }
            _ => None,
        })
        .collect();
    if steps.is_empty() {
        return;
    }
    let progress = Progress::new(steps.len(), "copying runner installs");
    let results = map_bounded(&steps, ONEOFF_CONCURRENCY, |(runner, volume)| {
        ctx.docker.sync_install(
            &ctx.settings.prefix,
            runner,
            ctx.image,
            volume,
            ctx.settings.workdir.as_deref(),
        )
    });
    for ((runner, _), result) in steps.iter().zip(results) {
        let result = result
            .map(|()| format!("copied the runner install of {} into {runner}", ctx.image))
            .map_err(|e| (format!("{runner}: {e}"), e));
        out.report(&progress, runner, result);
    }
}

/// Registration, for every runner: the token goes into its created container as a
/// credential (see `model::first_start`), and its first start registers it (awaited after
/// the start phase, in [`await_first_starts`]). Returns the runners that got a credential.
fn register(ctx: &Context, plan: &Plan, out: &mut Outcome) -> Placed {
    let count = plan.of(Phase::Register).count();
    let placed = Placed::default();
    if count == 0 {
        return placed;
    }
    let progress = Progress::new(count, "placing registration tokens");
    // The container is named after its runner (a missing one fails at `docker cp`).
    let steps: Vec<(&Step, &str)> = plan
        .of(Phase::Register)
        .filter_map(|s| s.runner.as_deref().map(|r| (s, r)))
        .filter(|(_, r)| !out.skip(r))
        .collect();
    let url = ctx.settings.registration_url();
    // Volumes carried over may hold their registration already: look before asking GitHub
    // for a token, so adopting a registered fleet writes nothing to GitHub.
    // One-job runners start from a JIT configuration each, never from a registration.
    let ephemeral = |name: &str| ctx.desired.iter().any(|d| d.name == name && d.ephemeral);
    let registered = map_bounded(&steps, ONEOFF_CONCURRENCY, |(step, name)| -> Result<bool> {
        match step.action {
            _ if ephemeral(name) => Ok(false),
            Action::Register {
                unless_registered: true,
            } => ctx.docker.is_configured(name),
            _ => Ok(false),
        }
    });
    let token: std::result::Result<Option<String>, String> = match ctx.token {
        Some(t) => Ok(Some(t.to_string())),
        None if steps
            .iter()
            .zip(&registered)
            .any(|((_, name), r)| matches!(r, Ok(false)) && !ephemeral(name)) =>
        {
            crate::world::remote::registration_token(ctx.settings, ctx.remote)
                .map(Some)
                .map_err(|e| e.to_string())
        }
        None => Ok(None),
    };
    let work: Vec<_> = steps.iter().zip(&registered).collect();
    let results = map_bounded(
        &work,
        ONEOFF_CONCURRENCY,
        |((step, name), registered)| -> Result<bool> {
            match registered {
                Ok(true) => return Ok(false),
                Ok(false) => {}
                Err(e) => return Err(Error::Docker(e.to_string())),
            }
            if ephemeral(name) {
                let labels = ctx
                    .desired
                    .iter()
                    .find(|d| d.name == *name)
                    .map(|d| d.labels.clone())
                    .unwrap_or_default();
                let credential =
                    crate::world::ephemeral::credential(ctx.settings, ctx.remote, name, &labels)?;
                return ctx
                    .docker
                    .place_credential(name, &credential)
                    .map(|()| true);
            }
            // A one-job runner becoming long-lived: its JIT registration goes first, so
            // config.sh registers it anew (not as the one-job runner it replaces).
            if step.why == crate::plan::ephemeral::BECOMES_LONG_LIVED {
                if let Some(remote) = ctx.remote {
                    crate::world::ephemeral::forget_leftover(remote, name)?;
                }
            }
            let token = match &token {
                Ok(Some(t)) => t.as_str(),
                Ok(None) => return Err(Error::Partial("no registration token".into())),
                Err(e) => return Err(Error::Partial(format!("no registration token: {e}"))),
            };
            let labels = ctx
                .desired
                .iter()
                .find(|d| d.name == *name)
                .map(|d| d.labels.clone())
                .unwrap_or_else(|| ctx.settings.labels.clone());
            let args = first_start::ConfigArgs {
                url: &url,
                name,
                labels: &labels,
                group: ctx.settings.runner_group.as_deref().unwrap_or("Default"),
                workdir: ctx.settings.workdir.as_deref(),
                disable_update: ctx.settings.disable_auto_update,
                again: matches!(step.action, Action::Reregister),
            };
            let credential = first_start::credential(token, &args)
                .ok_or_else(|| Error::Failed("a registration value holds a line break".into()))?;
            ctx.docker
                .place_credential(name, &credential)
                .map(|()| true)
        },
    );
    let mut placed_names = Vec::new();
    let mut any_failed = false;
    let pending = placed.pending.clone();
    for ((_, name), result) in steps.iter().zip(results) {
        match result {
            Ok(true) => {
                placed_names.push(name.to_string());
                lock(&pending).insert(name.to_string());
            }
            Ok(false) => progress.line(&format!("{name} keeps the registration its volume holds")),
            Err(e) => {
                progress.error(&format!("{name} did not register: {e}"));
                out.fail(name, &e);
                any_failed = true;
            }
        }
        progress.inc();
    }
    if any_failed {
        token_failed(ctx);
    }
    if !placed_names.is_empty() {
        // Interrupted: a runner still registering is stopped (config.sh with it), so nothing
        // changes on GitHub after ghr exits; the next command registers it again. The gate
        // puts this stop after every start in flight, and no start comes after it.
        let (pending, gate) = (pending.clone(), placed.gate.clone());
        crate::world::cancel::on_interrupt(move || {
            let _no_starts = gate.write().unwrap_or_else(|e| e.into_inner());
            let names: Vec<String> = lock(&pending).iter().cloned().collect();
            if !names.is_empty() {
                let _ = Docker::new().containers_do("stop", &names, None);
            }
        });
    }
    Placed {
        names: placed_names,
        ..placed
    }
}

/// The runners that got a credential, and those of them whose first start is not over yet.
#[derive(Default)]
struct Placed {
    names: Vec<String>,
    pending: std::sync::Arc<std::sync::Mutex<BTreeSet<String>>>,
    /// Held (shared) by each start, (alone) by the interrupt's stop of the pending runners.
    gate: std::sync::Arc<std::sync::RwLock<()>>,
}

impl Placed {
    /// Starts `name`, unless the command is interrupted: a start that slipped past the last
    /// checkpoint would otherwise come after the interrupt stopped the runners registering,
    /// and register one after ghr exited.
    fn start(&self, docker: &Docker, name: &str) -> Result<()> {
        let _starting = self.gate.read().unwrap_or_else(|e| e.into_inner());
        match crate::world::cancel::is_interrupted() {
            true => Err(Error::Partial(
                "not started: the command was interrupted".into(),
            )),
            false => docker.start_one(name),
        }
    }
}

fn lock<T>(m: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// After a registration failed: a token GitHub no longer takes would fail every retry until
/// the TTL ran out.
fn token_failed(ctx: &Context) {
    if let Some(remote) = ctx.remote {
        remote.forget_token();
    }
    if ctx.settings.reg_token.is_some() {
        ui::warn("REG_TOKEN is used as given, and registration tokens expire an hour after GitHub issues them: set a new one, or remove REG_TOKEN so that ghr fetches one with GH_PAT");
    }
}

/// Waits for the first starts of the runners that got a credential, up to
/// `RUNNER_REGISTER_TIMEOUT`. A runner whose first start failed (or did not finish in time)
/// is stopped, so that nothing unregistered keeps running; the reason stays in its volume
/// for `ghr list`.
fn await_first_starts(ctx: &Context, plan: &Plan, placed: &Placed, out: &mut Outcome) {
    // Only runners this command starts: a parked one (its device is missing) keeps its
    // credential until its first start, which `ghr serve` makes when the device is back.
    let started = runners_of(plan, Phase::Start, out);
    let mut pending: Vec<String> = placed
        .names
        .iter()
        .filter(|r| !out.skip(r) && started.contains(r))
        .cloned()
        .collect();
    lock(&placed.pending).retain(|r| pending.contains(r));
    if pending.is_empty() {
        return;
    }
    let progress = Progress::new(pending.len(), "registering");
    let deadline = std::time::Instant::now() + ctx.settings.register_timeout;
    // Asking is a stat per runner (see `Docker::first_start`), cheap enough to ask often.
    let mut pause = std::time::Duration::from_millis(25);
    let mut failed: Vec<(String, Error)> = Vec::new();
    let (started, mut noticed) = (std::time::Instant::now(), false);
    while !pending.is_empty() {
        if !noticed && started.elapsed() >= crate::world::children::NOTICE_AFTER {
            noticed = true;
            for name in &pending {
                ui::info(&format!(
                    "still registering {name} after {} (ghr waits at most {})",
                    runner_wrapper::contract::format_duration(crate::world::children::NOTICE_AFTER),
                    runner_wrapper::contract::format_duration(ctx.settings.register_timeout)
                ));
            }
        }
        let answers = map_bounded(&pending, ONEOFF_CONCURRENCY, |name| {
            ctx.docker.first_start(name)
        });
        let mut still = Vec::new();
        for (name, answer) in pending.iter().zip(answers) {
            match answer {
                Ok(Some(first_start::Outcome::Registered)) => {
                    lock(&placed.pending).remove(name);
                    progress.line(&format!("registered {name}"));
                    progress.inc();
                }
                Ok(Some(first_start::Outcome::Failed(why))) => {
                    failed.push((name.clone(), Error::Failed(why)))
                }
                Ok(_) => still.push(name.clone()),
                Err(e) => failed.push((name.clone(), e)),
            }
        }
        pending = still;
        if !pending.is_empty() && std::time::Instant::now() >= deadline {
            for name in pending.drain(..) {
                failed.push((name, Error::Failed(format!(
                    "GitHub did not answer within {} (RUNNER_REGISTER_TIMEOUT), so its first start (config.sh) was stopped; run the command again when GitHub answers",
                    runner_wrapper::contract::format_duration(ctx.settings.register_timeout)
                ))));
            }
        }
        crate::world::cancel::checkpoint();
        if !pending.is_empty() {
            std::thread::sleep(pause);
            pause = (pause * 2).min(std::time::Duration::from_millis(100));
        }
    }
    if failed.is_empty() {
        return;
    }
    let names: Vec<String> = failed.iter().map(|(n, _)| n.clone()).collect();
    let _ = ctx
        .docker
        .containers_do("stop", &names, Some(ctx.settings.stop_grace_period));
    lock(&placed.pending).retain(|n| !names.contains(n));
    for (name, e) in &failed {
        progress.error(&format!("{name} did not register: {e}"));
        out.fail(name, e);
        progress.inc();
    }
    token_failed(ctx);
}

/// The runners (name, id) to move into one runner group (id, name).
type GroupMoves = (u64, String, Vec<(String, u64)>);

/// Labels and runner groups, through GitHub's API.
fn github_writes(ctx: &Context, plan: &Plan, out: &mut Outcome) {
    let count = plan
        .of(Phase::GitHub)
        .filter(|s| s.runner.as_deref().is_some_and(|r| !out.skip(r)))
        .count();
    let Some(remote) = ctx.remote.filter(|_| count > 0) else {
        return;
    };
    let progress = Progress::new(count, "labelling");
    let mut labels = Vec::new();
    let mut groups: Vec<GroupMoves> = Vec::new();
    for step in plan.of(Phase::GitHub) {
        let Some(name) = step.runner.clone().filter(|r| !out.skip(r)) else {
            continue;
        };
        match &step.action {
            Action::SetLabels { id, labels: l } => labels.push((name, *id, l.clone())),
            Action::SetGroup {
                id,
                group_id,
                group,
            } => match groups.iter_mut().find(|(g, _, _)| g == group_id) {
                Some((_, _, runners)) => runners.push((name, *id)),
                None => groups.push((*group_id, group.clone(), vec![(name, *id)])),
            },
            _ => {}
        }
    }
    for ((name, _, l), result) in labels.iter().zip(remote.set_labels(&labels)) {
        let result = result
            .map(|()| format!("labels of {name}: {}", l.join(",")))
            .map_err(|e| (format!("cannot set the labels of {name}: {e}"), e.into()));
        out.report(&progress, name, result);
    }
    for (group_id, group, runners) in &groups {
        for ((name, _), result) in runners.iter().zip(remote.set_group(*group_id, runners)) {
            let result = result
                .map(|()| format!("moved {name} to runner group {group}"))
                .map_err(|e| {
                    (
                        format!("cannot move {name} to runner group {group}: {e}"),
                        e.into(),
                    )
                });
            out.report(&progress, name, result);
        }
    }
}

fn unregister(ctx: &Context, plan: &Plan, out: &mut Outcome) {
    let runners: Vec<(String, u64)> = plan
        .of(Phase::Unregister)
        .filter_map(|s| match (&s.runner, &s.action) {
            (Some(r), Action::Unregister { id }) if !out.skip(r) => Some((r.clone(), *id)),
            _ => None,
        })
        .collect();
    let Some(remote) = ctx.remote.filter(|_| !runners.is_empty()) else {
        return;
    };
    let progress = Progress::new(runners.len(), "unregistering");
    for ((name, _), result) in runners.iter().zip(remote.unregister(&runners)) {
        match result {
            Ok(Deleted::Removed) => progress.line(&format!("unregistered {name}")),
            Ok(Deleted::Gone) => progress.line(&format!("{name} was already unregistered")),
            Ok(Deleted::Busy) => {
                progress.error(&format!(
                    "{name} is running a job; it stays registered and its container is kept"
                ));
                out.kept.insert(name.clone());
            }
            Err(e) => {
                progress.error(&format!(
                    "cannot unregister {name}: {e}; its container is kept"
                ));
                out.failed.insert(name.clone());
            }
        }
        progress.inc();
    }
}

fn remove_volumes(ctx: &Context, plan: &Plan, out: &mut Outcome) {
    let volumes: Vec<String> = plan
        .of(Phase::RemoveVolumes)
        .filter(|s| s.runner.as_deref().is_none_or(|r| !out.skip(r)))
        .flat_map(|s| match &s.action {
            Action::RemoveVolumes { volumes } => volumes.clone(),
            _ => Vec::new(),
        })
        .collect();
    if volumes.is_empty() {
        return;
    }
    match ctx.docker.remove_volumes(&volumes) {
        Ok(()) => ui::info(&format!("removed {}", ui::count(volumes.len(), "volume"))),
        Err(e) => {
            ui::error(&format!("removing volumes: {e}"));
            for step in plan.of(Phase::RemoveVolumes) {
                if let Some(r) = &step.runner {
                    out.fail(r, &e);
                }
            }
        }
    }
}
