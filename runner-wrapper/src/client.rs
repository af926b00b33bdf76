//! `runner-wrapper hook started|completed`: the hook side, a thin client of the wrapper.

use std::env;
use std::fs::OpenOptions;
use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::time::Duration;

use crate::contract::env as names;
use crate::hooks::run_user_hook;
use crate::protocol::{write_request, Reply, Request, Verb, JOB_ENV};

/// Run one hook; returns the process exit code (non-zero fails the job, as the runner does).
pub fn run(verb: Verb) -> i32 {
    match verb {
        Verb::Started => started(),
        Verb::Completed => completed(),
    }
}

fn started() -> i32 {
    watch_parent();
    let job_env = match talk(Verb::Started) {
        Ok(e) => e,
        Err(msg) => {
            eprintln!("{msg}");
            return 1;
        }
    };
    if let Err(msg) = export(&job_env) {
        eprintln!("{msg}");
        return 1;
    }
    run_user(Verb::Started, &job_env)
}

fn completed() -> i32 {
    // The user's hook runs while we still hold the lock; release comes after it either way.
    let code = run_user(Verb::Completed, &[]);
    if let Err(msg) = talk(Verb::Completed) {
        // Not fatal: if the wrapper is gone, so is its lock (the kernel dropped it).
        eprintln!("{msg} (warning only: a dead wrapper holds no lock)");
    }
    code
}

/// Give the job's later steps the granted member and its environment: the runner reads
/// `KEY=value` lines appended to `$GITHUB_ENV` after the hook, as after any step.
fn export(vars: &[(String, String)]) -> Result<(), String> {
    if vars.is_empty() {
        return Ok(());
    }
    let Some(path) = env::var_os("GITHUB_ENV").filter(|p| !p.is_empty()) else {
        // Not run by a runner (a manual test): say what the job would have got.
        for (k, v) in vars {
            println!("runner-wrapper: (no GITHUB_ENV) {k}={v}");
        }
        return Ok(());
    };
    let text: String = vars.iter().map(|(k, v)| format!("{k}={v}\n")).collect();
    OpenOptions::new()
        .append(true)
        .create(true)
        .open(&path)
        .and_then(|mut f| f.write_all(text.as_bytes()))
        .map_err(|e| format!("runner-wrapper: cannot append to GITHUB_ENV {path:?}: {e}"))
}

fn run_user(verb: Verb, vars: &[(String, String)]) -> i32 {
    let Some(path) = env::var(names::USER_HOOK).ok().filter(|p| !p.is_empty()) else {
        return 0;
    };
    match run_user_hook(&path, vars) {
        Ok(st) if st.success() => 0,
        Ok(st) => {
            eprintln!(
                "runner-wrapper: job {} hook {path} failed ({st})",
                verb.as_str()
            );
            st.code().filter(|c| *c != 0).unwrap_or(1)
        }
        Err(e) => {
            eprintln!("runner-wrapper: cannot run {path}: {e}");
            1
        }
    }
}

/// Send the request and print the wrapper's messages until it answers ok or fail; returns the
/// job environment it sent.
fn talk(verb: Verb) -> Result<Vec<(String, String)>, String> {
    exchange(verb).map_err(|e| {
        if e.starts_with("runner-wrapper:") {
            e
        } else {
            format!("runner-wrapper: {e}")
        }
    })
}

fn exchange(verb: Verb) -> Result<Vec<(String, String)>, String> {
    let socket =
        env::var_os(names::SOCKET).ok_or_else(|| format!("{} is not set", names::SOCKET))?;
    let mut stream = UnixStream::connect(&socket)
        .map_err(|e| format!("cannot reach the wrapper at {socket:?}: {e}"))?;
    let req = Request {
        verb,
        env: JOB_ENV
            .iter()
            .filter_map(|k| env::var(k).ok().map(|v| (k.to_string(), v)))
            .collect(),
    };
    write_request(&mut stream, &req).map_err(|e| format!("cannot send request: {e}"))?;
    let mut out = std::io::stdout();
    let mut job_env = Vec::new();
    for line in BufReader::new(stream).lines() {
        let line = line.map_err(|e| format!("lost the wrapper: {e}"))?;
        match Reply::parse(&line) {
            Some(Reply::Info(t)) => {
                let _ = writeln!(out, "{t}");
                let _ = out.flush();
            }
            Some(Reply::Env(k, v)) => job_env.push((k, v)),
            Some(Reply::Ok) => return Ok(job_env),
            Some(Reply::Fail(t)) => return Err(t),
            None => {}
        }
    }
    Err("the wrapper closed the connection without an answer".into())
}

/// Give up when our parent (the runner's Worker) dies: a cancelled job orphans its started hook,
/// which must not keep a place in the queue. Exiting closes the socket; the wrapper withdraws.
fn watch_parent() {
    let parent = std::os::unix::process::parent_id();
    std::thread::spawn(move || loop {
        std::thread::sleep(Duration::from_millis(200));
        if std::os::unix::process::parent_id() != parent {
            eprintln!(
                "runner-wrapper: the job's process went away; no longer waiting for the lock"
            );
            std::process::exit(1);
        }
    });
}
