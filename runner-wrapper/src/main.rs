//! `runner-wrapper`: see [`runner_wrapper::cli`].

fn main() {
    std::process::exit(runner_wrapper::cli::run(
        std::env::args_os().skip(1).collect(),
    ));
}
