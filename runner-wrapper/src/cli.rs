//! The command line of runner-wrapper, shared by its own binary and by ghr, which is also the
//! wrapper when it is started under the name `runner-wrapper` (one static binary to mount).
//!
//! `runner-wrapper [-- COMMAND ARGS...]` supervises the runner;
//! `runner-wrapper hook started|completed` is the hooks' client;
//! `runner-wrapper keep-hold ...` is the keeper of a maintenance hold (see `hold`);
//! `runner-wrapper release RESOURCE [--force]` is `ghr release` for hosts without ghr.
//! Exit codes: the runner's own (or the hook's); 127 the command cannot run; 1 the wrapper
//! cannot run jobs safely (lock directory, runner `.env`); 2 bad usage or environment.

use std::ffi::OsString;

use crate::config::Config;
use crate::protocol::Verb;
use crate::{client, wrapper};

const USAGE: &str = "usage: runner-wrapper [-- COMMAND ARGS...]\n       runner-wrapper hook started|completed\n       runner-wrapper release RESOURCE [--force]\nSee README.md: RUNNER_RESOURCE_ID, RUNNER_LOCK_DIR, RUNNER_LOCK_TIMEOUT, RUNNER_HEALTHCHECK, RUNNER_SCRIPT.";

/// Runs the wrapper with `args` (the arguments after the program name); returns the exit code.
pub fn run(args: Vec<OsString>) -> i32 {
    if args.first().is_some_and(|a| a == "hook") {
        return match args.get(1).and_then(|v| Verb::parse(&v.to_string_lossy())) {
            Some(verb) => client::run(verb),
            None => {
                eprintln!("{USAGE}");
                2
            }
        };
    }
    if args.first().is_some_and(|a| a == "keep-hold") {
        // The keeper of a maintenance hold (`ghr hold` starts ghr's own copy of it).
        let rest: Vec<String> = args[1..]
            .iter()
            .map(|a| a.to_string_lossy().into_owned())
            .collect();
        return match crate::hold::parse_args(&rest) {
            Ok(spec) => crate::hold::keep(&spec),
            Err(e) => {
                eprintln!("runner-wrapper: {e}");
                2
            }
        };
    }
    if args.first().is_some_and(|a| a == "release") {
        let rest: Vec<String> = args[1..]
            .iter()
            .map(|a| a.to_string_lossy().into_owned())
            .collect();
        return release(&rest);
    }
    if args.first().is_some_and(|a| a == "-h" || a == "--help") {
        println!("{USAGE}");
        return 0;
    }
    let cfg = match Config::from_env(args) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("runner-wrapper: {e}");
            return 2;
        }
    };
    let Some(members) = cfg.members.clone() else {
        return wrapper::passthrough(&cfg.command);
    };
    match wrapper::run_locked(&cfg, &members) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("runner-wrapper: {e}");
            1
        }
    }
}

/// `runner-wrapper release RESOURCE [--force]`: what `ghr release` does, in `RUNNER_LOCK_DIR`.
fn release(args: &[String]) -> i32 {
    use crate::control::{self, ReleaseError, Released};
    let force = args.iter().any(|a| a == "--force");
    let names: Vec<&String> = args.iter().filter(|a| *a != "--force").collect();
    let [resource] = names.as_slice() else {
        eprintln!("{USAGE}");
        return 2;
    };
    let dir = std::env::var_os(crate::contract::env::LOCK_DIR)
        .filter(|d| !d.is_empty())
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| crate::contract::DEFAULT_LOCK_DIR.into());
    let by = format!(
        "{} (runner-wrapper release{})",
        crate::hold::current_user(),
        if force { " --force" } else { "" }
    );
    let fail = |text: String| {
        eprintln!("runner-wrapper: cannot release {resource}: {text}");
        1
    };
    match control::release(&dir, resource, force, &by) {
        Ok(Released::NotHeld) => {
            println!("{resource} is not held");
            0
        }
        Ok(Released::Released { holder, text }) => {
            println!("released {resource}, held by {}: {text}", holder.describe());
            0
        }
        Err(ReleaseError::Unknown) => fail(format!("no such resource in {}", dir.display())),
        Err(ReleaseError::NeedsForce(h)) => fail(format!(
            "held by {}, not by a hold; --force releases it anyway (that job keeps running on the board while the next job may start on it)",
            h.describe()
        )),
        Err(ReleaseError::Failed(text)) => fail(text),
    }
}
