//! `/metrics` (pure: a snapshot in, Prometheus text out): the families of `ghr locks
//! --prometheus`, then per fleet its runners by state, whether each side answers, its
//! GitHub traffic and rate limit, and how old GitHub's view is. Label `fleet` is the
//! fleet's runner-name prefix (unique on a host; the scrape adds `instance`).

use std::fmt::Write;

use runner_wrapper::ledger::Counter;

use super::state::{FleetView, Snapshot};
use crate::model::fleet::{Member, Registration, Side};
use crate::report::prometheus::{lock_families, write_families, Family};

/// Every `state` of `ghr_runners`, each always present (0 when none), so a series never
/// vanishes.
pub const RUNNER_STATES: [&str; 7] = [
    "online",
    "busy",
    "offline",
    "deleted",
    "not_registered",
    "no_container",
    "unknown",
];

/// The kinds of failed GitHub calls (see `github::error_kind`), each always present.
pub const ERROR_KINDS: [&str; 8] = [
    "network",
    "server_error",
    "rate_limited",
    "bad_credentials",
    "forbidden",
    "not_found",
    "client_error",
    "other",
];

/// One runner's state for `ghr_runners`: GitHub's view first (busy is online and running
/// a job); without a registration, whether its container exists.
pub fn runner_state(m: &Member, docker_known: bool) -> &'static str {
    match (&m.registration, &m.github) {
        (_, Some(g)) if g.status == "online" && g.busy => "busy",
        (_, Some(g)) if g.status == "online" => "online",
        (_, Some(_)) => "offline",
        (Registration::DeletedOnGitHub, _) => "deleted",
        (Registration::NotRegistered, _) if m.container.is_some() => "not_registered",
        (_, None) if m.container.is_none() && docker_known => "no_container",
        _ => "unknown",
    }
}

fn fleet_families(fleets: &[FleetView], now_ms: u64) -> Vec<Family> {
    let mut runners = Family::new(
        "ghr_runners",
        "gauge",
        "Runners of the fleet by state (GitHub's status; busy is online with a job).",
    );
    let mut info = Family::new(
        "ghr_fleet_info",
        "gauge",
        "1 per fleet served, with its GitHub scope and image.",
    );
    let mut docker_up = Family::new(
        "ghr_docker_up",
        "gauge",
        "1 when Docker answered the last read of the fleet's containers.",
    );
    let mut github_up = Family::new(
        "ghr_github_up",
        "gauge",
        "1 when GitHub answered the last refresh of the fleet's runners.",
    );
    let mut age = Family::new(
        "ghr_github_refresh_age_seconds",
        "gauge",
        "Seconds since GitHub last answered a refresh of the fleet's runners.",
    );
    let mut calls = Family::new(
        "ghr_github_api_requests_total",
        "counter",
        "Requests sent to GitHub's REST API, by endpoint.",
    );
    let mut errors = Family::new(
        "ghr_github_api_errors_total",
        "counter",
        "Failed requests to GitHub's REST API, by kind of failure.",
    );
    let mut remaining = Family::new(
        "ghr_github_rate_limit_remaining",
        "gauge",
        "Requests left in GitHub's rate-limit window, as its last answer said.",
    );
    let mut reset = Family::new(
        "ghr_github_rate_limit_reset_timestamp_seconds",
        "gauge",
        "When GitHub's rate-limit window resets (Unix time), as its last answer said.",
    );
    for f in fleets {
        let fleet = || ("fleet", f.info.prefix.clone());
        let docker_known = matches!(f.docker, Side::Known(_));
        for st in RUNNER_STATES {
            let n = f
                .members
                .iter()
                .filter(|m| runner_state(m, docker_known) == st)
                .count();
            runners.add(vec![fleet(), ("state", st.into())], n as f64);
        }
        info.add(
            vec![
                fleet(),
                ("scope", f.info.scope()),
                ("image", f.info.image.clone()),
            ],
            1.0,
        );
        docker_up.add(vec![fleet()], f64::from(u8::from(docker_known)));
        if f.github.asked {
            github_up.add(
                vec![fleet()],
                f64::from(u8::from(f.github.runners.known().is_some())),
            );
        }
        if let Some(ms) = f.github.last_ok_ms {
            age.add(vec![fleet()], now_ms.saturating_sub(ms) as f64 / 1000.0);
        }
        if let Some(stats) = &f.stats {
            let s = stats.snapshot();
            for (endpoint, n) in &s.calls {
                calls.add(vec![fleet(), ("endpoint", endpoint.to_string())], *n as f64);
            }
            for kind in ERROR_KINDS {
                let n = s.errors.get(kind).copied().unwrap_or(0);
                errors.add(vec![fleet(), ("kind", kind.into())], n as f64);
            }
            if let Some(r) = s.rate_remaining {
                remaining.add(vec![fleet()], r as f64);
            }
            if let Some(r) = s.rate_reset {
                reset.add(vec![fleet()], r as f64);
            }
        }
    }
    vec![
        runners, info, docker_up, github_up, age, calls, errors, remaining, reset,
    ]
}

/// The whole exposition.
pub fn render(s: &Snapshot, now_ms: u64) -> String {
    let mut out = String::with_capacity(16 * 1024);
    let _ = writeln!(out, "# ghr serve at {}", now_ms / 1000);
    let resources = s
        .locks
        .resources
        .known()
        .map(Vec::as_slice)
        .unwrap_or_default();
    let counters: &[Counter] = s
        .locks
        .ledger
        .known()
        .map(|l| l.counters.as_slice())
        .unwrap_or_default();
    let mut families = lock_families(resources, counters);
    let mut lockdir_up = Family::new(
        "ghr_lockdir_up",
        "gauge",
        "1 when the lock directory could be read at the last look.",
    );
    lockdir_up.add(
        vec![],
        f64::from(u8::from(s.locks.resources.known().is_some())),
    );
    families.push(lockdir_up);
    families.extend(fleet_families(&s.fleets, now_ms));
    write_families(&mut out, &families);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::fleet::RemoteRunner;
    use crate::report::prometheus::tests::parse;
    use crate::serve::state::{FleetInfo, GitHubSide, Hub, LockView};
    use crate::world::github::ApiStats;
    use std::sync::Arc;
    use std::time::Duration;

    fn remote(name: &str, status: &str, busy: bool) -> RemoteRunner {
        RemoteRunner {
            id: 1,
            name: name.into(),
            status: status.into(),
            busy,
            labels: vec![],
            custom_labels: vec![],
            group_id: Some(1),
            ephemeral: false,
        }
    }

    #[test]
    fn renders_valid_text_with_runners_github_and_locks() {
        let info = FleetInfo {
            name: "a.env".into(),
            org: "acme".into(),
            repo: Some("fw".into()),
            prefix: "h-acme-".into(),
            image: "img\"1".into(),
            lock_dir: "/tmp/l".into(),
            github_refresh: Duration::from_secs(30),
        };
        let stats = Arc::new(ApiStats::default());
        let hub = Hub::new(vec![info], vec![Some(stats.clone())]);
        hub.set_docker(0, Side::Known(Default::default()));
        hub.set_github(
            0,
            GitHubSide {
                runners: Side::Known(vec![
                    remote("h-acme-runner-1", "online", false),
                    remote("h-acme-runner-2", "online", true),
                    remote("h-acme-runner-3", "offline", false),
                    remote("other-runner-1", "online", false),
                ]),
                last_ok_ms: Some(1_000_000),
                asked: true,
            },
        );
        hub.set_locks(LockView {
            resources: Side::Known(vec![]),
            ledger: Side::Known(Default::default()),
            read_ms: 0,
        });
        let text = render(&hub.snapshot(), 1_004_500);
        let (types, s) = parse(&text).unwrap_or_else(|e| panic!("{e}\n{text}"));
        let get = |n: &str, l: &[(&str, &str)]| {
            s[&(
                n.to_string(),
                l.iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect::<Vec<_>>(),
            )]
        };
        let st = |state: &str| get("ghr_runners", &[("fleet", "h-acme-"), ("state", state)]);
        assert_eq!(
            (st("online"), st("busy"), st("offline"), st("unknown")),
            (1.0, 1.0, 1.0, 0.0)
        );
        assert_eq!(
            get("ghr_github_refresh_age_seconds", &[("fleet", "h-acme-")]),
            4.5
        );
        assert_eq!(get("ghr_github_up", &[("fleet", "h-acme-")]), 1.0);
        assert_eq!(get("ghr_lockdir_up", &[]), 1.0);
        assert_eq!(
            get(
                "ghr_github_api_errors_total",
                &[("fleet", "h-acme-"), ("kind", "network")]
            ),
            0.0
        );
        assert_eq!(
            get(
                "ghr_fleet_info",
                &[
                    ("fleet", "h-acme-"),
                    ("scope", "acme/fw"),
                    ("image", "img\"1")
                ]
            ),
            1.0
        );
        assert_eq!(types["ghr_github_api_requests_total"], "counter");
        assert!(
            types.contains_key("ghr_lock_held"),
            "the lock families come first"
        );
    }
}
