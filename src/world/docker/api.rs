//! The few per-container calls of registration straight on the engine's Unix socket: putting
//! a credential in (`PUT .../archive`), reading a small file back (`GET .../archive`), asking
//! whether a file is there and its size (`HEAD .../archive`) and starting (`POST .../start`). Each `docker` CLI run costs tens of milliseconds of CPU
//! (a Go program starting and negotiating its API version); a fleet of 50 needs 150 and more
//! of these calls, which made them most of `init`'s time on a small machine.
//!
//! Used only where the CLI would talk to the local socket: no `DOCKER_HOST` other than
//! `unix://`, no `DOCKER_CONTEXT`, no current context in the CLI's config. Anywhere else
//! (a remote engine, TLS, ssh) the CLI does it, as before.

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::time::Duration;

const DEFAULT_SOCKET: &str = "/var/run/docker.sock";

/// The engine's socket when the CLI would use it too, else `None` (then use the CLI).
pub fn socket() -> Option<PathBuf> {
    static SOCKET: std::sync::OnceLock<Option<PathBuf>> = std::sync::OnceLock::new();
    SOCKET
        .get_or_init(|| {
            let config_dir = std::env::var_os("DOCKER_CONFIG")
                .map(PathBuf::from)
                .or_else(|| std::env::var_os("HOME").map(|h| Path::new(&h).join(".docker")));
            let config = config_dir
                .and_then(|d| std::fs::read_to_string(d.join("config.json")).ok())
                .unwrap_or_default();
            choose(
                std::env::var("DOCKER_HOST").ok().as_deref(),
                std::env::var("DOCKER_CONTEXT").ok().as_deref(),
                &config,
            )
            .filter(|p| p.exists())
        })
        .clone()
}

/// Which socket the CLI would talk to, judged by `DOCKER_HOST`, `DOCKER_CONTEXT` and the
/// CLI's config file; `None` when it is not a local socket (or not sure).
pub fn choose(host: Option<&str>, context: Option<&str>, config: &str) -> Option<PathBuf> {
    if context.is_some_and(|c| !c.is_empty() && c != "default") {
        return None;
    }
    match host.filter(|h| !h.is_empty()) {
        Some(h) => h.strip_prefix("unix://").map(PathBuf::from),
        None => {
            let current = serde_json::from_str::<serde_json::Value>(config)
                .ok()
                .and_then(|v| {
                    v.get("currentContext")
                        .and_then(|c| c.as_str().map(String::from))
                });
            match current.as_deref() {
                None | Some("") | Some("default") => Some(PathBuf::from(DEFAULT_SOCKET)),
                Some(_) => None,
            }
        }
    }
}

/// An answer: status, headers (names in lower case) and body.
pub struct Answer {
    pub status: u16,
    pub headers: Headers,
    pub body: Vec<u8>,
}

impl Answer {
    /// The engine's message of a failed call (`{"message": ...}`), else the body as text.
    pub fn message(&self) -> String {
        serde_json::from_slice::<serde_json::Value>(&self.body)
            .ok()
            .and_then(|v| v.get("message").and_then(|m| m.as_str().map(String::from)))
            .unwrap_or_else(|| String::from_utf8_lossy(&self.body).trim().to_string())
    }

    /// The value of header `name` (lower case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// One HTTP/1.1 request on `socket`, the connection closed after it.
pub fn call(
    socket: &Path,
    method: &str,
    path: &str,
    body: Option<(&str, &[u8])>,
    limit: Duration,
) -> std::io::Result<Answer> {
    let mut stream = UnixStream::connect(socket)?;
    stream.set_read_timeout(Some(limit))?;
    stream.set_write_timeout(Some(limit))?;
    let mut request = format!("{method} {path} HTTP/1.1\r\nHost: docker\r\nConnection: close\r\n");
    let data: &[u8] = match body {
        Some((content_type, data)) => {
            request.push_str(&format!("Content-Type: {content_type}\r\n"));
            data
        }
        None => &[],
    };
    request.push_str(&format!("Content-Length: {}\r\n\r\n", data.len()));
    stream.write_all(request.as_bytes())?;
    stream.write_all(data)?;
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw)?;
    // A HEAD answer names the length of a body it does not send.
    let parsed = match method {
        "HEAD" => parse_head(&raw),
        _ => parse(&raw),
    };
    parsed.ok_or_else(|| {
        std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            "the Docker engine's answer could not be read",
        )
    })
}

/// Header names (lower case) and values.
type Headers = Vec<(String, String)>;

/// The status line and headers of a response, and where its body starts.
fn parse_head_part(raw: &[u8]) -> Option<(u16, Headers, usize)> {
    let end = raw.windows(4).position(|w| w == b"\r\n\r\n")?;
    let head = std::str::from_utf8(&raw[..end]).ok()?;
    let mut lines = head.split("\r\n");
    let status: u16 = lines.next()?.split(' ').nth(1)?.parse().ok()?;
    let mut headers = Vec::new();
    for line in lines {
        let (name, value) = line.split_once(':')?;
        headers.push((name.trim().to_ascii_lowercase(), value.trim().to_string()));
    }
    Some((status, headers, end + 4))
}

/// The answer to a HEAD request: status and headers, no body.
pub fn parse_head(raw: &[u8]) -> Option<Answer> {
    let (status, headers, _) = parse_head_part(raw)?;
    Some(Answer {
        status,
        headers,
        body: Vec::new(),
    })
}

/// A whole HTTP/1.1 response: status line, headers, and a body with a length, chunked, or
/// up to the end.
pub fn parse(raw: &[u8]) -> Option<Answer> {
    let (status, headers, start) = parse_head_part(raw)?;
    let (mut chunked, mut length) = (false, None);
    for (name, value) in &headers {
        match name.as_str() {
            "transfer-encoding" => chunked = value.eq_ignore_ascii_case("chunked"),
            "content-length" => length = value.parse::<usize>().ok(),
            _ => {}
        }
    }
    let rest = &raw[start..];
    let body = if chunked {
        let mut body = Vec::new();
        let mut at = 0;
        loop {
            let line_end = at + rest[at..].windows(2).position(|w| w == b"\r\n")?;
            let size_text = std::str::from_utf8(&rest[at..line_end]).ok()?;
            let size = usize::from_str_radix(size_text.split(';').next()?.trim(), 16).ok()?;
            at = line_end + 2;
            if size == 0 {
                break;
            }
            body.extend_from_slice(rest.get(at..at + size)?);
            at += size + 2;
        }
        body
    } else {
        match length {
            Some(n) => rest.get(..n)?.to_vec(),
            None => rest.to_vec(),
        }
    };
    Some(Answer {
        status,
        headers,
        body,
    })
}

/// `value` for a URL's query or path (every byte but unreserved ones escaped).
pub fn escape(value: &str) -> String {
    value
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_socket_is_used_only_where_the_cli_would_use_it() {
        let default = Some(PathBuf::from(DEFAULT_SOCKET));
        for (host, context, config, want) in [
            (None, None, "", default.clone()),
            (Some(""), None, "{}", default.clone()),
            (None, Some("default"), "", default.clone()),
            (
                Some("unix:///run/user/1000/docker.sock"),
                None,
                "",
                Some(PathBuf::from("/run/user/1000/docker.sock")),
            ),
            (Some("tcp://10.0.0.2:2376"), None, "", None),
            (Some("ssh://lab"), None, "", None),
            (None, Some("remote"), "", None),
            (None, None, r#"{"currentContext": "remote"}"#, None),
            (
                None,
                None,
                r#"{"currentContext": "default"}"#,
                default.clone(),
            ),
        ] {
            assert_eq!(
                choose(host, context, config),
                want,
                "{host:?} {context:?} {config}"
            );
        }
    }

    #[test]
    fn answers_with_a_length_chunked_or_up_to_the_end() {
        let a = parse(b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabcdef").unwrap();
        assert_eq!((a.status, a.body), (200, b"abc".to_vec()));
        let a = parse(
            b"HTTP/1.1 404 Not Found\r\nTransfer-Encoding: chunked\r\n\r\n4\r\n{\"me\r\n10\r\nssage\":\"no such\"\r\n2\r\n}\n\r\n0\r\n\r\n",
        )
        .unwrap();
        assert_eq!(a.status, 404);
        assert_eq!(a.message(), "no such");
        let a = parse(b"HTTP/1.1 204 No Content\r\n\r\n").unwrap();
        assert_eq!((a.status, a.body.len()), (204, 0));
        assert!(parse(b"HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\nabc").is_none());
        assert_eq!(escape("/home/runner/.x y"), "%2Fhome%2Frunner%2F.x%20y");
        let a = parse_head(
            b"HTTP/1.1 200 OK\r\nContent-Length: 512\r\nX-Docker-Container-Path-Stat: e30=\r\n\r\n",
        )
        .unwrap();
        assert_eq!(
            (a.status, a.header("x-docker-container-path-stat")),
            (200, Some("e30="))
        );
    }
}
