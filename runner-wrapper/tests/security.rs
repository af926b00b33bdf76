//! The lock directory is for the runners and their admins only: another local uid can neither
//! release (nor force-release) a lock, nor mark a board unhealthy, nor remove a lock file; the
//! control socket hears only root and the holder's own uid; everything the runners create is
//! the lock group's (2770 directories, 0660 files and sockets) whatever their umask; and an I/O
//! error in the lock path names the file and the fix. The tests run as root and act as other
//! uids through `setpriv`.

mod support;

use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

use runner_wrapper::control::{self, Released};
use runner_wrapper::hold::{self, HoldSpec};
use runner_wrapper::record::HolderKind;
use support::*;

const R: &str = "board-s";
/// A local user who is not a runner.
const STRANGER: u32 = 2000;

/// Run `cmd` as uid/gid `uid` with exactly the supplementary `groups`.
fn as_uid(uid: u32, groups: &[u32], cmd: &[&str], dir: &Path) -> Output {
    let mut c = Command::new("setpriv");
    c.arg(format!("--reuid={uid}"))
        .arg(format!("--regid={uid}"));
    if groups.is_empty() {
        c.arg("--clear-groups");
    } else {
        let g: Vec<String> = groups.iter().map(|g| g.to_string()).collect();
        c.arg(format!("--groups={}", g.join(",")));
    }
    c.arg("--")
        .args(cmd)
        .env("RUNNER_LOCK_DIR", dir)
        .current_dir("/")
        .output()
        .expect("setpriv")
}

fn wrapper(uid: u32, groups: &[u32], args: &[&str], dir: &Path) -> Output {
    let bin = wrapper_bin();
    let mut cmd = vec![bin.to_str().unwrap()];
    cmd.extend_from_slice(args);
    as_uid(uid, groups, &cmd, dir)
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn holder(dir: &Path) -> Option<(HolderKind, String)> {
    runner_wrapper::status::find(dir, R)
        .unwrap()
        .and_then(|st| {
            st.live_holder()
                .map(|h| (h.record.kind, h.record.runner.clone()))
        })
}

/// Another uid: outside the lock group it cannot even look; inside it (a runner of another
/// image) the holder's control socket still refuses it. The job keeps its lock throughout.
#[test]
fn another_uid_cannot_release_steal_or_mark_a_board_unhealthy() {
    let s = Scratch::new("stranger");
    let dir = s.lock_dir();
    let mut a = Wrapper::spawn(&s, Spec::new("A", R).uid(1001));
    a.job("a1 30");
    a.wait_event("start", "a1", secs(10));
    let paths = runner_wrapper::lockdir::ResourcePaths::new(&dir, R);
    let (lock, health) = (
        paths.lock.display().to_string(),
        paths.health.display().to_string(),
    );

    // Outside the lock group: every way in is closed, and the release says why, naming the path.
    for args in [&["release", R][..], &["release", "--force", R][..]] {
        let o = wrapper(STRANGER, &[], args, &dir);
        assert_eq!(o.status.code(), Some(1), "{args:?}: {}", text(&o));
        let t = text(&o);
        for want in [
            "Permission denied",
            &format!("{}/{R}/lock (as uid {STRANGER})", dir.display()),
            &format!("uid {STRANGER} is not in the lock group (gid {LOCK_GID})"),
        ] {
            assert!(t.contains(want), "{args:?}: {want}: {t}");
        }
    }
    let shell = |script: &str| as_uid(STRANGER, &[], &["sh", "-c", script], &dir);
    for script in [
        format!("printf 'status=unhealthy\\n' > {health}"),
        format!("rm -f {lock}"),
        format!("mv {} {}.x", paths.dir.display(), paths.dir.display()),
        format!("ls {}", dir.display()),
    ] {
        let o = shell(&script);
        assert!(!o.status.success(), "{script} must fail: {}", text(&o));
    }
    assert!(!paths.health.exists(), "no health record written");

    // A runner of another uid in the lock group reaches the socket: refused by the holder.
    for args in [&["release", R][..], &["release", "--force", R][..]] {
        let o = wrapper(STRANGER, &[LOCK_GID], args, &dir);
        assert_eq!(o.status.code(), Some(1), "{args:?}: {}", text(&o));
        let t = text(&o);
        if args.len() == 2 {
            assert!(t.contains("not by a hold; --force releases it"), "{t}");
        } else {
            assert!(
                t.contains(&format!(
                    "refused: uid {STRANGER} may not control this lock holder; only root (uid 0) and uid 1001"
                )),
                "{t}"
            );
        }
    }
    a.err
        .wait("the refusal is in the holder's log", secs(5), |l| {
            l.contains("control socket: refused: uid 2000")
        });
    assert_eq!(holder(&dir), Some((HolderKind::Job, "A".into())));
    assert!(a.events().iter().all(|e| e.kind != "end"), "a1 still runs");

    // Root on purpose: the admin (sudo ghr release) may.
    let o = wrapper(0, &[], &["release", "--force", R], &dir);
    assert!(o.status.success(), "{}", text(&o));
    a.err.wait("forced release logged", secs(5), |l| {
        l.contains("released board-s")
    });
}

/// A maintenance hold (kept by root, as `sudo ghr hold` keeps it) is released by root only.
#[test]
fn only_root_and_its_own_uid_release_a_hold() {
    let s = Scratch::new("stranger-hold");
    let dir = s.lock_dir();
    prepare_lock_dir(&dir, R);
    let spec = HoldSpec {
        dir: dir.clone(),
        resource: R.into(),
        user: "alice".into(),
        reason: "reflash".into(),
        until: None,
        no_wait: false,
        status_interval: Duration::from_millis(200),
    };
    let mut keeper = Command::new(wrapper_bin());
    keeper.arg("keep-hold");
    hold::request(keeper, &spec, &mut |_| {}).unwrap();
    for groups in [&[][..], &[LOCK_GID][..]] {
        let o = wrapper(STRANGER, groups, &["release", R], &dir);
        assert_eq!(o.status.code(), Some(1), "{groups:?}: {}", text(&o));
        assert_eq!(holder(&dir).map(|h| h.0), Some(HolderKind::Hold));
    }
    let o = wrapper(STRANGER, &[LOCK_GID], &["release", R], &dir);
    assert!(text(&o).contains("refused: uid 2000"), "{}", text(&o));
    let r = control::release(&dir, R, false, "root in the test").unwrap();
    assert!(matches!(r, Released::Released { .. }), "{r:?}");
}

/// Every directory, file and socket the runners (root and uid 1001, umask 000 and 077), a hold
/// and a health check create: the lock group's, 2770 / 0660, nothing for others.
#[test]
fn everything_the_runners_create_is_the_lock_groups_only() {
    let s = Scratch::new("modes");
    let dir = s.lock_dir();
    assert!(!dir.exists());
    // Root on purpose (custom images), with the widest umask; it creates the lock directory.
    let mut a = Wrapper::spawn(
        &s,
        Spec::new("A", R)
            .umask(0o000)
            .env("RUNNER_HEALTHCHECK", "true")
            .fresh(),
    );
    let mut b = Wrapper::spawn(&s, Spec::new("B", R).uid(1001).umask(0o077).fresh());
    a.job("a1 1.5");
    a.wait_event("start", "a1", secs(10));
    b.job("b1 0.1");
    let st = wait_status(&dir, R, "b1 queued", |st| st.live_waiters().count() == 1);
    assert!(st.health.is_some(), "the check wrote its record");
    let mid = modes(&dir);
    b.wait_event("completed", "b1", secs(10));
    let end = modes(&dir);
    let all: Vec<&(PathBuf, char, u32, u32)> = mid.iter().chain(end.iter()).collect();
    for kind in ['d', 'f', 's'] {
        assert!(all.iter().any(|e| e.1 == kind), "{kind} seen: {all:#?}");
    }
    assert!(all
        .iter()
        .any(|e| e.0.to_string_lossy().ends_with(".ticket")));
    assert!(all.iter().any(|e| e.0.ends_with("grants.log")));
    for (path, kind, mode, gid) in all {
        let want = if *kind == 'd' { 0o2770 } else { 0o660 };
        assert_eq!((*mode, *gid), (want, LOCK_GID), "{path:?}");
    }
}

/// (path, d|f|s, mode, gid) of the lock directory and everything in it, but what is being made
/// (temporary names: mode and group are set right after creation, and they are renamed into
/// place only then).
fn modes(dir: &Path) -> Vec<(PathBuf, char, u32, u32)> {
    let mut out = Vec::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(p) = todo.pop() {
        let name = p.file_name().unwrap().to_string_lossy();
        if [".tmp", ".new-", ".probe"]
            .iter()
            .any(|t| name.starts_with(t))
        {
            continue;
        }
        let Ok(m) = std::fs::symlink_metadata(&p) else {
            continue; // gone meanwhile (a ticket, a temp file)
        };
        let ft = m.file_type();
        let kind = if ft.is_dir() {
            if let Ok(rd) = std::fs::read_dir(&p) {
                todo.extend(rd.flatten().map(|e| e.path()));
            }
            'd'
        } else if ft.is_socket() {
            's'
        } else {
            'f'
        };
        out.push((p, kind, m.mode() & 0o7777, m.gid()));
    }
    out
}

/// A `seq` (or lock) file the runner cannot open: the job's log and the wrapper's name the file,
/// the uid and the fix, not just "Permission denied".
#[test]
fn a_failing_lock_file_names_itself_and_the_fix() {
    let s = Scratch::new("names");
    let dir = s.lock_dir();
    let mut a = Wrapper::spawn(&s, Spec::new("A", R).uid(1001));
    let paths = runner_wrapper::lockdir::ResourcePaths::new(&dir, R);
    std::fs::write(&paths.seq, "7").unwrap();
    std::os::unix::fs::chown(&paths.seq, Some(0), Some(0)).unwrap();
    std::fs::set_permissions(
        &paths.seq,
        std::os::unix::fs::PermissionsExt::from_mode(0o600),
    )
    .unwrap();
    a.job("a1 0.1");
    a.wait_event("startfail", "a1", secs(10));
    let want = format!(
        "opening {} (as uid 1001): Permission denied (os error 13); fix: on the host: chgrp -R {LOCK_GID} RUNNER_LOCK_HOST_PATH/{R}/seq && chmod -R g+rwX RUNNER_LOCK_HOST_PATH/{R}/seq",
        paths.seq.display()
    );
    let log = a.job_log("a1");
    assert!(
        log.contains(&format!("locking {R} failed: {want}")),
        "{log}"
    );
    a.err
        .wait("the wrapper's log", secs(5), |l| l.contains(&want));

    // The lock file itself, at start-up: one line naming it.
    std::fs::set_permissions(
        &paths.lock,
        std::os::unix::fs::PermissionsExt::from_mode(0o600),
    )
    .unwrap();
    std::os::unix::fs::chown(&paths.lock, Some(0), Some(0)).unwrap();
    let mut b = Wrapper::spawn(&s, Spec::new("B", R).uid(1001).no_wait());
    assert_eq!(b.wait_exit(secs(10)), 1);
    let err = b.err.all();
    assert_eq!(err.len(), 1, "{err:#?}");
    assert!(
        err[0].contains(&format!(
            "opening {}: Permission denied (os error 13); fix: on the host: chgrp -R {LOCK_GID} RUNNER_LOCK_HOST_PATH/{R}/lock",
            paths.lock.display()
        )),
        "{}",
        err[0]
    );
}
