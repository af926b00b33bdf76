//! Running a health check: `/bin/sh -c "$RUNNER_HEALTHCHECK"` in its own process group, with
//! the member in `GHR_RESOURCE` and the member's `RESOURCE_ENV_<MEMBER>`, stdout and stderr
//! merged into one pipe. The exit status comes from the wrapper's reaper (it reaps every child);
//! the output from a thread reading the pipe to its end.

use std::io::{self, Read};
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::sync::mpsc::Sender;
use std::thread;

use super::Raw;
use crate::contract::env;
use crate::signals;

/// Keep at most this much of a check's output while reading (the record keeps less).
const READ_LIMIT: usize = 64 * 1024;

/// Start the check; returns its pid (also its process group).
pub fn spawn(
    command: &str,
    member_name: &str,
    member_env: &[(String, String)],
    member: usize,
    tx: Sender<Raw>,
) -> io::Result<u32> {
    let (mut reader, writer) = io::pipe()?;
    let mut cmd = Command::new("/bin/sh");
    cmd.arg("-c")
        .arg(command)
        .env(env::GRANTED_RESOURCE, member_name)
        // The runner's JIT configuration (its credentials) is for the runner only.
        .env_remove(env::JITCONFIG)
        .envs(member_env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::null())
        .stdout(writer.try_clone()?)
        .stderr(writer)
        .process_group(0);
    // SAFETY: the closure only calls pthread_sigmask, which is async-signal-safe.
    unsafe {
        cmd.pre_exec(signals::unblock_in_child);
    }
    let child = cmd.spawn()?;
    // The Command holds the pipe's write ends; drop it so the reader sees EOF.
    drop(cmd);
    thread::spawn(move || {
        let mut out = Vec::new();
        let mut buf = [0u8; 8192];
        loop {
            match reader.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    out.extend_from_slice(&buf[..n]);
                    if out.len() > READ_LIMIT {
                        out.drain(..out.len() - READ_LIMIT);
                    }
                }
            }
        }
        let _ = tx.send(Raw::CheckOutput {
            member,
            output: String::from_utf8_lossy(&out).into_owned(),
        });
    });
    Ok(child.id())
}
