//! The grant history in the shape of `ghr locks --history --json` (and of `ghr serve`'s
//! `/api/v1/history`): the window, its grants oldest first, and per (org, resource) the
//! number of grants, wait percentiles and busy share.

use runner_wrapper::history::{in_window, summarize, Summary, Window};
use runner_wrapper::ledger::Entry;
use serde_json::{json, Value};

pub fn grant_json(e: &Entry) -> Value {
    json!({
        "kind": e.kind.as_str(),
        "resource": e.resource,
        "pool": e.pool,
        "runner": e.runner,
        "org": e.org,
        "repo": e.repo,
        "repository": e.repository,
        "run_id": e.run_id,
        "run_attempt": e.run_attempt,
        "job": e.job,
        "user": e.user,
        "reason": e.reason,
        "requested_ms": e.requested_ms,
        "granted_ms": e.granted_ms,
        "released_ms": e.released_ms,
        "waited_ms": e.waited_ms(),
        "held_ms": e.held_ms(),
        "cause": e.cause,
    })
}

pub fn summary_json(s: &Summary) -> Value {
    json!({
        "org": s.group,
        "resource": s.resource,
        "grants": s.grants,
        "jobs": s.jobs,
        "wait_p50_ms": s.wait_p50_ms,
        "wait_p95_ms": s.wait_p95_ms,
        "wait_max_ms": s.wait_max_ms,
        "held_ms": s.held_ms,
        "busy_share": s.busy_share,
    })
}

/// `{window: {from_ms, to_ms}, grants: [...], summary: [...]}` of the grants in `window`.
pub fn history_json(entries: &[Entry], window: Window) -> Value {
    let grants = in_window(entries, window);
    let summary = summarize(entries, window);
    json!({
        "window": {"from_ms": window.from_ms, "to_ms": window.to_ms},
        "grants": grants.iter().map(|e| grant_json(e)).collect::<Vec<_>>(),
        "summary": summary.iter().map(summary_json).collect::<Vec<_>>(),
    })
}
