//! The lock directory's resources in the shape of `ghr locks --json` (and of `ghr serve`'s
//! `/api/v1/locks`): state, health and its last check, the holder, the waiters in order.

use runner_wrapper::contract::{format_utc, now_epoch_ms};
use runner_wrapper::health::HealthRecord;
use runner_wrapper::record::OwnerRecord;
use runner_wrapper::status::ResourceStatus;
use serde_json::{json, Value};

/// `free`, `held` or `stale` (an owner record whose lock nobody holds).
pub fn state(resource: &ResourceStatus) -> &'static str {
    match &resource.holder {
        Some(holder) if holder.stale => "stale",
        Some(_) => "held",
        None if resource.locked => "held",
        None => "free",
    }
}

pub fn record_json(record: &OwnerRecord) -> Value {
    json!({
        "kind": record.kind.as_str(),
        "runner": record.runner,
        "org": record.org,
        "repo": record.repo,
        "repository": record.repository,
        "run_id": record.run_id,
        "run_attempt": record.run_attempt,
        "job": record.job,
        "pool": record.pool,
        "user": record.user,
        "reason": record.reason,
        "since": record.since,
        "until": if record.until > 0 { json!(record.until) } else { Value::Null },
        "relocked": if record.relocked > 0 { json!(record.relocked) } else { Value::Null },
    })
}

pub fn health_json(h: &HealthRecord) -> Value {
    json!({
        "checked_at": h.checked_at_ms / 1000,
        "checked_at_utc": format_utc((h.checked_at_ms / 1000) as i64),
        "age_secs": now_epoch_ms().saturating_sub(h.checked_at_ms) / 1000,
        "duration_ms": h.duration_ms,
        "exit_code": h.exit_code,
        "output": h.output,
        "runner": h.runner,
        "org": h.org,
    })
}

/// One resource.
pub fn resource_json(resource: &ResourceStatus) -> Value {
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
        "health": resource.health_state().as_str(),
        "health_check": resource.health.as_ref().map(health_json),
        "holder": holder,
        "waiters": waiters,
    })
}

/// Every resource: the document `ghr locks --json` prints.
pub fn locks_json(resources: &[ResourceStatus]) -> Value {
    Value::Array(resources.iter().map(resource_json).collect())
}
