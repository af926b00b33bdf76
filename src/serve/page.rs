//! The dashboard (pure: a snapshot in, HTML out). Every table is rendered here, on the
//! server, so a terminal browser sees it all; the page's small script only swaps in a fresh
//! [`fragment`] when the snapshot changes and ticks the clocks. Everything that comes from
//! outside (GitHub, `.env`, hold reasons, health-check output) goes through [`escape`].

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::OnceLock;
use std::time::Duration;

use runner_wrapper::contract::{format_duration, format_utc};
use runner_wrapper::history::percentile;
use runner_wrapper::ledger::Entry;
use runner_wrapper::record::{HolderKind, OwnerRecord};
use runner_wrapper::status::ResourceStatus;
use sha2::{Digest, Sha256};

use super::state::{FleetView, Snapshot};
use crate::model::fleet::Side;
use crate::report::fleet_json::{registration_text, NO_CONTAINER, UNKNOWN};
use crate::report::locks_json::state;

const CSS: &str = include_str!("assets/page.css");
const JS: &str = include_str!("assets/page.js");
/// The history table shows this many grants, newest first.
pub const RECENT_GRANTS: usize = 50;

pub struct PageOptions<'a> {
    pub host: &'a str,
    pub allow_holds: bool,
    pub now_ms: u64,
}

/// HTML-escapes text for element content and quoted attribute values.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

fn base64(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// The Content-Security-Policy of every answer: nothing but this page's own inline script
/// and style (allowed by their hashes) and requests back to this server.
pub fn csp() -> &'static str {
    static CSP: OnceLock<String> = OnceLock::new();
    CSP.get_or_init(|| {
        let hash = |s: &str| format!("'sha256-{}'", base64(&Sha256::digest(s.as_bytes())));
        format!(
            "default-src 'none'; script-src {}; style-src {}; connect-src 'self'; img-src 'self'; form-action 'none'; frame-ancestors 'none'; base-uri 'none'",
            hash(JS),
            hash(CSS)
        )
    })
}

/// The whole page.
pub fn page(s: &Snapshot, o: &PageOptions) -> String {
    let host = escape(o.host);
    let mut out = format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>ghr · {host}</title><style>{CSS}</style></head>\n<body>\
         <header><h1>ghr · {host}</h1><span id=\"conn\">loading</span></header>\n\
         <main id=\"live\">{}</main>\n",
        fragment(s, o)
    );
    if o.allow_holds {
        out.push_str(
            "<section id=\"holds\"><h2>Hold a resource for maintenance</h2>\
             <form id=\"hold\"><input name=\"resource\" list=\"resource-ids\" placeholder=\"resource\" aria-label=\"resource\" required>\
             <input name=\"user\" placeholder=\"your name\" aria-label=\"your name\" required>\
             <input name=\"reason\" placeholder=\"reason\" aria-label=\"reason\">\
             <input name=\"for\" placeholder=\"for (2h; empty: until released)\" aria-label=\"for how long\">\
             <button type=\"submit\">Hold</button></form><p id=\"holdmsg\" class=\"meta\" role=\"status\"></p></section>\n",
        );
    }
    let _ = write!(out, "<script>{JS}</script>\n</body></html>\n");
    out
}

/// The live part: resources, fleets, history.
pub fn fragment(s: &Snapshot, o: &PageOptions) -> String {
    let mut out = String::new();
    let resources = s.locks.resources.known().map(Vec::len).unwrap_or(0);
    let _ = writeln!(
        out,
        "<p class=\"meta\">{} · {} fleet{} · {} shared resource{}</p>",
        format_utc((o.now_ms / 1000) as i64),
        s.fleets.len(),
        if s.fleets.len() == 1 { "" } else { "s" },
        resources,
        if resources == 1 { "" } else { "s" }
    );
    resources_section(&mut out, s, o);
    fleets_section(&mut out, s);
    history_section(&mut out, s);
    out
}

fn since(epoch_secs: u64, now_ms: u64) -> String {
    let secs = (now_ms / 1000).saturating_sub(epoch_secs);
    format!(
        "<span data-since=\"{epoch_secs}\">{}</span>",
        format_duration(Duration::from_secs(secs))
    )
}

fn td(label: &str, html: &str) -> String {
    format!("<td data-label=\"{label}\">{html}</td>")
}

fn job_text(r: &OwnerRecord) -> String {
    let mut parts = Vec::new();
    let scope = r.scope();
    if !scope.is_empty() {
        parts.push(escape(&scope));
    }
    if !r.run_id.is_empty() {
        let mut run = format!("run {}", escape(&r.run_id));
        if !r.run_attempt.is_empty() && r.run_attempt != "1" {
            run.push_str(&format!(" attempt {}", escape(&r.run_attempt)));
        }
        parts.push(run);
    }
    if !r.job.is_empty() {
        parts.push(format!("job {}", escape(&r.job)));
    }
    if !r.runner.is_empty() {
        parts.push(format!("on {}", escape(&r.runner)));
    }
    parts.join(" · ")
}

/// Who a record is, as HTML: a job (org/repo, run, job, runner), a hold (who, why, until),
/// a health check.
fn who(r: &OwnerRecord) -> String {
    match r.kind {
        HolderKind::Job => job_text(r),
        HolderKind::Hold => {
            let mut t = format!("maintenance by <b>{}</b>", escape(&r.user));
            if !r.reason.is_empty() {
                t.push_str(&format!(": <q class=\"reason\">{}</q>", escape(&r.reason)));
            }
            if r.until > 0 {
                t.push_str(&format!(" until {}", format_utc(r.until as i64)));
            }
            t
        }
        HolderKind::Check => format!("health check by {}", escape(&r.runner)),
        HolderKind::Repair => format!("repair by {}", escape(&r.runner)),
    }
}

fn resource_row(out: &mut String, r: &ResourceStatus, o: &PageOptions) {
    let st = state(r);
    let kind = r
        .holder
        .as_ref()
        .map(|h| h.record.kind.as_str())
        .unwrap_or("");
    let (class, label) = match (st, r.holder.as_ref().map(|h| h.record.kind)) {
        ("free", _) => ("st-free", "free".to_string()),
        ("stale", _) => ("st-stale", "stale".to_string()),
        (_, Some(HolderKind::Hold)) => ("st-hold", "held for maintenance".to_string()),
        (_, Some(HolderKind::Check)) => ("st-job", "health check".to_string()),
        (_, Some(HolderKind::Repair)) => ("st-job", "repairing".to_string()),
        (_, Some(HolderKind::Job)) => ("st-job", "held by a job".to_string()),
        _ => ("st-job", "held".to_string()),
    };
    let holder = match &r.holder {
        Some(h) if h.stale => format!(
            "{} <span class=\"bad\">(stale: its holder is gone, the lock is not held)</span>",
            who(&h.record)
        ),
        Some(h) => {
            let mut t = format!(
                "{} · for {}",
                who(&h.record),
                since(h.record.since, o.now_ms)
            );
            if o.allow_holds && h.record.kind == HolderKind::Hold {
                t.push_str(&format!(
                    " <button type=\"button\" data-release=\"{}\">Release</button>",
                    escape(&r.resource)
                ));
            }
            t
        }
        None => "-".into(),
    };
    let waiters: Vec<String> = r
        .live_waiters()
        .map(|w| {
            format!(
                "<li data-waiter=\"{}\">{} · waiting {}</li>",
                escape(&w.record.runner),
                who(&w.record),
                since(w.record.since, o.now_ms)
            )
        })
        .collect();
    // Runners parked offline on GitHub (queue at GitHub): their orgs' jobs wait there.
    let parked: Vec<String> = r
        .parked
        .iter()
        .map(|p| {
            format!(
                "<li data-parked=\"{}\">{} · {} · offline on GitHub for {}, its jobs queued there</li>",
                escape(&p.runner),
                escape(&p.runner),
                escape(&p.org),
                since(p.since, o.now_ms)
            )
        })
        .collect();
    let waiting = match (waiters.is_empty(), parked.is_empty()) {
        (true, true) => "-".to_string(),
        (false, true) => format!("<ol>{}</ol>", waiters.join("")),
        (true, false) => format!("<ul class=\"parked\">{}</ul>", parked.join("")),
        (false, false) => format!(
            "<ol>{}</ol><ul class=\"parked\">{}</ul>",
            waiters.join(""),
            parked.join("")
        ),
    };
    let health_state = crate::report::locks_json::health(r);
    let health = match &r.health {
        None => format!("<span class=\"st-{health_state}\">{health_state}</span>"),
        Some(h) => {
            let mut t = format!(
                "<span class=\"st st-{health_state}\">{health_state}</span> · checked {} ({} ago)",
                format_utc((h.checked_at_ms / 1000) as i64),
                since(h.checked_at_ms / 1000, o.now_ms)
            );
            let output = h.output.trim();
            if !output.is_empty() {
                t.push_str(&format!("<pre>{}</pre>", escape(output)));
            }
            t
        }
    };
    let _ = writeln!(
        out,
        "<tr data-resource=\"{}\" data-state=\"{st}\" data-kind=\"{kind}\" data-health=\"{health_state}\">{}{}{}{}{}</tr>",
        escape(&r.resource),
        td("Resource", &format!("<b>{}</b>", escape(&r.resource))),
        td("State", &format!("<span class=\"st {class}\">{label}</span>")),
        td("Holder", &holder),
        td("Waiting", &waiting),
        td("Health", &health),
    );
}

fn resources_section(out: &mut String, s: &Snapshot, o: &PageOptions) {
    out.push_str("<section id=\"resources\"><h2>Shared resources</h2>\n");
    match &s.locks.resources {
        Side::Unknown(e) => {
            let _ = writeln!(
                out,
                "<p class=\"note\">The lock directory cannot be read: {}. Its resources are unknown.</p>",
                escape(e)
            );
        }
        Side::Known(list) if list.is_empty() => {
            out.push_str("<p class=\"meta\">No shared resources yet: one appears once a board runner using it has started.</p>\n");
        }
        Side::Known(list) => {
            out.push_str("<table class=\"t\"><thead><tr><th>Resource</th><th>State</th><th>Holder</th><th>Waiting (in order)</th><th>Health</th></tr></thead><tbody>\n");
            for r in list {
                resource_row(out, r, o);
            }
            out.push_str("</tbody></table>\n");
            out.push_str("<datalist id=\"resource-ids\">");
            for r in list {
                let _ = write!(out, "<option value=\"{}\">", escape(&r.resource));
            }
            out.push_str("</datalist>\n");
        }
    }
    out.push_str("</section>\n");
}

fn fleet_article(out: &mut String, f: &FleetView, now_ms: u64) {
    let i = &f.info;
    let _ = writeln!(
        out,
        "<article class=\"fleet\" data-fleet=\"{}\"><h3>{}</h3><p class=\"meta\">prefix <code>{}</code> · image <code>{}</code> · {}</p>",
        escape(&i.prefix),
        escape(&i.scope()),
        escape(&i.prefix),
        escape(&i.image),
        escape(&i.name)
    );
    let docker_known = matches!(f.docker, Side::Known(_));
    if let Side::Unknown(e) = &f.docker {
        let _ = writeln!(
            out,
            "<p class=\"note\" data-side=\"docker\">Docker cannot be asked: {}. Containers are unknown, not absent.</p>",
            escape(e)
        );
    }
    match (&f.github.runners, f.github.asked) {
        (Side::Unknown(e), false) => {
            let _ = writeln!(
                out,
                "<p class=\"meta\" data-side=\"github\">GitHub is {}.</p>",
                escape(e)
            );
        }
        (Side::Unknown(e), true) => {
            let last = match f.github.last_ok_ms {
                Some(ms) => format!("last answer {} ago", since(ms / 1000, now_ms)),
                None => "no answer yet".into(),
            };
            let _ = writeln!(
                out,
                "<p class=\"note\" data-side=\"github\">GitHub cannot be asked: {} ({last}). GitHub's status is unknown.</p>",
                escape(e)
            );
        }
        (Side::Known(_), _) => {
            if let Some(ms) = f.github.last_ok_ms {
                let _ = writeln!(
                    out,
                    "<p class=\"meta\">GitHub asked {} ago, every {}</p>",
                    since(ms / 1000, now_ms),
                    format_duration(i.github_refresh)
                );
            }
        }
    }
    if f.members.is_empty() {
        if docker_known && f.github.runners.known().is_some() {
            out.push_str(
                "<p class=\"meta\">No runners of this prefix, locally or on GitHub.</p>\n",
            );
        }
        out.push_str("</article>\n");
        return;
    }
    out.push_str("<table class=\"t\"><thead><tr><th>Runner</th><th>Container</th><th>GitHub</th><th>Busy</th><th>Labels</th></tr></thead><tbody>\n");
    for m in &f.members {
        let container = match (&m.container, docker_known) {
            (Some(c), _) => std::iter::once(c.state.as_str().to_string())
                .chain(
                    m.missing_devices
                        .iter()
                        .map(|path| format!("waits for {path} (missing)")),
                )
                .collect::<Vec<_>>()
                .join("; "),
            (None, true) => NO_CONTAINER.into(),
            (None, false) => UNKNOWN.into(),
        };
        let github = registration_text(&m.registration);
        let (busy, labels) = match &m.github {
            Some(g) => (if g.busy { "yes" } else { "no" }, g.labels.join(", ")),
            None => ("-", String::new()),
        };
        let gh_class = match github.as_str() {
            "online" => "ok",
            "offline" | "unknown" => "",
            _ => "bad",
        };
        let _ = writeln!(
            out,
            "<tr data-runner=\"{}\">{}{}{}{}{}</tr>",
            escape(&m.name),
            td("Runner", &runner_cell(m)),
            td("Container", &escape(&container)),
            td(
                "GitHub",
                &format!("<span class=\"{gh_class}\">{}</span>", escape(&github))
            ),
            td("Busy", busy),
            td("Labels", &escape(&labels)),
        );
    }
    out.push_str("</tbody></table></article>\n");
}

/// The runner's name, and "one job" when GitHub says it is a one-job runner (it ends after
/// its job; `ghr serve` starts its next generation).
fn runner_cell(m: &crate::model::fleet::Member) -> String {
    match m.github.as_ref().is_some_and(|g| g.ephemeral) {
        true => format!(
            "{} <span class=\"meta\" title=\"ends after one job; ghr serve starts a fresh one\">one job</span>",
            escape(&m.name)
        ),
        false => escape(&m.name),
    }
}

fn fleets_section(out: &mut String, s: &Snapshot) {
    out.push_str("<section id=\"fleets\"><h2>Fleets</h2>\n");
    for f in &s.fleets {
        fleet_article(out, f, s.built_ms);
    }
    out.push_str("</section>\n");
}

/// Waits and holds are often short: milliseconds matter below a second.
fn ms(v: u64) -> String {
    match v {
        v if v < 1000 => format!("{v}ms"),
        v if v < 60_000 => format!("{:.1}s", v as f64 / 1000.0),
        v => format_duration(Duration::from_millis(v)),
    }
}

/// Per org (holds and health checks as their own groups): grants, wait p50 and p95.
pub fn wait_by_org(entries: &[Entry]) -> Vec<(String, usize, u64, u64)> {
    let mut groups: BTreeMap<String, Vec<u64>> = BTreeMap::new();
    for e in entries {
        groups.entry(e.group()).or_default().push(e.waited_ms());
    }
    groups
        .into_iter()
        .map(|(g, mut waits)| {
            waits.sort_unstable();
            (
                g,
                waits.len(),
                percentile(&waits, 0.50),
                percentile(&waits, 0.95),
            )
        })
        .collect()
}

fn grant_holder(e: &Entry) -> String {
    match e.kind {
        HolderKind::Hold => {
            let mut t = format!("maintenance by {}", escape(&e.user));
            if !e.reason.is_empty() {
                t.push_str(&format!(": {}", escape(&e.reason)));
            }
            t
        }
        HolderKind::Check => format!("health check by {}", escape(&e.runner)),
        HolderKind::Repair => format!("repair by {}: {}", escape(&e.runner), escape(&e.cause)),
        HolderKind::Job => {
            let scope = if e.repository.is_empty() {
                &e.org
            } else {
                &e.repository
            };
            format!(
                "{} · run {} · job {} · on {}",
                escape(scope),
                escape(&e.run_id),
                escape(&e.job),
                escape(&e.runner)
            )
        }
    }
}

fn history_section(out: &mut String, s: &Snapshot) {
    out.push_str("<section id=\"history\"><h2>Recent grants</h2>\n");
    let ledger = match &s.locks.ledger {
        Side::Unknown(e) => {
            let _ = writeln!(
                out,
                "<p class=\"note\">The ledger cannot be read: {}.</p></section>",
                escape(e)
            );
            return;
        }
        Side::Known(l) => l,
    };
    if ledger.entries.is_empty() {
        out.push_str("<p class=\"meta\">No grants in the ledger yet.</p></section>\n");
        return;
    }
    out.push_str("<h3>Waits per org</h3><table class=\"t\" id=\"waits\"><thead><tr><th>Org</th><th>Grants</th><th>Wait p50</th><th>Wait p95</th></tr></thead><tbody>\n");
    for (group, n, p50, p95) in wait_by_org(&ledger.entries) {
        let _ = writeln!(
            out,
            "<tr>{}{}{}{}</tr>",
            td("Org", &escape(&group)),
            td("Grants", &n.to_string()),
            td("Wait p50", &ms(p50)),
            td("Wait p95", &ms(p95))
        );
    }
    out.push_str("</tbody></table>\n");
    let _ = writeln!(
        out,
        "<h3>Last {} of {} grants</h3><table class=\"t\" id=\"grants\"><thead><tr><th>Granted</th><th>Resource</th><th>Holder</th><th>Waited</th><th>Held</th><th>Released because</th></tr></thead><tbody>",
        ledger.entries.len().min(RECENT_GRANTS),
        ledger.entries.len()
    );
    for e in ledger.entries.iter().rev().take(RECENT_GRANTS) {
        let _ = writeln!(
            out,
            "<tr>{}{}{}{}{}{}</tr>",
            td("Granted", &format_utc((e.granted_ms / 1000) as i64)),
            td("Resource", &escape(&e.resource)),
            td("Holder", &grant_holder(e)),
            td("Waited", &ms(e.waited_ms())),
            td("Held", &ms(e.held_ms())),
            td("Released because", &escape(&e.cause)),
        );
    }
    out.push_str("</tbody></table></section>\n");
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::fleet::{ContainerState, LocalRunner, RemoteRunner};
    use crate::serve::state::{FleetInfo, GitHubSide, Hub, LockView};
    use runner_wrapper::health::HealthRecord;
    use runner_wrapper::ledger::Ledger;
    use runner_wrapper::status::{Holder, Waiter};
    use std::sync::Arc;

    const NOW: u64 = 1_800_000_000_000;

    fn opts() -> PageOptions<'static> {
        PageOptions {
            host: "lab<1>",
            allow_holds: true,
            now_ms: NOW,
        }
    }

    fn hub() -> Hub {
        let info = FleetInfo {
            name: "acme.env".into(),
            org: "acme".into(),
            repo: None,
            prefix: "lab-acme-".into(),
            image: "img:<1>".into(),
            lock_dir: "/tmp/x".into(),
            github_refresh: Duration::from_secs(30),
        };
        Hub::new(vec![info], vec![None])
    }

    fn local(name: &str) -> LocalRunner {
        LocalRunner {
            name: name.into(),
            state: ContainerState::Running,
            image: "img".into(),
            image_id: "sha".into(),
            spec: None,
            project: None,
            prefix: Some("lab-acme-".into()),
            kind: "board".into(),
            home_volume: None,
            configured: None,
            first_start_failure: None,
            devices: Vec::new(),
        }
    }

    fn resources() -> Vec<ResourceStatus> {
        let hold = OwnerRecord {
            resource: "pi".into(),
            kind: HolderKind::Hold,
            user: "alice".into(),
            reason: "<script>alert(1)</script>".into(),
            since: NOW / 1000 - 90,
            ..Default::default()
        };
        let waiter = OwnerRecord {
            resource: "pi".into(),
            kind: HolderKind::Job,
            runner: "lab-beta-runner-pi".into(),
            org: "beta".into(),
            run_id: "7".into(),
            job: "flash".into(),
            since: NOW / 1000 - 5,
            ..Default::default()
        };
        vec![
            ResourceStatus {
                resource: "pi".into(),
                name: "pi".into(),
                locked: true,
                holder: Some(Holder {
                    record: hold,
                    stale: false,
                    held_for_secs: 90,
                }),
                waiters: vec![Waiter {
                    ticket: 1,
                    record: waiter,
                    alive: true,
                    waiting_for_secs: 5,
                }],
                health: Some(HealthRecord {
                    healthy: false,
                    checked_at_ms: NOW - 2000,
                    output: "no device & <gone>".into(),
                    ..Default::default()
                }),
                parked: vec![runner_wrapper::parked::Parked {
                    runner: "lab-gamma-runner-<pi>".into(),
                    org: "gamma".into(),
                    since: NOW / 1000 - 42,
                }],
            },
            ResourceStatus {
                resource: "rk".into(),
                name: "rk".into(),
                locked: false,
                holder: None,
                waiters: vec![],
                health: None,
                parked: Vec::new(),
            },
        ]
    }

    fn snapshot(docker_ok: bool) -> Arc<Snapshot> {
        let hub = hub();
        hub.set_docker(
            0,
            if docker_ok {
                Side::Known(crate::world::observe::Local {
                    runners: vec![local("lab-acme-runner-pi")],
                    volumes: Vec::new(),
                })
            } else {
                Side::Unknown("cannot connect to the Docker daemon".into())
            },
        );
        hub.set_github(
            0,
            GitHubSide {
                runners: Side::Known(vec![RemoteRunner {
                    id: 3,
                    name: "lab-acme-runner-pi".into(),
                    status: "online".into(),
                    busy: true,
                    labels: vec!["self-hosted".into(), "pi<b>".into()],
                    custom_labels: vec![],
                    group_id: Some(1),
                    ephemeral: false,
                }]),
                last_ok_ms: Some(NOW - 3000),
                asked: true,
            },
        );
        let entries: Vec<Entry> = (0..60u64)
            .map(|i| Entry {
                kind: HolderKind::Job,
                resource: "pi".into(),
                org: if i % 2 == 0 { "acme" } else { "beta" }.into(),
                run_id: i.to_string(),
                requested_ms: NOW - 100_000 + i * 1000,
                granted_ms: NOW - 100_000 + i * 1000 + i * 10,
                released_ms: NOW - 100_000 + i * 1000 + 900,
                cause: "completed hook".into(),
                ..Default::default()
            })
            .collect();
        hub.set_locks(LockView {
            resources: Side::Known(resources()),
            ledger: Side::Known(Ledger {
                entries,
                ..Default::default()
            }),
            read_ms: NOW,
        });
        hub.snapshot()
    }

    #[test]
    fn a_one_job_runner_is_marked_by_what_github_says() {
        let remote = |ephemeral| RemoteRunner {
            id: 3,
            name: "lab-acme-runner-<1>".into(),
            status: "online".into(),
            busy: false,
            labels: vec![],
            custom_labels: vec![],
            group_id: Some(1),
            ephemeral,
        };
        let member = |github| crate::model::fleet::Member {
            name: "lab-acme-runner-<1>".into(),
            container: None,
            github,
            registration: crate::model::fleet::Registration::Unknown,
            volumes: vec![],
            missing_devices: vec![],
        };
        let one_job = runner_cell(&member(Some(remote(true))));
        assert!(one_job.starts_with("lab-acme-runner-&lt;1&gt; <span"));
        assert!(one_job.contains(">one job</span>"));
        for plain in [member(Some(remote(false))), member(None)] {
            assert_eq!(runner_cell(&plain), "lab-acme-runner-&lt;1&gt;");
        }
    }

    #[test]
    fn escapes_what_comes_from_outside() {
        assert_eq!(
            escape("<a href=\"x\">&'"),
            "&lt;a href=&quot;x&quot;&gt;&amp;&#39;"
        );
        let html = page(&snapshot(true), &opts());
        assert!(
            !html.contains("<script>alert(1)"),
            "a hold reason is escaped"
        );
        assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
        assert!(html.contains("no device &amp; &lt;gone&gt;"));
        assert!(html.contains("pi&lt;b&gt;"));
        assert!(html.contains("img:&lt;1&gt;") && html.contains("ghr · lab&lt;1&gt;"));
        // Exactly one script element: the page's own.
        assert_eq!(html.matches("<script>").count(), 1);
    }

    #[test]
    fn shows_holders_waiters_health_and_runners_in_the_html() {
        let html = fragment(&snapshot(true), &opts());
        assert!(html.contains(
            "data-resource=\"pi\" data-state=\"held\" data-kind=\"hold\" data-health=\"unhealthy\""
        ));
        assert!(html.contains("held for maintenance"));
        assert!(html.contains("maintenance by <b>alice</b>"));
        assert!(html.contains("<span data-since=\"1799999910\">1m30s</span>"));
        assert!(html.contains("<li data-waiter=\"lab-beta-runner-pi\">beta · run 7 · job flash · on lab-beta-runner-pi · waiting <span data-since=\"1799999995\">5s</span></li>"));
        assert!(html.contains("data-resource=\"rk\" data-state=\"free\""));
        assert!(html.contains("data-release=\"pi\""));
        assert!(html.contains("<tr data-runner=\"lab-acme-runner-pi\">"));
        assert!(html.contains("<ul class=\"parked\"><li data-parked=\"lab-gamma-runner-&lt;pi&gt;\">lab-gamma-runner-&lt;pi&gt; · gamma · offline on GitHub for <span data-since=\"1799999958\">42s</span>, its jobs queued there</li></ul>"), "a parked runner is named: {html}");
        assert!(html.contains(">running<") && html.contains(">online<") && html.contains(">yes<"));
        assert!(html.contains("Last 50 of 60 grants"));
        assert_eq!(html.matches("completed hook").count(), 50);
    }

    #[test]
    fn a_side_that_cannot_be_asked_says_so() {
        let html = fragment(&snapshot(false), &opts());
        assert!(html.contains("Docker cannot be asked: cannot connect to the Docker daemon"));
        assert!(
            html.contains(">unknown<"),
            "the container is unknown, not absent"
        );
        assert!(!html.contains(NO_CONTAINER));
        let fresh = hub().snapshot();
        let html = fragment(&fresh, &opts());
        assert!(html.contains("GitHub cannot be asked: not asked yet (no answer yet)"));
        assert!(html.contains("The lock directory cannot be read"));
        assert!(!html.contains("No runners of this prefix"));
    }

    #[test]
    fn without_holds_there_is_no_form_and_no_release_button() {
        let o = PageOptions {
            allow_holds: false,
            ..opts()
        };
        let html = page(&snapshot(true), &o);
        assert!(!html.contains("id=\"hold\"") && !html.contains("data-release=\""));
    }

    #[test]
    fn waits_per_org_are_percentiles_of_the_ledger() {
        let s = snapshot(true);
        let w = wait_by_org(&s.locks.ledger.known().unwrap().entries);
        assert_eq!(w.len(), 2);
        let (org, n, p50, p95) = &w[0];
        assert_eq!((org.as_str(), *n), ("acme", 30));
        // acme waited 0, 20, ..., 580 ms.
        assert_eq!((*p50, *p95), (280, 560));
    }

    #[test]
    fn the_policy_allows_exactly_the_inline_script_and_style() {
        assert_eq!(base64(b"abc"), "YWJj");
        assert_eq!(base64(b"ab"), "YWI=");
        assert_eq!(base64(b"a"), "YQ==");
        let csp = csp();
        assert!(csp.starts_with("default-src 'none'; script-src 'sha256-"));
        assert_eq!(csp.matches("'sha256-").count(), 2);
        assert!(!csp.contains("unsafe-inline"));
    }
}
