//! What a long-running client (`ghr serve`) tells Prometheus about its GitHub traffic: calls
//! by endpoint, failures by kind, and the rate limit GitHub last reported. Counted per HTTP
//! attempt (a retried call counts twice: each one costs rate limit).

use std::collections::BTreeMap;
use std::sync::Mutex;

use reqwest::header::HeaderMap;

#[derive(Debug, Default)]
pub struct ApiStats {
    inner: Mutex<StatsSnapshot>,
}

/// A copy of the counts at one moment.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StatsSnapshot {
    /// Requests sent, by endpoint kind (see [`endpoint_kind`]).
    pub calls: BTreeMap<&'static str, u64>,
    /// Failed requests, by kind (see [`error_kind`]).
    pub errors: BTreeMap<&'static str, u64>,
    /// `x-ratelimit-remaining` and `x-ratelimit-reset` (epoch seconds) of the last answer
    /// that had them.
    pub rate_remaining: Option<u64>,
    pub rate_reset: Option<i64>,
}

impl ApiStats {
    pub fn snapshot(&self) -> StatsSnapshot {
        self.inner.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    pub(crate) fn call(&self, method: &str, path: &str) {
        let mut s = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        *s.calls.entry(endpoint_kind(method, path)).or_default() += 1;
    }

    /// An answer: its rate-limit headers, and its status when it is a failure.
    pub(crate) fn answer(&self, status: u16, headers: &HeaderMap) {
        let num = |k: &str| headers.get(k)?.to_str().ok()?.trim().parse::<i64>().ok();
        let mut s = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(r) = num("x-ratelimit-remaining") {
            s.rate_remaining = Some(r.max(0) as u64);
            s.rate_reset = num("x-ratelimit-reset");
        }
        let limited =
            num("x-ratelimit-remaining") == Some(0) || headers.contains_key("retry-after");
        if let Some(kind) = error_kind(status, limited) {
            *s.errors.entry(kind).or_default() += 1;
        }
    }

    /// A request that got no answer (connect, timeout, reset).
    pub(crate) fn network_error(&self) {
        let mut s = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        *s.errors.entry("network").or_default() += 1;
    }
}

/// The endpoint a request is for, from its method and path (bounded label values: never an
/// id or a name).
pub fn endpoint_kind(method: &str, path: &str) -> &'static str {
    let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    let Some(at) = segments.iter().position(|s| *s == "actions") else {
        return "other";
    };
    match (method, &segments[at + 1..]) {
        ("GET", ["runners"]) => "list_runners",
        ("POST", ["runners", "registration-token"]) => "registration_token",
        ("POST", ["runners", "remove-token"]) => "remove_token",
        ("POST", ["runners", "generate-jitconfig"]) => "generate_jitconfig",
        ("GET", ["runners", _]) => "get_runner",
        ("DELETE", ["runners", _]) => "delete_runner",
        (_, ["runners", _, "labels", ..]) => "runner_labels",
        ("GET", ["runner-groups"]) => "list_runner_groups",
        (_, ["runner-groups", _, "runners", _]) => "set_runner_group",
        _ => "other",
    }
}

/// The kind of a failed answer; `None` for a success. `limited`: the answer says a rate
/// limit is the reason (remaining 0, or `retry-after`).
pub fn error_kind(status: u16, limited: bool) -> Option<&'static str> {
    Some(match status {
        200..=399 => return None,
        403 | 429 if limited => "rate_limited",
        429 => "rate_limited",
        401 => "bad_credentials",
        403 => "forbidden",
        404 => "not_found",
        500..=599 => "server_error",
        _ => "client_error",
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_are_named_without_ids() {
        for (method, path, kind) in [
            ("GET", "/orgs/acme/actions/runners", "list_runners"),
            ("GET", "/api/v3/repos/a/b/actions/runners", "list_runners"),
            (
                "POST",
                "/orgs/acme/actions/runners/registration-token",
                "registration_token",
            ),
            (
                "POST",
                "/orgs/acme/actions/runners/remove-token",
                "remove_token",
            ),
            ("DELETE", "/orgs/acme/actions/runners/42", "delete_runner"),
            (
                "PUT",
                "/orgs/acme/actions/runners/42/labels",
                "runner_labels",
            ),
            (
                "GET",
                "/orgs/acme/actions/runner-groups",
                "list_runner_groups",
            ),
            (
                "PUT",
                "/orgs/acme/actions/runner-groups/3/runners/42",
                "set_runner_group",
            ),
            ("GET", "/rate_limit", "other"),
        ] {
            assert_eq!(endpoint_kind(method, path), kind, "{method} {path}");
        }
    }

    #[test]
    fn failures_are_sorted_by_kind() {
        assert_eq!(error_kind(200, false), None);
        assert_eq!(error_kind(204, false), None);
        assert_eq!(error_kind(401, false), Some("bad_credentials"));
        assert_eq!(error_kind(403, false), Some("forbidden"));
        assert_eq!(error_kind(403, true), Some("rate_limited"));
        assert_eq!(error_kind(429, false), Some("rate_limited"));
        assert_eq!(error_kind(404, false), Some("not_found"));
        assert_eq!(error_kind(422, false), Some("client_error"));
        assert_eq!(error_kind(502, false), Some("server_error"));
    }

    #[test]
    fn answers_count_and_keep_the_rate_limit() {
        let stats = ApiStats::default();
        stats.call("GET", "/orgs/acme/actions/runners");
        let mut h = HeaderMap::new();
        h.insert("x-ratelimit-remaining", "4999".parse().unwrap());
        h.insert("x-ratelimit-reset", "1700000000".parse().unwrap());
        stats.answer(200, &h);
        stats.answer(502, &HeaderMap::new());
        stats.network_error();
        let s = stats.snapshot();
        assert_eq!(s.calls["list_runners"], 1);
        assert_eq!(s.rate_remaining, Some(4999));
        assert_eq!(s.rate_reset, Some(1_700_000_000));
        assert_eq!(s.errors["server_error"], 1);
        assert_eq!(s.errors["network"], 1);
    }
}
