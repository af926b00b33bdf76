//! The fake GitHub Actions runner: one static std-only binary that acts as `config.sh`,
//! `run.sh` (the Listener) and `bin/Runner.Worker`, chosen by the basename it is started as
//! (or by a first argument `config` | `run` | `worker`). It talks to the fake GitHub with the
//! protocol described in testkit's `fake_github::runner_api`.

mod common;
mod config;
mod listener;
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
        "run.sh" | "Runner.Listener" => "run",
        "Runner.Worker" => "worker",
        _ if !args.is_empty() => {
            let r = args.remove(0);
            match r.as_str() {
                "config" | "run" | "worker" => Box::leak(r.into_boxed_str()),
                _ => "usage",
            }
        }
        _ => "usage",
    };
    let code = match role {
        "config" => config::main(&args),
        "run" => listener::main(),
        "worker" => worker::main(),
        _ => {
            eprintln!("usage: fake-runner config|run|worker [ARGS] (or run it as config.sh / run.sh / bin/Runner.Worker)");
            2
        }
    };
    std::process::exit(code);
}
