//! Every message ghr prints goes through here: results on stdout (tables, JSON, summaries),
//! progress and diagnostics on stderr (`warning:` / `error:` prefixed where they are one),
//! progress bars (indicatif) and confirmations (dialoguer) only on a terminal.

use crate::model::fleet::Member;
use crate::plan::Plan;
use crate::world::error::{Error, Result};
use comfy_table::{presets::UTF8_FULL_CONDENSED, ContentArrangement, Table};
use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::IsTerminal;
use std::sync::{Mutex, OnceLock};

/// A result, on stdout.
pub fn result(text: &str) {
    println!("{text}");
}

/// Progress or a diagnostic, on stderr.
pub fn info(text: &str) {
    eprintln!("{text}");
}

pub fn warn(text: &str) {
    eprintln!("warning: {text}");
}

/// One failure among others (the command goes on); the command's own failure is printed by
/// `main` the same way.
pub fn error(text: &str) {
    eprintln!("error: {text}");
}

pub use crate::report::fleet_json::{
    fleet_json, registration_text, DELETED_ON_GITHUB, NOT_IN_VOLUME, NOT_REGISTERED, NO_CONTAINER,
    UNKNOWN,
};

/// A runner's volume as the table shows it: `data` for `<runner>-data`, else its name (an
/// older naming).
fn volume_text(runner: &str, volume: &str) -> String {
    volume
        .strip_prefix(runner)
        .and_then(|rest| rest.strip_prefix('-'))
        .unwrap_or(volume)
        .to_string()
}

/// The fleet view as a table: NAME, CONTAINER, GITHUB, BUSY, LABELS, VOLUMES; then the
/// one-off containers an interrupted ghr left. A side ghr could not ask says `unknown`,
/// never "no container" or "not registered".
pub fn fleet_table(members: &[Member], oneoffs: &[String], docker_known: bool) -> String {
    let mut table = Table::new();
    table
        .load_preset(UTF8_FULL_CONDENSED)
        .set_content_arrangement(ContentArrangement::Dynamic)
        .set_header(["NAME", "CONTAINER", "GITHUB", "BUSY", "LABELS", "VOLUMES"]);
    for m in members {
        let container = match (&m.container, docker_known) {
            // A stable device name and the node it was mapped from at creation.
            (Some(c), _) => std::iter::once(c.state.as_str().to_string())
                .chain(
                    c.first_start_failure
                        .iter()
                        .map(|why| format!("not registered: {why}")),
                )
                .chain(
                    c.devices
                        .iter()
                        .map(|(path, node)| format!("{path} = {node}")),
                )
                .chain(
                    m.missing_devices
                        .iter()
                        .map(|path| format!("waits for {path} (missing)")),
                )
                .collect::<Vec<_>>()
                .join("\n"),
            (None, true) => NO_CONTAINER.into(),
            (None, false) => UNKNOWN.into(),
        };
        let (busy, labels) = match &m.github {
            Some(g) => (
                if g.busy { "yes" } else { "no" }.to_string(),
                g.labels.join(","),
            ),
            None => ("-".into(), String::new()),
        };
        let volumes: Vec<String> = m.volumes.iter().map(|v| volume_text(&m.name, v)).collect();
        table.add_row([
            m.name.clone(),
            container,
            registration_text(&m.registration),
            busy,
            labels,
            volumes.join(","),
        ]);
    }
    let mut text = if members.is_empty() {
        String::new()
    } else {
        table.to_string()
    };
    if members.iter().any(|m| !m.missing_devices.is_empty()) {
        text.push_str("\na runner that waits for its device is stopped and offline; `ghr serve` starts it when the device appears (without serve, run `ghr init` then)");
    }
    for name in oneoffs {
        if !text.is_empty() {
            text.push('\n');
        }
        text.push_str(&format!(
            "one-off container {name}: left by an interrupted ghr; the next command that changes the fleet removes it"
        ));
    }
    text
}

/// Below `ghr list`'s table: which runners are one-job runners, and what replaces them.
pub fn ephemeral_note(names: &[String]) -> String {
    format!(
        "ephemeral (one job each, then the container ends): {}; nothing replaces one that ended unless `ghr serve` runs",
        names.join(", ")
    )
}

/// `ghr plan`: one line per action (runner, action, why), then the kept runners and the
/// notes; or "nothing to do".
pub fn plan_text(plan: &Plan) -> String {
    if plan.is_empty() && plan.kept.is_empty() && plan.notes.is_empty() {
        return "nothing to do".into();
    }
    let mut table = Table::new();
    table
        .load_preset(UTF8_FULL_CONDENSED)
        .set_content_arrangement(ContentArrangement::Dynamic)
        .set_header(["RUNNER", "ACTION", "WHY"]);
    for step in &plan.steps {
        table.add_row([
            step.runner.clone().unwrap_or_else(|| "-".into()),
            step.action.name().to_string(),
            step.why.clone(),
        ]);
    }
    for kept in &plan.kept {
        table.add_row([kept.runner.clone(), "keep".into(), kept.why.clone()]);
    }
    for note in &plan.notes {
        table.add_row([note.runner.clone(), "note".into(), note.why.clone()]);
    }
    if plan.is_empty() {
        format!("nothing to do\n{table}")
    } else {
        table.to_string()
    }
}

/// `{"steps": [{"runner", "action", ...action fields, "why"}], "kept": [{"runner", "why"}],
/// "notes": [{"runner", "why"}]}`.
pub fn plan_json(plan: &Plan) -> String {
    serde_json::to_string_pretty(plan).expect("plain data serializes")
}

/// Whether stderr is a terminal: bars and the updating line are drawn only there.
fn on_terminal() -> bool {
    static TERMINAL: OnceLock<bool> = OnceLock::new();
    *TERMINAL.get_or_init(|| std::io::stderr().is_terminal())
}

/// Every bar and the updating line share one drawing area, so they never draw over each
/// other; lines are printed above it.
fn bars() -> &'static MultiProgress {
    static BARS: OnceLock<MultiProgress> = OnceLock::new();
    BARS.get_or_init(|| {
        MultiProgress::with_draw_target(if on_terminal() {
            ProgressDrawTarget::stderr()
        } else {
            ProgressDrawTarget::hidden()
        })
    })
}

/// A line on stderr above the bars (plainly when there are none).
fn line_above(text: &str) {
    if on_terminal() {
        let _ = bars().println(text);
    } else {
        info(text);
    }
}

/// The updating line of a retry (see `notify::status`): a spinner on a terminal, replaced
/// by each update and cleared at the end. Off a terminal, its first text of each run of
/// updates is printed once, so a log says that ghr waited and why, without a line per retry.
fn status_line(text: Option<&str>) {
    static LINE: Mutex<Option<ProgressBar>> = Mutex::new(None);
    let mut line = LINE.lock().unwrap_or_else(|e| e.into_inner());
    match (text, line.as_ref()) {
        (Some(text), Some(bar)) => bar.set_message(text.to_string()),
        (Some(text), None) => {
            if !on_terminal() {
                info(text);
            }
            let bar = bars().add(ProgressBar::new_spinner());
            bar.set_message(text.to_string());
            bar.enable_steady_tick(std::time::Duration::from_millis(120));
            *line = Some(bar);
        }
        (None, Some(bar)) => {
            bar.finish_and_clear();
            bars().remove(bar);
            *line = None;
        }
        (None, None) => {}
    }
}

/// A progress bar on stderr for `len` items, drawn only on a terminal. Lines printed through
/// [`Progress::line`] go above it (or plainly to stderr when there is no bar).
pub struct Progress {
    bar: ProgressBar,
}

impl Progress {
    pub fn new(len: usize, what: &str) -> Progress {
        let bar = bars().add(ProgressBar::new(len as u64));
        bar.set_style(
            ProgressStyle::with_template("{spinner} {msg} [{bar:30}] {pos}/{len} {elapsed}")
                .expect("valid template")
                .progress_chars("=> "),
        );
        bar.set_message(what.to_string());
        bar.enable_steady_tick(std::time::Duration::from_millis(120));
        Progress { bar }
    }

    pub fn line(&self, text: &str) {
        line_above(text);
    }

    pub fn error(&self, text: &str) {
        self.line(&format!("error: {text}"));
    }

    pub fn inc(&self) {
        self.bar.inc(1);
    }
}

impl crate::world::notify::Steps for Progress {
    fn line(&self, text: &str) {
        Progress::line(self, text);
    }

    fn inc(&self) {
        Progress::inc(self);
    }
}

/// The effects (`world`) report through `notify`; on the command line that is this module.
struct Terminal;

impl crate::world::notify::Sink for Terminal {
    fn info(&self, text: &str) {
        info(text);
    }

    fn warn(&self, text: &str) {
        warn(text);
    }

    fn error(&self, text: &str) {
        error(text);
    }

    fn steps(&self, len: usize, what: &str) -> Box<dyn crate::world::notify::Steps> {
        Box::new(Progress::new(len, what))
    }

    fn status(&self, text: Option<&str>) {
        status_line(text);
    }
}

/// Shows what the effects report (call once, before a command runs).
pub fn install() {
    crate::world::notify::install(Box::new(Terminal));
}

impl Drop for Progress {
    fn drop(&mut self) {
        self.bar.finish_and_clear();
        bars().remove(&self.bar);
    }
}

/// Whether there is a person to ask (stdin and stderr are terminals).
pub fn can_ask() -> bool {
    std::io::stdin().is_terminal() && std::io::stderr().is_terminal()
}

/// Asks `question` on a terminal. Off a terminal there is nobody to ask: a `Cancelled` error
/// that says so.
pub fn confirm(question: &str) -> Result<bool> {
    if !can_ask() {
        return Err(Error::Cancelled(format!(
            "{question} Nothing was changed: there is no terminal to ask on; pass -y to go ahead"
        )));
    }
    dialoguer::Confirm::new()
        .with_prompt(question)
        .default(false)
        .interact()
        .map_err(|e| Error::Cancelled(format!("cannot ask: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::fleet::tests::{local, remote};
    use crate::model::fleet::{ContainerState, Registration};

    fn members() -> Vec<Member> {
        let mut created = local("p-runner-1");
        created.state = ContainerState::Created;
        created.image = "img:1".into();
        vec![
            Member {
                name: "p-runner-1".into(),
                container: Some(created),
                github: None,
                registration: Registration::NotRegistered,
                volumes: vec!["p-runner-1-data".into()],
                missing_devices: vec!["/dev/serial/by-id/gone".into()],
            },
            Member {
                name: "p-runner-2".into(),
                container: None,
                github: Some(RemoteRunner {
                    status: "offline".into(),
                    busy: true,
                    labels: vec!["a".into(), "b".into()],
                    ..remote(7, "p-runner-2")
                }),
                registration: Registration::Listed("offline".into()),
                volumes: vec![],
                missing_devices: vec![],
            },
        ]
    }

    use crate::model::fleet::RemoteRunner;

    #[test]
    fn json_has_the_documented_shape() {
        let v: serde_json::Value = serde_json::from_str(&fleet_json(
            &members(),
            &["p-runner-3-register".into()],
            true,
            true,
        ))
        .unwrap();
        assert_eq!(
            v,
            serde_json::json!({"docker": "known", "github": "known", "runners": [
                {"name": "p-runner-1", "container": {"state": "created", "image": "img:1"},
                 "github": null, "registration": "not registered", "volumes": ["p-runner-1-data"],
                 "missing_devices": ["/dev/serial/by-id/gone"]},
                {"name": "p-runner-2", "container": null,
                 "github": {"id": 7, "status": "offline", "busy": true, "labels": ["a", "b"], "ephemeral": false},
                 "registration": "offline", "volumes": []}
            ], "oneoffs": ["p-runner-3-register"]})
        );
    }

    #[test]
    fn table_marks_each_missing_side_and_unknown_sides() {
        let table = fleet_table(&members(), &[], true);
        assert!(table.contains("NAME") && table.contains("LABELS") && table.contains("VOLUMES"));
        assert!(table.contains(NOT_REGISTERED) && table.contains(NO_CONTAINER));
        assert!(table.contains("a,b") && table.contains(" data "), "{table}");
        assert!(
            table.contains("waits for /dev/serial/by-id/gone (missing)")
                && table.contains("`ghr serve` starts it when the device appears (without serve, run `ghr init` then)"),
            "{table}"
        );
        let with_oneoff = fleet_table(&members(), &["p-runner-3-register".into()], true);
        assert!(with_oneoff.ends_with("one-off container p-runner-3-register: left by an interrupted ghr; the next command that changes the fleet removes it"));
        let table = fleet_table(&members(), &[], false);
        assert!(!table.contains(NO_CONTAINER) && table.contains(UNKNOWN));
    }

    #[test]
    fn an_empty_plan_says_nothing_to_do() {
        assert_eq!(plan_text(&Plan::default()), "nothing to do");
        assert_eq!(
            plan_json(&Plan::default()),
            "{\n  \"steps\": [],\n  \"kept\": [],\n  \"notes\": []\n}"
        );
    }
}
