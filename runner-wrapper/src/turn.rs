//! Queue at GitHub across runner generations: whose turn it was. A one-job runner (JIT or
//! ephemeral: it takes one job, exits, and its container is replaced by a new *generation*)
//! cannot remember that its org just had the board, so the wrapper that ends a job leaves a
//! small `turn` file in each member's directory: `org=` (the org that had the grant; the
//! runner name when the wrapper knows no org) and `courtesy_until_ms=` (epoch ms; 0 when
//! nobody was parked for the member during the job, so no courtesy is owed).
//!
//! A new wrapper of the same org that starts before that instant begins with the rest of the
//! courtesy ([`inherited`]), exactly as the previous generation would have: it stays parked
//! until the deadline, or until another holder has taken the board and let it go. So two orgs
//! with full queues of one-job runners alternate. The file is rewritten at every job end, so
//! it always tells of the last job; a persistent runner restarted (a new container) honours it
//! the same way.

use std::time::Duration;

pub const FILE: &str = "turn";

/// The last job's end on one member.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Turn {
    pub org: String,
    /// Epoch ms until which that org's runners step aside; 0: no courtesy owed.
    pub courtesy_until_ms: u64,
}

impl Turn {
    pub fn parse(text: &str) -> Turn {
        let mut t = Turn::default();
        for line in text.lines() {
            match line.split_once('=') {
                Some(("org", v)) => t.org = v.to_string(),
                Some(("courtesy_until_ms", v)) => {
                    t.courtesy_until_ms = v.trim().parse().unwrap_or(0)
                }
                _ => {}
            }
        }
        t
    }

    pub fn render(&self) -> String {
        format!(
            "org={}\ncourtesy_until_ms={}\n",
            self.org, self.courtesy_until_ms
        )
    }
}

/// Who "we" are in a turn file: the org, or the runner's name when the wrapper knows no org
/// (then only the same runner name counts as the same turn).
pub fn key(org: &str, runner: &str) -> String {
    if org.is_empty() {
        runner.to_string()
    } else {
        org.to_string()
    }
}

/// The courtesy a new wrapper keyed `me` still owes at `now_ms`, given each member's last
/// turn: the longest rest among members whose last job was ours and owed one; `None` if none.
pub fn inherited(turns: &[Option<Turn>], me: &str, now_ms: u64) -> Option<Duration> {
    if me.is_empty() {
        return None;
    }
    turns
        .iter()
        .flatten()
        .filter(|t| t.org == me && t.courtesy_until_ms > now_ms)
        .map(|t| Duration::from_millis(t.courtesy_until_ms - now_ms))
        .max()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn turn(org: &str, until: u64) -> Option<Turn> {
        Some(Turn {
            org: org.into(),
            courtesy_until_ms: until,
        })
    }

    #[test]
    fn a_new_generation_owes_the_rest_of_its_orgs_courtesy() {
        let ms = Duration::from_millis;
        // (turns, me, now, want)
        type Row<'a> = (&'a [Option<Turn>], &'a str, u64, Option<Duration>);
        let table: [Row; 9] = [
            // Our org had the board and others were parked: wait the rest.
            (&[turn("acme", 10_000)], "acme", 4_000, Some(ms(6_000))),
            // Another org had it: our turn now.
            (&[turn("globex", 10_000)], "acme", 4_000, None),
            // Nobody was parked during our job (0) or the courtesy is over.
            (&[turn("acme", 0)], "acme", 4_000, None),
            (&[turn("acme", 4_000)], "acme", 4_000, None),
            // No file yet (a new board).
            (&[None], "acme", 4_000, None),
            // A pool: the longest rest of the members that were ours.
            (
                &[turn("acme", 5_000), turn("acme", 9_000)],
                "acme",
                4_000,
                Some(ms(5_000)),
            ),
            (
                &[turn("globex", 9_000), turn("acme", 5_000)],
                "acme",
                4_000,
                Some(ms(1_000)),
            ),
            // A wrapper that knows nobody never matches an empty org.
            (&[turn("", 10_000)], "", 4_000, None),
            (&[], "acme", 4_000, None),
        ];
        for (i, (turns, me, now, want)) in table.into_iter().enumerate() {
            assert_eq!(inherited(turns, me, now), want, "row {i}");
        }
    }

    #[test]
    fn the_file_reads_back_and_ignores_what_it_does_not_know() {
        let t = Turn {
            org: "acme".into(),
            courtesy_until_ms: 1_795_377_600_123,
        };
        assert_eq!(Turn::parse(&t.render()), t);
        assert_eq!(Turn::parse("junk\nnext=1"), Turn::default());
        assert_eq!(key("", "b-pi"), "b-pi");
        assert_eq!(key("acme", "b-pi"), "acme");
    }
}
