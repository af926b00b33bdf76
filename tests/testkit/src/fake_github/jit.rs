//! `POST /{orgs/O|repos/O/R}/actions/runners/generate-jitconfig`, as GitHub answers it:
//! `{name, runner_group_id, labels, work_folder}` -> 201 `{runner, encoded_jit_config}`. The
//! runner is created offline and ephemeral; the blob is base64 of a JSON object of base64
//! files (`.runner`, `.credentials`, `.credentials_rsaparams`) a runner starts from with
//! `run.sh --jitconfig` or `ACTIONS_RUNNER_INPUT_JITCONFIG`. After its one job GitHub removes
//! the runner (see `State::finish_job`).
//!
//! Refusals: 422 without `name` or `runner_group_id`, or with labels not 1 to 100 non-empty
//! names; 404 for an unknown runner group; 409 when the name is taken.

use super::reply::{Reply, Req};
use super::rest::runner_json;
use super::state::State;
use super::types::ScopeKey;
use crate::b64;
use serde_json::json;

fn missing(key: &str) -> Reply {
    Reply::error(
        422,
        &format!("Invalid request.\n\nInvalid input: object is missing required key: {key}."),
    )
}

pub(crate) fn generate(base: &str, st: &mut State, req: &Req, scope: &ScopeKey) -> Reply {
    let body = req.json();
    let Some(name) = body["name"].as_str().filter(|n| !n.is_empty()) else {
        return missing("name");
    };
    let Some(group_id) = body["runner_group_id"].as_u64() else {
        return missing("runner_group_id");
    };
    let Some(labels) = body["labels"].as_array() else {
        return missing("labels");
    };
    let labels: Vec<String> = labels
        .iter()
        .filter_map(|l| l.as_str().map(str::to_string))
        .collect();
    if labels.is_empty()
        || labels.len() > 100
        || labels.len() != body["labels"].as_array().map_or(0, Vec::len)
        || labels.iter().any(|l| l.trim().is_empty())
    {
        return Reply::error(422, "Validation Failed");
    }
    let work = body["work_folder"].as_str().unwrap_or("_work").to_string();
    st.group_id("Default");
    let Some(group) = st
        .groups
        .iter()
        .find(|(_, id)| **id == group_id)
        .map(|(n, _)| n.clone())
    else {
        return Reply::not_found();
    };
    if name.len() > 64 {
        return Reply::error(422, "Validation Failed");
    }
    if st.runner_by_name(scope, name).is_some() {
        return Reply::error(
            409,
            "Already exists - A runner with the name already exists.",
        );
    }
    let labels = st.labels(&labels, false);
    let id = st.add_runner(scope.clone(), name, labels, group_id);
    let runner = st.runners.get_mut(&id).expect("just added");
    runner.ephemeral = true;
    let pipelines = format!("{base}/_services/pipelines");
    let files = json!({
        ".runner": file(&json!({
            "agentId": id,
            "agentName": name,
            "poolId": group_id,
            "poolName": group,
            "serverUrl": pipelines,
            "gitHubUrl": format!("{base}/{}", scope.path()),
            "workFolder": work,
            "disableUpdate": false,
            "ephemeral": true,
        })),
        ".credentials": file(&json!({
            "scheme": "OAuth",
            "data": {
                "clientId": runner.credential,
                "authorizationUrl": format!("{pipelines}/_apis/oauth2/token"),
                "requireFipsCryptography": "False",
            },
        })),
        ".credentials_rsaparams": file(&json!({
            "d": b64::encode(runner.credential.as_bytes()),
            "exponent": "AQAB",
            "modulus": b64::encode(format!("modulus-of-{id}").as_bytes()),
        })),
    });
    let blob = b64::encode(files.to_string().as_bytes());
    let runner = runner_json(&st.runners[&id], st.omit_runner_group_id);
    Reply::json(201, json!({"runner": runner, "encoded_jit_config": blob}))
}

fn file(value: &serde_json::Value) -> String {
    b64::encode(value.to_string().as_bytes())
}
