//! One thread per (request, member): draw a ticket, wait for the turn (blocking flock on the
//! predecessor's ticket), then block on the member's lock (see `lockfile::acquire`: the file at
//! its path, settled, checked after the flock); report the lock, with the member's health record
//! read under it, to the event loop. Never a poll.

use std::fs::File;
use std::io;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::Sender;
use std::sync::{Arc, Mutex};
use std::thread;

use super::Raw;
use crate::health::HealthRecord;
use crate::lockdir::{ensure_resource, ResourcePaths};
use crate::lockfile::{self, FileId, Got, Wait};
use crate::record::OwnerRecord;
use crate::state::ReqId;
use crate::tickets::{self, Ticket};

/// A place in a member's queue.
#[derive(Debug)]
pub struct Waiting {
    pub ticket_number: u64,
    cancelled: AtomicBool,
    ticket: Mutex<Option<Ticket>>,
}

impl Waiting {
    /// Give up the place: successors move up at once. A thread still blocked lets go of
    /// whatever it gets next.
    pub fn cancel(&self) {
        self.cancelled.store(true, Ordering::SeqCst);
        self.drop_ticket();
    }

    /// The ticket is no longer needed (granted): unlink it so the next waiter moves up.
    pub fn drop_ticket(&self) {
        drop(self.ticket.lock().unwrap_or_else(|e| e.into_inner()).take());
    }
}

/// Draw the ticket now (so the order of our own requests is the order of the calls), then wait
/// on a thread. `gid`: the lock group, for a resource directory that was removed and is made
/// again.
pub fn start(
    paths: ResourcePaths,
    gid: u32,
    req: ReqId,
    member: usize,
    who: &OwnerRecord,
    tx: Sender<Raw>,
) -> io::Result<Arc<Waiting>> {
    if !paths.dir.is_dir() {
        ensure_resource(&paths.root, &paths.name, gid)?;
    }
    let ticket = tickets::draw(&paths, who)?;
    let w = Arc::new(Waiting {
        ticket_number: ticket.number,
        cancelled: AtomicBool::new(false),
        ticket: Mutex::new(Some(ticket)),
    });
    let me = Arc::clone(&w);
    thread::spawn(move || {
        let cancelled = || me.cancelled.load(Ordering::SeqCst);
        let got = (|| -> io::Result<Option<(File, FileId)>> {
            if !tickets::wait_turn(&paths, me.ticket_number, &cancelled)? {
                return Ok(None);
            }
            let Got::Lock(lock) = lockfile::acquire(&paths, gid, Wait::Block(&cancelled))? else {
                return Ok(None);
            };
            let id = lockfile::id_of(&lock)?;
            Ok((!cancelled()).then_some((lock, id)))
        })();
        let _ = match got {
            Ok(Some((lock, id))) => tx.send(Raw::Acquired {
                req,
                member,
                lock,
                id,
                health: HealthRecord::read(&paths.health).unwrap_or(None),
            }),
            Ok(None) => Ok(()),
            Err(e) => tx.send(Raw::AcquireFailed {
                req,
                member,
                error: e.to_string(),
            }),
        };
    });
    Ok(w)
}
