//! `ghr locks [--json] [--history [--since DURATION]] [--prometheus]`: the shared resources in
//! the host's lock directory (`RUNNER_LOCK_HOST_PATH`), read with runner-wrapper's own readers:
//! who holds each one (a job, a maintenance hold, a health check) and who waits, its health,
//! the grant history, and the same as Prometheus text.

mod history;

use crate::cli::args::LocksArgs;
use crate::config::error::ConfigError;
use crate::config::settings::Settings;
use crate::report::locks_json::{locks_json, state};
use crate::report::prometheus;
use crate::world::error::{Error, Result};
use comfy_table::{presets::UTF8_FULL_CONDENSED, Table};
use runner_wrapper::contract::{format_duration, format_utc, parse_duration};
use runner_wrapper::record::{HolderKind, OwnerRecord};
use runner_wrapper::status::{self, ResourceStatus};
use std::path::Path;
use std::time::Duration;

pub fn run(settings: &Settings, args: LocksArgs) -> Result<()> {
    let dir = Path::new(&settings.lock_host_path);
    let since = match &args.since {
        None => None,
        Some(text) => {
            Some(parse_duration(text).map_err(|e| ConfigError::new(e.message("--since")))?)
        }
    };
    let read = || {
        status::read_lock_dir(dir).map_err(|e| {
            Error::io(
                format!("cannot read the lock directory {}", dir.display()),
                e,
            )
        })
    };
    if args.prometheus {
        let ledger = runner_wrapper::ledger::read(dir)
            .map_err(|e| Error::io(format!("cannot read the ledger in {}", dir.display()), e))?;
        crate::cli::ui::result(
            prometheus::render(&read()?, &ledger.counters).trim_end_matches('\n'),
        );
        return Ok(());
    }
    if args.history {
        return history::run(dir, since, args.json);
    }
    let resources = read()?;
    let unplugged = unplugged(settings);
    if args.json {
        let mut all = locks_json(&resources);
        for entry in all.as_array_mut().into_iter().flatten() {
            let id = entry["resource"].as_str().unwrap_or_default().to_string();
            let paths: Vec<&String> = unplugged
                .iter()
                .filter(|(resources, _, _)| resources.contains(&id))
                .flat_map(|(_, _, paths)| paths)
                .collect();
            if !paths.is_empty() {
                entry["missing_devices"] = serde_json::json!(paths);
            }
        }
        crate::cli::ui::result(&serde_json::to_string_pretty(&all).expect("plain data serializes"));
    } else {
        let mut text = if resources.is_empty() {
            format!("No locks in {}", dir.display())
        } else {
            table(&resources).to_string()
        };
        for (resources, runner, paths) in &unplugged {
            text.push_str(&format!(
                "\n{runner} waits for its device {} (missing){}",
                paths.join(", "),
                match resources.is_empty() {
                    true => String::new(),
                    false => format!("; resource {}", resources.join(", ")),
                }
            ));
        }
        for r in resources.iter().filter(|r| !r.parked.is_empty()) {
            let names: Vec<String> = r
                .parked
                .iter()
                .map(|p| format!("{} ({})", p.runner, p.org))
                .collect();
            text.push_str(&format!(
                "\n{}: offline on GitHub until it is free (queue at GitHub): {}",
                r.resource,
                names.join(", ")
            ));
        }
        crate::cli::ui::result(&text);
    }
    Ok(())
}

/// The boards whose devices are missing now: (their resources, runner, paths).
fn unplugged(settings: &Settings) -> Vec<(Vec<String>, String, Vec<String>)> {
    crate::world::replug::missing_by_runner(&crate::world::replug::board_devices(settings))
        .into_iter()
        .map(|(runner, paths)| {
            let resources = crate::model::fleet::desired(settings, 0)
                .iter()
                .find(|r| r.name == runner)
                .and_then(|r| r.board().map(|b| b.resources.clone()))
                .unwrap_or_default();
            (resources, runner, paths)
        })
        .collect()
}

fn who(record: &OwnerRecord) -> String {
    match record.kind {
        HolderKind::Hold => {
            let mut text = format!("hold: {}", record.user);
            if !record.reason.is_empty() {
                text.push_str(&format!(" ({})", record.reason));
            }
            if record.until > 0 {
                text.push_str(&format!(" until {}", format_utc(record.until as i64)));
            }
            text
        }
        HolderKind::Check => format!("health check: {}", record.runner),
        HolderKind::Repair => format!("repair: {}", record.runner),
        HolderKind::Job => {
            let scope = record.scope();
            let mut text = record.runner.clone();
            if !scope.is_empty() {
                text.push_str(&format!(" ({scope})"));
            }
            if !record.run_id.is_empty() {
                text.push_str(&format!(" run {}", record.run_id));
                if !record.run_attempt.is_empty() && record.run_attempt != "1" {
                    text.push_str(&format!(" attempt {}", record.run_attempt));
                }
            }
            if !record.job.is_empty() {
                text.push_str(&format!(" job {}", record.job));
            }
            text
        }
    }
}

fn secs(s: u64) -> String {
    format_duration(Duration::from_secs(s))
}

fn health_cell(resource: &ResourceStatus) -> String {
    let state = crate::report::locks_json::health(resource);
    match &resource.health {
        None => state.to_string(),
        Some(h) => {
            let mut text = format!("{state} ({})", format_utc((h.checked_at_ms / 1000) as i64));
            if !h.healthy {
                if let Some(line) = h.output.lines().rev().find(|l| !l.trim().is_empty()) {
                    text.push_str(&format!("\n{line}"));
                }
            }
            text
        }
    }
}

fn table(resources: &[ResourceStatus]) -> Table {
    let mut table = Table::new();
    table.load_preset(UTF8_FULL_CONDENSED);
    table.set_header([
        "RESOURCE",
        "STATE",
        "HEALTH",
        "HOLDER",
        "HELD FOR",
        "WAITING (in order)",
    ]);
    for resource in resources {
        let (holder, held_for) = match &resource.holder {
            Some(h) if h.stale => (
                format!("{} (stale: lock not held)", who(&h.record)),
                "-".into(),
            ),
            Some(h) if h.record.relocked > 0 => (
                // The lock directory was pulled away under it; it took its lock back (see
                // runner-wrapper's lockfile).
                format!(
                    "{}\n(lock re-established {})",
                    who(&h.record),
                    format_utc(h.record.relocked as i64)
                ),
                secs(h.held_for_secs),
            ),
            Some(h) => (who(&h.record), secs(h.held_for_secs)),
            None => ("-".into(), "-".into()),
        };
        let waiters: Vec<String> = resource
            .live_waiters()
            .enumerate()
            .map(|(i, w)| {
                format!(
                    "{}. {} ({})",
                    i + 1,
                    who(&w.record),
                    secs(w.waiting_for_secs)
                )
            })
            .collect();
        table.add_row([
            resource.resource.clone(),
            state(resource).to_string(),
            health_cell(resource),
            holder,
            held_for,
            if waiters.is_empty() {
                "-".into()
            } else {
                waiters.join("\n")
            },
        ]);
    }
    table
}
