//! Signals for a supervisor that may be PID 1: block them in every thread and take them one at
//! a time with sigwait, so no async-signal-safety puzzles. The runner child must not inherit
//! the mask (it would ignore our forwarded SIGTERM), so `unblock_in_child` clears it pre-exec.

use std::io;

/// Signals we forward to the runner.
pub const FORWARDED: &[i32] = &[libc::SIGINT, libc::SIGTERM, libc::SIGHUP, libc::SIGQUIT];

fn set_of(signals: &[i32]) -> libc::sigset_t {
    // SAFETY: sigemptyset/sigaddset only write into the set we own.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        for &s in signals {
            libc::sigaddset(&mut set, s);
        }
        set
    }
}

fn handled() -> Vec<i32> {
    let mut v = FORWARDED.to_vec();
    v.push(libc::SIGCHLD);
    v
}

/// Block the signals we handle; call before spawning any thread so all threads inherit it.
pub fn block() -> io::Result<()> {
    let set = set_of(&handled());
    // SAFETY: plain libc call with a valid set.
    let rc = unsafe { libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut()) };
    if rc != 0 {
        return Err(io::Error::from_raw_os_error(rc));
    }
    Ok(())
}

/// For `Command::pre_exec`: an empty signal mask in the child (async-signal-safe).
pub fn unblock_in_child() -> io::Result<()> {
    let set = set_of(&[]);
    // SAFETY: pthread_sigmask is async-signal-safe; the set is a valid empty set.
    let rc = unsafe { libc::pthread_sigmask(libc::SIG_SETMASK, &set, std::ptr::null_mut()) };
    if rc != 0 {
        return Err(io::Error::from_raw_os_error(rc));
    }
    Ok(())
}

/// Wait for the next handled signal.
pub fn wait() -> io::Result<i32> {
    let set = set_of(&handled());
    let mut sig = 0;
    // SAFETY: valid set and out pointer.
    let rc = unsafe { libc::sigwait(&set, &mut sig) };
    if rc != 0 {
        return Err(io::Error::from_raw_os_error(rc));
    }
    Ok(sig)
}

pub fn kill(pid: u32, sig: i32) {
    // SAFETY: sending a signal has no memory effects here.
    unsafe {
        libc::kill(pid as libc::pid_t, sig);
    }
}

/// Signal every process of the group led by `pgid`.
pub fn kill_group(pgid: u32, sig: i32) {
    if pgid > 1 {
        // SAFETY: sending a signal has no memory effects here.
        unsafe {
            libc::kill(-(pgid as libc::pid_t), sig);
        }
    }
}

/// Become a child subreaper: orphans of the runner (a hook whose Worker was killed) are
/// re-parented to us, not to a host init that may never reap them, and we reap them.
pub fn become_subreaper() {
    // SAFETY: prctl with integer arguments only.
    unsafe {
        libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
    }
}

/// Reap every exited child (as PID 1 orphans land on us too). Returns (pid, exit code).
pub fn reap() -> Vec<(u32, i32)> {
    let mut out = Vec::new();
    loop {
        let mut status = 0;
        // SAFETY: valid out pointer; WNOHANG never blocks.
        let pid = unsafe { libc::waitpid(-1, &mut status, libc::WNOHANG) };
        if pid <= 0 {
            return out;
        }
        let code = if libc::WIFEXITED(status) {
            libc::WEXITSTATUS(status)
        } else if libc::WIFSIGNALED(status) {
            128 + libc::WTERMSIG(status)
        } else {
            continue;
        };
        out.push((pid as u32, code));
    }
}
