//! The fake GitHub Actions runner: one static std-only binary that acts as `config.sh`,
//! `run.sh`, `bin/Runner.Listener` and `bin/Runner.Worker`, chosen by the basename it is
//! started as (or by a first argument `config` | `run` | `listener` | `worker`). It talks to
//! the fake GitHub with the protocol described in testkit's `fake_github::runner_api`, and it
//! keeps the real runner's rules where ghr and runner-wrapper can see them (see README.md).

#[path = "../../b64.rs"]
#[allow(dead_code)]
mod b64;
mod common;
mod config;
mod listener;
mod run_sh;
mod worker;

fn main() {
    let mut args: Vec<String> = std::env::args().collect();
    let argv0 = args.remove(0);
    let base = std::path::Path::new(&argv0)
        .file_name()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let role = match base.as_str() {
        "config.sh" => "config",
        "run.sh" => "run",
        "Runner.Listener" => match args.first().map(String::as_str) {
            Some("run") => {
                args.remove(0);
                "listener"
            }
            Some("configure") => {
                args.remove(0);
                "config"
            }
            Some("remove") => "config",
            _ => "usage",
        },
        "Runner.Worker" => "worker",
        _ if !args.is_empty() => match args.remove(0).as_str() {
            "config" => "config",
            "run" => "run",
            "listener" => "listener",
            "worker" => "worker",
            _ => "usage",
        },
        _ => "usage",
    };
    let code = match role {
        "config" => config::main(&args),
        "run" => run_sh::main(&args),
        "listener" => listener::main(&args),
        "worker" => worker::main(),
        _ => {
            eprintln!("usage: fake-runner config|run|listener|worker [ARGS] (or run it as config.sh / run.sh / bin/Runner.Listener run|configure|remove / bin/Runner.Worker)");
            2
        }
    };
    std::process::exit(code);
}
