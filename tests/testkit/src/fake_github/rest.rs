//! GitHub's REST endpoints for self-hosted runners, org and repo scope, with PAT checks,
//! rate limits, fault injection and Link pagination.

use super::reply::{encode, Reply, Req};
use super::state::{Grant, Runner, State, TokenKind};
use super::types::ScopeKey;
use super::Shared;
use crate::timefmt::{rfc3339, unix_now};
use serde_json::{json, Value};
use std::time::SystemTime;

const DEFAULT_PER_PAGE: usize = 30;
const MAX_PER_PAGE: usize = 100;

/// Which REST collection a request is for.
#[derive(Clone, Copy)]
pub(crate) enum Resource {
    /// `.../actions/runners/...`
    Runners,
    /// `/orgs/{org}/actions/runner-groups/...` (organizations only)
    Groups,
}

pub(crate) fn handle(
    sh: &Shared,
    req: &Req,
    scope: ScopeKey,
    resource: Resource,
    rest: &[&str],
) -> Reply {
    let latency = sh.lock().latency;
    if !latency.is_zero() {
        std::thread::sleep(latency);
    }
    let mut st = sh.lock();
    st.reap_lost();
    let reply = guarded(sh, &mut st, req, &scope, resource, rest);
    let r = &st.rate;
    let mut reply = reply
        .with_header("x-ratelimit-limit", r.limit.to_string())
        .with_header("x-ratelimit-remaining", r.remaining.to_string())
        .with_header("x-ratelimit-reset", r.reset.to_string())
        .with_header("x-ratelimit-used", r.used.to_string())
        .with_header("x-ratelimit-resource", "core")
        .with_header("x-github-api-version-selected", "2022-11-28");
    if let Some(scopes) = req
        .auth(&["bearer", "token"])
        .and_then(|pat| st.pats.get(&pat))
    {
        reply = reply.with_header("x-oauth-scopes", scopes.join(", "));
    }
    drop(st);
    sh.cond.notify_all();
    reply
}

fn guarded(
    sh: &Shared,
    st: &mut State,
    req: &Req,
    scope: &ScopeKey,
    resource: Resource,
    rest: &[&str],
) -> Reply {
    if let Some((n, status, message)) = st.errors.take() {
        st.errors = (n > 1).then(|| (n - 1, status, message.clone()));
        return Reply::error(status, &message);
    }
    // GitHub rejects API requests without a User-Agent.
    if req
        .header("user-agent")
        .is_none_or(|ua| ua.trim().is_empty())
    {
        return Reply::error(
            403,
            "Request forbidden by administrative rules. Please make sure your request has a User-Agent header (https://docs.github.com/en/rest/overview/resources-in-the-rest-api#user-agent-required). Check https://developer.github.com for other possible causes.",
        );
    }
    // A GitHub App's installation token: its installation and permissions decide.
    let app = super::app::guard(&st.apps, req, scope);
    if let Some(Err(refused)) = app {
        return refused;
    }
    let scopes = match app {
        Some(_) => Some(vec!["*".to_string()]),
        None => req
            .auth(&["bearer", "token"])
            .and_then(|pat| st.pats.get(&pat).cloned()),
    };
    let Some(scopes) = scopes else {
        return Reply::error(401, "Bad credentials");
    };
    // An org that enforces SAML SSO refuses a PAT not authorized for it, and says so in a
    // header (the body alone reads like a missing permission). An App is not a person: its
    // installation token needs no SSO authorization.
    if app.is_none() && st.sso_orgs.contains(scope.org()) {
        return Reply::error(
            403,
            "Resource protected by organization SAML enforcement. You must grant your Personal Access token access to this organization.",
        )
        .with_header(
            "x-github-sso",
            format!(
                "required; url=https://github.com/orgs/{}/sso?authorization_request=AUTHZ0123",
                scope.org()
            ),
        );
    }
    if !st.scope_exists(scope) {
        return Reply::not_found();
    }
    let has = |s: &str| scopes.iter().any(|x| x == s || x == "*");
    let allowed = match scope {
        ScopeKey::Org(_) => has("admin:org") || has("manage_runners:org"),
        ScopeKey::Repo(..) => has("repo"),
    };
    if !allowed {
        return Reply::error(403, "Resource not accessible by personal access token");
    }
    if let Some(r) = rate_limited(st) {
        return r;
    }
    match resource {
        Resource::Runners => route(sh, st, req, scope, rest),
        Resource::Groups => groups(st, req, scope, rest),
    }
}

/// `GET /orgs/{org}/actions/runner-groups` and
/// `PUT /orgs/{org}/actions/runner-groups/{group}/runners/{runner}` (204; moves the runner).
fn groups(st: &mut State, req: &Req, scope: &ScopeKey, rest: &[&str]) -> Reply {
    if matches!(scope, ScopeKey::Repo(..)) {
        return Reply::not_found();
    }
    match (req.method.as_str(), rest) {
        ("GET", []) => {
            let groups: Vec<Value> = st
                .groups
                .iter()
                .map(|(name, id)| {
                    json!({
                        "id": id, "name": name, "visibility": "all", "default": *id == 1,
                        "inherited": false, "allows_public_repositories": false,
                        "restricted_to_workflows": false, "selected_workflows": [],
                    })
                })
                .collect();
            Reply::json(
                200,
                json!({"total_count": groups.len(), "runner_groups": groups}),
            )
        }
        ("PUT", [group, "runners", runner]) => {
            let group: Option<u64> = group
                .parse()
                .ok()
                .filter(|g| st.groups.values().any(|id| id == g));
            let runner = find(st, scope, runner).map(|r| r.id);
            match (group, runner) {
                (Some(g), Some(r)) => {
                    st.runners.get_mut(&r).expect("found").group_id = g;
                    Reply::empty(204)
                }
                _ => Reply::not_found(),
            }
        }
        _ => Reply::not_found(),
    }
}

/// Secondary limit (429 + retry-after) first, then the primary budget (403, remaining 0).
fn rate_limited(st: &mut State) -> Option<Reply> {
    if let Some((n, retry_after)) = st.rate.secondary {
        st.rate.secondary = (n > 1).then_some((n - 1, retry_after));
        return Some(
            Reply::error(
                429,
                "You have exceeded a secondary rate limit. Please wait a few minutes before you try again.",
            )
            .with_header("retry-after", retry_after.to_string()),
        );
    }
    let now = unix_now();
    if st.rate.remaining == 0 && now >= st.rate.reset {
        st.rate.remaining = st.rate.limit;
        st.rate.used = 0;
        st.rate.reset = now + 3600;
    }
    if st.rate.remaining == 0 {
        return Some(Reply::error(403, "API rate limit exceeded for user ID 1."));
    }
    st.rate.remaining -= 1;
    st.rate.used += 1;
    None
}

fn route(sh: &Shared, st: &mut State, req: &Req, scope: &ScopeKey, rest: &[&str]) -> Reply {
    match (req.method.as_str(), rest) {
        ("GET", []) => list(sh, st, req, scope),
        (_, [id, "labels", tail @ ..]) => labels(st, req, scope, id, tail),
        ("POST", ["registration-token"]) => token(st, scope, TokenKind::Registration),
        ("POST", ["remove-token"]) => token(st, scope, TokenKind::Remove),
        ("POST", ["generate-jitconfig"]) => super::jit::generate(&sh.base, st, req, scope),
        ("GET", [id]) => match find(st, scope, id) {
            Some(r) => Reply::json(200, runner_json(r, st.omit_runner_group_id)),
            None => Reply::not_found(),
        },
        ("DELETE", [id]) => {
            let Some(r) = find(st, scope, id) else {
                return Reply::not_found();
            };
            let id = r.id;
            delete_runner(st, id)
        }
        _ => Reply::not_found(),
    }
}

/// `GET|POST|PUT|DELETE .../runners/{id}/labels[/{name}]`: 200 `{total_count, labels}` with
/// every label of the runner; POST adds, PUT replaces the custom labels (the read-only
/// default labels stay), DELETE of one name removes that custom label (404 if it has none).
fn labels(st: &mut State, req: &Req, scope: &ScopeKey, id: &str, tail: &[&str]) -> Reply {
    let Some(id) = find(st, scope, id).map(|r| r.id) else {
        return Reply::not_found();
    };
    let body = req.json();
    let names = || -> Option<Vec<String>> {
        body["labels"].as_array().map(|a| {
            a.iter()
                .filter_map(|v| v.as_str().map(str::to_string))
                .collect()
        })
    };
    let answer = |st: &State| {
        let r = &st.runners[&id];
        Reply::json(
            200,
            json!({"total_count": r.labels.len(), "labels": label_json(r)}),
        )
    };
    match (req.method.as_str(), tail) {
        ("GET", []) => answer(st),
        ("POST" | "PUT", []) => {
            let Some(custom) = names() else {
                return Reply::error(
                    422,
                    "Invalid request.\n\nInvalid input: object is missing required key: labels.",
                );
            };
            if custom.len() > 100 || custom.iter().any(|l| l.trim().is_empty() || l.len() > 256) {
                return Reply::error(422, "Validation Failed");
            }
            let (mut all, mut names): (Vec<_>, Vec<String>) = {
                let r = &st.runners[&id];
                let read_only = r.labels.iter().filter(|l| l.kind == "read-only").cloned();
                let old_custom = r
                    .labels
                    .iter()
                    .filter(|l| l.kind != "read-only" && req.method == "POST")
                    .map(|l| l.name.clone());
                (read_only.collect(), old_custom.collect())
            };
            names.extend(custom);
            for name in names {
                let name = name.trim().to_string();
                if !all.iter().any(|l| l.name.eq_ignore_ascii_case(&name)) {
                    let label = st.label(&name, false);
                    all.push(label);
                }
            }
            st.runners.get_mut(&id).expect("found").labels = all;
            answer(st)
        }
        ("DELETE", [name]) => {
            let name = super::reply::decode(name);
            let r = st.runners.get_mut(&id).expect("found");
            let before = r.labels.len();
            r.labels
                .retain(|l| l.kind == "read-only" || !l.name.eq_ignore_ascii_case(&name));
            if r.labels.len() == before {
                return Reply::not_found();
            }
            answer(st)
        }
        _ => Reply::not_found(),
    }
}

fn label_json(r: &Runner) -> Vec<Value> {
    r.labels
        .iter()
        .map(|l| json!({"id": l.id, "name": l.name, "type": l.kind}))
        .collect()
}

fn find<'a>(st: &'a State, scope: &ScopeKey, id: &str) -> Option<&'a Runner> {
    let id: u64 = id.parse().ok()?;
    st.runners.get(&id).filter(|r| &r.scope == scope)
}

/// A runner as GitHub shows it. `runner_group_id` is optional in GitHub's schema (some
/// answers leave it out): `omit_group` models those.
pub(crate) fn runner_json(r: &Runner, omit_group: bool) -> Value {
    let info = r.info();
    let mut runner = json!({
        "id": info.id,
        "name": info.name,
        "os": info.os,
        "status": info.status,
        "busy": info.busy,
        "ephemeral": r.ephemeral,
        "runner_group_id": info.runner_group_id,
        "labels": label_json(r),
    });
    if omit_group {
        runner.as_object_mut().unwrap().remove("runner_group_id");
    }
    runner
}

fn token(st: &mut State, scope: &ScopeKey, kind: TokenKind) -> Reply {
    let token = format!("A{}", st.token(28));
    let expires = SystemTime::now() + st.token_ttl;
    st.grants.insert(
        token.clone(),
        Grant {
            scope: scope.clone(),
            kind,
            expires,
        },
    );
    Reply::json(
        201,
        json!({"token": token, "expires_at": rfc3339(expires, st.offset_minutes)}),
    )
}

fn list(sh: &Shared, st: &State, req: &Req, scope: &ScopeKey) -> Reply {
    let name = req.query("name");
    let omit_group = st.omit_runner_group_id;
    let all: Vec<&Runner> = st
        .runners
        .values()
        .filter(|r| &r.scope == scope && name.as_ref().is_none_or(|n| &r.name == n))
        .collect();
    let per_page = match req.query("per_page").and_then(|v| v.parse::<usize>().ok()) {
        Some(0) | None => DEFAULT_PER_PAGE,
        Some(n) => n.min(MAX_PER_PAGE),
    };
    let page = req
        .query("page")
        .and_then(|v| v.parse::<usize>().ok())
        .unwrap_or(1)
        .max(1);
    let last = all.len().div_ceil(per_page).max(1);
    let items: Vec<Value> = all
        .iter()
        .skip((page - 1) * per_page)
        .take(per_page)
        .map(|r| runner_json(r, omit_group))
        .collect();
    let mut reply = Reply::json(200, json!({"total_count": all.len(), "runners": items}));
    if last > 1 {
        let link_to = |p: usize| {
            let mut q: Vec<String> = req
                .query_pairs()
                .into_iter()
                .filter(|(k, _)| k != "page")
                .map(|(k, v)| format!("{}={}", encode(&k), encode(&v)))
                .collect();
            q.push(format!("page={p}"));
            format!("<{}{}?{}>", sh.base, req.path, q.join("&"))
        };
        let mut links = Vec::new();
        if page > 1 {
            links.push(format!("{}; rel=\"prev\"", link_to((page - 1).min(last))));
        }
        if page < last {
            links.push(format!("{}; rel=\"next\"", link_to(page + 1)));
            links.push(format!("{}; rel=\"last\"", link_to(last)));
        }
        if page > 1 {
            links.push(format!("{}; rel=\"first\"", link_to(1)));
        }
        reply = reply.with_header("link", links.join(", "));
    }
    reply
}

/// Removes a runner, as both the REST API and the runner's `config.sh remove` do: refused
/// with GitHub's 422 while it runs a job.
pub(super) fn delete_runner(st: &mut State, id: u64) -> Reply {
    let Some(r) = st.runners.get(&id) else {
        return Reply::not_found();
    };
    if r.busy() {
        return Reply::error(
            422,
            &format!(
                "Bad request - Runner \"{}\" is still running a job\"",
                r.name
            ),
        );
    }
    st.forget_runner(id);
    Reply::empty(204)
}
