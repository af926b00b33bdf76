//! The HTTP side: accept connections (a thread each, bounded), check who asks, route, and
//! answer from the hub's current snapshot. Nothing here reads Docker, GitHub or the lock
//! directory: requests cost no calls, however many viewers there are.

use std::io::Write;
use std::net::{SocketAddr, TcpListener, TcpStream, ToSocketAddrs};
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use runner_wrapper::contract::{now_epoch_ms, parse_duration};
use runner_wrapper::history::Window;
use serde_json::{json, Value};

use super::auth::{self, Token};
use super::http::{self, Request, Response};
use super::page::{self, PageOptions};
use super::state::{Hub, Snapshot};
use super::{holds, metrics};
use crate::model::fleet::Side;
use crate::report::fleet_json::fleet_view;
use crate::report::history_json::history_json;
use crate::report::locks_json::locks_json;

/// Connections served at once (live pages hold one each); more are answered 503.
pub const MAX_CONNECTIONS: usize = 256;
/// A live connection says something at least this often, so proxies keep it open.
const KEEPALIVE: Duration = Duration::from_secs(15);
/// `/healthz` fails when the lock directories were not read for this long.
const STALE_AFTER_MS: u64 = 10_000;

pub struct App {
    pub hub: Arc<Hub>,
    pub token: Option<Token>,
    pub allow_holds: bool,
    pub host: String,
    pub lock_dirs: Vec<PathBuf>,
    /// The ghr executable, started as the hold keeper.
    pub exe: PathBuf,
}

/// Resolves and binds `--listen`; the addresses it resolved to (for the exposure check).
pub fn bind(listen: &str) -> Result<(TcpListener, Vec<SocketAddr>), String> {
    let addrs: Vec<SocketAddr> = listen
        .to_socket_addrs()
        .map_err(|e| format!("--listen {listen} is not an address to listen on (HOST:PORT): {e}"))?
        .collect();
    let listener =
        TcpListener::bind(&addrs[..]).map_err(|e| format!("cannot listen on {listen}: {e}"))?;
    Ok((listener, addrs))
}

/// Accepts connections until the process ends.
pub fn run(listener: TcpListener, app: Arc<App>) {
    let active = Arc::new(AtomicUsize::new(0));
    for stream in listener.incoming() {
        let Ok(mut stream) = stream else { continue };
        if active.load(Ordering::SeqCst) >= MAX_CONNECTIONS {
            let _ = Response::error(503, "too many connections; try again").write(
                &mut stream,
                page::csp(),
                false,
            );
            continue;
        }
        active.fetch_add(1, Ordering::SeqCst);
        let (app, counted) = (app.clone(), active.clone());
        let spawned = std::thread::Builder::new()
            .name("serve-conn".into())
            .stack_size(256 * 1024)
            .spawn(move || {
                handle(stream, &app);
                counted.fetch_sub(1, Ordering::SeqCst);
            });
        if spawned.is_err() {
            // The closure (and its count) is gone with the failed spawn.
            active.fetch_sub(1, Ordering::SeqCst);
        }
    }
}

fn handle(mut stream: TcpStream, app: &App) {
    let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
    let _ = stream.set_write_timeout(Some(Duration::from_secs(10)));
    let request = match http::read_request(&mut stream) {
        Ok(r) => r,
        Err(http::BadRequest(Some(status))) => {
            let _ = Response::error(status, http::reason(status)).write(
                &mut stream,
                page::csp(),
                false,
            );
            return;
        }
        Err(http::BadRequest(None)) => return,
    };
    let head = request.method == "HEAD";
    if !auth::allowed(
        app.token.as_ref(),
        &request.method,
        request.header("authorization"),
        request.param("token"),
    ) {
        let _ = Response::error(
            401,
            "this server needs its token: Authorization: Bearer <token> (or ?token= for the page)",
        )
        .with("WWW-Authenticate", "Bearer")
        .write(&mut stream, page::csp(), head);
        return;
    }
    if request.path == "/events" && matches!(request.method.as_str(), "GET" | "HEAD") {
        events(stream, &app.hub);
        return;
    }
    let response = route(app, &request);
    let _ = response.write(&mut stream, page::csp(), head);
}

/// Server-sent events: `data: <version>` whenever the snapshot changed, a comment now and
/// then otherwise. The page fetches `/fragment` on each.
fn events(mut stream: TcpStream, hub: &Hub) {
    let mut head =
        String::from("HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nConnection: close\r\n");
    for (k, v) in http::security_headers(page::csp()) {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    let mut seen = hub.snapshot().version;
    if stream
        .write_all(format!("{head}retry: 2000\ndata: {seen}\n\n").as_bytes())
        .is_err()
    {
        return;
    }
    while !hub.stopped() {
        let now = hub.wait_change(seen, KEEPALIVE);
        let line = if now != seen {
            seen = now;
            format!("data: {now}\n\n")
        } else {
            ": keep-alive\n\n".to_string()
        };
        if stream
            .write_all(line.as_bytes())
            .and_then(|_| stream.flush())
            .is_err()
        {
            return;
        }
    }
}

/// The answer to one request (pure but for holds, which act).
pub fn route(app: &App, req: &Request) -> Response {
    let s = app.hub.snapshot();
    let now = now_epoch_ms();
    let get = matches!(req.method.as_str(), "GET" | "HEAD");
    let options = PageOptions {
        host: &app.host,
        allow_holds: app.allow_holds,
        now_ms: now,
    };
    match (get, req.path.as_str()) {
        (true, "/") => Response::new(200, "text/html; charset=utf-8", page::page(&s, &options)),
        (true, "/fragment") => {
            Response::new(200, "text/html; charset=utf-8", page::fragment(&s, &options))
        }
        (true, "/api/v1/fleets") => Response::json(200, &fleets_json(&s)),
        (true, "/api/v1/locks") => match &s.locks.resources {
            Side::Known(list) => Response::json(200, &locks_json(list)),
            Side::Unknown(e) => Response::error(503, e),
        },
        (true, "/api/v1/history") => history(&s, req.param("since"), now),
        (true, "/metrics") => Response::new(
            200,
            "text/plain; version=0.0.4; charset=utf-8",
            metrics::render(&s, now),
        ),
        (true, "/healthz") => healthz(&s, now),
        (_, path) if path == "/api/v1/holds" || path.starts_with("/api/v1/holds/") => {
            holds_route(app, req)
        }
        (false, "/" | "/fragment" | "/api/v1/fleets" | "/api/v1/locks" | "/api/v1/history" | "/metrics" | "/healthz") => {
            Response::error(405, "only GET here").with("Allow", "GET, HEAD")
        }
        _ => Response::error(404, "no such page; see /, /api/v1/fleets, /api/v1/locks, /api/v1/history, /metrics, /healthz"),
    }
}

/// Per fleet: what it is, each side's state, and its runners as `ghr list --json` shows them.
pub fn fleets_json(s: &Snapshot) -> Value {
    let fleets: Vec<Value> = s
        .fleets
        .iter()
        .map(|f| {
            let docker_known = matches!(f.docker, Side::Known(_));
            let github_known = f.github.runners.known().is_some();
            // serve watches runner containers, not registration one-offs: those are a
            // command's, and the command (or the next one) removes them.
            let mut v =
                serde_json::to_value(fleet_view(&f.members, &[], docker_known, github_known))
                    .expect("plain data serializes");
            let error = |side: &Side<_>| match side {
                Side::Unknown(e) => json!(e),
                Side::Known(_) => Value::Null,
            };
            v["name"] = json!(f.info.name);
            v["org"] = json!(f.info.org);
            v["repo"] = json!(f.info.repo);
            v["scope"] = json!(f.info.scope());
            v["prefix"] = json!(f.info.prefix);
            v["image"] = json!(f.info.image);
            v["docker_error"] = error(&f.docker);
            v["github_error"] = match &f.github.runners {
                Side::Unknown(e) => json!(e),
                Side::Known(_) => Value::Null,
            };
            v["github_refreshed_ms"] = json!(f.github.last_ok_ms);
            v
        })
        .collect();
    Value::Array(fleets)
}

fn history(s: &Snapshot, since: Option<&str>, now: u64) -> Response {
    let ledger = match &s.locks.ledger {
        Side::Known(l) => l,
        Side::Unknown(e) => return Response::error(503, e),
    };
    let window = match since {
        None => Window::all(&ledger.entries, now),
        Some(text) => match parse_duration(text) {
            Ok(d) => Window {
                from_ms: now.saturating_sub(d.as_millis() as u64),
                to_ms: now,
            },
            Err(e) => return Response::error(400, &e.message("since")),
        },
    };
    Response::json(200, &history_json(&ledger.entries, window))
}

fn healthz(s: &Snapshot, now: u64) -> Response {
    match &s.locks.resources {
        Side::Unknown(e) => Response::text(503, format!("unhealthy: {e}")),
        Side::Known(_) if now.saturating_sub(s.locks.read_ms) > STALE_AFTER_MS => {
            Response::text(503, "unhealthy: the lock directory was not read for 10 s")
        }
        Side::Known(_) => Response::text(200, "ok"),
    }
}

fn holds_route(app: &App, req: &Request) -> Response {
    if !app.allow_holds {
        return Response::error(
            403,
            "holds are off on this server; start ghr serve with --allow-holds to take them from here",
        );
    }
    // Browsers only send a cross-site JSON POST or a DELETE after a preflight this server
    // never answers; an Origin other than this host is refused all the same.
    if let (Some(origin), Some(host)) = (req.header("origin"), req.header("host")) {
        let same = origin
            .split_once("://")
            .is_some_and(|(_, rest)| rest == host);
        if !same {
            return Response::error(403, "cross-origin requests may not take or release holds");
        }
    }
    let host = crate::config::settings::hostname();
    match (req.method.as_str(), req.path.strip_prefix("/api/v1/holds")) {
        ("POST", Some("" | "/")) => {
            let json = req
                .header("content-type")
                .is_some_and(|t| t.starts_with("application/json"));
            if !json {
                return Response::error(
                    415,
                    "send the hold as JSON (Content-Type: application/json)",
                );
            }
            match holds::parse_hold(&req.body, now_epoch_ms() / 1000) {
                Ok(h) => holds::hold(&app.lock_dirs, h, &app.exe),
                Err(e) => Response::error(400, &e),
            }
        }
        ("DELETE", Some(rest)) if rest.len() > 1 => {
            match holds::parse_release_user(req.param("user"), &req.body) {
                Ok(user) => holds::release(&app.lock_dirs, &rest[1..], &user, &host),
                Err(e) => Response::error(400, &e),
            }
        }
        _ => Response::error(405, "POST /api/v1/holds or DELETE /api/v1/holds/{resource}")
            .with("Allow", "POST, DELETE"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::serve::state::{FleetInfo, LockView};

    fn app(allow_holds: bool) -> App {
        let info = FleetInfo {
            name: "a.env".into(),
            org: "acme".into(),
            repo: None,
            prefix: "h-acme-".into(),
            image: "img".into(),
            lock_dir: "/nonexistent".into(),
            github_refresh: Duration::from_secs(30),
        };
        let hub = Arc::new(Hub::new(vec![info], vec![None]));
        hub.set_locks(LockView {
            resources: Side::Known(vec![]),
            ledger: Side::Known(Default::default()),
            read_ms: now_epoch_ms(),
        });
        App {
            hub,
            token: None,
            allow_holds,
            host: "h".into(),
            lock_dirs: vec![],
            exe: "/bin/false".into(),
        }
    }

    fn req(method: &str, path: &str) -> Request {
        Request {
            method: method.into(),
            path: path.into(),
            ..Default::default()
        }
    }

    #[test]
    fn routes() {
        let a = app(false);
        for (method, path, status) in [
            ("GET", "/", 200),
            ("HEAD", "/", 200),
            ("GET", "/fragment", 200),
            ("GET", "/api/v1/fleets", 200),
            ("GET", "/api/v1/locks", 200),
            ("GET", "/api/v1/history", 200),
            ("GET", "/metrics", 200),
            ("GET", "/healthz", 200),
            ("POST", "/metrics", 405),
            ("GET", "/nope", 404),
            ("POST", "/api/v1/holds", 403),
            ("DELETE", "/api/v1/holds/pi", 403),
        ] {
            assert_eq!(
                route(&a, &req(method, path)).status,
                status,
                "{method} {path}"
            );
        }
        let mut bad = req("GET", "/api/v1/history");
        bad.query = vec![("since".into(), "soon".into())];
        assert_eq!(route(&a, &bad).status, 400);
    }

    #[test]
    fn holds_need_json_and_the_same_origin() {
        let a = app(true);
        let mut r = req("POST", "/api/v1/holds");
        assert_eq!(route(&a, &r).status, 415);
        r.headers = vec![
            ("content-type".into(), "application/json".into()),
            ("host".into(), "lab:8080".into()),
            ("origin".into(), "http://evil.example".into()),
        ];
        assert_eq!(route(&a, &r).status, 403);
        r.headers[2].1 = "http://lab:8080".into();
        r.body = br#"{"resource":"pi","user":"al"}"#.to_vec();
        assert_eq!(route(&a, &r).status, 404, "no such resource here");
    }

    #[test]
    fn fleets_have_their_identity_and_the_list_shape() {
        let a = app(false);
        let v = fleets_json(&a.hub.snapshot());
        assert_eq!(v[0]["scope"], "acme");
        assert_eq!(v[0]["prefix"], "h-acme-");
        assert_eq!(v[0]["docker"], "unknown");
        assert_eq!(v[0]["runners"], json!([]));
        assert_eq!(v[0]["docker_error"], "not read yet");
    }
}
