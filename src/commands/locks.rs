//! `ghr locks [--json]`: who holds each shared board and who waits, read from the host's lock
//! directory (`RUNNER_LOCK_HOST_PATH`) with runner-wrapper's own reader.

use crate::cli::LocksArgs;
use crate::error::{Error, Result};
use crate::settings::Settings;
use comfy_table::{presets::UTF8_FULL_CONDENSED, Table};
use runner_wrapper::record::OwnerRecord;
use runner_wrapper::status::{self, ResourceStatus};
use serde_json::{json, Value};
use std::path::Path;

pub fn run(settings: &Settings, args: LocksArgs) -> Result<()> {
    let dir = Path::new(&settings.lock_host_path);
    let resources = status::read_lock_dir(dir).map_err(|e| {
        Error::io(
            format!("cannot read the lock directory {}", dir.display()),
            e,
        )
    })?;
    if args.json {
        let all: Vec<Value> = resources.iter().map(to_json).collect();
        crate::ui::result(&serde_json::to_string_pretty(&all).expect("plain data serializes"));
    } else if resources.is_empty() {
        crate::ui::result(&format!("No locks in {}", dir.display()));
    } else {
        crate::ui::result(&table(&resources).to_string());
    }
    Ok(())
}

fn state(resource: &ResourceStatus) -> &'static str {
    match &resource.holder {
        Some(holder) if holder.stale => "stale",
        Some(_) => "held",
        None if resource.locked => "held",
        None => "free",
    }
}

fn who(record: &OwnerRecord) -> String {
    let scope = if record.repository.is_empty() {
        [record.org.as_str(), record.repo.as_str()]
            .iter()
            .filter(|s| !s.is_empty())
            .copied()
            .collect::<Vec<_>>()
            .join("/")
    } else {
        record.repository.clone()
    };
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

fn duration(secs: u64) -> String {
    match secs {
        s if s < 60 => format!("{s}s"),
        s if s < 3600 => format!("{}m{:02}s", s / 60, s % 60),
        s => format!("{}h{:02}m", s / 3600, (s % 3600) / 60),
    }
}

fn table(resources: &[ResourceStatus]) -> Table {
    let mut table = Table::new();
    table.load_preset(UTF8_FULL_CONDENSED);
    table.set_header([
        "RESOURCE",
        "STATE",
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
            Some(h) => (who(&h.record), duration(h.held_for_secs)),
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
                    duration(w.waiting_for_secs)
                )
            })
            .collect();
        table.add_row([
            resource.resource.clone(),
            state(resource).to_string(),
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

fn record_json(record: &OwnerRecord) -> Value {
    json!({
        "runner": record.runner,
        "org": record.org,
        "repo": record.repo,
        "repository": record.repository,
        "run_id": record.run_id,
        "run_attempt": record.run_attempt,
        "job": record.job,
        "since": record.since,
    })
}

fn to_json(resource: &ResourceStatus) -> Value {
    let holder = resource.holder.as_ref().map(|h| {
        let mut v = record_json(&h.record);
        v["stale"] = json!(h.stale);
        v["held_for_secs"] = json!(h.held_for_secs);
        v
    });
    let waiters: Vec<Value> = resource
        .waiters
        .iter()
        .map(|w| {
            let mut v = record_json(&w.record);
            v["ticket"] = json!(w.ticket);
            v["alive"] = json!(w.alive);
            v["waiting_for_secs"] = json!(w.waiting_for_secs);
            v
        })
        .collect();
    json!({
        "resource": resource.resource,
        "state": state(resource),
        "holder": holder,
        "waiters": waiters,
    })
}
