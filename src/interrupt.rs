//! Ctrl-C, SIGTERM and SIGHUP while ghr changes a fleet: clean up, then exit, instead of
//! dying in the middle of a step. The signals are blocked in every thread and taken by one
//! thread with sigwait; it runs the cleanups registered so far (removing one-off
//! registration containers) and exits with 128 + the signal (130 for Ctrl-C).
//!
//! Meanwhile the command's own thread stops at its next `checkpoint` (between the
//! executor's phases, and before `main` returns), so it neither goes on working nor exits
//! first with a code of its own.
//!
//! Children start with an empty signal mask (std resets it), so docker and compose still get
//! the terminal's Ctrl-C themselves.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;

type Cleanup = Box<dyn Fn() + Send>;

static CLEANUPS: Mutex<Vec<Cleanup>> = Mutex::new(Vec::new());

/// Set once a signal came: the command's own thread stops at its next [`checkpoint`].
static INTERRUPTED: AtomicBool = AtomicBool::new(false);

const SIGNALS: [i32; 3] = [libc::SIGINT, libc::SIGTERM, libc::SIGHUP];

fn set() -> libc::sigset_t {
    // SAFETY: sigemptyset/sigaddset only write into the set we own.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        for s in SIGNALS {
            libc::sigaddset(&mut set, s);
        }
        set
    }
}

/// Takes over INT, TERM and HUP. Call before the command starts any thread (threads inherit
/// the mask of the thread that starts them).
pub fn install() {
    let set = set();
    // SAFETY: a valid set; blocking signals has no memory effects.
    let rc = unsafe { libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut()) };
    if rc != 0 {
        return; // Without the mask the default actions stay: ghr just dies, as before.
    }
    std::thread::spawn(move || {
        let mut sig = 0;
        // SAFETY: valid set and out pointer.
        if unsafe { libc::sigwait(&set, &mut sig) } != 0 {
            return;
        }
        INTERRUPTED.store(true, Ordering::SeqCst);
        crate::ui::info("ghr: interrupted; cleaning up");
        let cleanups = CLEANUPS.lock().unwrap_or_else(|e| e.into_inner());
        for cleanup in cleanups.iter() {
            cleanup();
        }
        std::process::exit(128 + sig);
    });
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
