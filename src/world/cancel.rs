//! Stopping work that was interrupted: the effects register cleanups (removing one-off
//! registration containers) and stop at checkpoints; the front end's signal handling
//! (`cli::signals`) calls [`interrupt`] and then exits.
//!
//! The command's own thread stops at its next [`checkpoint`] (between the executor's phases,
//! and before `main` returns), so it neither goes on working nor exits first with a code of
//! its own.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;

type Cleanup = Box<dyn Fn() + Send>;

static CLEANUPS: Mutex<Vec<Cleanup>> = Mutex::new(Vec::new());

/// Set once a signal came: the command's own thread stops at its next [`checkpoint`].
static INTERRUPTED: AtomicBool = AtomicBool::new(false);

/// A signal came: the command's own thread stops at its next [`checkpoint`] from now on;
/// `announce` says so, then the cleanups registered so far run on the caller's thread.
pub fn interrupt(announce: impl FnOnce()) {
    INTERRUPTED.store(true, Ordering::SeqCst);
    announce();
    let cleanups = CLEANUPS.lock().unwrap_or_else(|e| e.into_inner());
    for cleanup in cleanups.iter() {
        cleanup();
    }
}

/// Runs `cleanup` if the command is interrupted.
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
    if INTERRUPTED.load(Ordering::SeqCst) {
        loop {
            std::thread::park();
        }
    }
}
