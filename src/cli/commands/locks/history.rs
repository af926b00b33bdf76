//! `ghr locks --history [--since DURATION] [--json]`: the grants in the ledger and, per org (holds
//! and health checks as their own groups) and resource, the number of grants, the wait
//! percentiles and the busy share of the window.

use crate::cli::ui;
use crate::report::history_json::history_json;
use crate::world::error::{Error, Result};
use comfy_table::{presets::UTF8_FULL_CONDENSED, Table};
use runner_wrapper::contract::{format_duration, format_utc, now_epoch_ms};
use runner_wrapper::history::{in_window, summarize, Summary, Window};
use runner_wrapper::ledger::{self, Entry};
use std::path::Path;
use std::time::Duration;

/// The text view lists the most recent grants only; `--json` lists all.
const TEXT_GRANTS: usize = 20;

pub fn run(dir: &Path, since: Option<Duration>, as_json: bool) -> Result<()> {
    let ledger = ledger::read(dir)
        .map_err(|e| Error::io(format!("cannot read the ledger in {}", dir.display()), e))?;
    let now = now_epoch_ms();
    let window = match since {
        Some(d) => Window {
            from_ms: now.saturating_sub(d.as_millis() as u64),
            to_ms: now,
        },
        None => Window::all(&ledger.entries, now),
    };
    let grants = in_window(&ledger.entries, window);
    let summary = summarize(&ledger.entries, window);
    if as_json {
        let v = history_json(&ledger.entries, window);
        ui::result(&serde_json::to_string_pretty(&v).expect("plain data serializes"));
        return Ok(());
    }
    if grants.is_empty() {
        ui::result(&format!(
            "No grants in the ledger of {} for this window",
            dir.display()
        ));
        return Ok(());
    }
    ui::result(&format!(
        "Grants from {} to {}:",
        format_utc((window.from_ms / 1000) as i64),
        format_utc((window.to_ms / 1000) as i64)
    ));
    ui::result(&summary_table(&summary).to_string());
    let skip = grants.len().saturating_sub(TEXT_GRANTS);
    if skip > 0 {
        ui::result(&format!(
            "Last {TEXT_GRANTS} of {} grants (--json lists all):",
            grants.len()
        ));
    }
    ui::result(&grants_table(&grants[skip..]).to_string());
    Ok(())
}

/// Waits and holds are often short: milliseconds and tenths of seconds matter below a minute.
fn ms(v: u64) -> String {
    match v {
        v if v < 1000 => format!("{v}ms"),
        v if v < 60_000 => format!("{:.1}s", v as f64 / 1000.0),
        v => format_duration(Duration::from_millis(v)),
    }
}

fn holder(e: &Entry) -> String {
    match e.kind {
        runner_wrapper::record::HolderKind::Hold => format!("hold: {} {}", e.user, e.reason),
        runner_wrapper::record::HolderKind::Check => format!("health check: {}", e.runner),
        runner_wrapper::record::HolderKind::Repair => format!("repair: {}", e.runner),
        runner_wrapper::record::HolderKind::Job => {
            format!("{} ({}) run {} job {}", e.runner, e.org, e.run_id, e.job)
        }
    }
}

fn summary_table(summary: &[Summary]) -> Table {
    let mut t = Table::new();
    t.load_preset(UTF8_FULL_CONDENSED);
    t.set_header([
        "RESOURCE", "ORG", "GRANTS", "JOBS", "WAIT p50", "WAIT p95", "WAIT max", "BUSY",
    ]);
    for s in summary {
        t.add_row([
            s.resource.clone(),
            s.group.clone(),
            s.grants.to_string(),
            s.jobs.to_string(),
            ms(s.wait_p50_ms),
            ms(s.wait_p95_ms),
            ms(s.wait_max_ms),
            format!("{:.1}%", s.busy_share * 100.0),
        ]);
    }
    t
}

fn grants_table(grants: &[&Entry]) -> Table {
    let mut t = Table::new();
    t.load_preset(UTF8_FULL_CONDENSED);
    t.set_header([
        "GRANTED",
        "RESOURCE",
        "HOLDER",
        "WAITED",
        "HELD",
        "RELEASED BECAUSE",
    ]);
    for e in grants {
        t.add_row([
            format_utc((e.granted_ms / 1000) as i64),
            e.resource.clone(),
            holder(e),
            ms(e.waited_ms()),
            ms(e.held_ms()),
            e.cause.clone(),
        ]);
    }
    t
}
