//! A small HTTP/1.1 server: one thread per connection, keep-alive honoured, bodies by
//! Content-Length. Not tiny_http: its task pool can leave a new connection queued behind
//! long-lived keep-alive connections (a queued task waits for a busy thread), which stalled
//! ghr's keep-alive client for its whole timeout.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::time::Duration;

/// One parsed request.
pub(crate) struct Incoming {
    pub method: String,
    /// Path and query, as sent.
    pub target: String,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

/// One answer.
pub(crate) struct Outgoing {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

/// An idle keep-alive connection is dropped after this long (clients reconnect).
const IDLE: Duration = Duration::from_secs(60);

/// Accepts until `stop()` says so; each connection gets its own thread running `handle`.
pub(crate) fn accept_loop<H>(listener: TcpListener, stop: impl Fn() -> bool, handle: H)
where
    H: Fn(Incoming) -> Outgoing + Clone + Send + 'static,
{
    for stream in listener.incoming() {
        if stop() {
            return;
        }
        let Ok(stream) = stream else { continue };
        let handle = handle.clone();
        let _ = std::thread::Builder::new()
            .name("fake-github-conn".into())
            .spawn(move || {
                let _ = serve_connection(stream, handle);
            });
    }
}

fn serve_connection<H: Fn(Incoming) -> Outgoing>(
    stream: TcpStream,
    handle: H,
) -> std::io::Result<()> {
    stream.set_nodelay(true)?;
    stream.set_read_timeout(Some(IDLE))?;
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut writer = stream;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 {
            return Ok(());
        }
        let line = line.trim_end();
        if line.is_empty() {
            continue;
        }
        let mut parts = line.split_whitespace();
        let (Some(method), Some(target), version) = (parts.next(), parts.next(), parts.next())
        else {
            return respond(&mut writer, &bad_request(), true);
        };
        let mut headers = Vec::new();
        loop {
            let mut h = String::new();
            if reader.read_line(&mut h)? == 0 {
                return Ok(());
            }
            let h = h.trim_end();
            if h.is_empty() {
                break;
            }
            if let Some((k, v)) = h.split_once(':') {
                headers.push((k.trim().to_string(), v.trim().to_string()));
            }
        }
        let header = |name: &str| {
            headers
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(name))
                .map(|(_, v)| v.as_str())
        };
        let length: usize = header("content-length")
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        let close = version == Some("HTTP/1.0")
            || header("connection").is_some_and(|v| v.eq_ignore_ascii_case("close"));
        let mut body = vec![0; length];
        reader.read_exact(&mut body)?;
        let request = Incoming {
            method: method.to_string(),
            target: target.to_string(),
            headers,
            body: String::from_utf8_lossy(&body).into_owned(),
        };
        let reply = handle(request);
        respond(&mut writer, &reply, close)?;
        if close {
            return Ok(());
        }
    }
}

fn bad_request() -> Outgoing {
    Outgoing {
        status: 400,
        headers: Vec::new(),
        body: b"bad request line".to_vec(),
    }
}

fn respond(w: &mut TcpStream, reply: &Outgoing, close: bool) -> std::io::Result<()> {
    let mut head = format!("HTTP/1.1 {} {}\r\n", reply.status, reason(reply.status));
    for (k, v) in &reply.headers {
        if !k.eq_ignore_ascii_case("content-length") && !k.eq_ignore_ascii_case("connection") {
            head.push_str(&format!("{k}: {v}\r\n"));
        }
    }
    head.push_str(&format!(
        "Content-Length: {}\r\nConnection: {}\r\n\r\n",
        reply.body.len(),
        if close { "close" } else { "keep-alive" }
    ));
    let mut out = head.into_bytes();
    out.extend_from_slice(&reply.body);
    w.write_all(&out)?;
    w.flush()
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        201 => "Created",
        202 => "Accepted",
        204 => "No Content",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        409 => "Conflict",
        422 => "Unprocessable Entity",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        _ => "Status",
    }
}
