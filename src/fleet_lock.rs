//! One mutating command per fleet at a time. Commands that change a fleet hold an exclusive
//! lock on `.ghr.<org>[.<repo>].lock` beside the other per-scope files; a second one waits,
//! saying for whom, or fails at once with `--no-wait`. The kernel drops the lock when the
//! process dies, so a killed ghr never leaves the fleet locked.

use anyhow::{Context, Result};
use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read, Seek, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

/// Held while the command runs; dropping it releases the fleet.
#[derive(Debug)]
pub struct FleetLock {
    _file: File,
}

/// Another ghr command holds the fleet and `--no-wait` was given.
#[derive(Debug)]
pub struct Busy(pub String);

impl std::fmt::Display for Busy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Busy {}

/// Takes the fleet's lock for `command` (e.g. `init`), waiting for its holder unless
/// `no_wait`.
pub fn acquire(path: &Path, command: &str, no_wait: bool) -> Result<FleetLock> {
    let mut file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("cannot open the fleet lock {}", path.display()))?;
    match file.try_lock() {
        Ok(()) => {}
        Err(TryLockError::WouldBlock) => {
            let holder = holder(&mut file);
            if no_wait {
                return Err(Busy(format!(
                    "another ghr ({holder}) is changing this fleet; run again when it is done, or without --no-wait to wait for it"
                ))
                .into());
            }
            eprintln!("Waiting for another ghr ({holder}) to finish with this fleet ...");
            file.lock()
                .with_context(|| format!("cannot lock {}", path.display()))?;
        }
        Err(TryLockError::Error(e)) => {
            return Err(e).with_context(|| format!("cannot lock {}", path.display()))
        }
    }
    // Who holds it, for the message of the next one.
    let me = format!("pid {}: ghr {command}", std::process::id());
    let _ = file.set_len(0).and_then(|()| {
        file.rewind()?;
        file.write_all(me.as_bytes())
    });
    Ok(FleetLock { _file: file })
}

fn holder(file: &mut File) -> String {
    let mut text = String::new();
    let _ = file.rewind().and_then(|()| file.read_to_string(&mut text));
    let text = text.trim();
    if text.is_empty() {
        "pid unknown".into()
    } else {
        text.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_holder_fails_fast_with_no_wait_and_gets_it_after_release() {
        let path = std::env::temp_dir().join(format!("ghr-fleet-lock-{}", std::process::id()));
        let first = acquire(&path, "init", true).unwrap();
        let err = acquire(&path, "rm", true).unwrap_err();
        let busy = err.downcast_ref::<Busy>().expect("Busy");
        assert!(
            busy.0.contains(&format!(
                "another ghr (pid {}: ghr init)",
                std::process::id()
            )),
            "{busy}"
        );
        drop(first);
        let _second = acquire(&path, "rm", true).unwrap();
        let _ = std::fs::remove_file(&path);
    }
}
