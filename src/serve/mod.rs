//! `ghr serve`: the lab's always-on side. One process per host shows every fleet it is given
//! and the shared resources, live, as a page, a JSON API and Prometheus metrics.
//!
//! Threads: refreshers (lock directories, Docker, one per fleet for GitHub) write one shared
//! snapshot ([`state::Hub`]); the HTTP server answers every request from it; live pages hold
//! a server-sent-events connection that wakes when the snapshot changes. The command's own
//! thread waits for SIGINT/SIGTERM.

pub mod auth;
pub mod devices;
pub mod ephemeral;
pub mod fleets;
pub mod holds;
pub mod http;
pub mod metrics;
pub mod page;
pub mod refresh;
pub mod server;
pub mod state;
pub mod systemd;

use std::path::PathBuf;
use std::sync::Arc;

use crate::world::error::{Error, Result};

#[derive(Debug, Clone)]
pub struct Config {
    pub listen: String,
    pub env_files: Vec<PathBuf>,
    pub dir: Option<PathBuf>,
    pub token_file: Option<PathBuf>,
    pub allow_holds: bool,
}

pub const DEFAULT_LISTEN: &str = "127.0.0.1:8080";

/// Checks everything that can be refused, starts the refreshers and the server, and runs
/// until SIGINT or SIGTERM.
pub fn run(config: &Config) -> Result<()> {
    // Signals first: every thread started later inherits the mask, and only this one takes them.
    let signals = block_signals();
    let token = config
        .token_file
        .as_deref()
        .map(auth::read_token_file)
        .transpose()
        .map_err(Error::Config)?;
    let (listener, addrs) = server::bind(&config.listen).map_err(Error::Config)?;
    auth::check_exposure(&addrs, token.as_ref()).map_err(Error::Config)?;
    let paths = fleets::env_files(&config.env_files, config.dir.as_deref())?;
    let (infos, settings) = fleets::load(&paths)?;
    let mut remotes = Vec::new();
    let mut stats = Vec::new();
    for s in &settings {
        let remote = match s.has_github_credential() {
            true => {
                let counts = Arc::new(crate::world::github::ApiStats::default());
                let c = counts.clone();
                let remote = crate::world::remote::Remote::connect_with(s, move |o| {
                    o.stats = Some(c);
                    // A rate limit is waited out by the refresher's schedule, not in a sleep.
                    o.max_rate_limit_wait = std::time::Duration::ZERO;
                })?;
                stats.push(Some(counts));
                Some(remote)
            }
            false => {
                stats.push(None);
                None
            }
        };
        remotes.push(remote);
    }
    let mut lock_dirs: Vec<PathBuf> = infos.iter().map(|i| i.lock_dir.clone()).collect();
    lock_dirs.sort();
    lock_dirs.dedup();
    let names: Vec<String> = infos
        .iter()
        .map(|i| format!("{} ({})", i.scope(), i.name))
        .collect();
    let hub = Arc::new(state::Hub::new(infos, stats));
    let dirs: Vec<PathBuf> = paths
        .iter()
        .map(|p| {
            p.parent()
                .unwrap_or(std::path::Path::new("."))
                .to_path_buf()
        })
        .collect();
    devices::start(hub.clone(), settings.clone(), dirs.clone());
    ephemeral::start(hub.clone(), settings.clone(), dirs);
    refresh::start(hub.clone(), settings, remotes);
    let app = Arc::new(server::App {
        hub: hub.clone(),
        token,
        allow_holds: config.allow_holds,
        host: crate::config::settings::hostname(),
        lock_dirs,
        exe: std::env::current_exe()
            .map_err(|e| Error::io("cannot find the ghr executable (the hold keeper)", e))?,
    });
    let shown = addrs
        .first()
        .map(|a| a.to_string())
        .unwrap_or_else(|| config.listen.clone());
    std::thread::Builder::new()
        .name("serve-http".into())
        .spawn(move || server::run(listener, app))
        .map_err(|e| Error::io("cannot start the server thread", e))?;
    crate::world::notify::info(&format!(
        "serve: http://{shown}/ for {}{}",
        names.join(", "),
        if config.allow_holds {
            "; holds allowed"
        } else {
            ""
        }
    ));
    let sig = wait_for_stop(signals);
    crate::world::notify::info(&format!("serve: stopping (signal {sig})"));
    hub.stop();
    refresh::stop_children();
    Ok(())
}

fn block_signals() -> libc::sigset_t {
    // SAFETY: the set is ours; blocking signals has no memory effects.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        for s in [libc::SIGINT, libc::SIGTERM, libc::SIGHUP, libc::SIGPIPE] {
            libc::sigaddset(&mut set, s);
        }
        libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut());
        set
    }
}

/// Blocks until SIGINT or SIGTERM (SIGHUP, SIGPIPE: ignored); the signal.
fn wait_for_stop(set: libc::sigset_t) -> i32 {
    loop {
        let mut sig = 0;
        // SAFETY: valid set and out pointer.
        if unsafe { libc::sigwait(&set, &mut sig) } != 0 {
            continue;
        }
        if sig == libc::SIGINT || sig == libc::SIGTERM {
            return sig;
        }
    }
}
