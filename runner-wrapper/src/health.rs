//! The health record of a resource: the last check's result, written (atomically) by the
//! wrapper that ran it, read by every wrapper that uses the resource and by `ghr locks`.
//! Unhealthy means unhealthy for every org: their jobs fail fast and their runners go offline.

use std::collections::HashMap;
use std::fs;
use std::io;
use std::path::Path;

use crate::escape::{escape, unescape};

/// Keep the end of a check's output (the error is usually last), at most this many bytes.
pub const OUTPUT_LIMIT: usize = 4096;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Health {
    Healthy,
    Unhealthy,
    /// No check has run (or its record was removed).
    Unknown,
}

impl Health {
    pub fn as_str(self) -> &'static str {
        match self {
            Health::Healthy => "healthy",
            Health::Unhealthy => "unhealthy",
            Health::Unknown => "unknown",
        }
    }

    pub fn of(record: Option<&HealthRecord>) -> Health {
        match record {
            None => Health::Unknown,
            Some(r) if r.healthy => Health::Healthy,
            Some(_) => Health::Unhealthy,
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HealthRecord {
    pub resource: String,
    pub healthy: bool,
    /// When the check finished, epoch milliseconds.
    pub checked_at_ms: u64,
    pub duration_ms: u64,
    /// The command's exit code; -1 when it was killed at its timeout or could not run.
    pub exit_code: i32,
    /// Its stdout and stderr, merged, the last [`OUTPUT_LIMIT`] bytes.
    pub output: String,
    /// Who ran it.
    pub runner: String,
    pub org: String,
    pub host: String,
}

impl HealthRecord {
    pub fn to_text(&self) -> String {
        format!(
            "resource={}\nstatus={}\nchecked_at_ms={}\nduration_ms={}\nexit_code={}\nrunner={}\norg={}\nhost={}\noutput={}\n",
            escape(&self.resource),
            if self.healthy { "healthy" } else { "unhealthy" },
            self.checked_at_ms,
            self.duration_ms,
            self.exit_code,
            escape(&self.runner),
            escape(&self.org),
            escape(&self.host),
            escape(&self.output),
        )
    }

    pub fn parse(text: &str) -> Self {
        let map: HashMap<&str, &str> = text.lines().filter_map(|l| l.split_once('=')).collect();
        let get = |k: &str| map.get(k).map(|v| unescape(v)).unwrap_or_default();
        HealthRecord {
            resource: get("resource"),
            healthy: get("status") == "healthy",
            checked_at_ms: get("checked_at_ms").parse().unwrap_or(0),
            duration_ms: get("duration_ms").parse().unwrap_or(0),
            exit_code: get("exit_code").parse().unwrap_or(-1),
            output: get("output"),
            runner: get("runner"),
            org: get("org"),
            host: get("host"),
        }
    }

    /// The record at `path`; `None` when there is none (no check ran yet).
    pub fn read(path: &Path) -> io::Result<Option<Self>> {
        match fs::read_to_string(path) {
            Ok(t) => Ok(Some(Self::parse(&t))),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }

    pub fn write_atomic(&self, path: &Path) -> io::Result<()> {
        crate::lockdir::write_atomic(path, &self.to_text())
    }
}

/// The last `limit` bytes of `output` (cut at a character boundary), marked when cut.
pub fn tail(output: &str, limit: usize) -> String {
    if output.len() <= limit {
        return output.to_string();
    }
    let mut start = output.len() - limit;
    while !output.is_char_boundary(start) {
        start += 1;
    }
    format!("[...]{}", &output[start..])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_keeps_multiline_output() {
        let r = HealthRecord {
            resource: "board-1".into(),
            healthy: false,
            checked_at_ms: 1_795_377_600_123,
            duration_ms: 42,
            exit_code: 3,
            output: "no console on /dev/ttyUSB0\nrelay=off\tx".into(),
            runner: "r1".into(),
            org: "acme".into(),
            host: "c0ffee".into(),
        };
        assert_eq!(HealthRecord::parse(&r.to_text()), r);
        assert_eq!(Health::of(Some(&r)), Health::Unhealthy);
        assert_eq!(Health::of(None), Health::Unknown);
    }

    #[test]
    fn tails() {
        assert_eq!(tail("abc", 5), "abc");
        assert_eq!(tail("abcdef", 3), "[...]def");
        assert_eq!(tail("aé", 1), "[...]");
    }
}
