//! Control sockets in the lock directory: every holder (a wrapper, or the keeper of a `ghr
//! hold`) listens on `<lock dir>/.control/<pid>.<nanos>.<n>.sock` and names it in its owner
//! record (relative to the lock directory, because ghr on the host sees the directory under
//! another path than the containers do; Unix sockets work across bind mounts on one kernel).
//! `ghr release` asks the holder through it to let go.
//!
//! Request: one line `release <resource> <force 0|1> <who asks>`. Reply: `info` lines, then `ok`
//! or `fail <text>` (see [`crate::protocol::Reply`]). Only root and the holder's own uid are
//! heard (see [`crate::peer`]); anybody else gets `fail refused: ...`.

use std::fs;
use std::io::{self, BufRead, BufReader, Write};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::lockdir::{ensure_subdir, unique_tmp, LockDirError, CONTROL_DIR, FILE_MODE};
use crate::peer::{self, Peer};
use crate::protocol::Reply;
use crate::record::{HolderKind, OwnerRecord};
use crate::status;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReleaseRequest {
    pub resource: String,
    pub force: bool,
    pub by: String,
}

impl ReleaseRequest {
    pub fn to_line(&self) -> String {
        format!(
            "release {} {} {}\n",
            self.resource,
            u8::from(self.force),
            self.by.replace(['\n', '\r'], " ")
        )
    }

    pub fn parse(line: &str) -> Option<ReleaseRequest> {
        let rest = line
            .trim_end_matches(['\n', '\r'])
            .strip_prefix("release ")?;
        let mut it = rest.splitn(3, ' ');
        let resource = it.next().filter(|r| !r.is_empty())?.to_string();
        let force = match it.next()? {
            "1" => true,
            "0" => false,
            _ => return None,
        };
        Some(ReleaseRequest {
            resource,
            force,
            by: it.next().unwrap_or("").to_string(),
        })
    }
}

/// A bound control socket; the file is removed on drop.
#[derive(Debug)]
pub struct ControlSocket {
    pub listener: UnixListener,
    pub path: PathBuf,
    /// `path` relative to the lock directory, for the owner record.
    pub relative: String,
    /// The socket file bound (to see whether it is still at `path`).
    pub id: Option<crate::lockfile::FileId>,
}

impl ControlSocket {
    /// Is our socket still at its path? (Not if the lock directory was removed or replaced.)
    pub fn in_place(&self) -> bool {
        self.id.is_some() && crate::lockfile::id_at(&self.path).ok().flatten() == self.id
    }
}

impl Drop for ControlSocket {
    fn drop(&mut self) {
        let _ = fs::remove_file(&self.path);
    }
}

/// Bind a new control socket in `<root>/.control/`, mode 0660: root and the lock group may
/// connect (and only root and our own uid are heard, see [`admit`]). Sockets left behind by
/// killed holders are removed first (nobody answers on them). `create_gid`: the group of a lock
/// directory that has to be created first.
pub fn bind(root: &Path, create_gid: u32) -> Result<ControlSocket, LockDirError> {
    let dir = ensure_subdir(root, CONTROL_DIR, create_gid)?;
    remove_dead(&dir);
    let path = unique_tmp(&dir, "c").with_extension("sock");
    let gid = fs::metadata(root).map(|m| m.gid()).unwrap_or(create_gid);
    let fail = |e: io::Error| crate::lockdir::err(root, &path, "creating the socket", e, gid);
    let listener = UnixListener::bind(&path).map_err(fail)?;
    // Whatever the umask: the lock group may connect, nobody else.
    fs::set_permissions(&path, fs::Permissions::from_mode(FILE_MODE)).map_err(fail)?;
    let relative = format!(
        "{CONTROL_DIR}/{}",
        path.file_name().unwrap_or_default().to_string_lossy()
    );
    let id = crate::lockfile::id_at(&path).ok().flatten();
    Ok(ControlSocket {
        listener,
        path,
        relative,
        id,
    })
}

fn remove_dead(dir: &Path) {
    let Ok(rd) = fs::read_dir(dir) else { return };
    for entry in rd.flatten() {
        let p = entry.path();
        if p.extension().is_some_and(|e| e == "sock") {
            if let Err(e) = UnixStream::connect(&p) {
                if e.kind() == io::ErrorKind::ConnectionRefused {
                    let _ = fs::remove_file(&p);
                }
            }
        }
    }
}

/// Is the caller on this accepted connection root or our own uid? `Err`: the refusal, for the
/// caller (see [`refuse`]) and our log.
pub fn caller(stream: &UnixStream) -> Result<Peer, String> {
    let peer = peer::of(stream).map_err(|e| format!("refused: cannot tell who is asking: {e}"))?;
    peer::admit(peer.uid, crate::lockdir::euid())?;
    Ok(peer)
}

/// Send the refusal (the caller prints it).
pub fn refuse(mut stream: &UnixStream, text: &str) {
    let _ = stream.write_all(Reply::Fail(text.to_string()).to_line().as_bytes());
}

/// Read one request from an accepted connection.
pub fn read_request(stream: &UnixStream) -> io::Result<Option<ReleaseRequest>> {
    stream.set_read_timeout(Some(Duration::from_secs(5)))?;
    let mut line = String::new();
    BufReader::new(stream).read_line(&mut line)?;
    Ok(ReleaseRequest::parse(&line))
}

/// Why `ghr release` did not release.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReleaseError {
    /// No such resource in the lock directory.
    Unknown,
    /// Held by a job (or a health check) and `force` was not given.
    NeedsForce(Box<OwnerRecord>),
    /// The holder refused or could not be reached.
    Failed(String),
}

/// What `ghr release` did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Released {
    /// Nobody held it (a stale record of a dead holder may remain: the next holder replaces it).
    NotHeld,
    /// The holder let go; its words.
    Released {
        holder: Box<OwnerRecord>,
        text: String,
    },
}

/// Ask the holder of `resource` in the lock directory `root` to release it.
pub fn release(
    root: &Path,
    resource: &str,
    force: bool,
    by: &str,
) -> Result<Released, ReleaseError> {
    let st = status::find(root, resource)
        .map_err(|e| ReleaseError::Failed(format!("cannot read {}: {e}", root.display())))?
        .ok_or(ReleaseError::Unknown)?;
    let Some(holder) = st.live_holder().map(|h| h.record.clone()) else {
        return Ok(Released::NotHeld);
    };
    if holder.kind != HolderKind::Hold && !force {
        return Err(ReleaseError::NeedsForce(Box::new(holder)));
    }
    if holder.control.is_empty() {
        return Err(ReleaseError::Failed(format!(
            "{} has no control socket (an older wrapper?); restart its container to free the resource",
            holder.describe()
        )));
    }
    let path = root.join(&holder.control);
    let request = ReleaseRequest {
        resource: holder.resource.clone(),
        force,
        by: by.to_string(),
    };
    let text = ask(&path, &request).map_err(ReleaseError::Failed)?;
    Ok(Released::Released {
        holder: Box::new(holder),
        text,
    })
}

fn ask(path: &Path, request: &ReleaseRequest) -> Result<String, String> {
    let mut stream = UnixStream::connect(path)
        .map_err(|e| format!("cannot reach the holder at {}: {e}", path.display()))?;
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .map_err(|e| e.to_string())?;
    stream
        .write_all(request.to_line().as_bytes())
        .map_err(|e| format!("cannot send the request: {e}"))?;
    let mut said = Vec::new();
    for line in BufReader::new(stream).lines() {
        let line = line.map_err(|e| format!("lost the holder: {e}"))?;
        match Reply::parse(&line) {
            Some(Reply::Info(t)) => said.push(t),
            Some(Reply::Ok) => return Ok(said.join("; ")),
            Some(Reply::Fail(t)) => return Err(t),
            _ => {}
        }
    }
    Err("the holder closed the connection without an answer".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_round_trip() {
        let r = ReleaseRequest {
            resource: "board-1".into(),
            force: true,
            by: "alice on lab1 (ghr release --force)".into(),
        };
        assert_eq!(ReleaseRequest::parse(&r.to_line()), Some(r));
        assert_eq!(ReleaseRequest::parse("release  1 x"), None);
        assert_eq!(ReleaseRequest::parse("release b 2 x"), None);
        assert_eq!(ReleaseRequest::parse("hello"), None);
    }
}
