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

/// Only the Listener's own lines count: `yyyy-MM-dd HH:mm:ssZ: ` (its `{DateTime.UtcNow:u}`
/// prefix), then the text. Trace lines (`[... INFO ...]`, on stdout in the official image),
/// the Worker's forwarded output and a job whose name looks like one of these lines do not.
pub fn classify(line: &str) -> Option<Line> {
    let line = line.trim_end_matches(['\n', '\r']);
    let text = listener_text(line)?;
    if let Some(rest) = text.strip_prefix("Job ") {
        let (_, result) = rest.rsplit_once(" completed with result: ")?;
        let known = [
            "Succeeded",
            "SucceededWithIssues",
            "Failed",
            "Canceled",
            "Skipped",
            "Abandoned",
        ];
        return known.contains(&result).then_some(Line::JobCompleted);
    }
    text.starts_with("Running job: ")
        .then_some(Line::RunningJob)
}

/// The text after the Listener's timestamp prefix, when the line has one.
fn listener_text(line: &str) -> Option<&str> {
    const SHAPE: &[u8] = b"dddd-dd-dd dd:dd:ddZ: ";
    let bytes = line.as_bytes();
    if bytes.len() < SHAPE.len() {
        return None;
    }
    let fits = SHAPE.iter().zip(bytes).all(|(want, got)| match want {
        b'd' => got.is_ascii_digit(),
        other => other == got,
    });
    fits.then(|| &line[SHAPE.len()..])
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
        for not_the_listener in [
            "[2026-11-22 20:00:05Z INFO JobDispatcher] finish job request for job 7 with result: Succeeded",
            "[WORKER 2026-11-22 20:00:05Z INFO BackgroundStepCoordinator] Background step 'Job x' completed with result: Succeeded",
            "Job build completed with result: Succeeded",
            "2026-11-22 20:00:05Z: Job build completed with result: maybe",
            "echo 2026-11-22 20:00:05Z: Job x completed with result: Succeeded",
        ] {
            assert_eq!(classify(not_the_listener), None, "{not_the_listener}");
        }
        // A job named like a line is still only one job's line.
        assert_eq!(
            classify("2026-11-22 20:00:05Z: Job a completed with result: Failed completed with result: Succeeded"),
            Some(Line::JobCompleted)
        );
    }
}
