//! Stopping work that was interrupted: the effects start their child processes and GitHub
//! requests through here, register cleanups (removing one-off registration containers), and
//! stop at checkpoints; the front end's signal handling (`cli::signals`) calls [`interrupt`]
//! and then exits.
//!
//! After [`interrupt`] returns, nothing ghr started is still at work: no child process (each
//! was killed with its process group, and none can start any more), no GitHub request in
//! flight (none can start any more, and those sent were answered or given up on), and the
//! cleanups ran. So once ghr has exited on a signal, nothing more changes because of it.
//!
//! The command's own thread stops at its next [`checkpoint`] (between the executor's phases,
//! and before `main` returns), so it neither goes on working nor exits first with a code of
//! its own.

use std::cell::Cell;
use std::collections::BTreeMap;
use std::process::Child;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

type Cleanup = Box<dyn Fn() + Send>;

static CLEANUPS: Mutex<Vec<Cleanup>> = Mutex::new(Vec::new());

/// Set once a signal came: the command's own thread stops at its next [`checkpoint`].
static INTERRUPTED: AtomicBool = AtomicBool::new(false);

/// What is at work right now: child processes (by process group) and GitHub requests.
struct Work {
    interrupted: bool,
    next: u64,
    /// Children started through [`spawn`] and not reaped yet: their process group ids.
    children: BTreeMap<u64, i32>,
    /// Requests (and other effects) begun through [`effect`] and not finished.
    in_flight: usize,
}

/// The work of one process (one static instance; tests make their own).
struct Registry {
    work: Mutex<Work>,
    done: Condvar,
}

static REGISTRY: Registry = Registry::new();

/// How long [`interrupt`] waits for killed children to be reaped and for requests in flight
/// to end, each; past it ghr exits anyway (a child that survives SIGKILL is the kernel's).
const SETTLE: Duration = Duration::from_secs(5);

thread_local! {
    /// True on the thread running the cleanups: they may still start children.
    static CLEANING: Cell<bool> = const { Cell::new(false) };
}

/// Why something was not started: the command is being interrupted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Interrupted;

/// A started child process that an interrupt kills; dropping it (once the child has exited,
/// and before it is reaped, so its process group id cannot be reused meanwhile) forgets it.
#[must_use]
pub struct Tracked {
    registry: &'static Registry,
    id: u64,
}

impl Drop for Tracked {
    fn drop(&mut self) {
        self.registry.lock().children.remove(&self.id);
        self.registry.done.notify_all();
    }
}

/// A GitHub request (or another effect that must not be cut in the middle) at work; an
/// interrupt waits for it to end before ghr exits.
#[must_use]
pub struct Effect {
    registry: &'static Registry,
}

impl Drop for Effect {
    fn drop(&mut self) {
        self.registry.lock().in_flight -= 1;
        self.registry.done.notify_all();
    }
}

impl Registry {
    const fn new() -> Registry {
        Registry {
            work: Mutex::new(Work {
                interrupted: false,
                next: 0,
                children: BTreeMap::new(),
                in_flight: 0,
            }),
            done: Condvar::new(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Work> {
        self.work.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn spawn(
        &'static self,
        start: impl FnOnce() -> std::io::Result<Child>,
    ) -> Result<std::io::Result<(Child, Tracked)>, Interrupted> {
        let mut w = self.lock();
        if w.interrupted && !CLEANING.get() {
            return Err(Interrupted);
        }
        let child = match start() {
            Ok(child) => child,
            Err(e) => return Ok(Err(e)),
        };
        let id = w.next;
        w.next += 1;
        w.children.insert(id, child.id() as i32);
        Ok(Ok((child, Tracked { registry: self, id })))
    }

    fn effect(&'static self) -> Result<Effect, Interrupted> {
        let mut w = self.lock();
        if w.interrupted && !CLEANING.get() {
            return Err(Interrupted);
        }
        w.in_flight += 1;
        Ok(Effect { registry: self })
    }

    /// Nothing new starts from now on; every child is killed with its process group.
    fn stop_all(&self) {
        let mut w = self.lock();
        w.interrupted = true;
        for pgid in w.children.values() {
            // SAFETY: plain syscall. The group leader is our child and not reaped yet (its
            // entry goes before it is), so the group id is still ours.
            unsafe { libc::kill(-pgid, libc::SIGKILL) };
        }
    }

    /// Waits until `done` holds, at most `limit`; whether it does.
    fn settle(&self, limit: Duration, done: impl Fn(&Work) -> bool) -> bool {
        let deadline = Instant::now() + limit;
        let mut w = self.lock();
        while !done(&w) {
            let now = Instant::now();
            if now >= deadline {
                return false;
            }
            w = self
                .done
                .wait_timeout(w, deadline - now)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
        true
    }
}

/// Whether a signal came (the command is being stopped).
pub fn is_interrupted() -> bool {
    INTERRUPTED.load(Ordering::SeqCst)
}

/// Starts a child with `start` (which must put it in a process group of its own), unless
/// the command is interrupted; an interrupt from now on kills its whole group. The check
/// and the start are one step, so no child starts after the interrupt killed the others.
pub fn spawn(
    start: impl FnOnce() -> std::io::Result<Child>,
) -> Result<std::io::Result<(Child, Tracked)>, Interrupted> {
    REGISTRY.spawn(start)
}

/// Begins an effect (a GitHub request), unless the command is interrupted.
pub fn effect() -> Result<Effect, Interrupted> {
    REGISTRY.effect()
}

/// A signal came: nothing new starts from now on, every child ghr started is killed (with
/// its process group), `announce` says so, the cleanups registered so far run on the
/// caller's thread, and the GitHub requests in flight end. The command's own thread stops at
/// its next [`checkpoint`].
pub fn interrupt(announce: impl FnOnce()) {
    INTERRUPTED.store(true, Ordering::SeqCst);
    REGISTRY.stop_all();
    announce();
    REGISTRY.settle(SETTLE, |w| w.children.is_empty());
    CLEANING.set(true);
    let cleanups = CLEANUPS.lock().unwrap_or_else(|e| e.into_inner());
    for cleanup in cleanups.iter() {
        cleanup();
    }
    drop(cleanups);
    CLEANING.set(false);
    REGISTRY.settle(SETTLE, |w| w.in_flight == 0);
}

/// Runs `cleanup` if the command is interrupted (after its children were killed).
pub fn on_interrupt(cleanup: impl Fn() + Send + 'static) {
    CLEANUPS
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .push(Box::new(cleanup));
}

/// A point where the command may stop. Once a signal came, the command's thread does no
/// more work and waits here for the signal thread, which cleans up and exits with 128 + the
/// signal: otherwise the command would go on to its next step meanwhile (start containers
/// whose registration the cleanup just cut short) and exit first, with its own code.
pub fn checkpoint() {
    if is_interrupted() {
        loop {
            std::thread::park();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::process::CommandExt;
    use std::process::Command;

    fn registry() -> &'static Registry {
        Box::leak(Box::new(Registry::new()))
    }

    fn sleeper() -> std::io::Result<Child> {
        Command::new("sleep").arg("30").process_group(0).spawn()
    }

    #[test]
    fn an_interrupt_kills_the_children_and_nothing_starts_after_it() {
        let r = registry();
        let (mut child, tracked) = r.spawn(sleeper).unwrap().unwrap();
        let effect = r.effect().unwrap();
        r.stop_all();
        let status = child.wait().unwrap();
        assert_eq!(
            std::os::unix::process::ExitStatusExt::signal(&status),
            Some(libc::SIGKILL)
        );
        assert!(!r.settle(Duration::from_millis(10), |w| w.children.is_empty()));
        drop(tracked);
        assert!(r.settle(Duration::from_millis(10), |w| w.children.is_empty()));
        assert!(matches!(r.spawn(sleeper), Err(Interrupted)));
        assert!(r.effect().is_err());
        assert!(!r.settle(Duration::from_millis(10), |w| w.in_flight == 0));
        drop(effect);
        assert!(r.settle(Duration::from_millis(10), |w| w.in_flight == 0));
    }

    #[test]
    fn cleanups_may_still_start_children() {
        let r = registry();
        r.stop_all();
        CLEANING.set(true);
        let started = r.spawn(|| Command::new("true").process_group(0).spawn());
        CLEANING.set(false);
        let (mut child, _tracked) = started.unwrap().unwrap();
        assert!(child.wait().unwrap().success());
    }
}
