//! The control protocol between a hook client and its wrapper: text lines on a Unix stream.
//!
//! client -> wrapper: `started` or `completed`, then `KEY=value` lines (the job's env), then an
//! empty line. For `started` the client keeps the connection open while it waits: closing it
//! (the hook was killed, gave up, or exited) withdraws the request.
//! wrapper -> client: any number of `info <text>` and `env <KEY>=<value>` lines (the job's
//! environment for its later steps: the client appends them to `$GITHUB_ENV`), then `ok` or
//! `fail <text>`.
//!
//! The control socket of a holder (see `control`) speaks the same replies; its request is one
//! line `release <resource> <force 0|1> <who asks>`.

use std::io::{self, BufRead, Write};

/// Job env vars a hook forwards; the wrapper puts them in the owner record.
pub const JOB_ENV: &[&str] = &[
    "GITHUB_RUN_ID",
    "GITHUB_RUN_ATTEMPT",
    "GITHUB_JOB",
    "GITHUB_REPOSITORY",
    "RUNNER_NAME",
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verb {
    Started,
    Completed,
}

impl Verb {
    pub fn as_str(self) -> &'static str {
        match self {
            Verb::Started => "started",
            Verb::Completed => "completed",
        }
    }

    pub fn parse(s: &str) -> Option<Verb> {
        match s {
            "started" => Some(Verb::Started),
            "completed" => Some(Verb::Completed),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    pub verb: Verb,
    pub env: Vec<(String, String)>,
}

impl Request {
    pub fn get(&self, key: &str) -> &str {
        self.env
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
            .unwrap_or("")
    }
}

pub fn write_request(w: &mut impl Write, req: &Request) -> io::Result<()> {
    let mut s = format!("{}\n", req.verb.as_str());
    for (k, v) in &req.env {
        s.push_str(&format!("{k}={}\n", v.replace(['\n', '\r'], " ")));
    }
    s.push('\n');
    w.write_all(s.as_bytes())?;
    w.flush()
}

pub fn read_request(r: &mut impl BufRead) -> io::Result<Request> {
    let mut line = String::new();
    r.read_line(&mut line)?;
    let verb = Verb::parse(line.trim()).ok_or_else(|| {
        io::Error::new(io::ErrorKind::InvalidData, format!("bad request {line:?}"))
    })?;
    let mut env = Vec::new();
    loop {
        line.clear();
        if r.read_line(&mut line)? == 0 {
            break;
        }
        let l = line.trim_end_matches(['\n', '\r']);
        if l.is_empty() {
            break;
        }
        if let Some((k, v)) = l.split_once('=') {
            env.push((k.to_string(), v.to_string()));
        }
    }
    Ok(Request { verb, env })
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply {
    Info(String),
    Env(String, String),
    Ok,
    Fail(String),
}

impl Reply {
    pub fn to_line(&self) -> String {
        match self {
            Reply::Info(t) => format!("info {}\n", t.replace('\n', " ")),
            Reply::Env(k, v) => format!("env {k}={}\n", v.replace(['\n', '\r'], " ")),
            Reply::Ok => "ok\n".into(),
            Reply::Fail(t) => format!("fail {}\n", t.replace('\n', " ")),
        }
    }

    pub fn parse(line: &str) -> Option<Reply> {
        let l = line.trim_end_matches(['\n', '\r']);
        if l == "ok" {
            Some(Reply::Ok)
        } else if let Some(t) = l.strip_prefix("info ") {
            Some(Reply::Info(t.into()))
        } else if let Some((k, v)) = l.strip_prefix("env ").and_then(|kv| kv.split_once('=')) {
            Some(Reply::Env(k.into(), v.into()))
        } else {
            l.strip_prefix("fail ").map(|t| Reply::Fail(t.into()))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_round_trip() {
        let req = Request {
            verb: Verb::Started,
            env: vec![("GITHUB_JOB".into(), "build".into())],
        };
        let mut buf = Vec::new();
        write_request(&mut buf, &req).unwrap();
        let got = read_request(&mut &buf[..]).unwrap();
        assert_eq!(got, req);
        assert_eq!(got.get("GITHUB_JOB"), "build");
    }

    #[test]
    fn replies() {
        for r in [
            Reply::Ok,
            Reply::Info("a b".into()),
            Reply::Env("GHR_RESOURCE".into(), "board=2".into()),
            Reply::Fail("x".into()),
        ] {
            assert_eq!(Reply::parse(&r.to_line()), Some(r));
        }
    }
}
