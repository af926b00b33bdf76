//! The fleet view of `ghr list --json` (and of `ghr serve`'s `/api/v1/fleets`): each runner's
//! container beside GitHub's registration, with each side marked known or unknown.

use crate::model::fleet::{Member, Registration};
use serde::Serialize;

pub const NOT_REGISTERED: &str = "not registered";
pub const DELETED_ON_GITHUB: &str = "deleted on GitHub";
/// GitHub lists the runner, but its volume holds no registration.
pub const NOT_IN_VOLUME: &str = "not in its volume";
pub const NO_CONTAINER: &str = "no container";
pub const UNKNOWN: &str = "unknown";

pub fn registration_text(r: &Registration) -> String {
    match r {
        Registration::Listed(status) => status.clone(),
        Registration::DeletedOnGitHub => DELETED_ON_GITHUB.into(),
        Registration::NotRegistered => NOT_REGISTERED.into(),
        Registration::ListedNotInVolume(status) => format!("{status}, {NOT_IN_VOLUME}"),
        Registration::Unknown => UNKNOWN.into(),
    }
}

#[derive(Serialize)]
pub struct JsonContainer<'a> {
    pub state: &'a str,
    pub image: &'a str,
    /// Devices seen inside under another path than the host's node (a stable by-id name and
    /// the node it was mapped from when the container was created).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub devices: Vec<JsonDevice<'a>>,
    /// Why its first start did not register it (the container idles or was stopped).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub registration_failed: Option<&'a str>,
}

#[derive(Serialize)]
pub struct JsonDevice<'a> {
    pub path: &'a str,
    pub node: &'a str,
}

#[derive(Serialize)]
pub struct JsonGithub<'a> {
    pub id: u64,
    pub status: &'a str,
    pub busy: bool,
    pub labels: &'a [String],
    /// A one-job runner (JIT or `--ephemeral`), as GitHub says.
    pub ephemeral: bool,
}

#[derive(Serialize)]
pub struct JsonMember<'a> {
    pub name: &'a str,
    pub container: Option<JsonContainer<'a>>,
    pub github: Option<JsonGithub<'a>>,
    pub registration: String,
    /// Its volumes, by name (a runner that is nothing but a volume shows here).
    pub volumes: &'a [String],
    /// Its board's devices missing now: it waits for them, stopped, offline on GitHub.
    #[serde(skip_serializing_if = "<[String]>::is_empty")]
    pub missing_devices: &'a [String],
}

#[derive(Serialize)]
pub struct JsonFleet<'a> {
    pub docker: &'static str,
    pub github: &'static str,
    pub runners: Vec<JsonMember<'a>>,
    /// One-off containers of this prefix an interrupted ghr left (the next command removes
    /// them).
    pub oneoffs: &'a [String],
}

/// The view as data, for callers that embed it in a larger document (`ghr serve`).
pub fn fleet_view<'a>(
    members: &'a [Member],
    oneoffs: &'a [String],
    docker_known: bool,
    github_known: bool,
) -> JsonFleet<'a> {
    let side = |known: bool| if known { "known" } else { "unknown" };
    let runners = members
        .iter()
        .map(|m| JsonMember {
            name: &m.name,
            container: m.container.as_ref().map(|c| JsonContainer {
                state: c.state.as_str(),
                image: &c.image,
                devices: c
                    .devices
                    .iter()
                    .map(|(path, node)| JsonDevice { path, node })
                    .collect(),
                registration_failed: c.first_start_failure.as_deref(),
            }),
            github: m.github.as_ref().map(|g| JsonGithub {
                id: g.id,
                status: &g.status,
                busy: g.busy,
                labels: &g.labels,
                ephemeral: g.ephemeral,
            }),
            registration: registration_text(&m.registration),
            volumes: &m.volumes,
            missing_devices: &m.missing_devices,
        })
        .collect();
    JsonFleet {
        docker: side(docker_known),
        github: side(github_known),
        runners,
        oneoffs,
    }
}

/// `{docker: "known"|"unknown", github: "known"|"unknown", runners: [{name, container:
/// {state, image}|null, github: {id, status, busy, labels, ephemeral}|null, registration, volumes:
/// [name]}], oneoffs: [name]}`.
pub fn fleet_json(
    members: &[Member],
    oneoffs: &[String],
    docker_known: bool,
    github_known: bool,
) -> String {
    serde_json::to_string_pretty(&fleet_view(members, oneoffs, docker_known, github_known))
        .expect("plain data serializes")
}
