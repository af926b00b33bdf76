//! One mutating command per fleet at a time. Commands that change a fleet hold an exclusive
//! lock on `.ghr.<org>[.<repo>].lock` beside the other per-scope files; a second one waits,
//! saying for whom, or fails at once with `--no-wait`. The kernel drops the lock when the
//! process dies, so a killed ghr never leaves the fleet locked.

use crate::world::error::{Error, Result};
use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read, Seek, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

/// Held while the command runs; dropping it releases the fleet.
#[derive(Debug)]
pub struct FleetLock {
    _file: File,
}

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
        .map_err(|e| Error::io(format!("cannot open the fleet lock {}", path.display()), e))?;
    match file.try_lock() {
        Ok(()) => {}
        Err(TryLockError::WouldBlock) => {
            let holder = holder(&mut file);
            if no_wait {
                return Err(Error::Busy(format!(
                    "another ghr ({holder}) is changing this fleet; run again when it is done, or without --no-wait to wait for it"
                )));
            }
            crate::world::notify::info(&format!(
                "Waiting for another ghr ({holder}) to finish with this fleet ..."
            ));
            file.lock()
                .map_err(|e| Error::io(format!("cannot lock {}", path.display()), e))?;
        }
        Err(TryLockError::Error(e)) => {
            return Err(Error::io(format!("cannot lock {}", path.display()), e))
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
        assert!(matches!(err, Error::Busy(_)), "{err}");
        assert!(
            err.to_string().contains(&format!(
                "another ghr (pid {}: ghr init)",
                std::process::id()
            )),
            "{err}"
        );
        drop(first);
        let _second = acquire(&path, "rm", true).unwrap();
        let _ = std::fs::remove_file(&path);
    }
}
