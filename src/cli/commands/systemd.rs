//! `ghr systemd [--user] [--print] [serve options]`: writes (or prints) the unit that keeps
//! `ghr serve` running for the lab in the current directory, and says how to enable it.

use crate::cli::args::{GlobalArgs, SystemdArgs};
use crate::cli::ui;
use crate::serve::systemd::{enable_commands, render, UnitSpec, UNIT_NAME};
use crate::serve::{fleets, DEFAULT_LISTEN};
use crate::world::error::{Error, Result};
use std::path::{Path, PathBuf};

pub fn run(global: &GlobalArgs, args: SystemdArgs) -> Result<()> {
    let here =
        std::env::current_dir().map_err(|e| Error::io("cannot read the current directory", e))?;
    let absolute = |p: &Path| {
        if p.is_absolute() {
            p.to_path_buf()
        } else {
            here.join(p)
        }
    };
    let dir = args
        .serve
        .dir
        .as_deref()
        .map(absolute)
        .unwrap_or_else(|| here.clone());
    // The serve command line, with every path made absolute (systemd has no "here").
    let mut serve_args = Vec::new();
    if args.serve.listen != DEFAULT_LISTEN {
        serve_args.extend(["--listen".to_string(), args.serve.listen.clone()]);
    }
    for f in &global.env_file {
        serve_args.extend(["--env-file".to_string(), absolute(f).display().to_string()]);
    }
    if global.env_file.is_empty() {
        serve_args.extend(["--dir".to_string(), dir.display().to_string()]);
    }
    if let Some(t) = &args.serve.token_file {
        serve_args.extend([
            "--token-file".to_string(),
            absolute(t).display().to_string(),
        ]);
    }
    if args.serve.allow_holds {
        serve_args.push("--allow-holds".into());
    }
    // The lock directories the fleets use must stay writable under the sandbox.
    let paths = fleets::env_files(
        &global
            .env_file
            .iter()
            .map(|p| absolute(p))
            .collect::<Vec<_>>(),
        global.env_file.is_empty().then_some(dir.as_path()),
    )?;
    let (infos, _) = fleets::load(&paths)?;
    let mut writable: Vec<PathBuf> = infos.iter().map(|i| absolute(&i.lock_dir)).collect();
    writable.sort();
    writable.dedup();
    let user = runner_wrapper::hold::current_user();
    let spec = UnitSpec {
        exe: std::env::current_exe().map_err(|e| Error::io("cannot find the ghr executable", e))?,
        dir,
        serve_args,
        user_unit: args.user,
        run_as: (runner_wrapper::lockdir::euid() != 0 || std::env::var_os("SUDO_USER").is_some())
            .then_some(user),
        writable,
    };
    let unit = render(&spec);
    if args.print {
        ui::result(unit.trim_end());
        return Ok(());
    }
    let target = unit_path(args.user)?;
    if let Some(parent) = target.parent() {
        std::fs::create_dir_all(parent)
            .map_err(|e| Error::io(format!("cannot create {}", parent.display()), e))?;
    }
    std::fs::write(&target, &unit)
        .map_err(|e| Error::io(format!("cannot write {}", target.display()), e))?;
    ui::result(&format!("wrote {}", target.display()));
    ui::result("Enable and start it with:");
    for c in enable_commands(args.user) {
        ui::result(&format!("  {c}"));
    }
    Ok(())
}

/// `/etc/systemd/system/ghr-serve.service`, or the user's `~/.config/systemd/user/...`.
fn unit_path(user: bool) -> Result<PathBuf> {
    if !user {
        return Ok(Path::new("/etc/systemd/system").join(UNIT_NAME));
    }
    let config = std::env::var_os("XDG_CONFIG_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".config")))
        .ok_or_else(|| {
            Error::Config(
                "neither XDG_CONFIG_HOME nor HOME is set; cannot place a user unit".into(),
            )
        })?;
    Ok(config.join("systemd/user").join(UNIT_NAME))
}
