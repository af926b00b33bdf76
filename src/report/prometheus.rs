//! `ghr locks --prometheus`: the lock directory's state and the ledger's counters in the
//! Prometheus text exposition format (version 0.0.4), for node_exporter's textfile collector.
//! `ghr serve`'s `/metrics` writes the same families, plus its own, with [`write_families`].
//!
//! Hand-written on purpose: the official Rust client (`prometheus-client`) only emits
//! OpenMetrics (`# EOF`, `# UNIT`, `info` types), which node_exporter's textfile collector does
//! not parse (prometheus/node_exporter#1988); and a one-shot dump of numbers we already have
//! needs no registry. The test below parses the output back with the format's rules.
//!
//! Counters come from the ledger plus the totals of its rotated-away files, so they never go
//! down while the lock directory lives (a new lock directory starts them from zero: a reset,
//! which `rate()` handles).

use runner_wrapper::contract::now_epoch;
use runner_wrapper::health::Health;
use runner_wrapper::ledger::Counter;
use runner_wrapper::record::HolderKind;
use runner_wrapper::status::ResourceStatus;
use std::fmt::Write;

/// One metric family: its samples (labels, value) under one HELP and TYPE.
pub struct Family {
    pub name: &'static str,
    pub kind: &'static str,
    pub help: &'static str,
    pub samples: Vec<(Vec<(&'static str, String)>, f64)>,
}

impl Family {
    pub fn new(name: &'static str, kind: &'static str, help: &'static str) -> Self {
        Family {
            name,
            kind,
            help,
            samples: Vec::new(),
        }
    }

    pub fn add(&mut self, labels: Vec<(&'static str, String)>, value: f64) {
        self.samples.push((labels, value));
    }
}

fn escape_label(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

fn number(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{}", v as i64)
    } else {
        format!("{v:.3}")
    }
}

/// The whole exposition (pure: state in, text out).
pub fn render(resources: &[ResourceStatus], counters: &[Counter]) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "# ghr locks --prometheus at {}", now_epoch());
    write_families(&mut out, &lock_families(resources, counters));
    out
}

/// The lock directory's families: state gauges of each resource, the ledger's counters.
pub fn lock_families(resources: &[ResourceStatus], counters: &[Counter]) -> Vec<Family> {
    let mut held = Family::new(
        "ghr_lock_held",
        "gauge",
        "1 while the resource's lock is held, by kind of holder (job, hold, check).",
    );
    let mut holding_for = Family::new(
        "ghr_lock_held_for_seconds",
        "gauge",
        "How long the current holder has held the resource.",
    );
    let mut waiters = Family::new(
        "ghr_lock_waiters",
        "gauge",
        "Jobs (and holds, checks) waiting for the resource.",
    );
    let mut health = Family::new(
        "ghr_resource_health",
        "gauge",
        "1 for the resource's health status (healthy, unhealthy, unknown), 0 for the others.",
    );
    let mut checked = Family::new(
        "ghr_resource_health_checked_timestamp_seconds",
        "gauge",
        "When the resource's last health check finished (Unix time).",
    );
    let mut grants = Family::new(
        "ghr_lock_grants_total",
        "counter",
        "Grants of the resource, by org and kind of holder.",
    );
    let mut waited = Family::new(
        "ghr_lock_wait_seconds_total",
        "counter",
        "Time spent waiting for the resource before the grants, by org and kind.",
    );
    let mut busy = Family::new(
        "ghr_lock_held_seconds_total",
        "counter",
        "Time the resource was held by released grants, by org and kind.",
    );

    for r in resources {
        let res = || ("resource", r.resource.clone());
        let live = r.live_holder();
        for kind in [
            HolderKind::Job,
            HolderKind::Hold,
            HolderKind::Check,
            HolderKind::Repair,
        ] {
            let on = live.is_some_and(|h| h.record.kind == kind);
            held.add(
                vec![res(), ("kind", kind.as_str().into())],
                f64::from(u8::from(on)),
            );
        }
        holding_for.add(vec![res()], live.map_or(0.0, |h| h.held_for_secs as f64));
        waiters.add(vec![res()], r.live_waiters().count() as f64);
        let state = r.health_state();
        for s in [Health::Healthy, Health::Unhealthy, Health::Unknown] {
            health.add(
                vec![res(), ("status", s.as_str().into())],
                f64::from(u8::from(s == state)),
            );
        }
        if let Some(h) = &r.health {
            checked.add(vec![res()], h.checked_at_ms as f64 / 1000.0);
        }
    }
    for c in counters {
        let labels = || {
            vec![
                ("resource", c.resource.clone()),
                ("org", c.org.clone()),
                ("kind", c.kind.clone()),
            ]
        };
        grants.add(labels(), c.grants as f64);
        waited.add(labels(), c.wait_ms as f64 / 1000.0);
        busy.add(labels(), c.held_ms as f64 / 1000.0);
    }

    vec![
        held,
        holding_for,
        waiters,
        health,
        checked,
        grants,
        waited,
        busy,
    ]
}

/// Appends each family: HELP, TYPE, then its samples, label values escaped.
pub fn write_families(out: &mut String, families: &[Family]) {
    for f in families {
        let _ = writeln!(out, "# HELP {} {}", f.name, f.help);
        let _ = writeln!(out, "# TYPE {} {}", f.name, f.kind);
        for (labels, value) in &f.samples {
            let l: Vec<String> = labels
                .iter()
                .map(|(k, v)| format!("{k}=\"{}\"", escape_label(v)))
                .collect();
            if l.is_empty() {
                let _ = writeln!(out, "{} {}", f.name, number(*value));
            } else {
                let _ = writeln!(out, "{}{{{}}} {}", f.name, l.join(","), number(*value));
            }
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use runner_wrapper::health::HealthRecord;
    use runner_wrapper::record::OwnerRecord;
    use runner_wrapper::status::{Holder, Waiter};
    use std::collections::{HashMap, HashSet};

    /// A strict reader of the text format 0.0.4: comments, HELP/TYPE once per family and
    /// before its samples, families contiguous, valid names, escaped label values, numbers.
    /// Returns (family -> type, (name, labels) -> value).
    #[allow(clippy::type_complexity)]
    pub(crate) fn parse(
        text: &str,
    ) -> Result<
        (
            HashMap<String, String>,
            HashMap<(String, Vec<(String, String)>), f64>,
        ),
        String,
    > {
        let name_ok = |n: &str| {
            let mut c = n.chars();
            c.next()
                .is_some_and(|f| f.is_ascii_alphabetic() || f == '_' || f == ':')
                && c.all(|x| x.is_ascii_alphanumeric() || x == '_' || x == ':')
        };
        let mut types = HashMap::new();
        let mut helps = HashSet::new();
        let mut samples = HashMap::new();
        let mut done: HashSet<String> = HashSet::new();
        let mut current = String::new();
        for (i, line) in text.lines().enumerate() {
            let err = |m: &str| format!("line {}: {m}: {line:?}", i + 1);
            if line.is_empty() {
                continue;
            }
            if let Some(rest) = line.strip_prefix("# ") {
                let mut it = rest.splitn(3, ' ');
                match it.next() {
                    Some("HELP") => {
                        let n = it.next().ok_or(err("HELP without name"))?;
                        if !helps.insert(n.to_string()) {
                            return Err(err("second HELP"));
                        }
                    }
                    Some("TYPE") => {
                        let n = it.next().ok_or(err("TYPE without name"))?;
                        let t = it.next().ok_or(err("TYPE without type"))?;
                        if !["counter", "gauge", "histogram", "summary", "untyped"].contains(&t) {
                            return Err(err("unknown type"));
                        }
                        if types.insert(n.to_string(), t.to_string()).is_some() || done.contains(n)
                        {
                            return Err(err("second TYPE or TYPE after samples"));
                        }
                        if !current.is_empty() {
                            done.insert(current.clone());
                        }
                        current = n.to_string();
                    }
                    _ => {}
                }
                continue;
            }
            let (series, value) = line.rsplit_once(' ').ok_or(err("no value"))?;
            let value: f64 = value.parse().map_err(|_| err("bad value"))?;
            let (name, labels) = match series.split_once('{') {
                None => (series, Vec::new()),
                Some((n, rest)) => {
                    let body = rest.strip_suffix('}').ok_or(err("unclosed labels"))?;
                    let mut labels = Vec::new();
                    let mut chars = body.chars().peekable();
                    while chars.peek().is_some() {
                        let key: String = chars.by_ref().take_while(|c| *c != '=').collect();
                        if !name_ok(&key) || key.contains(':') {
                            return Err(err("bad label name"));
                        }
                        if chars.next() != Some('"') {
                            return Err(err("label value not quoted"));
                        }
                        let mut v = String::new();
                        loop {
                            match chars.next().ok_or(err("unterminated label value"))? {
                                '\\' => match chars.next() {
                                    Some('\\') => v.push('\\'),
                                    Some('"') => v.push('"'),
                                    Some('n') => v.push('\n'),
                                    _ => return Err(err("bad escape")),
                                },
                                '"' => break,
                                '\n' => return Err(err("raw newline")),
                                c => v.push(c),
                            }
                        }
                        labels.push((key, v));
                        match chars.next() {
                            None => break,
                            Some(',') => {}
                            Some(_) => return Err(err("junk after a label")),
                        }
                    }
                    (n, labels)
                }
            };
            if !name_ok(name) {
                return Err(err("bad metric name"));
            }
            if name != current {
                return Err(err("sample outside its family (no TYPE before it)"));
            }
            if samples.insert((name.to_string(), labels), value).is_some() {
                return Err(err("duplicate series"));
            }
        }
        Ok((types, samples))
    }

    fn labels(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn renders_valid_text_with_the_state_and_the_counters() {
        let hold = OwnerRecord {
            resource: "b\"1".into(),
            kind: HolderKind::Hold,
            user: "alice".into(),
            ..Default::default()
        };
        let resources = vec![
            ResourceStatus {
                resource: "b\"1".into(),
                name: "b_1".into(),
                locked: true,
                holder: Some(Holder {
                    record: hold,
                    stale: false,
                    held_for_secs: 42,
                }),
                waiters: vec![Waiter {
                    ticket: 3,
                    record: OwnerRecord::default(),
                    alive: true,
                    waiting_for_secs: 1,
                }],
                health: Some(HealthRecord {
                    healthy: false,
                    checked_at_ms: 1_795_377_600_500,
                    output: "line1\nline2".into(),
                    ..Default::default()
                }),
                parked: Vec::new(),
            },
            ResourceStatus {
                resource: "b2".into(),
                name: "b2".into(),
                locked: false,
                holder: None,
                waiters: vec![],
                health: None,
                parked: Vec::new(),
            },
        ];
        let counters = vec![Counter {
            kind: "job".into(),
            resource: "b2".into(),
            org: "acme\\x".into(),
            grants: 3,
            wait_ms: 1500,
            held_ms: 61_000,
        }];
        let text = render(&resources, &counters);
        let (types, s) = parse(&text).unwrap_or_else(|e| panic!("{e}\n{text}"));
        assert_eq!(types["ghr_lock_grants_total"], "counter");
        assert_eq!(types["ghr_lock_held"], "gauge");
        let get = |n: &str, l: &[(&str, &str)]| s[&(n.to_string(), labels(l))];
        assert_eq!(
            get("ghr_lock_held", &[("resource", "b\"1"), ("kind", "hold")]),
            1.0
        );
        assert_eq!(
            get("ghr_lock_held", &[("resource", "b\"1"), ("kind", "job")]),
            0.0
        );
        assert_eq!(
            get("ghr_lock_held", &[("resource", "b2"), ("kind", "hold")]),
            0.0
        );
        assert_eq!(
            get("ghr_lock_held_for_seconds", &[("resource", "b\"1")]),
            42.0
        );
        assert_eq!(get("ghr_lock_waiters", &[("resource", "b\"1")]), 1.0);
        assert_eq!(
            get(
                "ghr_resource_health",
                &[("resource", "b\"1"), ("status", "unhealthy")]
            ),
            1.0
        );
        assert_eq!(
            get(
                "ghr_resource_health",
                &[("resource", "b2"), ("status", "unknown")]
            ),
            1.0
        );
        assert_eq!(
            get(
                "ghr_resource_health_checked_timestamp_seconds",
                &[("resource", "b\"1")]
            ),
            1_795_377_600.5
        );
        let c = [("resource", "b2"), ("org", "acme\\x"), ("kind", "job")];
        assert_eq!(get("ghr_lock_grants_total", &c), 3.0);
        assert_eq!(get("ghr_lock_wait_seconds_total", &c), 1.5);
        assert_eq!(get("ghr_lock_held_seconds_total", &c), 61.0);
    }

    #[test]
    fn the_reader_rejects_what_the_collector_would() {
        for bad in [
            "x 1\n",
            "# TYPE x gauge\nx{a=\"1} 1\n",
            "# TYPE x gauge\nx{a=1} 1\n",
            "# TYPE x gauge\nx 1\nx 2\n",
            "# TYPE x gauge\n# TYPE y gauge\nx 1\n",
            "# TYPE x info\nx 1\n",
            "# TYPE 1x gauge\n1x 1\n",
        ] {
            assert!(parse(bad).is_err(), "{bad}");
        }
        assert!(parse("# TYPE x gauge\nx{a=\"q\\\"\\n\"} 1\n").is_ok());
    }
}
