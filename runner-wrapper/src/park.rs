//! Queue at GitHub (`RUNNER_QUEUE_AT_GITHUB=true`): the pure decision whether this runner
//! should be offline on GitHub right now, so that a job for a busy board waits *queued* at
//! GitHub (where cancel, `concurrency:` and queue-time metrics work and no job clock runs)
//! instead of "in progress" on a runner blocked in the started hook.
//!
//! - **Busy.** While every usable member of the runner's resource list is held by *another*
//!   holder (a job of another runner, a hold, a health check or a repair: an owner record on a
//!   held lock), the runner is parked: the wrapper stops its listener (SIGINT; it deletes its
//!   session and leaves GitHub's list at once) once it has no job, and starts it again when a
//!   member is free.
//! - **Courtesy.** When this runner's job ends and other runners were parked waiting for a
//!   member it held, it steps aside for `RUNNER_QUEUE_COURTESY` so they come online first and
//!   two orgs with full queues alternate. The courtesy ends early once another holder has taken
//!   the board and let it go again (the turn passed on), so the board does not idle while both
//!   wait out a courtesy.
//!
//! The state machine ([`crate::state`]) asks [`Gate::offline`] after every input, and never
//! stops a runner that has (or may be about to have) a job; the shell reports what the lock
//! directory shows as [`Occupancy`].

use std::time::{Duration, Instant};

/// How long a runner must have been idle (since its last job's completion line, or since it
/// started) before it is parked. GitHub routes the next queued job of the runner's own org
/// within milliseconds of the previous one's end, and the Listener prints `Running job:` a
/// moment later; parking before that could stop a listener that was just handed a job.
pub const SETTLE: Duration = Duration::from_millis(1500);

/// What the lock directory shows of one member, read by the shell.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Occupancy {
    /// An owner record on a held lock (anyone's, ours included: the machine knows its own).
    pub held: bool,
    /// Live `parked.*` markers of other runners in the member's directory.
    pub parked_others: usize,
}

/// Why the runner is (to be) offline.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reason {
    /// Every usable member is held by another holder.
    Busy,
    /// Stepping aside after our job for the runners that were parked meanwhile.
    Courtesy,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Courtesy {
    until: Instant,
    /// Another holder took a member since the courtesy began.
    taken: bool,
}

/// The gate of one wrapper; `None` policy (the option off) never parks.
#[derive(Debug, Clone)]
pub struct Gate {
    courtesy_for: Option<Duration>,
    occupancy: Vec<Occupancy>,
    courtesy: Option<Courtesy>,
}

impl Gate {
    /// `courtesy_for`: `Some(RUNNER_QUEUE_COURTESY)` with the option on, `None` with it off.
    pub fn new(courtesy_for: Option<Duration>, members: usize) -> Self {
        Gate {
            courtesy_for,
            occupancy: vec![Occupancy::default(); members],
            courtesy: None,
        }
    }

    pub fn enabled(&self) -> bool {
        self.courtesy_for.is_some()
    }

    /// What the shell read of `member`; `ours`: this wrapper holds it itself.
    pub fn observe(&mut self, member: usize, occ: Occupancy, ours: bool) {
        let Some(slot) = self.occupancy.get_mut(member) else {
            return;
        };
        *slot = occ;
        if let Some(c) = self.courtesy.as_mut() {
            let free = !self.occupancy.iter().any(|o| o.held);
            if occ.held && !ours {
                c.taken = true;
            } else if free && (c.taken || self.occupancy.iter().all(|o| o.parked_others == 0)) {
                // Another holder had the board and let it go, or nobody is parked for it (or
                // coming online from parked) any more: our courtesy is over.
                self.courtesy = None;
            }
        }
    }

    /// We let go of `member`: it is not held any more until the shell says otherwise (our own
    /// grant's record is not someone else's between the release and the next look).
    pub fn released(&mut self, member: usize) {
        if let Some(o) = self.occupancy.get_mut(member) {
            o.held = false;
        }
    }

    /// Our job on `held` members ended: step aside if other runners were parked for them.
    /// Returns whether a courtesy began.
    pub fn job_ended(&mut self, now: Instant, held: &[usize]) -> bool {
        let Some(d) = self.courtesy_for else {
            return false;
        };
        let waited_for = held
            .iter()
            .any(|&m| self.occupancy.get(m).is_some_and(|o| o.parked_others > 0));
        if d.is_zero() || !waited_for {
            return false;
        }
        self.courtesy = Some(Courtesy {
            until: now + d,
            taken: false,
        });
        true
    }

    /// A new generation (turn file, see [`crate::turn`]) inherits the rest of its org's
    /// courtesy: it stays parked `rest` long, or until another holder has had the board.
    /// Call before the first [`Gate::observe`], so a board already taken ends it as usual.
    pub fn inherit(&mut self, now: Instant, rest: Duration) {
        if self.courtesy_for.is_some() && !rest.is_zero() {
            self.courtesy = Some(Courtesy {
                until: now + rest,
                taken: false,
            });
        }
    }

    /// Should the runner be offline now? `ours[m]`: this wrapper holds member `m`;
    /// `usable[m]`: `m` may be given to a job (healthy, or unknown without a check). With no
    /// usable member at all the health logic decides, not the gate.
    pub fn offline(&self, now: Instant, ours: &[bool], usable: &[bool]) -> Option<Reason> {
        self.courtesy_for?;
        if self.courtesy.is_some_and(|c| now < c.until) {
            return Some(Reason::Courtesy);
        }
        decide(&self.occupancy, ours, usable)
    }

    /// When the courtesy ends (a deadline for the machine).
    pub fn deadline(&self) -> Option<Instant> {
        self.courtesy.map(|c| c.until)
    }

    /// Forget an expired courtesy.
    pub fn tick(&mut self, now: Instant) {
        if self.courtesy.is_some_and(|c| now >= c.until) {
            self.courtesy = None;
        }
    }
}

/// Busy: there are usable members and every one of them is held by another holder.
pub fn decide(occupancy: &[Occupancy], ours: &[bool], usable: &[bool]) -> Option<Reason> {
    let mut any_usable = false;
    for (m, o) in occupancy.iter().enumerate() {
        if !usable.get(m).copied().unwrap_or(false) {
            continue;
        }
        any_usable = true;
        let held_by_other = o.held && !ours.get(m).copied().unwrap_or(false);
        if !held_by_other {
            return None;
        }
    }
    any_usable.then_some(Reason::Busy)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn occ(held: bool, parked_others: usize) -> Occupancy {
        Occupancy {
            held,
            parked_others,
        }
    }

    #[test]
    fn busy_means_every_usable_member_held_by_another() {
        let free = occ(false, 0);
        let held = occ(true, 0);
        // (occupancy, ours, usable, want)
        type Row<'a> = (&'a [Occupancy], &'a [bool], &'a [bool], Option<Reason>);
        let table: [Row; 8] = [
            (&[free], &[false], &[true], None),
            (&[held], &[false], &[true], Some(Reason::Busy)),
            // Our own grant (our job, our check) never parks us.
            (&[held], &[true], &[true], None),
            // A pool: one free member is enough to stay online.
            (&[held, free], &[false, false], &[true, true], None),
            (
                &[held, held],
                &[false, false],
                &[true, true],
                Some(Reason::Busy),
            ),
            // An unusable member does not count either way...
            (
                &[held, free],
                &[false, false],
                &[true, false],
                Some(Reason::Busy),
            ),
            // ...and with none usable the health logic decides.
            (&[free], &[false], &[false], None),
            (&[held], &[false], &[false], None),
        ];
        for (i, (o, ours, usable, want)) in table.into_iter().enumerate() {
            assert_eq!(decide(o, ours, usable), want, "row {i}");
        }
    }

    #[test]
    fn off_never_parks() {
        let mut g = Gate::new(None, 1);
        g.observe(0, occ(true, 3), false);
        let now = Instant::now();
        assert!(!g.job_ended(now, &[0]));
        assert_eq!(g.offline(now, &[false], &[true]), None);
    }

    #[test]
    fn courtesy_only_when_others_were_parked_for_our_member() {
        let now = Instant::now();
        let ten = Duration::from_secs(10);
        let mut g = Gate::new(Some(ten), 2);
        g.observe(0, occ(true, 0), true);
        g.observe(1, occ(false, 1), false);
        assert!(!g.job_ended(now, &[0]), "nobody parked for member 0");
        g.observe(0, occ(true, 1), true);
        assert!(g.job_ended(now, &[0]));
        g.observe(0, occ(false, 1), false);
        assert_eq!(
            g.offline(now, &[false, false], &[true, true]),
            Some(Reason::Courtesy)
        );
        assert_eq!(g.deadline(), Some(now + ten));
        let later = now + ten;
        g.tick(later);
        assert_eq!(g.offline(later, &[false, false], &[true, true]), None);
        assert!(
            !Gate::new(Some(Duration::ZERO), 1).job_ended(now, &[0]),
            "0: no courtesy"
        );
    }

    #[test]
    fn an_inherited_courtesy_parks_a_new_generation_until_the_other_org_had_the_board() {
        let now = Instant::now();
        let rest = Duration::from_secs(6);
        // The option off: nothing inherited.
        let mut off = Gate::new(None, 1);
        off.inherit(now, rest);
        assert_eq!(off.offline(now, &[false], &[true]), None);
        let mut g = Gate::new(Some(Duration::from_secs(10)), 1);
        g.inherit(now, rest);
        // The board is free, but it is the other org's turn.
        g.observe(0, occ(false, 1), false);
        assert_eq!(g.offline(now, &[false], &[true]), Some(Reason::Courtesy));
        assert_eq!(g.deadline(), Some(now + rest));
        // The other org's runner took it and let it go: our turn.
        g.observe(0, occ(true, 1), false);
        g.observe(0, occ(false, 1), false);
        assert_eq!(g.offline(now, &[false], &[true]), None);
        // Nobody parked or coming online any more, the board free: our turn too.
        let mut g = Gate::new(Some(Duration::from_secs(10)), 1);
        g.inherit(now, rest);
        g.observe(0, occ(false, 1), false);
        assert_eq!(g.offline(now, &[false], &[true]), Some(Reason::Courtesy));
        g.observe(0, occ(true, 0), true);
        assert_eq!(
            g.offline(now, &[true], &[true]),
            Some(Reason::Courtesy),
            "held (even by us): not over"
        );
        g.observe(0, occ(false, 0), false);
        assert_eq!(g.offline(now, &[false], &[true]), None);
        // Nobody takes it: the courtesy runs out.
        let mut g = Gate::new(Some(Duration::from_secs(10)), 1);
        g.inherit(now, rest);
        g.tick(now + rest);
        assert_eq!(g.offline(now + rest, &[false], &[true]), None);
    }

    #[test]
    fn courtesy_ends_once_the_turn_passed_on() {
        let now = Instant::now();
        let mut g = Gate::new(Some(Duration::from_secs(10)), 1);
        g.observe(0, occ(true, 1), true);
        assert!(g.job_ended(now, &[0]));
        // Released by us: still courtesy.
        g.observe(0, occ(false, 1), false);
        assert_eq!(g.offline(now, &[false], &[true]), Some(Reason::Courtesy));
        // The parked runner took it: busy anyway.
        g.observe(0, occ(true, 1), false);
        assert_eq!(g.offline(now, &[false], &[true]), Some(Reason::Courtesy));
        // ...and let it go: our turn, long before the courtesy would end.
        g.observe(0, occ(false, 1), false);
        assert_eq!(g.offline(now, &[false], &[true]), None);
        assert_eq!(g.deadline(), None);
    }
}
