//! The runner child: started with our hooks and its stdout piped through us (re-printed line by
//! line and scanned for the Listener's lines), stopped with SIGINT, reaped by the event loop.

use std::ffi::OsString;
use std::io;
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::sync::mpsc::{self, Receiver, Sender};
use std::thread;

use super::{PumpSlot, Raw};
use crate::contract::env;
use crate::hooks::RuntimeDir;
use crate::output::OutputPump;
use crate::signals;

/// What the Listener's stdout tells the wrapper.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Line {
    /// `<UTC>: Running job: <name>`
    RunningJob,
    /// `<UTC>: Job <name> completed with result: <result>`
    JobCompleted,
}

/// Matched as substrings, so the timestamp prefix does not matter.
pub fn classify(line: &str) -> Option<Line> {
    if line.contains("Job ") && line.contains(" completed with result: ") {
        Some(Line::JobCompleted)
    } else if line.contains("Running job: ") {
        Some(Line::RunningJob)
    } else {
        None
    }
}

pub struct RunnerProc {
    pub pid: u32,
    /// Signalled when the runner's stdout reached EOF (every line was handled).
    pub output_done: Receiver<()>,
}

pub fn spawn(
    command: &[OsString],
    rt: &RuntimeDir,
    tx: Sender<Raw>,
    slot: &PumpSlot,
) -> io::Result<RunnerProc> {
    let mut cmd = Command::new(&command[0]);
    cmd.args(&command[1..])
        .env(env::HOOK_STARTED, &rt.started)
        .env(env::HOOK_COMPLETED, &rt.completed)
        .env(env::SOCKET, &rt.socket)
        .stdout(Stdio::piped());
    // With it the real run.sh passes our SIGINT/SIGTERM to the listener, which then goes
    // offline cleanly; the stock image sets it, custom images may not.
    if std::env::var_os(env::MANUALLY_TRAP_SIG).is_none() {
        cmd.env(env::MANUALLY_TRAP_SIG, "1");
    }
    // SAFETY: the closure only calls pthread_sigmask, which is async-signal-safe.
    unsafe {
        cmd.pre_exec(signals::unblock_in_child);
    }
    let mut child = cmd
        .spawn()
        .map_err(|e| io::Error::new(e.kind(), format!("cannot run {:?}: {e}", command[0])))?;
    let stdout = child.stdout.take().expect("piped stdout");
    let line_tx = tx.clone();
    let pump = OutputPump::new(
        stdout,
        Box::new(move |line: &str| {
            if let Some(l) = classify(line) {
                let _ = line_tx.send(Raw::Line(l));
            }
        }),
    );
    *slot.lock().unwrap_or_else(|e| e.into_inner()) = Some(pump.clone());
    let (done_tx, output_done) = mpsc::channel();
    thread::spawn(move || {
        pump.run();
        let _ = done_tx.send(());
    });
    // We reap with waitpid(-1) ourselves, so `child` is never waited on through std.
    Ok(RunnerProc {
        pid: child.id(),
        output_done,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listener_lines() {
        assert_eq!(
            classify("2026-11-22 20:00:00Z: Running job: build\n"),
            Some(Line::RunningJob)
        );
        assert_eq!(
            classify("2026-11-22 20:00:05Z: Job build completed with result: Canceled\n"),
            Some(Line::JobCompleted)
        );
        assert_eq!(classify("2026-11-22 20:00:00Z: Listening for Jobs\n"), None);
    }
}
