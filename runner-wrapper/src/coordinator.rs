//! The wrapper's lock state and the control socket server. The wrapper process owns the lock's
//! file descriptor; hooks only ask for it. Everything that changes who holds what goes through
//! the one `State` mutex, so a grant and a withdrawal can never both win.

use std::fs::File;
use std::io::{self, BufReader, Read, Write};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{channel, RecvTimeoutError, Sender};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::thread;
use std::time::{Duration, Instant};

use crate::lockdir::ResourcePaths;
use crate::protocol::{read_request, Reply, Request, Verb};
use crate::record::{format_utc, now_epoch, OwnerRecord};
use crate::status;
use crate::tickets::{self, Ticket};

/// What the wrapper knows about itself, for owner records and messages.
#[derive(Debug, Clone)]
pub struct LockSettings {
    pub dir: PathBuf,
    pub resource: String,
    pub runner_name: String,
    pub org: String,
    pub repo: String,
    pub timeout: Option<Duration>,
    pub status_interval: Duration,
}

/// The held lock. Dropping it removes the owner record first, then closes the fd (which drops
/// the flock), so the record never names a holder that let go.
struct Held {
    _file: File,
    owner_path: PathBuf,
}

impl Drop for Held {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.owner_path);
    }
}

enum Event {
    Granted(Duration),
    Failed(String),
    Withdrawn(String),
    ClientGone,
}

/// A started request that is waiting.
struct Pending {
    id: u64,
    ticket_number: u64,
    who: OwnerRecord,
    cancelled: AtomicBool,
    ticket: Mutex<Option<Ticket>>,
    events: Sender<Event>,
}

#[derive(Default)]
struct State {
    held: Option<Held>,
    /// Id of the request `held` was granted to.
    held_for: u64,
    pending: Vec<Arc<Pending>>,
    next_id: u64,
}

pub struct Coordinator {
    pub settings: LockSettings,
    paths: ResourcePaths,
    state: Mutex<State>,
    /// Processes the runner output already written (see `output::OutputPump::sync`).
    output_sync: OnceLock<SyncFn>,
}

type SyncFn = Box<dyn Fn() + Send + Sync>;

fn log(msg: &str) {
    eprintln!("runner-wrapper: {msg}");
}

impl Coordinator {
    pub fn new(settings: LockSettings) -> io::Result<Arc<Coordinator>> {
        let paths = ResourcePaths::new(&settings.dir, &settings.resource);
        let ctx = |e: io::Error| {
            io::Error::new(
                e.kind(),
                format!("lock directory {}: {e}", settings.dir.display()),
            )
        };
        paths.ensure(&settings.dir).map_err(ctx)?;
        // Create the lock file now, so `ghr locks` lists the resource before its first job.
        drop(paths.open_lock().map_err(ctx)?);
        Ok(Arc::new(Coordinator {
            settings,
            paths,
            state: Mutex::new(State::default()),
            output_sync: OnceLock::new(),
        }))
    }

    pub fn set_output_sync(&self, f: SyncFn) {
        let _ = self.output_sync.set(f);
    }

    fn state(&self) -> MutexGuard<'_, State> {
        // A panicked thread must not wedge the lock forever; the state stays consistent per step.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Serve hook clients on `listener` (one thread per connection).
    pub fn serve(self: &Arc<Self>, listener: UnixListener) {
        let me = Arc::clone(self);
        thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let me = Arc::clone(&me);
                thread::spawn(move || {
                    if let Err(e) = me.handle(stream) {
                        log(&format!("control connection: {e}"));
                    }
                });
            }
        });
    }

    fn handle(self: &Arc<Self>, stream: UnixStream) -> io::Result<()> {
        let mut reader = BufReader::new(stream.try_clone()?);
        let req = read_request(&mut reader)?;
        let mut out = stream;
        match req.verb {
            Verb::Completed => {
                let released = self.release_all("the job's completed hook ran");
                let msg = if released {
                    format!("runner-wrapper: released {}", self.settings.resource)
                } else {
                    format!("runner-wrapper: {} was not held", self.settings.resource)
                };
                send(&mut out, &Reply::Info(msg))?;
                send(&mut out, &Reply::Ok)
            }
            Verb::Started => self.started(req, reader, out),
        }
    }

    fn started(
        self: &Arc<Self>,
        req: Request,
        mut reader: BufReader<UnixStream>,
        mut out: UnixStream,
    ) -> io::Result<()> {
        // A completion line of the previous job still in the pipe must act now, not after
        // this job is granted the lock.
        if let Some(sync) = self.output_sync.get() {
            sync();
        }
        let who = self.owner_record(&req);
        let (tx, rx) = channel();
        let pending = match self.enqueue(&who, tx.clone()) {
            Ok(p) => p,
            Err(e) => {
                let msg = format!("runner-wrapper: cannot queue for {}: {e}", who.resource);
                return send(&mut out, &Reply::Fail(msg));
            }
        };
        // The client closing its end (killed, gave up) withdraws the request.
        let gone = tx.clone();
        thread::spawn(move || {
            let mut buf = [0u8; 64];
            while matches!(reader.read(&mut buf), Ok(n) if n > 0) {}
            let _ = gone.send(Event::ClientGone);
        });
        let me = Arc::clone(self);
        let p = Arc::clone(&pending);
        thread::spawn(move || me.acquire(p));

        let start = Instant::now();
        let deadline = self.settings.timeout.map(|t| start + t);
        // A lock granted at once is not worth a "waiting" line in the job log.
        let mut next_status = start + Duration::from_millis(50);
        loop {
            let now = Instant::now();
            if now >= next_status {
                let _ = send(
                    &mut out,
                    &Reply::Info(self.waiting_message(&pending, start)),
                );
                next_status = now + self.settings.status_interval;
            }
            let mut wake = next_status;
            if let Some(d) = deadline {
                wake = wake.min(d);
            }
            match rx.recv_timeout(wake.saturating_duration_since(Instant::now())) {
                Ok(Event::Granted(waited)) => {
                    let msg = format!(
                        "runner-wrapper: acquired {} after {:.1}s",
                        self.settings.resource,
                        waited.as_secs_f64()
                    );
                    // One write for both lines: one wake-up of the client, not two.
                    let both = Reply::Info(msg).to_line() + &Reply::Ok.to_line();
                    if out.write_all(both.as_bytes()).is_err() {
                        self.withdraw(&pending);
                    }
                    return Ok(());
                }
                Ok(Event::Failed(e)) => {
                    self.withdraw(&pending);
                    return send(&mut out, &Reply::Fail(format!("runner-wrapper: {e}")));
                }
                Ok(Event::Withdrawn(why)) => {
                    return send(&mut out, &Reply::Fail(format!("runner-wrapper: {why}")));
                }
                Ok(Event::ClientGone) | Err(RecvTimeoutError::Disconnected) => {
                    self.withdraw(&pending);
                    log(&format!(
                        "started hook went away; withdrew the request for {}",
                        self.settings.resource
                    ));
                    return Ok(());
                }
                Err(RecvTimeoutError::Timeout) => {
                    if deadline.is_some_and(|d| Instant::now() >= d) {
                        self.withdraw(&pending);
                        let t = self.settings.timeout.unwrap_or_default().as_secs_f64();
                        let msg = format!(
                            "runner-wrapper: gave up after waiting {t}s (RUNNER_LOCK_TIMEOUT) for resource {}; {}",
                            self.settings.resource,
                            self.holder_text()
                        );
                        return send(&mut out, &Reply::Fail(msg));
                    }
                }
            }
        }
    }

    fn owner_record(&self, req: &Request) -> OwnerRecord {
        let repository = req.get("GITHUB_REPOSITORY").to_string();
        let (org, repo) = if !self.settings.org.is_empty() {
            (self.settings.org.clone(), self.settings.repo.clone())
        } else {
            let (o, r) = repository.split_once('/').unwrap_or((&repository, ""));
            (o.to_string(), r.to_string())
        };
        let runner = match req.get("RUNNER_NAME") {
            "" => self.settings.runner_name.clone(),
            r => r.to_string(),
        };
        OwnerRecord {
            resource: self.settings.resource.clone(),
            runner,
            org,
            repo,
            repository,
            run_id: req.get("GITHUB_RUN_ID").into(),
            run_attempt: req.get("GITHUB_RUN_ATTEMPT").into(),
            job: req.get("GITHUB_JOB").into(),
            since: now_epoch(),
            pid: std::process::id(),
            host: hostname(),
        }
    }

    /// Draw a ticket for a new request. A lock still held from an earlier job (its completed
    /// hook never ran) is released first: holding it into the next job would starve other orgs,
    /// and queueing behind ourselves would deadlock.
    fn enqueue(&self, who: &OwnerRecord, events: Sender<Event>) -> io::Result<Arc<Pending>> {
        let mut st = self.state();
        if st.held.take().is_some() {
            log("released the lock left over from the previous job (no completed hook)");
        }
        // Likewise a request still waiting for an earlier job (its hook orphaned): the runner
        // runs one job at a time, so that job is over and must not be granted ahead of us.
        withdraw_all(&mut st, "a newer job of this runner asked for the lock");
        let ticket = tickets::draw(&self.paths, who)?;
        st.next_id += 1;
        let p = Arc::new(Pending {
            id: st.next_id,
            ticket_number: ticket.number,
            who: who.clone(),
            cancelled: AtomicBool::new(false),
            ticket: Mutex::new(Some(ticket)),
            events,
        });
        st.pending.push(Arc::clone(&p));
        Ok(p)
    }

    /// The blocking part, on its own thread: our turn in the queue, then the lock itself.
    fn acquire(&self, p: Arc<Pending>) {
        let start = Instant::now();
        let cancelled = || p.cancelled.load(Ordering::SeqCst);
        let result = (|| -> io::Result<Option<File>> {
            if !tickets::wait_turn(&self.paths.queue, p.ticket_number, &cancelled)? {
                return Ok(None);
            }
            let file = self.paths.open_lock()?;
            file.lock()?;
            Ok(Some(file))
        })();
        let mut st = self.state();
        match result {
            Ok(Some(file)) if !cancelled() => {
                let mut record = p.who.clone();
                record.since = now_epoch();
                if let Err(e) = record.write_atomic(&self.paths.owner) {
                    log(&format!("cannot write the owner record: {e}"));
                }
                st.held = Some(Held {
                    _file: file,
                    owner_path: self.paths.owner.clone(),
                });
                st.held_for = p.id;
                st.pending.retain(|q| q.id != p.id);
                drop(p.ticket.lock().map(|mut t| t.take()));
                let _ = p.events.send(Event::Granted(start.elapsed()));
            }
            Ok(_) => {} // withdrawn meanwhile; the lock (if we got it) closes right here
            Err(e) => {
                let _ = p.events.send(Event::Failed(format!(
                    "locking {} failed: {e}",
                    self.settings.resource
                )));
            }
        }
    }

    /// Withdraw a request: give up our place (successors proceed at once), and if the grant
    /// raced in already, let go of the lock too, since nobody will use it.
    fn withdraw(&self, p: &Pending) {
        let mut st = self.state();
        p.cancelled.store(true, Ordering::SeqCst);
        st.pending.retain(|q| q.id != p.id);
        drop(p.ticket.lock().map(|mut t| t.take()));
        if st.held.is_some() && st.held_for == p.id {
            st.held = None;
        }
    }

    /// Release the lock and withdraw every waiting request (the job they belong to is over).
    /// Returns whether a lock was held.
    pub fn release_all(&self, why: &str) -> bool {
        let mut st = self.state();
        let had = st.held.take().is_some();
        withdraw_all(&mut st, why);
        if had {
            log(&format!("released {}: {why}", self.settings.resource));
        }
        had
    }

    /// Safety net: the Listener's "Job X completed with result: Y" line.
    pub fn on_runner_line(&self, line: &str) {
        if line.contains("Job ") && line.contains(" completed with result: ") {
            self.release_all("the runner reported the job completed");
        }
    }

    fn holder_text(&self) -> String {
        match status::read_resource(&self.paths) {
            Ok(st) => match st.live_holder() {
                Some(h) => format!(
                    "held by {} since {} ({}s)",
                    h.record.describe(),
                    format_utc(h.record.since),
                    h.held_for_secs
                ),
                None => "not held right now (free or being handed over)".into(),
            },
            Err(e) => format!("holder unknown ({e})"),
        }
    }

    fn waiting_message(&self, p: &Pending, start: Instant) -> String {
        let (ahead, total) = match status::read_resource(&self.paths) {
            Ok(st) => {
                let live: Vec<_> = st.live_waiters().collect();
                let ahead = live.iter().filter(|w| w.ticket < p.ticket_number).count();
                (ahead, live.len())
            }
            Err(_) => (0, 0),
        };
        format!(
            "runner-wrapper: waiting for resource {} ({}s so far): {}; place in queue {} of {}",
            self.settings.resource,
            start.elapsed().as_secs(),
            self.holder_text(),
            ahead + 1,
            total.max(ahead + 1)
        )
    }
}

/// Withdraw every waiting request (caller holds the state lock).
fn withdraw_all(st: &mut State, why: &str) {
    for p in st.pending.drain(..) {
        log(&format!("withdrew a waiting request: {why}"));
        p.cancelled.store(true, Ordering::SeqCst);
        drop(p.ticket.lock().map(|mut t| t.take()));
        let _ = p
            .events
            .send(Event::Withdrawn(format!("request withdrawn: {why}")));
    }
}

fn send(out: &mut UnixStream, reply: &Reply) -> io::Result<()> {
    out.write_all(reply.to_line().as_bytes())?;
    out.flush()
}

fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|s| s.trim().to_string())
        .unwrap_or_default()
}
