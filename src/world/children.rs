//! Every child process ghr runs (docker, compose) goes through [`run`]: in a process group
//! of its own (an interrupt kills the whole group, a `docker compose` plugin included), never
//! started once the command is interrupted (see `cancel`), and never waited for without a
//! limit: past it the group is killed and the caller learns that it timed out. A wait that
//! goes on for a while says what it waits for, once. A ghr killed outright (`kill -9`) takes
//! its children along (`PR_SET_PDEATHSIG`): no compose of a dead ghr goes on creating while
//! the next command runs.

use crate::world::cancel;
use std::io::{Read, Write};
use std::os::unix::process::CommandExt;
use std::process::{Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

/// A wait longer than this is announced (once), with what it waits for and its limit.
pub const NOTICE_AFTER: Duration = Duration::from_secs(15);

/// Why a child did not run to its end.
#[derive(Debug)]
pub enum Failure {
    /// It could not be started (the program is missing, ...).
    Spawn(std::io::Error),
    /// The command is being interrupted: it was not started, or it was killed.
    Interrupted,
    /// It ran past its limit and was killed.
    TimedOut(Duration),
}

/// What a finished child said.
#[derive(Debug)]
pub struct Output {
    pub status: ExitStatus,
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
}

/// How a child's standard streams are connected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Streams {
    /// stdout and stderr collected.
    Capture,
    /// stdout to ghr's stderr, stderr to ghr's stderr (progress a person reads, e.g. a build).
    Show,
}

/// Runs `cmd` to its end or at most `limit`: `input`, when given, on its stdin (then closed;
/// else stdin is /dev/null). `what` names the wait for the notice ("registering runner-3").
pub fn run(
    cmd: &mut Command,
    input: Option<&[u8]>,
    streams: Streams,
    limit: Duration,
    what: &str,
) -> Result<Output, Failure> {
    // SAFETY: prctl and getppid are async-signal-safe, and the closure touches nothing else.
    // The signal comes when the thread that started the child ends; that thread waits for
    // the child here, so it ends first only when ghr itself dies.
    let ghr = std::process::id();
    unsafe {
        cmd.pre_exec(move || {
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL as libc::c_ulong);
            if libc::getppid() as u32 != ghr {
                return Err(std::io::Error::other("ghr died while starting it"));
            }
            Ok(())
        });
    }
    cmd.process_group(0).stdin(if input.is_some() {
        Stdio::piped()
    } else {
        Stdio::null()
    });
    match streams {
        Streams::Capture => {
            cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
        }
        Streams::Show => {
            cmd.stdout(Stdio::from(std::io::stderr()));
        }
    }
    let (mut child, tracked) = match cancel::spawn(|| cmd.spawn()) {
        Err(cancel::Interrupted) => return Err(Failure::Interrupted),
        Ok(Err(e)) => return Err(Failure::Spawn(e)),
        Ok(Ok(started)) => started,
    };
    if let (Some(bytes), Some(mut stdin)) = (input, child.stdin.take()) {
        // A child that exits without reading shows its own complaint; a small input fits
        // the pipe, so this does not block.
        let _ = stdin.write_all(bytes);
    }
    let collect = |pipe: Option<Box<dyn Read + Send>>| {
        pipe.map(|mut p| {
            std::thread::spawn(move || {
                let mut bytes = Vec::new();
                let _ = p.read_to_end(&mut bytes);
                bytes
            })
        })
    };
    let stdout = collect(
        child
            .stdout
            .take()
            .map(|p| Box::new(p) as Box<dyn Read + Send>),
    );
    let stderr = collect(
        child
            .stderr
            .take()
            .map(|p| Box::new(p) as Box<dyn Read + Send>),
    );
    let pid = child.id();
    let started = Instant::now();
    let mut noticed = false;
    let mut timed_out = false;
    let mut pause = Duration::from_millis(2);
    while !has_exited(pid) {
        let waited = started.elapsed();
        if waited >= limit && !timed_out {
            // SAFETY: plain syscall on our child's group; the child is not reaped yet.
            unsafe { libc::kill(-(pid as i32), libc::SIGKILL) };
            timed_out = true;
        }
        if waited >= NOTICE_AFTER && !noticed && !timed_out {
            noticed = true;
            crate::world::notify::info(&format!(
                "still {what} after {} (ghr waits at most {})",
                runner_wrapper::contract::format_duration(Duration::from_secs(waited.as_secs())),
                runner_wrapper::contract::format_duration(limit)
            ));
        }
        std::thread::sleep(pause);
        pause = (pause * 2).min(Duration::from_millis(50));
    }
    // Forgotten before it is reaped: its group id cannot be reused while it is tracked.
    drop(tracked);
    let status = child.wait().map_err(Failure::Spawn)?;
    let join = |h: Option<std::thread::JoinHandle<Vec<u8>>>| {
        h.map(|h| h.join().unwrap_or_default()).unwrap_or_default()
    };
    let (stdout, stderr) = (join(stdout), join(stderr));
    if timed_out {
        return Err(Failure::TimedOut(limit));
    }
    if cancel::is_interrupted() && std::os::unix::process::ExitStatusExt::signal(&status).is_some()
    {
        return Err(Failure::Interrupted);
    }
    Ok(Output {
        status,
        stdout,
        stderr,
    })
}

/// Whether child `pid` has exited, without reaping it (`waitid` with `WNOWAIT`).
fn has_exited(pid: u32) -> bool {
    // SAFETY: a zeroed siginfo_t is a valid out parameter; waitid only writes into it.
    unsafe {
        let mut info: libc::siginfo_t = std::mem::zeroed();
        let rc = libc::waitid(
            libc::P_PID,
            pid as libc::id_t,
            &mut info,
            libc::WEXITED | libc::WNOHANG | libc::WNOWAIT,
        );
        // ECHILD (or any error): there is nothing left to wait for.
        rc != 0 || info.si_pid() != 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sh(script: &str) -> Command {
        let mut cmd = Command::new("sh");
        cmd.args(["-c", script]);
        cmd
    }

    #[test]
    fn output_and_input_come_through() {
        let out = run(
            &mut sh("read x; echo \"got $x\"; echo oops >&2; exit 3"),
            Some(b"secret\n"),
            Streams::Capture,
            Duration::from_secs(10),
            "testing",
        )
        .unwrap();
        assert_eq!(out.status.code(), Some(3));
        assert_eq!(out.stdout, b"got secret\n");
        assert_eq!(out.stderr, b"oops\n");
    }

    #[test]
    fn a_child_past_its_limit_is_killed_with_its_group() {
        let dir = std::env::temp_dir().join(format!("ghr-children-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let marker = dir.join("grandchild-lived");
        // A grandchild in the same group that would write the marker after 1 s.
        let script = format!("(sleep 1; touch {}) & sleep 30", marker.display());
        let started = Instant::now();
        let err = run(
            &mut sh(&script),
            None,
            Streams::Capture,
            Duration::from_millis(200),
            "testing",
        )
        .unwrap_err();
        assert!(matches!(err, Failure::TimedOut(d) if d == Duration::from_millis(200)));
        assert!(started.elapsed() < Duration::from_secs(5));
        std::thread::sleep(Duration::from_millis(1500));
        assert!(!marker.exists(), "the grandchild outlived the limit");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_missing_program_is_a_spawn_failure() {
        let err = run(
            &mut Command::new("/nonexistent/ghr-no-such-program"),
            None,
            Streams::Capture,
            Duration::from_secs(1),
            "testing",
        )
        .unwrap_err();
        assert!(matches!(err, Failure::Spawn(_)));
    }
}
