//! Read-only view of a lock directory, for `ghr locks` and for the waiting jobs' messages.
//! Never takes a lock that could hold anybody up longer than a try-lock.

use std::fs::{self, File};
use std::io;
use std::path::Path;

use crate::contract::now_epoch;
use crate::health::{Health, HealthRecord};
use crate::lockdir::{annotate, resource_names, ResourcePaths};
use crate::record::OwnerRecord;
use crate::tickets;

/// One resource in the lock directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResourceStatus {
    /// Resource id (from the owner record, a ticket or the health record; else the name).
    pub resource: String,
    /// Directory name in the lock directory.
    pub name: String,
    /// Whether the lock file is flocked right now (by anybody).
    pub locked: bool,
    /// The owner record, if one exists.
    pub holder: Option<Holder>,
    /// Waiters in FIFO order (dead ones included, marked `alive: false`).
    pub waiters: Vec<Waiter>,
    /// The last health check, if any ran.
    pub health: Option<HealthRecord>,
    /// Runners offline on GitHub until it is free (queue at GitHub), live ones only.
    pub parked: Vec<crate::parked::Parked>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Holder {
    pub record: OwnerRecord,
    /// The owner record exists but the lock is not held: its holder died (or is just releasing).
    pub stale: bool,
    /// Seconds since `record.since`.
    pub held_for_secs: u64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Waiter {
    /// Ticket number; lower is served first.
    pub ticket: u64,
    pub record: OwnerRecord,
    /// False when the waiter died without withdrawing (it will be skipped).
    pub alive: bool,
    /// Seconds since the ticket was drawn.
    pub waiting_for_secs: u64,
}

impl ResourceStatus {
    /// The live holder, if the lock is really held.
    pub fn live_holder(&self) -> Option<&Holder> {
        self.holder.as_ref().filter(|h| !h.stale)
    }

    pub fn live_waiters(&self) -> impl Iterator<Item = &Waiter> {
        self.waiters.iter().filter(|w| w.alive)
    }

    pub fn health_state(&self) -> Health {
        Health::of(self.health.as_ref())
    }
}

/// Every resource in `dir`, sorted by name. A missing dir is no resources.
pub fn read_lock_dir(dir: &Path) -> io::Result<Vec<ResourceStatus>> {
    resource_names(dir)?
        .iter()
        .map(|n| read_resource(&ResourcePaths::from_name(dir, n)))
        .collect()
}

/// Status of one resource.
pub fn read_resource(paths: &ResourcePaths) -> io::Result<ResourceStatus> {
    read(paths).map_err(|e| annotate(&paths.root, &paths.dir, "reading", e))
}

fn read(paths: &ResourcePaths) -> io::Result<ResourceStatus> {
    let now = now_epoch();
    let locked = lock_is_held(&paths.lock)?;
    let holder = match OwnerRecord::read(&paths.owner) {
        Ok(record) => Some(Holder {
            held_for_secs: now.saturating_sub(record.since),
            record,
            stale: !locked,
        }),
        Err(e) if e.kind() == io::ErrorKind::NotFound => None,
        Err(e) => return Err(e),
    };
    let mut waiters = Vec::new();
    for (ticket, path) in tickets::list(&paths.dir)? {
        // A ticket may vanish between listing and reading: it was granted or withdrawn.
        let (record, alive) = match (tickets::read(&path), tickets::is_alive(&path)) {
            (Ok(r), Ok(a)) => (r, a),
            (Err(e), _) | (_, Err(e)) if e.kind() == io::ErrorKind::NotFound => continue,
            (Err(e), _) | (_, Err(e)) => return Err(e),
        };
        waiters.push(Waiter {
            ticket,
            waiting_for_secs: now.saturating_sub(record.since),
            record,
            alive,
        });
    }
    let health = HealthRecord::read(&paths.health)?;
    let resource = holder
        .as_ref()
        .map(|h| h.record.resource.clone())
        .or_else(|| waiters.first().map(|w| w.record.resource.clone()))
        .or_else(|| health.as_ref().map(|h| h.resource.clone()))
        .filter(|r| !r.is_empty())
        .unwrap_or_else(|| paths.name.clone());
    Ok(ResourceStatus {
        resource,
        name: paths.name.clone(),
        locked,
        holder,
        waiters,
        health,
        parked: crate::parked::read(&paths.dir),
    })
}

/// Find a resource by id (or directory name) in `dir`. A lock directory this uid may not read
/// is an error that says so (not "no such resource").
pub fn find(dir: &Path, resource: &str) -> io::Result<Option<ResourceStatus>> {
    let paths = ResourcePaths::new(dir, resource);
    match fs::metadata(&paths.lock) {
        Ok(m) if m.is_file() => read_resource(&paths).map(Some),
        Ok(_) => Ok(None),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(annotate(dir, &paths.lock, "reading", e)),
    }
}

/// Is the lock file flocked by anybody? A shared try-lock, released at once: it cannot make the
/// holder lose the lock, and at worst delays a blocked waiter by microseconds.
pub fn lock_is_held(lock: &Path) -> io::Result<bool> {
    let f = match File::open(lock) {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(false),
        Err(e) => return Err(e),
    };
    match f.try_lock_shared() {
        Ok(()) => Ok(false),
        Err(fs::TryLockError::WouldBlock) => Ok(true),
        Err(fs::TryLockError::Error(e)) => Err(e),
    }
}
