//! Maintenance holds from the page (`--allow-holds`): `POST /api/v1/holds` does what `ghr
//! hold` does (a detached keeper takes the resource in its turn and keeps it), `DELETE
//! /api/v1/holds/{resource}` what `ghr release` does (holds only: a job's lock is never
//! taken away from the web). The user named in the request is recorded as the holder.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::mpsc;
use std::time::Duration;

use runner_wrapper::contract::{self, parse_duration};
use runner_wrapper::control::{self, ReleaseError, Released};
use runner_wrapper::hold::{self, HoldSpec};
use runner_wrapper::record::HolderKind;
use serde_json::json;

use super::http::Response;

/// How long a POST waits for the grant before answering 202 (the keeper waits on).
const ANSWER_WITHIN: Duration = Duration::from_secs(3);

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HoldRequest {
    pub resource: String,
    pub user: String,
    pub reason: String,
    pub until: Option<u64>,
}

fn field(v: &serde_json::Value, key: &str) -> Result<String, String> {
    match &v[key] {
        serde_json::Value::Null => Ok(String::new()),
        serde_json::Value::String(s) => Ok(s.trim().to_string()),
        _ => Err(format!("`{key}` must be a string")),
    }
}

/// A name or a reason as records keep them: printable, bounded.
fn check_text(key: &str, value: &str, max: usize, required: bool) -> Result<(), String> {
    if required && value.is_empty() {
        return Err(format!("`{key}` is required"));
    }
    if value.chars().count() > max {
        return Err(format!("`{key}` is longer than {max} characters"));
    }
    if value.chars().any(char::is_control) {
        return Err(format!("`{key}` has control characters"));
    }
    Ok(())
}

/// One member id (not a pool), as `ghr hold` takes it.
fn one_id(resource: &str) -> Result<String, String> {
    let ids = contract::parse_resource_list(resource).map_err(|e| format!("resource {e}"))?;
    match ids.as_slice() {
        [one] => Ok(one.clone()),
        _ => Err(format!("{resource} is a pool; hold one member at a time")),
    }
}

/// `{"resource", "user", "reason"?, "for"?}` (`for`: 30m, 2h; absent: until released).
pub fn parse_hold(body: &[u8], now_epoch: u64) -> Result<HoldRequest, String> {
    let v: serde_json::Value =
        serde_json::from_slice(body).map_err(|e| format!("the body is not JSON: {e}"))?;
    let resource = one_id(&field(&v, "resource")?)?;
    let user = field(&v, "user")?;
    check_text("user", &user, 64, true)?;
    let reason = field(&v, "reason")?;
    check_text("reason", &reason, 300, false)?;
    let until = match field(&v, "for")?.as_str() {
        "" => None,
        text => {
            let d = parse_duration(text).map_err(|e| e.message("`for`"))?;
            if d.is_zero() {
                return Err("`for` must be more than zero".into());
            }
            Some(now_epoch + d.as_secs().max(1))
        }
    };
    Ok(HoldRequest {
        resource,
        user,
        reason,
        until,
    })
}

/// The releasing user: `?user=` or `{"user"}`.
pub fn parse_release_user(query_user: Option<&str>, body: &[u8]) -> Result<String, String> {
    let user = match query_user {
        Some(u) => u.trim().to_string(),
        None if body.is_empty() => String::new(),
        None => {
            let v: serde_json::Value =
                serde_json::from_slice(body).map_err(|e| format!("the body is not JSON: {e}"))?;
            field(&v, "user")?
        }
    };
    check_text("user", &user, 64, true)?;
    Ok(user)
}

/// The lock directory that has `resource`.
fn dir_of(dirs: &[PathBuf], resource: &str) -> Result<Option<PathBuf>, Response> {
    for dir in dirs {
        match hold::known(dir, resource) {
            Ok(true) => return Ok(Some(dir.clone())),
            Ok(false) => {}
            Err(e) => {
                return Err(Response::error(
                    500,
                    &format!("cannot read the lock directory {}: {e}", dir.display()),
                ))
            }
        }
    }
    Ok(None)
}

fn unknown(resource: &str) -> Response {
    Response::error(
        404,
        &format!("{resource} is not a resource of this host's lock directory"),
    )
}

/// Starts a hold; answers once it is granted, refused, or still waiting after a moment.
pub fn hold(dirs: &[PathBuf], req: HoldRequest, keeper_exe: &Path) -> Response {
    let dir = match dir_of(dirs, &req.resource) {
        Ok(Some(d)) => d,
        Ok(None) => return unknown(&req.resource),
        Err(r) => return r,
    };
    let spec = HoldSpec {
        dir,
        resource: req.resource.clone(),
        user: req.user.clone(),
        reason: req.reason.clone(),
        until: req.until,
        no_wait: false,
        status_interval: Duration::from_secs(5),
    };
    let (tx, rx) = mpsc::channel();
    let mut keeper = Command::new(keeper_exe);
    keeper.arg("__hold-keeper");
    // The keeper waits while its requester lives: this thread is it (until ghr serve stops).
    let who = format!("{} for {}", req.resource, req.user);
    std::thread::spawn(move || {
        let outcome = hold::request(keeper, &spec, &mut |_| {});
        match &outcome {
            Ok(text) => crate::world::notify::info(&format!("serve: {text}")),
            Err(e) => crate::world::notify::info(&format!("serve: no hold of {who}: {e}")),
        }
        let _ = tx.send(outcome);
    });
    match rx.recv_timeout(ANSWER_WITHIN) {
        Ok(Ok(text)) => Response::json(201, &json!({"held": true, "message": text})),
        Ok(Err(e)) => Response::error(409, &e),
        Err(_) => Response::json(
            202,
            &json!({
                "held": false,
                "message": format!("{} is busy; the hold waits for its turn and is taken then (while ghr serve runs)", req.resource),
            }),
        ),
    }
}

/// Ends a maintenance hold, as `ghr release` without `--force`.
pub fn release(dirs: &[PathBuf], resource: &str, user: &str, host: &str) -> Response {
    let resource = match one_id(resource) {
        Ok(r) => r,
        Err(e) => return Response::error(400, &e),
    };
    let dir = match dir_of(dirs, &resource) {
        Ok(Some(d)) => d,
        Ok(None) => return unknown(&resource),
        Err(r) => return r,
    };
    let by = format!("{user} on {host} (ghr serve)");
    match control::release(&dir, &resource, false, &by) {
        Ok(Released::NotHeld) => Response::json(
            200,
            &json!({"released": false, "message": format!("{resource} is not held")}),
        ),
        Ok(Released::Released { holder, .. }) => {
            crate::world::notify::info(&format!("serve: {resource} released by {user}"));
            Response::json(
                200,
                &json!({"released": true, "message": format!("released {resource}, held by {}", holder.describe())}),
            )
        }
        Err(ReleaseError::NeedsForce(holder)) => {
            let what = if holder.kind == HolderKind::Job {
                "a job"
            } else {
                "something other than a hold"
            };
            Response::error(
                409,
                &format!("{resource} is held by {what} ({}); only `ghr release --force` on the host takes it away", holder.describe()),
            )
        }
        Err(ReleaseError::Unknown) => unknown(&resource),
        Err(ReleaseError::Failed(text)) => {
            Response::error(500, &format!("cannot release {resource}: {text}"))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hold_requests_are_checked() {
        let ok = parse_hold(
            br#"{"resource":"pi","user":"alice","reason":"reflash","for":"2h"}"#,
            100,
        )
        .unwrap();
        assert_eq!(
            ok,
            HoldRequest {
                resource: "pi".into(),
                user: "alice".into(),
                reason: "reflash".into(),
                until: Some(7300)
            }
        );
        assert_eq!(
            parse_hold(br#"{"resource":"pi","user":"a"}"#, 0)
                .unwrap()
                .until,
            None
        );
        for (body, why) in [
            (&br#"{"resource":"pi"}"#[..], "`user` is required"),
            (br#"{"resource":"a,b","user":"x"}"#, "pool"),
            (br#"{"resource":"pi","user":"a\nb"}"#, "control"),
            (br#"{"resource":"pi","user":"x","for":"soon"}"#, "for"),
            (
                br#"{"resource":"pi","user":"x","for":"0s"}"#,
                "more than zero",
            ),
            (br#"{"resource":"pi","user":7}"#, "string"),
            (b"not json", "not JSON"),
        ] {
            let err = parse_hold(body, 0).unwrap_err();
            assert!(
                err.contains(why),
                "{err} for {}",
                String::from_utf8_lossy(body)
            );
        }
    }

    #[test]
    fn the_releasing_user_comes_from_the_query_or_the_body() {
        assert_eq!(parse_release_user(Some("bob"), b"").unwrap(), "bob");
        assert_eq!(
            parse_release_user(None, br#"{"user":"eve"}"#).unwrap(),
            "eve"
        );
        assert!(parse_release_user(None, b"").is_err());
    }
}
