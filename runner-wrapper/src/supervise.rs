//! Run the runner as our child: wire up the hooks, pipe its stdout through us (to see the
//! Listener's "completed" lines), forward signals, reap, and release the lock when it exits.

use std::ffi::OsString;
use std::io;
use std::os::unix::net::UnixListener;
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use crate::config::{Config, HOOK_COMPLETED_ENV, HOOK_STARTED_ENV, SOCKET_ENV};
use crate::coordinator::{Coordinator, LockSettings};
use crate::hooks::RuntimeDir;
use crate::output::OutputPump;
use crate::signals;

/// No resource: behave as if unwrapped (exec keeps pid, signals and exit code).
pub fn passthrough(command: &[OsString]) -> i32 {
    let err = Command::new(&command[0]).args(&command[1..]).exec();
    eprintln!("runner-wrapper: cannot run {:?}: {err}", command[0]);
    127
}

/// Supervise the runner with locking on `resource`; returns the runner's exit code.
pub fn run_locked(cfg: &Config, resource: &str) -> io::Result<i32> {
    signals::block()?;
    signals::become_subreaper();
    // The hook scripts exec this very binary, wherever it is mounted.
    let exe =
        std::env::current_exe().or_else(|e| std::env::args_os().next().map(Into::into).ok_or(e))?;
    let rt = RuntimeDir::create()?;
    rt.write_scripts(
        &exe,
        cfg.user_started.as_deref(),
        cfg.user_completed.as_deref(),
    )?;
    let listener = UnixListener::bind(&rt.socket)?;
    let coord = Coordinator::new(LockSettings {
        dir: cfg.lock_dir.clone(),
        resource: resource.to_string(),
        runner_name: cfg.runner_name.clone(),
        org: cfg.org.clone(),
        repo: cfg.repo.clone(),
        timeout: cfg.timeout,
        status_interval: cfg.status_interval,
    })?;
    coord.serve(listener);

    let mut cmd = Command::new(&cfg.command[0]);
    // SAFETY: the closure only calls pthread_sigmask, which is async-signal-safe.
    unsafe {
        cmd.pre_exec(signals::unblock_in_child);
    }
    let mut child = cmd
        .args(&cfg.command[1..])
        .env(HOOK_STARTED_ENV, &rt.started)
        .env(HOOK_COMPLETED_ENV, &rt.completed)
        .env(SOCKET_ENV, &rt.socket)
        .stdout(Stdio::piped())
        .spawn()
        .map_err(|e| io::Error::new(e.kind(), format!("cannot run {:?}: {e}", cfg.command[0])))?;
    let child_pid = child.id();

    // Re-print the runner's stdout line by line and watch for the completion line.
    let (done_tx, done_rx) = mpsc::channel::<()>();
    let stdout = child.stdout.take().expect("piped stdout");
    let line_coord = coord.clone();
    let pump = OutputPump::new(
        stdout,
        Box::new(move |line: &str| line_coord.on_runner_line(line)),
    );
    let sync_pump = pump.clone();
    coord.set_output_sync(Box::new(move || sync_pump.sync()));
    std::thread::spawn(move || {
        pump.run();
        let _ = done_tx.send(());
    });

    // We reap with waitpid(-1) ourselves, so `child` is never waited on through std.
    let code = loop {
        let sig = signals::wait()?;
        if sig == libc::SIGCHLD {
            if let Some((_, code)) = signals::reap().into_iter().find(|(p, _)| *p == child_pid) {
                break code;
            }
        } else {
            signals::kill(child_pid, sig);
        }
    };
    coord.release_all("the runner exited");
    // Let the last lines through, but do not hang on a grandchild that kept the pipe open.
    let _ = done_rx.recv_timeout(Duration::from_millis(500));
    drop(rt);
    Ok(code)
}
