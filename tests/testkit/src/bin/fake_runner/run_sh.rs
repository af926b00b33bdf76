//! `run.sh`: the real script's process model, which decides whether a stopped container's
//! runner goes offline.
//!
//! - The Listener (`bin/Runner.Listener run`) is a child process, not this process.
//! - With `RUNNER_MANUALLY_TRAP_SIG` set (the official image sets it), the Listener runs in its
//!   own process group, and INT/TERM sent to run.sh are passed on as SIGINT to that group: the
//!   Listener deletes its session (offline) and exits.
//! - Without it, run.sh installs no handler: SIGTERM kills run.sh (or, as PID 1, is ignored by
//!   the kernel) and the Listener never hears of it; it is killed later and stays online on
//!   GitHub until its long poll lapses.
//! - Listener exit codes, as run-helper.sh maps them: 2, 3, 4 restart it (2 after 5 s); every
//!   other code ends run.sh with exit code 0 (1 is "terminated error, no retry needed", e.g.
//!   the registration was deleted on GitHub).

use crate::common::{refuses_root, role_command, root, signal_group, SIGINT};
use std::sync::atomic::{AtomicI32, Ordering};
use std::time::Duration;

static PENDING: AtomicI32 = AtomicI32::new(0);

extern "C" fn remember(sig: i32) {
    PENDING.store(sig, Ordering::SeqCst);
}

extern "C" {
    fn signal(signum: i32, handler: extern "C" fn(i32)) -> usize;
}

pub fn main(args: &[String]) -> i32 {
    if refuses_root("Must not run interactively with sudo") {
        return 1;
    }
    let trap = std::env::var_os("RUNNER_MANUALLY_TRAP_SIG").is_some_and(|v| !v.is_empty());
    if trap {
        // SAFETY: the handler only stores into an atomic.
        unsafe {
            signal(crate::common::SIGINT, remember);
            signal(crate::common::SIGTERM, remember);
        }
    }
    let root = root();
    loop {
        let mut cmd = role_command(&root, "Runner.Listener");
        cmd.arg("run").args(args);
        if trap {
            std::os::unix::process::CommandExt::process_group(&mut cmd, 0);
        }
        let mut child = match cmd.spawn() {
            Ok(c) => c,
            Err(e) => {
                eprintln!("cannot start the Listener: {e}");
                return 1;
            }
        };
        let status = if trap {
            let mut forwarded = false;
            loop {
                if let Ok(Some(status)) = child.try_wait() {
                    break status;
                }
                if !forwarded && PENDING.load(Ordering::SeqCst) != 0 {
                    signal_group(child.id(), SIGINT);
                    forwarded = true;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        } else {
            match child.wait() {
                Ok(s) => s,
                Err(_) => return 1,
            }
        };
        match status.code() {
            Some(2) => {
                println!(
                    "Runner listener exit with retryable error, re-launch runner in 5 seconds."
                );
                std::thread::sleep(Duration::from_secs(5));
                println!("Restarting runner...");
            }
            Some(3) | Some(4) => println!("Restarting runner..."),
            Some(0) => {
                println!(
                    "Runner listener exit with 0 return code, stop the service, no retry needed."
                );
                println!("Exiting runner...");
                return 0;
            }
            Some(1) => {
                println!("Runner listener exit with terminated error, stop the service, no retry needed.");
                println!("Exiting runner...");
                return 0;
            }
            _ => {
                println!("Exiting runner...");
                return 0;
            }
        }
    }
}
