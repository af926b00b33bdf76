//! What people see: tables (comfy-table), progress (indicatif) and confirmations (dialoguer)
//! on the terminal, JSON for scripts. Progress and notices go to stderr, data to stdout.

use crate::fleet::Member;
use comfy_table::{presets::UTF8_FULL_CONDENSED, ContentArrangement, Table};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde::Serialize;
use std::io::IsTerminal;

pub const NOT_REGISTERED: &str = "not registered";
pub const NO_CONTAINER: &str = "no container";

/// The fleet view as a table: NAME, CONTAINER, GITHUB, BUSY, LABELS.
pub fn fleet_table(members: &[Member]) -> String {
    let mut table = Table::new();
    table
        .load_preset(UTF8_FULL_CONDENSED)
        .set_content_arrangement(ContentArrangement::Dynamic)
        .set_header(["NAME", "CONTAINER", "GITHUB", "BUSY", "LABELS"]);
    for m in members {
        let container = m
            .container
            .as_ref()
            .map(|c| c.state.clone())
            .unwrap_or_else(|| NO_CONTAINER.into());
        let (github, busy, labels) = match &m.github {
            Some(g) => (
                g.status.clone(),
                if g.busy { "yes" } else { "no" }.to_string(),
                g.labels.join(","),
            ),
            None => (NOT_REGISTERED.into(), "-".into(), String::new()),
        };
        table.add_row([m.name.clone(), container, github, busy, labels]);
    }
    table.to_string()
}

#[derive(Serialize)]
struct JsonContainer<'a> {
    state: &'a str,
    image: &'a str,
}

#[derive(Serialize)]
struct JsonMember<'a> {
    name: &'a str,
    container: Option<JsonContainer<'a>>,
    github: Option<&'a crate::fleet::RemoteRunner>,
}

/// `[{name, container: {state, image}|null, github: {id, status, busy, labels}|null}]`
pub fn fleet_json(members: &[Member]) -> String {
    let rows: Vec<JsonMember> = members
        .iter()
        .map(|m| JsonMember {
            name: &m.name,
            container: m.container.as_ref().map(|c| JsonContainer {
                state: &c.state,
                image: &c.image,
            }),
            github: m.github.as_ref(),
        })
        .collect();
    serde_json::to_string_pretty(&rows).expect("plain data serializes")
}

/// A progress bar on stderr; hidden when stderr is not a terminal (logs stay clean).
pub fn progress(len: usize, what: &str) -> ProgressBar {
    let bar = ProgressBar::with_draw_target(Some(len as u64), ProgressDrawTarget::stderr());
    if !std::io::stderr().is_terminal() {
        bar.set_draw_target(ProgressDrawTarget::hidden());
    }
    bar.set_style(
        ProgressStyle::with_template("{spinner} {msg} [{bar:30}] {pos}/{len} {elapsed}")
            .expect("valid template")
            .progress_chars("=> "),
    );
    bar.set_message(what.to_string());
    bar.enable_steady_tick(std::time::Duration::from_millis(120));
    bar
}

/// Prints a line above the progress bar (or plainly when there is none).
pub fn note(bar: &ProgressBar, line: &str) {
    if bar.is_hidden() {
        eprintln!("{line}");
    } else {
        bar.println(line);
    }
}

/// Asks `question` on a terminal. Off a terminal there is nobody to ask: `Err` says so.
pub fn confirm(question: &str) -> anyhow::Result<bool> {
    if !std::io::stdin().is_terminal() || !std::io::stderr().is_terminal() {
        return Err(crate::exit::Cancelled(format!(
            "{question} Refusing without confirmation: not on a terminal; pass -y to go ahead"
        ))
        .into());
    }
    Ok(dialoguer::Confirm::new()
        .with_prompt(question)
        .default(false)
        .interact()?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::docker::Container;
    use crate::fleet::RemoteRunner;

    fn members() -> Vec<Member> {
        vec![
            Member {
                name: "p-runner-1".into(),
                container: Some(Container {
                    id: "x".into(),
                    name: "p-runner-1".into(),
                    state: "created".into(),
                    image: "img:1".into(),
                    labels: Default::default(),
                }),
                github: None,
            },
            Member {
                name: "p-runner-2".into(),
                container: None,
                github: Some(RemoteRunner {
                    id: 7,
                    name: "p-runner-2".into(),
                    status: "offline".into(),
                    busy: true,
                    labels: vec!["a".into(), "b".into()],
                }),
            },
        ]
    }

    #[test]
    fn json_has_the_documented_shape() {
        let v: serde_json::Value = serde_json::from_str(&fleet_json(&members())).unwrap();
        assert_eq!(
            v,
            serde_json::json!([
                {"name": "p-runner-1", "container": {"state": "created", "image": "img:1"}, "github": null},
                {"name": "p-runner-2", "container": null,
                 "github": {"id": 7, "status": "offline", "busy": true, "labels": ["a", "b"]}}
            ])
        );
    }

    #[test]
    fn table_marks_each_missing_side() {
        let table = fleet_table(&members());
        assert!(table.contains("NAME") && table.contains("LABELS"));
        assert!(table.contains(NOT_REGISTERED) && table.contains(NO_CONTAINER));
        assert!(table.contains("a,b"));
    }
}
