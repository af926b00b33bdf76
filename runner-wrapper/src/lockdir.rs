//! The shared lock directory and where each file lives in it.
//!
//! The top directory is shared by runners of several orgs that may run as different uids (the
//! stock runner image runs as uid 1001, custom images may run as root), so ghr creates it mode
//! 1777 (sticky, world-writable, like /tmp). In a sticky directory nobody may unlink or
//! rename-over an entry of another uid, and (with `fs.protected_regular`) not even open another
//! uid's file with O_CREAT. So the top directory holds only directories, each created once,
//! atomically and mode 0777 (not sticky): everything that is replaced or unlinked lives inside
//! them, where every uid may do both.
//!
//! ```text
//! <root>/                      1777 (ghr), or created so by the first wrapper
//! <root>/<name>/               one per resource, 0777
//! <root>/<name>/lock           the lock; flocked by the holder; never unlinked
//! <root>/<name>/owner          owner record of the holder (see `record`)
//! <root>/<name>/health         last health check (see `health`)
//! <root>/<name>/seq            ticket counter
//! <root>/<name>/<n>.ticket     one per waiter (see `tickets`)
//! <root>/.ledger/              grant history (see `ledger`)
//! <root>/.control/             control sockets of holders (see `control`)
//! ```
//! Names starting with `.` are never resource names ([`file_name_for`] prefixes them).

use std::ffi::CString;
use std::fmt;
use std::fs::{self, File, OpenOptions};
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

pub const LEDGER_DIR: &str = ".ledger";
pub const CONTROL_DIR: &str = ".control";
const LOCK: &str = "lock";

/// Files of one resource in a lock directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResourcePaths {
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
    pub fn open_lock(&self) -> io::Result<File> {
        OpenOptions::new().read(true).write(true).open(&self.lock)
    }
}

/// The lock directory is unusable for this process: refuse to run jobs. `Display` is the one
/// line the wrapper prints: the directory, the uid, what failed and the fix on the host.
#[derive(Debug)]
pub struct LockDirError {
    pub root: PathBuf,
    /// The path that failed (the root or a directory inside it).
    pub path: PathBuf,
    pub uid: u32,
    pub action: &'static str,
    pub source: io::Error,
}

impl fmt::Display for LockDirError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let fix = if self.path == self.root {
            "chmod 1777 on the host directory mounted there (RUNNER_LOCK_HOST_PATH; ghr creates it so when it is missing)".to_string()
        } else {
            let rel = self.path.strip_prefix(&self.root).unwrap_or(&self.path);
            format!(
                "chmod -R a+rwX RUNNER_LOCK_HOST_PATH/{} on the host (ghr creates RUNNER_LOCK_HOST_PATH mode 1777 when it is missing)",
                rel.display()
            )
        };
        write!(
            f,
            "cannot use the lock directory {} as uid {}: {} {}: {}; fix: {fix}",
            self.root.display(),
            self.uid,
            self.action,
            self.path.display(),
            self.source
        )
    }
}

impl std::error::Error for LockDirError {}

pub fn euid() -> u32 {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() }
}

fn err(root: &Path, path: &Path, action: &'static str, source: io::Error) -> LockDirError {
    LockDirError {
        root: root.to_path_buf(),
        path: path.to_path_buf(),
        uid: euid(),
        action,
        source,
    }
}

/// Create the top directory if it is missing (mode 1777, like ghr makes it on the host).
pub fn ensure_root(root: &Path) -> Result<(), LockDirError> {
    if root.is_dir() {
        return Ok(());
    }
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o1777)
        .create(root)
        .map_err(|e| err(root, root, "creating", e))?;
    // The umask narrowed the mode; we created it, so we may widen it.
    let _ = fs::set_permissions(root, fs::Permissions::from_mode(0o1777));
    Ok(())
}

/// Make sure the resource's directory and lock file exist and that this uid can use them
/// (create a file, lock the lock). Safe to race with other wrappers of any uid.
pub fn ensure_resource(root: &Path, resource: &str) -> Result<ResourcePaths, LockDirError> {
    ensure_root(root)?;
    let paths = ResourcePaths::new(root, resource);
    ensure_shared_dir(root, &paths.name, |dir| {
        create_shared_file(&dir.join(LOCK)).map(drop)
    })?;
    paths
        .open_lock()
        .map_err(|e| err(root, &paths.lock, "opening", e))?;
    probe_writable(root, &paths.dir)?;
    Ok(paths)
}

/// `<root>/<name>/` for the ledger or the control sockets, created like a resource directory.
pub fn ensure_subdir(root: &Path, name: &str) -> Result<PathBuf, LockDirError> {
    ensure_root(root)?;
    ensure_shared_dir(root, name, |_| Ok(()))?;
    let dir = root.join(name);
    probe_writable(root, &dir)?;
    Ok(dir)
}

fn probe_writable(root: &Path, dir: &Path) -> Result<(), LockDirError> {
    let probe = unique_tmp(dir, ".probe");
    create_shared_file(&probe).map_err(|e| err(root, dir, "writing in", e))?;
    fs::remove_file(&probe).map_err(|e| err(root, dir, "removing a file in", e))
}

/// Create `<root>/<name>/` mode 0777 with its initial content, atomically: it is built under a
/// temporary name and renamed into place without replacing (RENAME_NOREPLACE), so nobody ever
/// sees it half made or narrowed by a umask, and two creators cannot replace each other's.
fn ensure_shared_dir(
    root: &Path,
    name: &str,
    populate: impl Fn(&Path) -> io::Result<()>,
) -> Result<(), LockDirError> {
    let dir = root.join(name);
    if dir.is_dir() {
        return Ok(());
    }
    let tmp = unique_tmp(root, &format!(".new-{name}"));
    let build = || -> io::Result<()> {
        fs::DirBuilder::new().mode(0o777).create(&tmp)?;
        fs::set_permissions(&tmp, fs::Permissions::from_mode(0o777))?;
        populate(&tmp)
    };
    if let Err(e) = build() {
        let _ = fs::remove_dir_all(&tmp);
        return Err(err(root, root, "creating a directory in", e));
    }
    match rename_noreplace(&tmp, &dir) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
            let _ = fs::remove_dir_all(&tmp);
            Ok(())
        }
        Err(e) if matches!(e.raw_os_error(), Some(libc::EINVAL) | Some(libc::ENOSYS)) => {
            // A file system without RENAME_NOREPLACE: plain mkdir; a racing creator of another
            // uid may briefly see it narrowed by our umask until the chmod below.
            let _ = fs::remove_dir_all(&tmp);
            match fs::DirBuilder::new().mode(0o777).create(&dir) {
                Ok(()) => {
                    let _ = fs::set_permissions(&dir, fs::Permissions::from_mode(0o777));
                    populate(&dir).map_err(|e| err(root, &dir, "creating files in", e))
                }
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Ok(()),
                Err(e) => Err(err(root, root, "creating a directory in", e)),
            }
        }
        Err(e) => {
            let _ = fs::remove_dir_all(&tmp);
            Err(err(root, root, "creating a directory in", e))
        }
    }
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

/// Open or create a file that other uids must be able to open too (0666 despite the umask).
/// Only ever called inside the 0777 subdirectories, never in the sticky top directory.
pub fn create_shared_file(path: &Path) -> io::Result<File> {
    let f = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o666)
        .open(path)?;
    // Widen what the umask narrowed; fails harmlessly on a file of another uid.
    let _ = f.set_permissions(fs::Permissions::from_mode(0o666));
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
/// 0666, so a reader never sees half a record. Only inside the 0777 subdirectories.
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
        Err(e) => return Err(e),
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::MetadataExt;

    fn scratch(tag: &str) -> PathBuf {
        let p = std::env::temp_dir().join(format!("rw-lockdir-{tag}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&p);
        p
    }

    #[test]
    fn names_stay_inside_and_never_start_with_a_dot() {
        assert_eq!(file_name_for("board-1"), "board-1");
        assert_eq!(file_name_for("../x"), "_.._x");
        assert_eq!(file_name_for(".ledger"), "_.ledger");
        assert_eq!(file_name_for("a b/c"), "a_b_c");
        assert_eq!(file_name_for(""), "_");
    }

    /// The layout that works with a sticky top directory: only directories at the top, each
    /// 0777 and not sticky, the lock file 0666 inside, and nothing left behind by creation.
    #[test]
    fn layout_is_usable_by_every_uid_under_a_sticky_root() {
        let root = scratch("layout");
        let p = ensure_resource(&root, "board-1").unwrap();
        // Idempotent, and a second resource beside it.
        ensure_resource(&root, "board-1").unwrap();
        ensure_resource(&root, "board 2").unwrap();
        ensure_subdir(&root, LEDGER_DIR).unwrap();
        let mode = |p: &Path| fs::metadata(p).unwrap().mode() & 0o7777;
        assert_eq!(mode(&root), 0o1777);
        assert_eq!(mode(&p.dir), 0o777);
        assert_eq!(mode(&p.lock), 0o666);
        assert_eq!(mode(&root.join(LEDGER_DIR)), 0o777);
        let mut top: Vec<String> = fs::read_dir(&root)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        top.sort();
        assert_eq!(top, [".ledger", "board-1", "board_2"]);
        for e in fs::read_dir(&root).unwrap() {
            assert!(
                e.unwrap().file_type().unwrap().is_dir(),
                "only directories at the top"
            );
        }
        let inside: Vec<String> = fs::read_dir(&p.dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(inside, ["lock"]);
        assert_eq!(resource_names(&root).unwrap(), ["board-1", "board_2"]);
        write_atomic(&p.owner, "x=1\n").unwrap();
        assert_eq!(mode(&p.owner), 0o666);
        let _ = fs::remove_dir_all(&root);
    }

    #[test]
    fn racing_creators_end_with_one_directory() {
        let root = scratch("race");
        ensure_root(&root).unwrap();
        let lock_inodes: Vec<u64> = std::thread::scope(|s| {
            let hs: Vec<_> = (0..8)
                .map(|_| {
                    s.spawn(|| {
                        let p = ensure_resource(&root, "r").unwrap();
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

    #[test]
    fn the_error_names_the_directory_the_uid_and_the_fix() {
        let e = LockDirError {
            root: "/tmp/locks".into(),
            path: "/tmp/locks".into(),
            uid: 1001,
            action: "creating a directory in",
            source: io::Error::from_raw_os_error(libc::EACCES),
        };
        let line = e.to_string();
        assert!(!line.contains('\n'));
        for want in [
            "/tmp/locks",
            "uid 1001",
            "chmod 1777",
            "RUNNER_LOCK_HOST_PATH",
            "ghr creates it",
        ] {
            assert!(line.contains(want), "{want}: {line}");
        }
        let e = LockDirError {
            path: "/tmp/locks/board-1".into(),
            ..e
        };
        assert!(e
            .to_string()
            .contains("chmod -R a+rwX RUNNER_LOCK_HOST_PATH/board-1"));
    }
}
