//! What the wrapper tells people (job logs, its own log), as pure functions of what it knows.

use std::time::Duration;

use crate::contract::{env, format_duration, format_utc};
use crate::health::HealthRecord;
use crate::protocol::Reply;
use crate::record::OwnerRecord;
use crate::status::ResourceStatus;

pub const PREFIX: &str = "runner-wrapper:";

/// "resource board-1" or "a member of pool a,b".
pub fn what(members: &[String]) -> String {
    match members {
        [one] => format!("resource {one}"),
        many => format!("a member of pool {}", many.join(",")),
    }
}

pub fn acquired(member: &str, members: &[String], waited: Duration) -> String {
    let of = if members.len() > 1 {
        format!(" of pool {}", members.join(","))
    } else {
        String::new()
    };
    format!(
        "{PREFIX} acquired {member}{of} after {:.1}s",
        waited.as_secs_f64()
    )
}

/// How one member looks to a waiter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberView {
    pub name: String,
    /// The live holder and for how long it has held (seconds).
    pub holder: Option<(OwnerRecord, u64)>,
    /// Our place in its queue and the queue's length.
    pub place: Option<(usize, usize)>,
}

impl MemberView {
    /// From a status read and our own ticket number in that queue.
    pub fn from_status(name: &str, st: &ResourceStatus, ticket: Option<u64>) -> MemberView {
        let holder = st
            .live_holder()
            .map(|h| (h.record.clone(), h.held_for_secs));
        let place = ticket.map(|mine| {
            let live: Vec<u64> = st.live_waiters().map(|w| w.ticket).collect();
            let ahead = live.iter().filter(|t| **t < mine).count();
            (ahead + 1, live.len().max(ahead + 1))
        });
        MemberView {
            name: name.to_string(),
            holder,
            place,
        }
    }
}

/// "held by runner A (...) since 2026-11-22 20:00:00Z (3s)".
pub fn holder_text(holder: &Option<(OwnerRecord, u64)>) -> String {
    match holder {
        Some((r, secs)) => format!(
            "held by {} since {} ({})",
            r.describe(),
            format_utc(r.since as i64),
            format_duration(Duration::from_secs(*secs))
        ),
        None => "not held right now (free or being handed over)".into(),
    }
}

fn holders(views: &[MemberView]) -> String {
    match views {
        [one] => holder_text(&one.holder),
        many => many
            .iter()
            .map(|v| format!("{} {}", v.name, holder_text(&v.holder)))
            .collect::<Vec<_>>()
            .join("; "),
    }
}

fn places(views: &[MemberView]) -> String {
    let with: Vec<&MemberView> = views.iter().filter(|v| v.place.is_some()).collect();
    match with.as_slice() {
        [] => String::new(),
        [one] if views.len() == 1 => {
            let (p, n) = one.place.unwrap_or((1, 1));
            format!("; place in queue {p} of {n}")
        }
        many => {
            let parts: Vec<String> = many
                .iter()
                .map(|v| {
                    let (p, n) = v.place.unwrap_or((1, 1));
                    format!("{p} of {n} on {}", v.name)
                })
                .collect();
            format!("; place in queue {}", parts.join(", "))
        }
    }
}

/// The line a waiting job's log gets every status interval.
pub fn waiting(members: &[String], waited: Duration, views: &[MemberView]) -> String {
    format!(
        "{PREFIX} waiting for {} ({} so far): {}{}",
        what(members),
        format_duration(waited),
        holders(views),
        places(views)
    )
}

pub fn timed_out(members: &[String], timeout: Duration, views: &[MemberView]) -> String {
    format!(
        "{PREFIX} gave up after waiting {}s ({}) for {}; {}",
        timeout.as_secs_f64(),
        env::LOCK_TIMEOUT,
        what(members),
        holders(views)
    )
}

/// The job log of a job refused because its resource (every member of its pool) is unhealthy:
/// the checks' results and output as info lines, then the failure.
pub fn unhealthy(members: &[String], records: &[Option<HealthRecord>]) -> Vec<Reply> {
    let mut out = Vec::new();
    for (name, rec) in members.iter().zip(records) {
        let Some(r) = rec else { continue };
        let code = if r.exit_code < 0 {
            "did not finish".to_string()
        } else {
            format!("exit {}", r.exit_code)
        };
        out.push(Reply::Info(format!(
            "{PREFIX} {name} is unhealthy: its health check failed at {} ({code}, run by runner {}); output:",
            format_utc((r.checked_at_ms / 1000) as i64),
            if r.runner.is_empty() { "?" } else { &r.runner },
        )));
        for line in r.output.lines() {
            out.push(Reply::Info(format!("  {line}")));
        }
    }
    out.push(Reply::Fail(format!(
        "{PREFIX} not running this job: {} is unhealthy; it comes back by itself once its check ({}) passes",
        match members {
            [one] => one.clone(),
            many => format!("every member of pool {}", many.join(",")),
        },
        env::HEALTHCHECK
    )));
    out
}

/// What `ghr release --force` broke, for the releaser and the wrapper's log.
pub fn forced(member: &str, holder: &OwnerRecord, by: &str) -> String {
    format!(
        "released {member}, held by {}, at the request of {by}: that job keeps running on the board while the next job may start on it",
        holder.describe()
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::HolderKind;

    fn view(name: &str, runner: &str, place: Option<(usize, usize)>) -> MemberView {
        MemberView {
            name: name.into(),
            holder: Some((
                OwnerRecord {
                    runner: runner.into(),
                    org: "acme".into(),
                    since: 1_795_377_600,
                    ..Default::default()
                },
                65,
            )),
            place,
        }
    }

    #[test]
    fn waiting_on_one_resource() {
        let m = vec!["board-1".to_string()];
        let text = waiting(
            &m,
            Duration::from_secs(3),
            &[view("board-1", "A", Some((2, 2)))],
        );
        assert_eq!(
            text,
            "runner-wrapper: waiting for resource board-1 (3s so far): held by runner A (acme) since 2026-11-22 20:00:00Z (1m05s); place in queue 2 of 2"
        );
    }

    #[test]
    fn waiting_on_a_pool() {
        let m = vec!["a".to_string(), "b".to_string()];
        let views = [
            view("a", "A", Some((1, 1))),
            MemberView {
                name: "b".into(),
                holder: None,
                place: Some((2, 3)),
            },
        ];
        let text = waiting(&m, Duration::from_secs(1), &views);
        assert!(
            text.starts_with(
                "runner-wrapper: waiting for a member of pool a,b (1s so far): a held by runner A"
            ),
            "{text}"
        );
        assert!(text.contains("; b not held right now"), "{text}");
        assert!(
            text.ends_with("; place in queue 1 of 1 on a, 2 of 3 on b"),
            "{text}"
        );
    }

    #[test]
    fn a_hold_says_who_why_and_until_when() {
        let hold = OwnerRecord {
            kind: HolderKind::Hold,
            user: "alice".into(),
            reason: "new firmware".into(),
            since: 1_795_377_600,
            until: 1_795_381_200,
            ..Default::default()
        };
        let t = holder_text(&Some((hold, 10)));
        assert_eq!(
            t,
            "held by maintenance hold by alice (reason: new firmware) until 2026-11-22 21:00:00Z since 2026-11-22 20:00:00Z (10s)"
        );
    }

    #[test]
    fn unhealthy_lists_each_output_line_then_fails() {
        let rec = HealthRecord {
            resource: "b".into(),
            healthy: false,
            checked_at_ms: 1_795_377_600_000,
            exit_code: 2,
            output: "no console\nrelay off".into(),
            runner: "r1".into(),
            ..Default::default()
        };
        let r = unhealthy(&["b".to_string()], &[Some(rec)]);
        assert_eq!(r.len(), 4);
        assert_eq!(
            r[0],
            Reply::Info("runner-wrapper: b is unhealthy: its health check failed at 2026-11-22 20:00:00Z (exit 2, run by runner r1); output:".into())
        );
        assert_eq!(r[1], Reply::Info("  no console".into()));
        assert!(
            matches!(&r[3], Reply::Fail(t) if t.contains("b is unhealthy") && t.contains("RUNNER_HEALTHCHECK"))
        );
    }
}
