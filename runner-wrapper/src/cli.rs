//! The command line of runner-wrapper, shared by its own binary and by ghr, which is also the
//! wrapper when it is started under the name `runner-wrapper` (one static binary to mount).
//!
//! `runner-wrapper [-- COMMAND ARGS...]` supervises the runner;
//! `runner-wrapper hook started|completed` is the hooks' client;
//! `runner-wrapper keep-hold ...` is the keeper of a maintenance hold (see `hold`).
//! Exit codes: the runner's own (or the hook's); 127 the command cannot run; 1 the wrapper
//! cannot run jobs safely (lock directory, runner `.env`); 2 bad usage or environment.

use std::ffi::OsString;

use crate::config::Config;
use crate::protocol::Verb;
use crate::{client, wrapper};

const USAGE: &str = "usage: runner-wrapper [-- COMMAND ARGS...]\n       runner-wrapper hook started|completed\nSee README.md: RUNNER_RESOURCE_ID, RUNNER_LOCK_DIR, RUNNER_LOCK_TIMEOUT, RUNNER_HEALTHCHECK, RUNNER_SCRIPT.";

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
