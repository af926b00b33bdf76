//! Ctrl-C, SIGTERM and SIGHUP while ghr changes a fleet: clean up, then exit, instead of
//! dying in the middle of a step. The signals are blocked in every thread and taken by one
//! thread with sigwait; it stops everything ghr started and runs the cleanups registered so
//! far (see `world::cancel`), then exits with 128 + the signal (130 for Ctrl-C).
//!
//! Children run in process groups of their own (`world::children`), so the terminal's
//! Ctrl-C reaches ghr alone, and ghr decides what stops: it kills them all, and no new one
//! starts.

use crate::world::cancel;

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
        cancel::interrupt(|| crate::cli::ui::info("ghr: interrupted; cleaning up"));
        std::process::exit(128 + sig);
    });
}
