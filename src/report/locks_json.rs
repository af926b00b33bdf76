//! The lock directory's resources in the shape of `ghr locks --json` (and of `ghr serve`'s
//! `/api/v1/locks`): state, health and its last check, the holder, the waiters in order.

use runner_wrapper::contract::{format_utc, now_epoch_ms};
use runner_wrapper::health::HealthRecord;
use runner_wrapper::record::{HolderKind, OwnerRecord};
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

/// The health to show: `repairing` while a wrapper repairs the resource under its lock (no job
/// gets it until the check after the repair passes), else the last check's verdict.
pub fn health(resource: &ResourceStatus) -> &'static str {
    match resource.live_holder() {
        Some(h) if h.record.kind == HolderKind::Repair => "repairing",
        _ => resource.health_state().as_str(),
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
        "health": health(resource),
        "health_check": resource.health.as_ref().map(health_json),
        "holder": holder,
        "waiters": waiters,
        "parked": resource.parked.iter().map(|p| json!({"runner": p.runner, "org": p.org, "since": p.since})).collect::<Vec<_>>(),
    })
}

/// Every resource: the document `ghr locks --json` prints.
pub fn locks_json(resources: &[ResourceStatus]) -> Value {
    Value::Array(resources.iter().map(resource_json).collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use runner_wrapper::status::Holder;

    fn resource(holder: Option<(HolderKind, bool)>, healthy: Option<bool>) -> ResourceStatus {
        ResourceStatus {
            resource: "b1".into(),
            name: "b1".into(),
            locked: holder.is_some_and(|(_, stale)| !stale),
            holder: holder.map(|(kind, stale)| Holder {
                record: OwnerRecord {
                    kind,
                    ..Default::default()
                },
                stale,
                held_for_secs: 1,
            }),
            waiters: Vec::new(),
            health: healthy.map(|healthy| HealthRecord {
                healthy,
                ..Default::default()
            }),
            parked: Vec::new(),
        }
    }

    #[test]
    fn a_repair_under_the_lock_shows_as_repairing() {
        let table = [
            (Some((HolderKind::Repair, false)), Some(true), "repairing"),
            (Some((HolderKind::Repair, false)), None, "repairing"),
            // A repair record whose wrapper died repairs nothing.
            (Some((HolderKind::Repair, true)), Some(false), "unhealthy"),
            (Some((HolderKind::Check, false)), Some(false), "unhealthy"),
            (Some((HolderKind::Job, false)), Some(true), "healthy"),
            (None, None, "unknown"),
        ];
        for (holder, healthy, want) in table {
            let r = resource(holder, healthy);
            assert_eq!(health(&r), want, "{holder:?} {healthy:?}");
            assert_eq!(resource_json(&r)["health"], want);
        }
    }
}
