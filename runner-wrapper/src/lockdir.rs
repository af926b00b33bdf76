//! The shared lock directory and where each file lives in it.
//!
//! The directory is shared by the runners of several orgs, which may run as different uids (the
//! stock runner image runs as uid 1001, custom images may run as root), and by the admins on the
//! host (`ghr hold`, `ghr release`). It is theirs only: it belongs to root and the **lock group**
//! (gid 1001, the stock `runner` user's group, or `RUNNER_LOCK_GROUP`), and nobody else may even
//! look in (mode 2770). Every directory in it is 2770 as well (setgid: what is created inside
//! belongs to the lock group) and every file 0660, set explicitly so no umask narrows or widens
//! them. Any uid that can write here is trusted alike: it could remove a lock file or replace a
//! record. The control sockets check their callers too (see `control`).
//!
//! Directories are created once and atomically (built under a temporary name, renamed into
//! place without replacing), so nobody sees one half made, and two creators cannot replace each
//! other's.
//!
//! ```text
//! <root>/                      2770 root:<lock group> (ghr), or created so by the first wrapper
//! <root>/<name>/               one per resource, 2770
//! <root>/<name>/lock           the lock; flocked by the holder; never unlinked (see `lockfile`)
//! <root>/<name>/owner          owner record of the holder (see `record`)
//! <root>/<name>/health         last health check (see `health`)
//! <root>/<name>/seq            ticket counter
//! <root>/<name>/<n>.ticket     one per waiter (see `tickets`)
//! <root>/.ledger/              grant history (see `ledger`)
//! <root>/.control/             control sockets of holders (see `control`), 0660
//! ```
//! Names starting with `.` are never resource names ([`file_name_for`] prefixes them).

use std::ffi::CString;
use std::fmt;
use std::fs::{self, File, OpenOptions};
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use crate::contract::{env, LOCK_HOST_DIR_MODE};

pub const LEDGER_DIR: &str = ".ledger";
pub const CONTROL_DIR: &str = ".control";
const LOCK: &str = "lock";

/// Every directory in the lock directory: owner and lock group, setgid.
pub const DIR_MODE: u32 = LOCK_HOST_DIR_MODE;
/// Every file (and socket) in the lock directory: owner and lock group.
pub const FILE_MODE: u32 = 0o660;

/// Files of one resource in a lock directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResourcePaths {
    /// The lock directory.
    pub root: PathBuf,
    /// Directory name of the resource (see [`file_name_for`]).
    pub name: String,
    pub dir: PathBuf,
    pub lock: PathBuf,
    pub owner: PathBuf,
    pub health: PathBuf,
    pub seq: PathBuf,
}

/// Resource ids become directory names: keep them to a safe alphabet so an id can never escape
/// the directory, and never let one start with `.` (reserved for `.ledger`, `.control`, temp).
pub fn file_name_for(resource: &str) -> String {
    let mut s: String = resource
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.' {
                c
            } else {
                '_'
            }
        })
        .collect();
    if s.starts_with('.') || s.is_empty() {
        s.insert(0, '_');
    }
    s
}

impl ResourcePaths {
    pub fn new(root: &Path, resource: &str) -> Self {
        Self::from_name(root, &file_name_for(resource))
    }

    pub fn from_name(root: &Path, name: &str) -> Self {
        let dir = root.join(name);
        ResourcePaths {
            root: root.to_path_buf(),
            name: name.to_string(),
            lock: dir.join(LOCK),
            owner: dir.join("owner"),
            health: dir.join("health"),
            seq: dir.join("seq"),
            dir,
        }
    }

    /// Open the lock file (never created here: [`ensure_resource`] made it with the directory).
    /// Every waiter uses its own open file description, so flocks of one process compete too.
    /// The error names the file and the fix.
    pub fn open_lock(&self) -> io::Result<File> {
        OpenOptions::new()
            .read(true)
            .write(true)
            .open(&self.lock)
            .map_err(|e| annotate(&self.root, &self.lock, "opening", e))
    }
}

/// The lock directory is unusable for this process: refuse to run jobs. `Display` is the one
/// line the wrapper prints: the directory, the uid, what failed and the fix on the host.
#[derive(Debug)]
pub struct LockDirError {
    pub root: PathBuf,
    /// The path that failed (the root or something inside it).
    pub path: PathBuf,
    pub uid: u32,
    /// What failed, with the path and the cause.
    pub what: String,
    pub fix: String,
}

impl fmt::Display for LockDirError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "cannot use the lock directory {} as uid {}: {}; fix: {}",
            self.root.display(),
            self.uid,
            self.what,
            self.fix
        )
    }
}

impl std::error::Error for LockDirError {}

impl From<LockDirError> for io::Error {
    fn from(e: LockDirError) -> io::Error {
        io::Error::other(e.to_string())
    }
}

pub fn euid() -> u32 {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() }
}

/// Is this process in group `gid` (effective or supplementary), or root (who needs no group)?
pub fn in_group(gid: u32) -> bool {
    // SAFETY: getegid has no preconditions; getgroups writes at most `n` entries into `groups`.
    unsafe {
        if libc::geteuid() == 0 || libc::getegid() == gid {
            return true;
        }
        let n = libc::getgroups(0, std::ptr::null_mut());
        if n <= 0 {
            return false;
        }
        let mut groups = vec![0 as libc::gid_t; n as usize];
        let n = libc::getgroups(n, groups.as_mut_ptr());
        n > 0 && groups[..n as usize].contains(&gid)
    }
}

/// The path relative to the lock directory as the host admin knows it.
fn host_form(root: &Path, path: &Path) -> String {
    match path.strip_prefix(root) {
        Ok(rel) if !rel.as_os_str().is_empty() => {
            format!("{}/{}", env::LOCK_HOST_PATH, rel.display())
        }
        _ => env::LOCK_HOST_PATH.to_string(),
    }
}

/// The one fix for an I/O error on `host` (a path in the host's words, see [`host_form`]) of a
/// lock directory whose group is `gid`, for this uid (`in_group`: may it use that group).
pub fn fix_for(errno: Option<i32>, host: &str, gid: u32, uid: u32, in_group: bool) -> String {
    let root = host == env::LOCK_HOST_PATH;
    match errno {
        Some(libc::EACCES) | Some(libc::EPERM) if !in_group => format!(
            "uid {uid} is not in the lock group (gid {gid}): the lock directory is for root and that group only; run this as root (sudo) or as a member of gid {gid} (a board container: ghr adds {} to its group_add)",
            env::LOCK_GROUP
        ),
        Some(libc::EACCES) | Some(libc::EPERM) if root => format!(
            "on the host: chown root:{gid} {host} && chmod 2770 {host} (ghr init does this)"
        ),
        Some(libc::EACCES) | Some(libc::EPERM) => format!(
            "on the host: chgrp -R {gid} {host} && chmod -R g+rwX {host} (ghr init does this for the whole lock directory)"
        ),
        Some(libc::ENOENT) => format!(
            "{host} was removed while in use: the next request creates it again; if {} itself was removed, run ghr start on the host (it creates it) and restart this runner",
            env::LOCK_HOST_PATH
        ),
        Some(libc::ENOTDIR) | Some(libc::EEXIST) => {
            format!("on the host: remove what is in the way at {host}; the runner creates it again")
        }
        Some(libc::EROFS) => format!("mount {} read-write", env::LOCK_HOST_PATH),
        Some(libc::ENOSPC) | Some(libc::EDQUOT) => {
            format!("free space and inodes on the file system of {host}")
        }
        _ => format!("check {host} on the host"),
    }
}

/// The lock group of the lock directory (its gid), if it can be read.
fn group_of(root: &Path) -> Option<u32> {
    fs::metadata(root).ok().map(|m| m.gid())
}

/// An I/O error in the lock directory that names the file, the uid and the fix (instead of a
/// bare "Permission denied"). The kind is kept, so callers can still tell NotFound apart.
pub fn annotate(root: &Path, path: &Path, action: &str, e: io::Error) -> io::Error {
    let gid = group_of(root).unwrap_or(crate::contract::DEFAULT_LOCK_GROUP);
    let fix = fix_for(
        e.raw_os_error(),
        &host_form(root, path),
        gid,
        euid(),
        in_group(gid),
    );
    io::Error::new(
        e.kind(),
        format!(
            "{action} {} (as uid {}): {e}; fix: {fix}",
            path.display(),
            euid()
        ),
    )
}

/// The lock directory `root` (of group `gid`) is unusable: `action` on `path` failed.
pub fn err(root: &Path, path: &Path, action: &str, source: io::Error, gid: u32) -> LockDirError {
    let fix = fix_for(
        source.raw_os_error(),
        &host_form(root, path),
        gid,
        euid(),
        in_group(gid),
    );
    LockDirError {
        root: root.to_path_buf(),
        path: path.to_path_buf(),
        uid: euid(),
        what: format!("{action} {}: {source}", path.display()),
        fix,
    }
}

/// What a lock directory's mode allows others (neither its owner nor in its group).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RootMode {
    /// Others have no access: only the owner and the lock group can use it.
    Private,
    /// Others may look in or write: any local user could release, steal or delete locks.
    Open,
}

pub fn root_mode(mode: u32) -> RootMode {
    if mode & 0o007 == 0 {
        RootMode::Private
    } else {
        RootMode::Open
    }
}

/// Make sure the lock directory exists and is private to its owner and group; returns its group
/// (the lock group). A missing one is created mode 2770 with group `create_gid`.
pub fn ensure_root(root: &Path, create_gid: u32) -> Result<u32, LockDirError> {
    let meta = match fs::metadata(root) {
        Ok(m) => m,
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            create_root(root, create_gid)?;
            fs::metadata(root).map_err(|e| err(root, root, "reading", e, create_gid))?
        }
        Err(e) => return Err(err(root, root, "reading", e, create_gid)),
    };
    if !meta.is_dir() {
        return Err(LockDirError {
            root: root.to_path_buf(),
            path: root.to_path_buf(),
            uid: euid(),
            what: format!("{} is not a directory", root.display()),
            fix: format!(
                "point {} at a directory (ghr creates it)",
                env::LOCK_HOST_PATH
            ),
        });
    }
    if root_mode(meta.mode()) == RootMode::Open {
        let gid = if meta.gid() == 0 {
            create_gid
        } else {
            meta.gid()
        };
        let host = env::LOCK_HOST_PATH;
        return Err(LockDirError {
            root: root.to_path_buf(),
            path: root.to_path_buf(),
            uid: euid(),
            what: format!(
                "{} has mode {:04o} owner {}:{}, so any local user could release, steal or delete its locks",
                root.display(),
                meta.mode() & 0o7777,
                meta.uid(),
                meta.gid()
            ),
            fix: format!(
                "on the host: chown -R root:{gid} {host} && chmod 2770 {host} (ghr init does this, and fixes what is inside)"
            ),
        });
    }
    Ok(meta.gid())
}

fn create_root(root: &Path, gid: u32) -> Result<(), LockDirError> {
    let parent = root.parent().unwrap_or(Path::new("/"));
    fs::create_dir_all(parent).map_err(|e| err(root, parent, "creating", e, gid))?;
    // Built under a temporary name and renamed into place, like the resource directories: a
    // runner racing us (or a holder making it again) never sees it before it is the lock
    // group's and 2770, so nobody takes the creator's own group for the lock group.
    let name = root.file_name().unwrap_or_default().to_string_lossy();
    let tmp = unique_tmp(parent, &format!(".{name}.new"));
    let build = || -> io::Result<()> {
        fs::DirBuilder::new().mode(0o700).create(&tmp)?;
        // Group first (root, or a member of the group, may), mode second: chmod is what makes
        // it usable by the group, and it must come after chown, which may clear setgid.
        let _ = std::os::unix::fs::chown(&tmp, None, Some(gid));
        fs::set_permissions(&tmp, fs::Permissions::from_mode(DIR_MODE))
    };
    if let Err(e) = build() {
        let _ = fs::remove_dir(&tmp);
        return Err(err(root, root, "creating", e, gid));
    }
    match rename_noreplace(&tmp, root) {
        Ok(()) => Ok(()),
        // Somebody else made it first: theirs counts.
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
            let _ = fs::remove_dir(&tmp);
            Ok(())
        }
        Err(e) if matches!(e.raw_os_error(), Some(libc::EINVAL) | Some(libc::ENOSYS)) => {
            let _ = fs::remove_dir(&tmp);
            match fs::DirBuilder::new().mode(0o700).create(root) {
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Ok(()),
                Err(e) => Err(err(root, root, "creating", e, gid)),
                Ok(()) => {
                    let _ = std::os::unix::fs::chown(root, None, Some(gid));
                    fs::set_permissions(root, fs::Permissions::from_mode(DIR_MODE))
                        .map_err(|e| err(root, root, "setting the mode of", e, gid))
                }
            }
        }
        Err(e) => {
            let _ = fs::remove_dir(&tmp);
            Err(err(root, root, "creating", e, gid))
        }
    }
}

/// Make sure the resource's directory and lock file exist and that this uid can use them
/// (create a file, lock the lock). Safe to race with other wrappers of any uid. `create_gid`:
/// the group of a lock directory that has to be created first.
pub fn ensure_resource(
    root: &Path,
    resource: &str,
    create_gid: u32,
) -> Result<ResourcePaths, LockDirError> {
    let gid = ensure_root(root, create_gid)?;
    let paths = ResourcePaths::new(root, resource);
    ensure_shared_dir(root, &paths.name, gid, |dir| {
        create_shared_file(&dir.join(LOCK)).map(drop)
    })?;
    secure(&paths.dir, gid).map_err(|e| err(root, &paths.dir, "securing", e, gid))?;
    // Made with the directory; made again if it alone was removed (O_CREAT: racing creators
    // open the same file; a new one settles before anybody takes it, see `lockfile`).
    if let Err(e) = create_shared_file(&paths.lock) {
        return Err(err(root, &paths.lock, "opening", e, gid));
    }
    probe_writable(root, &paths.dir, gid)?;
    Ok(paths)
}

/// `<root>/<name>/` for the ledger or the control sockets, created like a resource directory.
pub fn ensure_subdir(root: &Path, name: &str, create_gid: u32) -> Result<PathBuf, LockDirError> {
    let gid = ensure_root(root, create_gid)?;
    ensure_shared_dir(root, name, gid, |_| Ok(()))?;
    let dir = root.join(name);
    secure(&dir, gid).map_err(|e| err(root, &dir, "securing", e, gid))?;
    probe_writable(root, &dir, gid)?;
    Ok(dir)
}

/// A directory made by an older version (0777, no setgid, the creator's group) is made 2770 and
/// the lock group's, when this uid may (its owner, or root). What stays wrong is an error only
/// when files created inside would not belong to the lock group (other uids could not read them).
fn secure(dir: &Path, gid: u32) -> io::Result<()> {
    let meta = fs::metadata(dir)?;
    let right = meta.gid() == gid && meta.mode() & 0o7777 == DIR_MODE;
    if right {
        return Ok(());
    }
    if meta.gid() != gid {
        let _ = std::os::unix::fs::chown(dir, None, Some(gid));
    }
    let _ = fs::set_permissions(dir, fs::Permissions::from_mode(DIR_MODE));
    let meta = fs::metadata(dir)?;
    if meta.gid() != gid || meta.mode() & 0o2000 == 0 {
        return Err(io::Error::from_raw_os_error(libc::EPERM));
    }
    Ok(())
}

fn probe_writable(root: &Path, dir: &Path, gid: u32) -> Result<(), LockDirError> {
    let probe = unique_tmp(dir, ".probe");
    create_shared_file(&probe).map_err(|e| err(root, dir, "writing in", e, gid))?;
    fs::remove_file(&probe).map_err(|e| err(root, dir, "removing a file in", e, gid))
}

/// Create `<root>/<name>/` mode 2770, in the lock group, with its initial content, atomically:
/// it is built under a temporary name and renamed into place without replacing
/// (RENAME_NOREPLACE), so nobody ever sees it half made or narrowed by a umask, and two creators
/// cannot replace each other's.
fn ensure_shared_dir(
    root: &Path,
    name: &str,
    gid: u32,
    populate: impl Fn(&Path) -> io::Result<()>,
) -> Result<(), LockDirError> {
    let dir = root.join(name);
    if dir.is_dir() {
        return Ok(());
    }
    let tmp = unique_tmp(root, &format!(".new-{name}"));
    let build = || -> io::Result<()> {
        make_dir(&tmp, gid)?;
        populate(&tmp)
    };
    if let Err(e) = build() {
        let _ = fs::remove_dir_all(&tmp);
        return Err(err(root, root, "creating a directory in", e, gid));
    }
    match rename_noreplace(&tmp, &dir) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
            let _ = fs::remove_dir_all(&tmp);
            Ok(())
        }
        Err(e) if matches!(e.raw_os_error(), Some(libc::EINVAL) | Some(libc::ENOSYS)) => {
            // A file system without RENAME_NOREPLACE: plain mkdir; a racing creator may briefly
            // see it before the chmod below (behind the private lock directory all the same).
            let _ = fs::remove_dir_all(&tmp);
            match make_dir(&dir, gid) {
                Ok(()) => populate(&dir).map_err(|e| err(root, &dir, "creating files in", e, gid)),
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Ok(()),
                Err(e) => Err(err(root, root, "creating a directory in", e, gid)),
            }
        }
        Err(e) => {
            let _ = fs::remove_dir_all(&tmp);
            Err(err(root, root, "creating a directory in", e, gid))
        }
    }
}

/// mkdir, then the lock group (inherited from a setgid parent; set when the parent is not), then
/// mode 2770 whatever the umask.
fn make_dir(path: &Path, gid: u32) -> io::Result<()> {
    fs::DirBuilder::new().mode(0o700).create(path)?;
    if fs::metadata(path)?.gid() != gid {
        std::os::unix::fs::chown(path, None, Some(gid))?;
    }
    fs::set_permissions(path, fs::Permissions::from_mode(DIR_MODE))
}

fn rename_noreplace(from: &Path, to: &Path) -> io::Result<()> {
    let c = |p: &Path| {
        CString::new(p.as_os_str().as_bytes())
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))
    };
    let (from, to) = (c(from)?, c(to)?);
    // SAFETY: two valid NUL-terminated paths; renameat2 only reads them.
    let rc = unsafe {
        libc::renameat2(
            libc::AT_FDCWD,
            from.as_ptr(),
            libc::AT_FDCWD,
            to.as_ptr(),
            libc::RENAME_NOREPLACE,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// Open or create a file of the lock directory: mode 0660 whatever the umask; its group is the
/// directory's (setgid), so every runner of the lock group can open it.
pub fn create_shared_file(path: &Path) -> io::Result<File> {
    let f = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .mode(FILE_MODE)
        .open(path)?;
    // Set what the umask changed; fails harmlessly on a file of another uid.
    let _ = f.set_permissions(fs::Permissions::from_mode(FILE_MODE));
    Ok(f)
}

/// A name no other process uses: pid (per pid namespace), time and a counter.
pub fn unique_tmp(dir: &Path, stem: &str) -> PathBuf {
    static N: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    dir.join(format!(
        "{stem}.{}.{nanos}.{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ))
}

/// Write `text` to `path` atomically (temporary file in the same directory + rename), mode
/// 0660, so a reader never sees half a record.
pub fn write_atomic(path: &Path, text: &str) -> io::Result<()> {
    use std::io::Write;
    let dir = path.parent().unwrap_or(Path::new("."));
    let tmp = unique_tmp(dir, ".tmp");
    let result = (|| {
        let mut f = create_shared_file(&tmp)?;
        f.write_all(text.as_bytes())?;
        fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

/// Resource directories in `root` (names, sorted). A missing root has none.
pub fn resource_names(root: &Path) -> io::Result<Vec<String>> {
    let rd = match fs::read_dir(root) {
        Ok(rd) => rd,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(annotate(root, root, "reading", e)),
    };
    let mut names = Vec::new();
    for entry in rd {
        let entry = entry?;
        let Some(name) = entry.file_name().to_str().map(str::to_string) else {
            continue;
        };
        if !name.starts_with('.') && entry.path().join(LOCK).is_file() {
            names.push(name);
        }
    }
    names.sort();
    Ok(names)
}

/// Give an existing lock directory's content to the lock group with the modes above (what an
/// older version made 0777/0666, or what a restore left behind). Root (ghr init) may; returns how
/// many entries were changed.
pub fn secure_tree(root: &Path, gid: u32) -> io::Result<usize> {
    fn walk(dir: &Path, gid: u32, depth: usize, changed: &mut usize) -> io::Result<()> {
        for entry in fs::read_dir(dir)? {
            let entry = entry?;
            let path = entry.path();
            let meta = match fs::symlink_metadata(&path) {
                Ok(m) => m,
                Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
                Err(e) => return Err(e),
            };
            let ft = meta.file_type();
            let want = if ft.is_dir() {
                DIR_MODE
            } else if ft.is_symlink() {
                continue; // never follow: nothing of ours is a link
            } else {
                FILE_MODE
            };
            if meta.gid() != gid || meta.mode() & 0o7777 != want {
                std::os::unix::fs::lchown(&path, None, Some(gid))?;
                fs::set_permissions(&path, fs::Permissions::from_mode(want))?;
                *changed += 1;
            }
            if ft.is_dir() && depth < 2 {
                walk(&path, gid, depth + 1, changed)?;
            }
        }
        Ok(())
    }
    let mut changed = 0;
    walk(root, gid, 1, &mut changed)?;
    Ok(changed)
}

#[cfg(test)]
mod tests {
    use super::*;

    const GID: u32 = 1001;

    fn scratch(tag: &str) -> PathBuf {
        let p = std::env::temp_dir().join(format!("rw-lockdir-{tag}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&p);
        p
    }

    fn mode(p: &Path) -> u32 {
        fs::metadata(p).unwrap().mode() & 0o7777
    }

    #[test]
    fn names_stay_inside_and_never_start_with_a_dot() {
        assert_eq!(file_name_for("board-1"), "board-1");
        assert_eq!(file_name_for("../x"), "_.._x");
        assert_eq!(file_name_for(".ledger"), "_.ledger");
        assert_eq!(file_name_for("a b/c"), "a_b_c");
        assert_eq!(file_name_for(""), "_");
    }

    #[test]
    fn only_a_directory_others_cannot_enter_is_private() {
        for (m, want) in [
            (0o2770, RootMode::Private),
            (0o770, RootMode::Private),
            (0o700, RootMode::Private),
            (0o40_2770, RootMode::Private),
            (0o1777, RootMode::Open),
            (0o2775, RootMode::Open),
            (0o2771, RootMode::Open),
            (0o755, RootMode::Open),
        ] {
            assert_eq!(root_mode(m), want, "{m:o}");
        }
    }

    /// Each error kind gets its own fix, in the host's words; root can run in any group.
    #[test]
    fn every_error_names_its_fix() {
        let host = "RUNNER_LOCK_HOST_PATH/brd/seq";
        let table: [(i32, &str, bool, &str); 7] = [
            (
                libc::EACCES,
                host,
                true,
                "chgrp -R 1001 RUNNER_LOCK_HOST_PATH/brd/seq && chmod -R g+rwX",
            ),
            (
                libc::EACCES,
                host,
                false,
                "uid 1002 is not in the lock group (gid 1001)",
            ),
            (
                libc::EACCES,
                "RUNNER_LOCK_HOST_PATH",
                true,
                "chown root:1001 RUNNER_LOCK_HOST_PATH && chmod 2770 RUNNER_LOCK_HOST_PATH",
            ),
            (libc::ENOENT, host, true, "was removed while in use"),
            (libc::EROFS, host, true, "read-write"),
            (libc::ENOSPC, host, true, "free space"),
            (
                libc::EIO,
                host,
                true,
                "check RUNNER_LOCK_HOST_PATH/brd/seq on the host",
            ),
        ];
        for (errno, host, member, want) in table {
            let fix = fix_for(Some(errno), host, GID, 1002, member);
            assert!(fix.contains(want), "{errno}: {fix}");
            assert!(!fix.contains('\n'));
        }
    }

    /// An I/O error names the file, the uid and the fix, and keeps its kind.
    #[test]
    fn annotated_errors_name_the_file() {
        let root = scratch("annotate");
        ensure_root(&root, GID).unwrap();
        let e = annotate(
            &root,
            &root.join("brd/seq"),
            "opening",
            io::Error::from_raw_os_error(libc::EACCES),
        );
        assert_eq!(e.kind(), io::ErrorKind::PermissionDenied);
        let text = e.to_string();
        for want in [
            format!("opening {}/brd/seq (as uid 0)", root.display()),
            "Permission denied".into(),
            "fix: on the host: chgrp -R 1001 RUNNER_LOCK_HOST_PATH/brd/seq".into(),
        ] {
            assert!(text.contains(&want), "{want}: {text}");
        }
        let _ = fs::remove_dir_all(&root);
    }

    /// The layout: the root and every directory 2770 in the lock group, every file 0660, nothing
    /// but directories at the top, and nothing left behind by creation. (Whatever the umask:
    /// the host test `security.rs` runs wrappers with umask 077 and 000.)
    #[test]
    fn layout_is_private_to_the_lock_group() {
        let root = scratch("layout");
        let p = ensure_resource(&root, "board-1", GID).unwrap();
        ensure_resource(&root, "board-1", GID).unwrap();
        ensure_resource(&root, "board 2", GID).unwrap();
        ensure_subdir(&root, LEDGER_DIR, GID).unwrap();
        write_atomic(&p.owner, "x=1\n").unwrap();
        let gid = |p: &Path| fs::metadata(p).unwrap().gid();
        assert_eq!((mode(&root), gid(&root)), (0o2770, GID));
        for d in [&p.dir, &root.join(LEDGER_DIR)] {
            assert_eq!((mode(d), gid(d)), (0o2770, GID), "{d:?}");
        }
        for f in [&p.lock, &p.owner] {
            assert_eq!((mode(f), gid(f)), (0o660, GID), "{f:?}");
        }
        let mut top: Vec<String> = fs::read_dir(&root)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        top.sort();
        assert_eq!(top, [".ledger", "board-1", "board_2"]);
        let mut inside: Vec<String> = fs::read_dir(&p.dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        inside.sort();
        assert_eq!(inside, ["lock", "owner"]);
        assert_eq!(resource_names(&root).unwrap(), ["board-1", "board_2"]);
        let _ = fs::remove_dir_all(&root);
    }

    /// A lock directory others may enter is refused, with the chown/chmod that fixes it.
    #[test]
    fn a_lock_directory_others_can_use_is_refused() {
        let root = scratch("open");
        fs::create_dir_all(&root).unwrap();
        fs::set_permissions(&root, fs::Permissions::from_mode(0o1777)).unwrap();
        let e = ensure_resource(&root, "b", GID).unwrap_err().to_string();
        for want in [
            "has mode 1777 owner 0:0",
            "any local user could release, steal or delete its locks",
            "chown -R root:1001 RUNNER_LOCK_HOST_PATH && chmod 2770 RUNNER_LOCK_HOST_PATH",
        ] {
            assert!(e.contains(want), "{want}: {e}");
        }
        assert!(!root.join("b").exists(), "nothing created");
        let _ = fs::remove_dir_all(&root);
    }

    /// What an older version made (1777 top, 0777 directories, 0666 files of any group) is
    /// given to the lock group by secure_tree (ghr init, as root).
    #[test]
    fn secure_tree_fixes_an_old_layout() {
        let root = scratch("old");
        fs::create_dir_all(root.join("brd")).unwrap();
        fs::write(root.join("brd/lock"), "").unwrap();
        fs::set_permissions(root.join("brd"), fs::Permissions::from_mode(0o777)).unwrap();
        fs::set_permissions(root.join("brd/lock"), fs::Permissions::from_mode(0o666)).unwrap();
        assert_eq!(secure_tree(&root, GID).unwrap(), 2);
        assert_eq!(mode(&root.join("brd")), 0o2770);
        assert_eq!(mode(&root.join("brd/lock")), 0o660);
        assert_eq!(fs::metadata(root.join("brd/lock")).unwrap().gid(), GID);
        assert_eq!(secure_tree(&root, GID).unwrap(), 0, "idempotent");
        let _ = fs::remove_dir_all(&root);
    }

    #[test]
    fn racing_creators_end_with_one_directory() {
        let root = scratch("race");
        ensure_root(&root, GID).unwrap();
        let lock_inodes: Vec<u64> = std::thread::scope(|s| {
            let hs: Vec<_> = (0..8)
                .map(|_| {
                    s.spawn(|| {
                        let p = ensure_resource(&root, "r", GID).unwrap();
                        fs::metadata(&p.lock).unwrap().ino()
                    })
                })
                .collect();
            hs.into_iter().map(|h| h.join().unwrap()).collect()
        });
        assert!(
            lock_inodes.windows(2).all(|w| w[0] == w[1]),
            "{lock_inodes:?}"
        );
        assert_eq!(fs::read_dir(&root).unwrap().count(), 1, "no temp dirs left");
        let _ = fs::remove_dir_all(&root);
    }
}
