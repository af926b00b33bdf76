//! The command line: one variant per command, with the shell tool's aliases.

use clap::{Args, Parser, Subcommand};
use std::ffi::OsString;
use std::path::PathBuf;

/// The command line as clap should see it. clap's `help` subcommand takes command names
/// only, so `ghr help --help` (or `-h`) was an error; it means the help of `help`, which
/// `ghr help help` prints.
pub fn normalize(args: Vec<OsString>) -> Vec<OsString> {
    // Global flags that take a value may come before the command.
    const WITH_VALUE: [&str; 3] = ["--env-file", "--org", "--repo"];
    let mut i = 1;
    while let Some(arg) = args.get(i).and_then(|a| a.to_str()) {
        if WITH_VALUE.contains(&arg) {
            i += 2;
        } else if arg.starts_with('-') {
            i += 1;
        } else {
            break;
        }
    }
    let mut args = args;
    let is_help = args.get(i).is_some_and(|a| a == "help");
    if is_help && args.get(i + 1).is_some_and(|a| a == "--help" || a == "-h") {
        args[i + 1] = OsString::from("help");
    }
    args
}

#[derive(Debug, Parser)]
#[command(
    name = "ghr",
    version,
    about = "Run fleets of GitHub Actions self-hosted runners as Docker Compose services"
)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Command,
}

/// Settings given on the command line win over the environment and `.env`.
#[derive(Debug, Args, Clone, Default)]
pub struct GlobalArgs {
    /// The settings file [env: ENV_FILE] [default: .env]; `ghr serve` takes it once per fleet
    #[arg(long, global = true, value_name = "PATH")]
    pub env_file: Vec<PathBuf>,
    /// GitHub organization (or user) owning the runners; overrides ORG
    #[arg(long, global = true)]
    pub org: Option<String>,
    /// Repository for repository-scoped runners; overrides REPO
    #[arg(long, global = true)]
    pub repo: Option<String>,
    /// Fail at once (exit 6) when another ghr command is changing this fleet, instead of waiting
    #[arg(long, global = true)]
    pub no_wait: bool,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Make the fleet match the settings: compose file, image, containers, registrations,
    /// labels, runner group; unregister and remove what the settings no longer have
    Init(InitArgs),
    /// Print what `ghr init` would do, changing nothing
    Plan(PlanArgs),
    /// Regenerate the compose file only (no GitHub call, no container touched)
    Compose(CountArgs),
    /// Register the named runners, or every runner not configured yet
    Register(NamesArgs),
    /// Start runners (registering those not configured yet)
    Start(NamesArgs),
    /// Stop runners
    Stop(NamesArgs),
    /// Restart runners
    Restart(NamesArgs),
    /// Show a runner's container logs
    #[command(alias = "log")]
    Logs(LogsArgs),
    /// Show local containers beside GitHub's runners
    #[command(visible_aliases = ["ls", "ps", "status"])]
    List(ListArgs),
    /// Unregister runners and remove their containers and volumes
    #[command(visible_aliases = ["remove", "delete"])]
    Rm(RmArgs),
    /// Remove everything (`rm` of the whole fleet) plus the generated files
    Purge(PurgeArgs),
    /// Rebuild the custom image from ./Dockerfile
    Image,
    /// Show the hardware locks of shared boards: holders, queues, health, history, metrics
    Locks(LocksArgs),
    /// Hold a shared resource for maintenance: take it in its turn and keep it after ghr exits
    Hold(HoldArgs),
    /// Release a resource held by `ghr hold` (a job's lock only with --force)
    Release(ReleaseArgs),
    /// Serve the lab's dashboard, JSON API and Prometheus metrics until stopped
    Serve(ServeArgs),
    /// Write (or print) a systemd unit that keeps `ghr serve` running for this lab
    Systemd(SystemdArgs),
    /// Internal: the process that keeps a `ghr hold`
    #[command(name = "__hold-keeper", hide = true)]
    HoldKeeper(HoldKeeperArgs),
}

#[derive(Debug, Args, Clone)]
pub struct InitArgs {
    #[command(flatten)]
    pub count: CountArgs,
    /// Remove surplus runners (fewer -n, boards gone) without asking
    #[arg(short = 'y', long = "yes")]
    pub yes: bool,
    /// Register these runners again, on purpose (full name, runner-3, 3, or a board name)
    #[arg(long = "force", value_name = "NAME", num_args = 1..)]
    pub force: Vec<String>,
}

#[derive(Debug, Args, Clone)]
pub struct PlanArgs {
    #[command(flatten)]
    pub count: CountArgs,
    /// Print JSON instead of a table
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args, Clone)]
pub struct CountArgs {
    /// Number of generic runners; it stays the fleet's size until another -n [default: the last -n, else RUNNER_COUNT]
    #[arg(short = 'n', long = "count", value_name = "N")]
    pub count: Option<u32>,
}

#[derive(Debug, Args, Clone)]
pub struct NamesArgs {
    /// Runners: full name, runner-3, 3, or a board name (default: all)
    pub names: Vec<String>,
}

#[derive(Debug, Args, Clone)]
pub struct LogsArgs {
    /// Runner: full name, runner-3, 3, or a board name
    pub name: String,
    /// Number of lines to show from the end
    #[arg(long, value_name = "N")]
    pub tail: Option<u32>,
    /// Print what is there and exit instead of following
    #[arg(long)]
    pub no_follow: bool,
}

#[derive(Debug, Args, Clone)]
pub struct ListArgs {
    /// Print JSON instead of a table
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args, Clone)]
pub struct RmArgs {
    /// Runners to remove (default: the whole fleet of this prefix)
    pub names: Vec<String>,
    /// Do not ask for confirmation
    #[arg(short = 'y', long = "yes")]
    pub yes: bool,
    /// Remove containers and volumes without GitHub (PAT revoked, GitHub unreachable); their registrations stay on GitHub
    #[arg(long)]
    pub local: bool,
}

#[derive(Debug, Args, Clone)]
pub struct PurgeArgs {
    /// Do not ask for confirmation
    #[arg(short = 'y', long = "yes")]
    pub yes: bool,
    /// Also delete the .env file
    #[arg(long)]
    pub env: bool,
    /// Remove containers and volumes without GitHub (PAT revoked, GitHub unreachable); their registrations stay on GitHub
    #[arg(long)]
    pub local: bool,
}

#[derive(Debug, Args, Clone)]
pub struct LocksArgs {
    /// Print JSON instead of a table
    #[arg(long)]
    pub json: bool,
    /// List past grants from the ledger, with waits and busy shares per org and resource
    #[arg(long)]
    pub history: bool,
    /// With --history: only grants of the last DURATION (30s, 5m, 1h, 24h)
    #[arg(long, value_name = "DURATION", requires = "history")]
    pub since: Option<String>,
    /// Print state and counters in the Prometheus text format (node_exporter textfile)
    #[arg(long, conflicts_with_all = ["json", "history"])]
    pub prometheus: bool,
}

#[derive(Debug, Args, Clone)]
pub struct HoldArgs {
    /// Resource id (one member of a pool at a time)
    pub resource: String,
    /// Why, shown to the jobs that wait and in `ghr locks`
    #[arg(long, value_name = "TEXT")]
    pub reason: Option<String>,
    /// Release by itself after DURATION (30m, 2h); default: until `ghr release`
    #[arg(long = "for", value_name = "DURATION")]
    pub duration: Option<String>,
    /// Fail at once when the resource is held or has waiters
    #[arg(long)]
    pub no_wait: bool,
}

#[derive(Debug, Args, Clone)]
pub struct ReleaseArgs {
    /// Resource id
    pub resource: String,
    /// Also release a lock held by a job (the job keeps running on the board)
    #[arg(long)]
    pub force: bool,
}

#[derive(Debug, Args, Clone)]
pub struct HoldKeeperArgs {
    #[arg(allow_hyphen_values = true, trailing_var_arg = true)]
    pub args: Vec<String>,
}

#[derive(Debug, Args, Clone)]
pub struct ServeArgs {
    /// Address to listen on; one other than loopback needs --token-file
    #[arg(long, value_name = "ADDR", default_value = crate::serve::DEFAULT_LISTEN)]
    pub listen: String,
    /// Serve every settings file (*.env, .env) of DIR [default: the current directory]
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,
    /// A 0600 file holding the token every request must carry (Authorization: Bearer)
    #[arg(long, value_name = "PATH")]
    pub token_file: Option<PathBuf>,
    /// Let the page and the API take and release maintenance holds
    #[arg(long)]
    pub allow_holds: bool,
}

#[derive(Debug, Args, Clone)]
pub struct SystemdArgs {
    /// A user unit (systemctl --user) instead of a system one
    #[arg(long)]
    pub user: bool,
    /// Print the unit instead of writing it
    #[arg(long)]
    pub print: bool,
    #[command(flatten)]
    pub serve: ServeArgs,
}

#[cfg(test)]
mod tests {
    use super::normalize;
    use std::ffi::OsString;

    #[test]
    fn help_of_help_is_asked_for_as_clap_takes_it() {
        let v = |args: &[&str]| args.iter().map(OsString::from).collect::<Vec<_>>();
        for (given, meant) in [
            (&["ghr", "help", "--help"][..], &["ghr", "help", "help"][..]),
            (&["ghr", "help", "-h"], &["ghr", "help", "help"]),
            (
                &["ghr", "--org", "help", "help", "-h"],
                &["ghr", "--org", "help", "help", "help"],
            ),
            (
                &["ghr", "--no-wait", "help", "--help"],
                &["ghr", "--no-wait", "help", "help"],
            ),
            // Everything else is clap's as it is.
            (&["ghr", "help", "rm"], &["ghr", "help", "rm"]),
            (&["ghr", "rm", "--help"], &["ghr", "rm", "--help"]),
            (
                &["ghr", "--env-file", "help", "rm", "-h"],
                &["ghr", "--env-file", "help", "rm", "-h"],
            ),
            (&["ghr"], &["ghr"]),
        ] {
            assert_eq!(normalize(v(given)), v(meant), "{given:?}");
        }
    }
}
