//! Who is on the other end of a Unix socket (`SO_PEERCRED`), and who may ask a holder anything.
//!
//! A holder's control socket lets its caller release the holder's lock (a hold, or with force a
//! job's), and the hook socket lets its caller take and release locks. Only root and the holder's
//! own uid may. Not every member of the lock group: the kernel tells only the peer's uid and
//! primary gid, not its supplementary groups, so a test by gid would admit by accident (a
//! process whose primary group happens to be the lock group) and refuse by accident (an admin
//! in the group through a supplementary group); and a runner of another uid in the lock group
//! (another org's image) is exactly who must not release this runner's lock. Admins use root
//! (`sudo ghr release`). The file modes keep everybody else away from the sockets already; this
//! check holds also where the modes do not (a directory made by hand, an older layout).

use std::io;
use std::os::fd::AsRawFd;
use std::os::unix::net::UnixStream;

/// The credentials of a connected peer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Peer {
    pub uid: u32,
    pub gid: u32,
    /// In our pid namespace; 0 when the peer is outside it (ghr on the host seen from a
    /// container).
    pub pid: i32,
}

/// The peer of a connected Unix stream (as it was when it connected).
pub fn of(stream: &UnixStream) -> io::Result<Peer> {
    let mut cred = libc::ucred {
        pid: 0,
        uid: 0,
        gid: 0,
    };
    let mut len = std::mem::size_of::<libc::ucred>() as libc::socklen_t;
    // SAFETY: getsockopt writes at most `len` bytes into `cred`, which is that large.
    let rc = unsafe {
        libc::getsockopt(
            stream.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_PEERCRED,
            (&mut cred as *mut libc::ucred).cast(),
            &mut len,
        )
    };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(Peer {
        uid: cred.uid,
        gid: cred.gid,
        pid: cred.pid,
    })
}

/// May a peer of uid `peer` talk to a holder running as uid `me`? `Err` is the refusal the
/// peer prints.
pub fn admit(peer: u32, me: u32) -> Result<(), String> {
    if peer == 0 || peer == me {
        return Ok(());
    }
    let who = if me == 0 {
        "root (uid 0)".to_string()
    } else {
        format!("root (uid 0) and uid {me}, the holder's own user,")
    };
    Err(format!(
        "refused: uid {peer} may not control this lock holder; only {who} may (run it as root, e.g. sudo ghr release)"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_root_and_the_holders_own_uid_are_admitted() {
        let table = [
            (0, 1001, true),
            (1001, 1001, true),
            (1002, 1001, false),
            (2000, 1001, false),
            (0, 0, true),
            (1001, 0, false),
        ];
        for (peer, me, ok) in table {
            assert_eq!(admit(peer, me).is_ok(), ok, "{peer} -> {me}");
        }
        let e = admit(2000, 1001).unwrap_err();
        assert!(e.starts_with("refused: uid 2000"), "{e}");
        assert!(e.contains("uid 1001"), "{e}");
        assert!(!e.contains('\n'));
    }

    #[test]
    fn a_socket_pair_knows_its_peer() {
        let (a, _b) = UnixStream::pair().unwrap();
        let p = of(&a).unwrap();
        assert_eq!(p.uid, crate::lockdir::euid());
        assert_eq!(p.pid, std::process::id() as i32);
    }
}
