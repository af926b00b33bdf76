//! The runner-facing side, shaped after what the real actions runner talks to:
//!   POST /actions/runner-registration            (Authorization: RemoteAuth <registration|remove token>)
//!        -> {url: <server>/_services/pipelines, token: <access token>, token_schema}
//! under <server>/_services/pipelines/_apis/distributedtask/ :
//!   GET  pools?poolName=N                        (Bearer access token)
//!   GET  pools/{pool}/agents?agentName=N         (Bearer access token)
//!   POST pools/{pool}/agents                     register; answer carries the runner credential
//!   PUT  pools/{pool}/agents/{id}                --replace: new credential, same id
//!   DELETE pools/{pool}/agents/{id}              config.sh remove
//!   POST pools/{pool}/sessions                   (Bearer runner credential) -> online
//!   DELETE pools/{pool}/sessions/{sid}           -> offline
//!   GET  pools/{pool}/messages?sessionId=S       long poll; 200 message or 202 nothing
//!   DELETE pools/{pool}/messages/{mid}?sessionId=S  acknowledge
//!   POST hubs/Actions/plans/{job}/events         (Bearer job token) {name, result?}
//!   POST hubs/Actions/plans/{job}/logs           (Bearer job token) text appended to the job log

use super::reply::{Reply, Req};
use super::state::{Message, State, TokenKind};
use super::types::ScopeKey;
use super::Shared;
use serde_json::{json, Value};
use std::time::{Instant, SystemTime};

fn fault(st: &mut State) -> Option<Reply> {
    let (n, status) = st.runner_errors?;
    st.runner_errors = (n > 1).then_some((n - 1, status));
    Some(Reply::error(status, "Server Error"))
}

pub(crate) fn register(sh: &Shared, req: &Req) -> Reply {
    let latency = sh.lock().registration_latency;
    if !latency.is_zero() {
        std::thread::sleep(latency);
    }
    let mut st = sh.lock();
    if let Some(r) = fault(&mut st) {
        return r;
    }
    if req.method != "POST" {
        return Reply::not_found();
    }
    let body = req.json();
    let event = body["runner_event"].as_str().unwrap_or("register");
    let url = body["url"].as_str().unwrap_or("");
    let grant = req
        .auth(&["remoteauth"])
        .and_then(|t| st.grants.get(&t).cloned())
        .filter(|g| g.expires > SystemTime::now())
        .filter(|g| event == "remove" || g.kind == TokenKind::Registration);
    let Some(grant) = grant else {
        return Reply::not_found();
    };
    let wanted = url
        .strip_prefix(&sh.base)
        .unwrap_or("")
        .trim_matches('/')
        .to_string();
    if wanted != grant.scope.path() {
        return Reply::not_found();
    }
    let token = format!("at_{}", st.token(40));
    st.access_tokens.insert(token.clone(), grant.scope);
    Reply::json(
        200,
        json!({
            "url": format!("{}/_services/pipelines", sh.base),
            "token": token,
            "token_schema": "OAuthAccessToken",
        }),
    )
}

/// Waits while registrations hang (see `FakeGitHub::hang_registrations`); whether it did.
fn hang(sh: &Shared) -> bool {
    let mut hung = false;
    let mut st = sh.lock();
    while st.hang_registrations && !sh.stopping() {
        hung = true;
        st = sh
            .cond
            .wait_timeout(st, std::time::Duration::from_millis(100))
            .unwrap_or_else(|e| e.into_inner())
            .0;
    }
    hung
}

pub(crate) fn handle(sh: &Shared, req: &Req, rest: &[&str]) -> Reply {
    let adding = matches!(rest, ["_apis", "distributedtask", "pools", _, "agents", ..])
        && matches!(req.method.as_str(), "POST" | "PUT");
    if adding && hang(sh) {
        return Reply::error(503, "Service Unavailable");
    }
    let mut st = sh.lock();
    if let Some(r) = fault(&mut st) {
        return r;
    }
    let m = req.method.as_str();
    // How long the answer to a runner just added or replaced waits (see `set_agent_latency`).
    let mut delay = std::time::Duration::ZERO;
    let reply = match rest {
        ["_apis", "distributedtask", "pools"] if m == "GET" => pools(&mut st, req),
        ["_apis", "distributedtask", "pools", _, "agents", tail @ ..] => {
            let reply = agents(&mut st, req, tail);
            if matches!(m, "POST" | "PUT") && reply.status == 200 {
                delay = st.agent_latency;
            }
            reply
        }
        ["_apis", "distributedtask", "pools", _, "sessions"] if m == "POST" => {
            session_create(&mut st, req)
        }
        ["_apis", "distributedtask", "pools", _, "sessions", sid] if m == "DELETE" => {
            session_delete(&mut st, req, sid)
        }
        ["_apis", "distributedtask", "pools", _, "messages"] if m == "GET" => {
            drop(st);
            return poll(sh, req);
        }
        ["_apis", "distributedtask", "pools", _, "messages", _] if m == "DELETE" => {
            Reply::empty(204)
        }
        ["_apis", "distributedtask", "hubs", _, "plans", job, "events"] if m == "POST" => {
            event(&mut st, req, job)
        }
        ["_apis", "distributedtask", "hubs", _, "plans", job, "logs"] if m == "POST" => {
            match job_auth(&st, req, job) {
                Some(id) => {
                    if let Some(j) = st.jobs.get_mut(&id) {
                        j.record.log.push_str(&req.body);
                    }
                    Reply::empty(204)
                }
                None => Reply::error(401, "Access denied"),
            }
        }
        _ => Reply::not_found(),
    };
    drop(st);
    sh.cond.notify_all();
    if !delay.is_zero() {
        std::thread::sleep(delay);
    }
    reply
}

fn access_scope(st: &State, req: &Req) -> Option<ScopeKey> {
    req.auth(&["bearer"])
        .and_then(|t| st.access_tokens.get(&t).cloned())
}

fn pools(st: &mut State, req: &Req) -> Reply {
    if access_scope(st, req).is_none() {
        return Reply::error(401, "Access denied");
    }
    let wanted = req.query("poolName");
    let value: Vec<Value> = st
        .groups
        .iter()
        .filter(|(n, _)| wanted.as_ref().is_none_or(|w| w.eq_ignore_ascii_case(n)))
        .map(|(n, id)| json!({"id": id, "name": n, "isHosted": false}))
        .collect();
    Reply::json(200, json!({"count": value.len(), "value": value}))
}

fn agent_json(st: &State, id: u64) -> Value {
    let r = &st.runners[&id];
    json!({
        "id": r.id,
        "name": r.name,
        "status": if r.online() { "online" } else { "offline" },
        "labels": r.labels.iter().map(|l| json!({"id": l.id, "name": l.name, "type": if l.kind == "read-only" { "system" } else { "user" }})).collect::<Vec<_>>(),
        "authorization": {"clientId": r.credential},
    })
}

fn agents(st: &mut State, req: &Req, tail: &[&str]) -> Reply {
    let Some(scope) = access_scope(st, req) else {
        return Reply::error(401, "Access denied");
    };
    let body = req.json();
    let labels = |st: &mut State| {
        let custom: Vec<String> = body["labels"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter(|l| l["type"].as_str() != Some("system"))
                    .filter_map(|l| l["name"].as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default();
        let has_system = body["labels"]
            .as_array()
            .is_some_and(|a| a.iter().any(|l| l["type"].as_str() == Some("system")));
        st.labels(&custom, !has_system)
    };
    let group = body["poolName"].as_str().unwrap_or("Default").to_string();
    match (req.method.as_str(), tail) {
        ("GET", []) => {
            let name = req.query("agentName");
            let ids: Vec<u64> = st
                .runners
                .values()
                .filter(|r| r.scope == scope && name.as_ref().is_none_or(|n| &r.name == n))
                .map(|r| r.id)
                .collect();
            let value: Vec<Value> = ids.iter().map(|id| agent_json(st, *id)).collect();
            Reply::json(200, json!({"count": value.len(), "value": value}))
        }
        ("POST", []) => {
            let name = body["name"].as_str().unwrap_or("").to_string();
            if name.is_empty() {
                return Reply::error(400, "Runner name is required");
            }
            if let Some(r) = name_too_long(&name) {
                return r;
            }
            if st.runner_by_name(&scope, &name).is_some() {
                return Reply::error(409, &format!("A runner exists with the same name {name}."));
            }
            let labels = labels(st);
            let gid = st.group_id(&group);
            let id = st.add_runner(scope, &name, labels, gid);
            Reply::json(200, agent_json(st, id))
        }
        ("PUT", [id]) => {
            let Some(id) = id
                .parse::<u64>()
                .ok()
                .filter(|id| st.runners.get(id).is_some_and(|r| r.scope == scope))
            else {
                return Reply::not_found();
            };
            let labels = labels(st);
            let gid = st.group_id(&group);
            let cred = format!("rc_{}", st.token(32));
            let r = st.runners.get_mut(&id).expect("checked");
            r.labels = labels;
            r.group_id = gid;
            r.credential = cred;
            r.session = None;
            Reply::json(200, agent_json(st, id))
        }
        ("DELETE", [id]) => {
            let Some(r) = id
                .parse::<u64>()
                .ok()
                .and_then(|id| st.runners.get(&id))
                .filter(|r| r.scope == scope)
            else {
                return Reply::not_found();
            };
            let id = r.id;
            super::rest::delete_runner(st, id)
        }
        _ => Reply::not_found(),
    }
}

/// GitHub refuses runner names longer than 64 characters (the wording here is ours).
pub(crate) const MAX_NAME: usize = 64;

fn name_too_long(name: &str) -> Option<Reply> {
    (name.chars().count() > MAX_NAME).then(|| {
        Reply::error(
            400,
            &format!(
                "Runner name '{name}' is {} characters long; runner names can have at most {MAX_NAME}.",
                name.chars().count()
            ),
        )
    })
}

fn runner_by_credential(st: &State, req: &Req) -> Option<u64> {
    let cred = req.auth(&["bearer"])?;
    st.runners
        .values()
        .find(|r| r.credential == cred)
        .map(|r| r.id)
}

const DELETED: &str =
    "The runner registration has been deleted from the server, please re-configure.";

fn session_create(st: &mut State, req: &Req) -> Reply {
    let Some(id) = runner_by_credential(st, req) else {
        return Reply::error(401, DELETED);
    };
    let sid = format!("s-{}", st.token(16));
    let r = st.runners.get_mut(&id).expect("found");
    r.session = Some(sid.clone());
    r.last_seen = Instant::now();
    let owner = req.json()["ownerName"].clone();
    Reply::json(
        200,
        json!({"sessionId": sid, "ownerName": owner, "agent": {"id": r.id, "name": r.name}}),
    )
}

fn session_delete(st: &mut State, req: &Req, sid: &str) -> Reply {
    let Some(id) = runner_by_credential(st, req) else {
        return Reply::error(401, DELETED);
    };
    let r = st.runners.get_mut(&id).expect("found");
    if r.session.as_deref() == Some(sid) {
        r.session = None;
        let job = r.current_job;
        // A job still running when the runner goes away ends like GitHub ends it; one assigned
        // but not taken yet (no JobStarted) stays assigned to it and is queued again at all
        // levels when its 60 s pass (see `routing`).
        let started = job.is_some_and(|j| {
            st.jobs
                .get(&j)
                .is_some_and(|j| j.record.started_at.is_some())
        });
        if let Some(job) = job {
            if started {
                st.finish_job(
                    job,
                    "Canceled",
                    Some("The runner has received a shutdown signal. This can happen when the runner service is stopped, or a manually started runner is canceled."),
                );
            } else {
                st.runners.get_mut(&id).expect("found").current_job = None;
            }
        }
        // A JIT runner that ran its job is removed as it goes.
        if st.runners.get(&id).is_some_and(|r| r.spent) {
            st.forget_runner(id);
        }
    }
    Reply::empty(204)
}

/// Marks the runner as polling (alive) around the long poll.
fn poll(sh: &Shared, req: &Req) -> Reply {
    let seen = |id: Option<u64>, delta: isize| {
        let mut st = sh.lock();
        let id = id.or_else(|| runner_by_credential(&st, req))?;
        let r = st.runners.get_mut(&id)?;
        r.polls = r.polls.saturating_add_signed(delta);
        r.last_seen = Instant::now();
        Some(id)
    };
    let id = seen(None, 1);
    let reply = long_poll(sh, req);
    if id.is_some() {
        seen(id, -1);
    }
    sh.cond.notify_all();
    reply
}

fn long_poll(sh: &Shared, req: &Req) -> Reply {
    let sid = req.query("sessionId").unwrap_or_default();
    let mut st = sh.lock();
    let deadline = Instant::now() + st.poll_timeout;
    loop {
        let Some(id) = runner_by_credential(&st, req) else {
            let deleted_while_online = req
                .auth(&["bearer"])
                .is_some_and(|c| st.deleted_credentials.contains(&c));
            if deleted_while_online {
                return Reply::json(
                    404,
                    json!({"typeKey": "TaskAgentNotFoundException", "message": "The runner was not found."}),
                );
            }
            return Reply::error(401, DELETED);
        };
        if st.runners[&id].session.as_deref() != Some(sid.as_str()) {
            return Reply::json(
                404,
                json!({"typeKey": "TaskAgentSessionExpiredException", "message": "The session has expired or was not found."}),
            );
        }
        if let Some(m) = next_message(&mut st, id) {
            return Reply::json(
                200,
                json!({"messageId": m.id, "messageType": m.kind, "body": m.body}),
            );
        }
        let now = Instant::now();
        if now >= deadline || sh.stopping() {
            return Reply::empty(202);
        }
        st = sh
            .cond
            .wait_timeout(st, deadline - now)
            .unwrap_or_else(|e| e.into_inner())
            .0;
    }
}

/// A queued message, or a newly assigned job whose labels the runner has.
fn next_message(st: &mut State, rid: u64) -> Option<Message> {
    if let Some(m) = st.runners.get_mut(&rid)?.messages.pop_front() {
        return Some(m);
    }
    super::routing::expire(st, Instant::now());
    let r = &st.runners[&rid];
    if r.busy() || r.spent || r.online_forced == Some(false) {
        return None;
    }
    let job_id = super::routing::pick(st, rid)?;
    super::routing::assigned(st, job_id, Instant::now());
    let name = st.runners[&rid].name.clone();
    let msg_id = st.next_id();
    let job = st.jobs.get_mut(&job_id).expect("found");
    job.runner = Some(rid);
    job.record.runner_name = Some(name);
    let body = json!({
        "jobId": job_id,
        "requestId": job_id,
        "planId": job_id,
        "jobDisplayName": job.spec.name,
        "runId": job.spec.run_id,
        "runAttempt": job.spec.attempt,
        "repository": job.spec.repository,
        "durationMs": job.spec.duration.as_millis() as u64,
        "fail": job.spec.fail,
        "script": job.spec.script,
        "accessToken": job.access_token,
    });
    st.runners.get_mut(&rid).expect("found").current_job = Some(job_id);
    Some(Message {
        id: msg_id,
        kind: "PipelineAgentJobRequest",
        body: body.to_string(),
    })
}

fn job_auth(st: &State, req: &Req, job: &str) -> Option<u64> {
    let id: u64 = job.parse().ok()?;
    let token = req.auth(&["bearer"])?;
    st.jobs
        .get(&id)
        .filter(|j| j.access_token == token)
        .map(|_| id)
}

fn event(st: &mut State, req: &Req, job: &str) -> Reply {
    let Some(id) = job_auth(st, req, job) else {
        return Reply::error(401, "Access denied");
    };
    let body = req.json();
    let now = Some(SystemTime::now());
    let rec = &mut st.jobs.get_mut(&id).expect("found").record;
    match body["name"].as_str().unwrap_or("") {
        "JobStarted" => rec.started_at = rec.started_at.or(now),
        "StepsStarted" => rec.steps_started_at = rec.steps_started_at.or(now),
        "StepsCompleted" => rec.steps_finished_at = rec.steps_finished_at.or(now),
        "JobCompleted" => {
            let result = body["result"].as_str().unwrap_or("Failed").to_string();
            st.finish_job(id, &result, None);
        }
        other => return Reply::error(400, &format!("unknown event {other}")),
    }
    Reply::empty(204)
}
