//! The grant history: one line per grant (job, hold or health check), appended by whoever
//! released it, in `<lock dir>/.ledger/`. Bounded: past [`MAX_BYTES`] the file is rotated to one
//! previous file, and the counts of the file that falls off are folded into `totals`, so the
//! counters `ghr locks --prometheus` prints never go down.
//!
//! ```text
//! .ledger/grants.log     current file; lines appended with O_APPEND, one write() per line
//! .ledger/grants.log.1   previous file
//! .ledger/totals         counts of every rotated-away file (kind, resource, org -> sums)
//! .ledger/lock           flocked while rotating
//! ```
//! The directory and its files belong to the lock group (2770, 0660), so wrappers of any of
//! its uids (and ghr on the host) can append and rotate. A line is `key=value` fields separated by tabs, values escaped.

use std::collections::BTreeMap;
use std::fs::{self, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use crate::escape::{escape, unescape};
use crate::lockdir::{
    annotate, create_shared_file, ensure_subdir, write_atomic, FILE_MODE, LEDGER_DIR,
};
use crate::record::HolderKind;

pub const MAX_BYTES: u64 = 4 << 20;
const CURRENT: &str = "grants.log";
const PREVIOUS: &str = "grants.log.1";
const TOTALS: &str = "totals";

/// One grant, from request to release.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Entry {
    pub kind: HolderKind,
    /// The member granted (the physical resource).
    pub resource: String,
    /// The holder's configured pool (`a,b`), empty for a single resource.
    pub pool: String,
    pub runner: String,
    pub org: String,
    pub repo: String,
    pub repository: String,
    pub run_id: String,
    pub run_attempt: String,
    pub job: String,
    /// Holds: host user and reason.
    pub user: String,
    pub reason: String,
    /// Epoch milliseconds.
    pub requested_ms: u64,
    pub granted_ms: u64,
    pub released_ms: u64,
    /// Why it was released (completed hook, completion line, runner exit, ghr release, ...).
    pub cause: String,
}

impl Entry {
    pub fn waited_ms(&self) -> u64 {
        self.granted_ms.saturating_sub(self.requested_ms)
    }

    pub fn held_ms(&self) -> u64 {
        self.released_ms.saturating_sub(self.granted_ms)
    }

    /// The group a summary puts this grant in: the org for jobs, else the kind.
    pub fn group(&self) -> String {
        match self.kind {
            HolderKind::Job => self.org.clone(),
            HolderKind::Hold => "(hold)".into(),
            HolderKind::Check => "(health check)".into(),
            HolderKind::Repair => "(repair)".into(),
        }
    }

    pub fn to_line(&self) -> String {
        let fields: [(&str, String); 17] = [
            ("v", "1".into()),
            ("kind", self.kind.as_str().into()),
            ("resource", self.resource.clone()),
            ("pool", self.pool.clone()),
            ("runner", self.runner.clone()),
            ("org", self.org.clone()),
            ("repo", self.repo.clone()),
            ("repository", self.repository.clone()),
            ("run_id", self.run_id.clone()),
            ("run_attempt", self.run_attempt.clone()),
            ("job", self.job.clone()),
            ("user", self.user.clone()),
            ("reason", self.reason.clone()),
            ("requested_ms", self.requested_ms.to_string()),
            ("granted_ms", self.granted_ms.to_string()),
            ("released_ms", self.released_ms.to_string()),
            ("cause", self.cause.clone()),
        ];
        let mut line = fields
            .iter()
            .map(|(k, v)| format!("{k}={}", escape(v)))
            .collect::<Vec<_>>()
            .join("\t");
        line.push('\n');
        line
    }

    /// `None` for a line that is not a grant (torn or foreign); readers skip it.
    pub fn parse(line: &str) -> Option<Entry> {
        let map: BTreeMap<&str, String> = line
            .trim_end_matches(['\n', '\r'])
            .split('\t')
            .filter_map(|f| f.split_once('='))
            .map(|(k, v)| (k, unescape(v)))
            .collect();
        let get = |k: &str| map.get(k).cloned().unwrap_or_default();
        let ms = |k: &str| map.get(k).and_then(|v| v.parse::<u64>().ok());
        let e = Entry {
            kind: HolderKind::parse(&get("kind")),
            resource: get("resource"),
            pool: get("pool"),
            runner: get("runner"),
            org: get("org"),
            repo: get("repo"),
            repository: get("repository"),
            run_id: get("run_id"),
            run_attempt: get("run_attempt"),
            job: get("job"),
            user: get("user"),
            reason: get("reason"),
            requested_ms: ms("requested_ms")?,
            granted_ms: ms("granted_ms")?,
            released_ms: ms("released_ms")?,
            cause: get("cause"),
        };
        (!e.resource.is_empty()).then_some(e)
    }
}

/// Sums per (kind, resource, org): the counters.
#[derive(Debug, Clone, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct Counter {
    pub kind: String,
    pub resource: String,
    pub org: String,
    pub grants: u64,
    pub wait_ms: u64,
    pub held_ms: u64,
}

type CounterKey = (String, String, String);

fn add(map: &mut BTreeMap<CounterKey, Counter>, c: &Counter) {
    let key = (c.kind.clone(), c.resource.clone(), c.org.clone());
    let t = map.entry(key).or_insert_with(|| Counter {
        kind: c.kind.clone(),
        resource: c.resource.clone(),
        org: c.org.clone(),
        ..Default::default()
    });
    t.grants += c.grants;
    t.wait_ms += c.wait_ms;
    t.held_ms += c.held_ms;
}

fn counter_of(e: &Entry) -> Counter {
    Counter {
        kind: e.kind.as_str().into(),
        resource: e.resource.clone(),
        org: e.org.clone(),
        grants: 1,
        wait_ms: e.waited_ms(),
        held_ms: e.held_ms(),
    }
}

fn totals_to_text(map: &BTreeMap<CounterKey, Counter>) -> String {
    map.values()
        .map(|c| {
            format!(
                "kind={}\tresource={}\torg={}\tgrants={}\twait_ms={}\theld_ms={}\n",
                escape(&c.kind),
                escape(&c.resource),
                escape(&c.org),
                c.grants,
                c.wait_ms,
                c.held_ms
            )
        })
        .collect()
}

fn parse_totals(text: &str) -> Vec<Counter> {
    text.lines()
        .filter_map(|l| {
            let map: BTreeMap<&str, String> = l
                .split('\t')
                .filter_map(|f| f.split_once('='))
                .map(|(k, v)| (k, unescape(v)))
                .collect();
            let n = |k: &str| map.get(k).and_then(|v| v.parse::<u64>().ok());
            Some(Counter {
                kind: map.get("kind")?.clone(),
                resource: map.get("resource")?.clone(),
                org: map.get("org").cloned().unwrap_or_default(),
                grants: n("grants")?,
                wait_ms: n("wait_ms")?,
                held_ms: n("held_ms")?,
            })
        })
        .collect()
}

/// Everything in the ledger: the grants still listed (oldest first) and the counters
/// (rotated-away totals plus the listed grants).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Ledger {
    pub entries: Vec<Entry>,
    pub counters: Vec<Counter>,
    /// Lines that were not grants (a torn write), skipped.
    pub skipped: usize,
}

fn dir_of(root: &Path) -> PathBuf {
    root.join(LEDGER_DIR)
}

/// Append one grant; rotate when the file grew past `MAX_BYTES`.
pub fn append(root: &Path, entry: &Entry) -> io::Result<()> {
    append_bounded(root, entry, MAX_BYTES)
}

/// [`append`] with another bound (tests).
pub fn append_bounded(root: &Path, entry: &Entry, max_bytes: u64) -> io::Result<()> {
    let dir = dir_of(root);
    let path = dir.join(CURRENT);
    let open = || {
        OpenOptions::new()
            .append(true)
            .create(true)
            .mode(FILE_MODE)
            .open(&path)
    };
    // The directory is made (atomically) only the first time; the lock directory exists.
    let mut f = match open() {
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            ensure_subdir(root, LEDGER_DIR, crate::contract::DEFAULT_LOCK_GROUP)?;
            open()
        }
        other => other,
    }
    .map_err(|e| annotate(root, &path, "opening", e))?;
    let _ = f.set_permissions(std::os::unix::fs::PermissionsExt::from_mode(FILE_MODE));
    // One write() per line: O_APPEND makes concurrent appenders' lines land whole.
    f.write_all(entry.to_line().as_bytes())
        .map_err(|e| annotate(root, &path, "appending to", e))?;
    if f.metadata()?.len() > max_bytes {
        rotate(&dir, max_bytes).map_err(|e| annotate(root, &dir, "rotating the ledger in", e))?;
    }
    Ok(())
}

/// Under the ledger's lock, so two appenders never rotate twice: fold the previous file into
/// `totals`, then make the current file the previous one. An appender that opened the current
/// file before the rename still writes into it, i.e. into the previous file: nothing is lost.
fn rotate(dir: &Path, max_bytes: u64) -> io::Result<()> {
    let lock = create_shared_file(&dir.join("lock"))?;
    lock.lock()?;
    let current = dir.join(CURRENT);
    if fs::metadata(&current).map(|m| m.len()).unwrap_or(0) <= max_bytes {
        return Ok(()); // somebody rotated while we waited
    }
    let previous = dir.join(PREVIOUS);
    if let Ok(text) = fs::read_to_string(&previous) {
        let mut totals = BTreeMap::new();
        if let Ok(t) = fs::read_to_string(dir.join(TOTALS)) {
            for c in parse_totals(&t) {
                add(&mut totals, &c);
            }
        }
        for e in text.lines().filter_map(Entry::parse) {
            add(&mut totals, &counter_of(&e));
        }
        write_atomic(&dir.join(TOTALS), &totals_to_text(&totals))?;
    }
    fs::rename(&current, &previous)
}

/// Read the whole ledger. A missing ledger is empty.
pub fn read(root: &Path) -> io::Result<Ledger> {
    let dir = dir_of(root);
    let read = |name: &str| match fs::read_to_string(dir.join(name)) {
        Ok(t) => Ok(t),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(String::new()),
        Err(e) => Err(e),
    };
    let mut ledger = Ledger::default();
    let mut totals = BTreeMap::new();
    for c in parse_totals(&read(TOTALS)?) {
        add(&mut totals, &c);
    }
    for text in [read(PREVIOUS)?, read(CURRENT)?] {
        for line in text.lines().filter(|l| !l.trim().is_empty()) {
            match Entry::parse(line) {
                Some(e) => {
                    add(&mut totals, &counter_of(&e));
                    ledger.entries.push(e);
                }
                None => ledger.skipped += 1,
            }
        }
    }
    ledger.counters = totals.into_values().collect();
    Ok(ledger)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(i: u64) -> Entry {
        Entry {
            kind: HolderKind::Job,
            resource: "board-1".into(),
            org: if i.is_multiple_of(2) {
                "acme"
            } else {
                "globex"
            }
            .into(),
            job: format!("job\t{i}"),
            requested_ms: 1000 * i,
            granted_ms: 1000 * i + 10,
            released_ms: 1000 * i + 110,
            cause: "completed hook".into(),
            ..Default::default()
        }
    }

    #[test]
    fn lines_round_trip() {
        let e = Entry {
            reason: "new\nfirmware".into(),
            pool: "a,b".into(),
            ..entry(3)
        };
        let line = e.to_line();
        assert_eq!(line.matches('\n').count(), 1);
        assert_eq!(Entry::parse(&line), Some(e.clone()));
        assert_eq!((e.waited_ms(), e.held_ms()), (10, 100));
        assert_eq!(Entry::parse("garbage"), None);
        assert_eq!(Entry::parse("v=1\tresource=x\trequested_ms=1"), None);
    }

    #[test]
    fn rotation_keeps_one_previous_file_and_counters_never_shrink() {
        let root = std::env::temp_dir().join(format!("rw-ledger-{}", std::process::id()));
        let _ = fs::remove_dir_all(&root);
        let line_len = entry(0).to_line().len() as u64;
        let max = line_len * 5;
        let mut last_grants = 0;
        for i in 0..40 {
            append_bounded(&root, &entry(i), max).unwrap();
            let l = read(&root).unwrap();
            let grants: u64 = l.counters.iter().map(|c| c.grants).sum();
            assert_eq!(grants, i + 1, "counters count every grant ever appended");
            assert!(grants > last_grants);
            last_grants = grants;
            assert!(l.entries.len() as u64 <= 2 * (max / line_len + 1));
        }
        let l = read(&root).unwrap();
        assert_eq!(l.entries.last().unwrap().job, "job\t39");
        let acme = l.counters.iter().find(|c| c.org == "acme").unwrap();
        assert_eq!((acme.grants, acme.wait_ms, acme.held_ms), (20, 200, 2000));
        assert_eq!(l.skipped, 0);
        for f in fs::read_dir(root.join(LEDGER_DIR)).unwrap() {
            let name = f.unwrap().file_name().to_string_lossy().into_owned();
            assert!(
                ["grants.log", "grants.log.1", "totals", "lock"].contains(&name.as_str()),
                "left behind: {name}"
            );
        }
        let _ = fs::remove_dir_all(&root);
    }

    #[test]
    fn concurrent_appenders_write_whole_lines() {
        let root = std::env::temp_dir().join(format!("rw-ledger-c-{}", std::process::id()));
        let _ = fs::remove_dir_all(&root);
        std::thread::scope(|s| {
            for t in 0..4 {
                let root = &root;
                s.spawn(move || {
                    for i in 0..50 {
                        append(root, &entry(t * 1000 + i)).unwrap();
                    }
                });
            }
        });
        let l = read(&root).unwrap();
        assert_eq!((l.entries.len(), l.skipped), (200, 0));
        let _ = fs::remove_dir_all(&root);
    }
}
