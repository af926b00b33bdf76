//! Summaries of the grant history (pure): per org (holds and health checks as their own
//! groups) and resource, the number of grants, the wait percentiles and the busy share of a
//! time window. `ghr locks --history` prints them.

use std::collections::BTreeMap;

use crate::ledger::Entry;
use crate::record::HolderKind;

/// A time window in epoch milliseconds, `from_ms..to_ms`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    pub from_ms: u64,
    pub to_ms: u64,
}

impl Window {
    /// From the earliest request in `entries` (or `to_ms` when there is none) to `to_ms`.
    pub fn all(entries: &[Entry], to_ms: u64) -> Window {
        let from_ms = entries
            .iter()
            .map(|e| e.requested_ms)
            .min()
            .unwrap_or(to_ms)
            .min(to_ms);
        Window { from_ms, to_ms }
    }

    fn len_ms(&self) -> u64 {
        self.to_ms.saturating_sub(self.from_ms)
    }

    /// Milliseconds of `from..to` inside the window.
    fn overlap(&self, from: u64, to: u64) -> u64 {
        to.min(self.to_ms).saturating_sub(from.max(self.from_ms))
    }
}

/// The grants that touch the window (released inside it or later), oldest first.
pub fn in_window(entries: &[Entry], w: Window) -> Vec<&Entry> {
    entries
        .iter()
        .filter(|e| e.released_ms >= w.from_ms && e.requested_ms <= w.to_ms)
        .collect()
}

#[derive(Debug, Clone, PartialEq)]
pub struct Summary {
    /// The org (jobs), `(hold)` or `(health check)`.
    pub group: String,
    pub resource: String,
    pub grants: usize,
    /// Grants of kind job.
    pub jobs: usize,
    pub wait_p50_ms: u64,
    pub wait_p95_ms: u64,
    pub wait_max_ms: u64,
    /// Time held inside the window.
    pub held_ms: u64,
    /// `held_ms` over the window's length (0..=1).
    pub busy_share: f64,
}

/// Nearest-rank percentile of sorted values (`p` in 0..=1); 0 for none.
pub fn percentile(sorted: &[u64], p: f64) -> u64 {
    if sorted.is_empty() {
        return 0;
    }
    let rank = (p * sorted.len() as f64).ceil().max(1.0) as usize;
    sorted[rank.min(sorted.len()) - 1]
}

/// One row per (group, resource), sorted by resource then group.
pub fn summarize(entries: &[Entry], w: Window) -> Vec<Summary> {
    let mut groups: BTreeMap<(String, String), Vec<&Entry>> = BTreeMap::new();
    for e in in_window(entries, w) {
        groups
            .entry((e.resource.clone(), e.group()))
            .or_default()
            .push(e);
    }
    groups
        .into_iter()
        .map(|((resource, group), es)| {
            let mut waits: Vec<u64> = es.iter().map(|e| e.waited_ms()).collect();
            waits.sort_unstable();
            let held_ms: u64 = es
                .iter()
                .map(|e| w.overlap(e.granted_ms, e.released_ms))
                .sum();
            Summary {
                group,
                resource,
                grants: es.len(),
                jobs: es.iter().filter(|e| e.kind == HolderKind::Job).count(),
                wait_p50_ms: percentile(&waits, 0.50),
                wait_p95_ms: percentile(&waits, 0.95),
                wait_max_ms: waits.last().copied().unwrap_or(0),
                held_ms,
                busy_share: if w.len_ms() == 0 {
                    0.0
                } else {
                    held_ms as f64 / w.len_ms() as f64
                },
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grant(org: &str, resource: &str, req: u64, wait: u64, held: u64) -> Entry {
        Entry {
            kind: HolderKind::Job,
            org: org.into(),
            resource: resource.into(),
            requested_ms: req,
            granted_ms: req + wait,
            released_ms: req + wait + held,
            ..Default::default()
        }
    }

    #[test]
    fn nearest_rank_percentiles() {
        let v: Vec<u64> = (1..=20).collect();
        assert_eq!(percentile(&v, 0.5), 10);
        assert_eq!(percentile(&v, 0.95), 19);
        assert_eq!(percentile(&v, 1.0), 20);
        assert_eq!(percentile(&[7], 0.95), 7);
        assert_eq!(percentile(&[], 0.5), 0);
        assert_eq!(percentile(&[1, 2, 3, 4], 0.5), 2);
    }

    #[test]
    fn summaries_per_org_and_resource() {
        // acme waits 0..=9 ms (ten jobs), globex 100 ms once; each holds 1000 ms.
        let mut es: Vec<Entry> = (0..10)
            .map(|i| grant("acme", "b1", i * 2000, i, 1000))
            .collect();
        es.push(grant("globex", "b1", 30_000, 100, 1000));
        es.push(Entry {
            kind: HolderKind::Hold,
            user: "alice".into(),
            ..grant("", "b2", 0, 0, 5000)
        });
        let w = Window {
            from_ms: 0,
            to_ms: 40_000,
        };
        let s = summarize(&es, w);
        let groups: Vec<(&str, &str)> = s
            .iter()
            .map(|r| (r.resource.as_str(), r.group.as_str()))
            .collect();
        assert_eq!(groups, [("b1", "acme"), ("b1", "globex"), ("b2", "(hold)")]);
        let acme = &s[0];
        assert_eq!((acme.grants, acme.jobs), (10, 10));
        assert_eq!(
            (acme.wait_p50_ms, acme.wait_p95_ms, acme.wait_max_ms),
            (4, 9, 9)
        );
        assert_eq!(acme.held_ms, 10_000);
        assert!((acme.busy_share - 0.25).abs() < 1e-9);
        assert_eq!(s[2].jobs, 0);
        assert!((s[2].busy_share - 0.125).abs() < 1e-9);
    }

    #[test]
    fn the_window_clips_and_filters() {
        let es = vec![
            grant("a", "r", 0, 0, 1000),     // entirely before
            grant("a", "r", 1500, 0, 1000),  // straddles the start: 500 ms inside
            grant("a", "r", 3000, 10, 1000), // inside
        ];
        let w = Window {
            from_ms: 2000,
            to_ms: 6000,
        };
        assert_eq!(in_window(&es, w).len(), 2);
        let s = summarize(&es, w);
        assert_eq!(s[0].grants, 2);
        assert_eq!(s[0].held_ms, 1500);
        assert_eq!(Window::all(&es, 9000).from_ms, 0);
        assert_eq!(
            Window::all(&[], 9000),
            Window {
                from_ms: 9000,
                to_ms: 9000
            }
        );
    }
}
