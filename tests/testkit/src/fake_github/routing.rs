//! GitHub's routing of queued jobs to self-hosted runners, as documented ("Routing precedence
//! for self-hosted runners", and "Usage limits" for the queue time):
//! - a queued job goes to an **online, idle** runner that has **all its labels**, looking at the
//!   **repository level first, then the organization** (a repo job goes to an org runner only
//!   while no such repo runner is online and idle);
//! - a runner that does not **pick the assigned job up within 60 s** (no `JobStarted`) loses it:
//!   the job is **queued again at all levels** (no precedence any more);
//! - with no matching runner online the job **stays queued** (the runners may all be offline);
//!   queued for **24 h** it is failed ("This request was automatically failed because there were
//!   no enabled runners online to process the request for more than 1 days.", the annotation
//!   GitHub writes; the docs call it cancelled).
//!
//! The fake runner pulls (long poll), so "goes to" is decided when a runner asks: [`may_take`]
//! is the pure rule, [`expire`] the timers (run at every poll and every test look).
//! A runner's session deleted while its job was assigned but not started does not cancel the
//! job (see `runner_api::session_delete`): it is re-queued when the 60 s pass.

use std::time::{Duration, Instant, SystemTime};

use super::state::{Runner, State};
use super::types::ScopeKey;

/// GitHub's: an assigned job not started within this is queued again.
pub const DEFAULT_ASSIGN_TIMEOUT: Duration = Duration::from_secs(60);
/// GitHub's: a job queued this long fails.
pub const DEFAULT_QUEUE_LIMIT: Duration = Duration::from_secs(24 * 3600);

pub const QUEUE_LIMIT_LINE: &str = "This request was automatically failed because there were no enabled runners online to process the request for more than 1 days.";

/// The routing timers (settable for tests).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Routing {
    pub assign_timeout: Duration,
    pub queue_limit: Duration,
}

impl Default for Routing {
    fn default() -> Self {
        Routing {
            assign_timeout: DEFAULT_ASSIGN_TIMEOUT,
            queue_limit: DEFAULT_QUEUE_LIMIT,
        }
    }
}

/// One job's place in the routing.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Route {
    /// When it was queued (first, or again after a lapsed assignment).
    pub queued_at: Instant,
    pub assigned_at: Option<Instant>,
    /// Queued again at all levels: no repository-first precedence any more.
    pub requeued: bool,
}

impl Route {
    pub fn new(now: Instant) -> Self {
        Route {
            queued_at: now,
            assigned_at: None,
            requeued: false,
        }
    }
}

/// What routing needs to know of a runner.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    pub scope: ScopeKey,
    pub labels: Vec<String>,
    pub online: bool,
    pub idle: bool,
}

impl Candidate {
    fn fits(&self, job_scope: &ScopeKey, job_labels: &[String]) -> bool {
        self.online
            && self.idle
            && State::scope_serves(&self.scope, job_scope)
            && job_labels
                .iter()
                .all(|l| self.labels.iter().any(|x| x.eq_ignore_ascii_case(l)))
    }
}

/// May `asker` take the queued job (`job_scope`, `job_labels`)? `others`: every other runner.
/// Repository runners first: an org runner waits while a repo runner of the job's repository
/// that fits is online and idle, unless the job was queued again at all levels.
pub fn may_take(
    asker: &Candidate,
    others: &[Candidate],
    job_scope: &ScopeKey,
    job_labels: &[String],
    requeued: bool,
) -> bool {
    if !asker.fits(job_scope, job_labels) {
        return false;
    }
    let asker_is_org = matches!(asker.scope, ScopeKey::Org(_));
    let repo_job = matches!(job_scope, ScopeKey::Repo(..));
    if requeued || !asker_is_org || !repo_job {
        return true;
    }
    !others
        .iter()
        .any(|o| matches!(o.scope, ScopeKey::Repo(..)) && o.fits(job_scope, job_labels))
}

pub(crate) fn candidate(r: &Runner) -> Candidate {
    Candidate {
        scope: r.scope.clone(),
        labels: r.labels.iter().map(|l| l.name.clone()).collect(),
        online: r.online(),
        idle: !r.busy(),
    }
}

/// The first queued job runner `rid` may take now, by routing.
pub(crate) fn pick(st: &State, rid: u64) -> Option<u64> {
    let asker = candidate(st.runners.get(&rid)?);
    // The asker is polling right now: online, whatever its bookkeeping says.
    let asker = Candidate {
        online: true,
        ..asker
    };
    let others: Vec<Candidate> = st
        .runners
        .values()
        .filter(|r| r.id != rid)
        .map(candidate)
        .collect();
    st.jobs
        .iter()
        .find(|(_, j)| {
            j.runner.is_none()
                && j.record.finished_at.is_none()
                && may_take(&asker, &others, &j.scope, &j.labels, j.route.requeued)
        })
        .map(|(id, _)| *id)
}

/// The routing timers: assignments not picked up in time are queued again at all levels; jobs
/// queued past the limit fail.
pub(crate) fn expire(st: &mut State, now: Instant) {
    let timers = st.routing;
    let mut lapsed = Vec::new();
    let mut too_old = Vec::new();
    for (id, j) in &st.jobs {
        if j.record.finished_at.is_some() {
            continue;
        }
        match (j.runner, j.route.assigned_at) {
            (Some(rid), Some(at))
                if j.record.started_at.is_none() && now >= at + timers.assign_timeout =>
            {
                lapsed.push((*id, rid))
            }
            (None, _) if now >= j.route.queued_at + timers.queue_limit => too_old.push(*id),
            _ => {}
        }
    }
    for (id, rid) in lapsed {
        if let Some(r) = st.runners.get_mut(&rid) {
            if r.current_job == Some(id) {
                r.current_job = None;
            }
        }
        let j = st.jobs.get_mut(&id).expect("listed");
        j.runner = None;
        j.record.runner_name = None;
        j.record.requeues += 1;
        j.route = Route {
            queued_at: j.route.queued_at,
            assigned_at: None,
            requeued: true,
        };
    }
    for id in too_old {
        st.finish_job(id, "Failed", Some(QUEUE_LIMIT_LINE));
    }
}

/// Note the assignment of job `id` (its timer starts).
pub(crate) fn assigned(st: &mut State, id: u64, now: Instant) {
    if let Some(j) = st.jobs.get_mut(&id) {
        j.route.assigned_at = Some(now);
        j.record.assigned_at = Some(SystemTime::now());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn runner(scope: ScopeKey, labels: &[&str], online: bool, idle: bool) -> Candidate {
        Candidate {
            scope,
            labels: labels.iter().map(|s| s.to_string()).collect(),
            online,
            idle,
        }
    }

    #[test]
    fn routing_table() {
        let org = || ScopeKey::Org("acme".into());
        let repo = || ScopeKey::Repo("acme".into(), "fw".into());
        let other_repo = || ScopeKey::Repo("acme".into(), "web".into());
        let board = vec!["self-hosted".to_string(), "board".to_string()];
        let org_r = runner(org(), &["self-hosted", "board"], true, true);
        let repo_r = runner(repo(), &["self-hosted", "Board"], true, true);
        // (asker, others, job scope, requeued, may take)
        let table: Vec<(Candidate, Vec<Candidate>, ScopeKey, bool, bool)> = vec![
            // An org job goes to an org runner with every label (any case).
            (org_r.clone(), vec![], org(), false, true),
            // A label missing: no.
            (
                runner(org(), &["self-hosted"], true, true),
                vec![],
                org(),
                false,
                false,
            ),
            // Busy or offline: no.
            (
                runner(org(), &["self-hosted", "board"], true, false),
                vec![],
                org(),
                false,
                false,
            ),
            (
                runner(org(), &["self-hosted", "board"], false, true),
                vec![],
                org(),
                false,
                false,
            ),
            // A repo runner never takes an org job, nor another repo's.
            (repo_r.clone(), vec![], org(), false, false),
            (
                runner(other_repo(), &["self-hosted", "board"], true, true),
                vec![],
                repo(),
                false,
                false,
            ),
            // A repo job: the repo runner first...
            (repo_r.clone(), vec![org_r.clone()], repo(), false, true),
            (org_r.clone(), vec![repo_r.clone()], repo(), false, false),
            // ...the org runner when no repo runner fits now (busy, offline)...
            (
                org_r.clone(),
                vec![runner(repo(), &["self-hosted", "board"], true, false)],
                repo(),
                false,
                true,
            ),
            (
                org_r.clone(),
                vec![runner(repo(), &["self-hosted", "board"], false, true)],
                repo(),
                false,
                true,
            ),
            // ...and any level once it was queued again after a lapsed assignment.
            (org_r.clone(), vec![repo_r.clone()], repo(), true, true),
        ];
        for (i, (asker, others, scope, requeued, want)) in table.into_iter().enumerate() {
            assert_eq!(
                may_take(&asker, &others, &scope, &board, requeued),
                want,
                "row {i}"
            );
        }
    }
}
