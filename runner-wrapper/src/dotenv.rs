//! The runner's own `.env` must not switch locking off.
//!
//! The real runner's Listener loads `<runner root>/.env` (`KEY=VALUE` lines; a line whose first
//! `=` is past index 0 sets KEY to the rest of the line, unquoted; an empty value unsets it) into
//! its environment, overriding what it inherited, and the Worker that runs the job hooks
//! inherits that. So an `ACTIONS_RUNNER_HOOK_JOB_STARTED=...` line there would replace the
//! wrapper's hooks and jobs would run unlocked.
//!
//! Chaining keeps the user's hook: before each start of the runner, such lines are rewritten to
//! point at the wrapper's hook scripts, and the user's value is kept under a harmless name
//! (`RUNNER_WRAPPER_USER_HOOK_JOB_STARTED`), which the wrapper's scripts then run after the
//! lock is taken (started) / before it is released (completed). Idempotent across restarts:
//! a value that is one of our scripts (of any earlier run) is ours, not the user's.

use std::fs;
use std::io;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use crate::contract::env;
use crate::hooks::is_our_hook;

const KINDS: [(&str, &str); 2] = [
    (env::HOOK_STARTED, env::USER_HOOK_STARTED),
    (env::HOOK_COMPLETED, env::USER_HOOK_COMPLETED),
];

/// What to do with a runner's `.env`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Plan {
    /// The new content, if it must change.
    pub text: Option<String>,
    /// The user's hooks found there (started, completed).
    pub user: [Option<String>; 2],
}

/// Decide (pure). `ours` are this run's hook scripts (started, completed).
pub fn plan(text: &str, ours: [&str; 2]) -> Plan {
    let mut kept = Vec::new();
    let mut insert_at = None;
    let mut user: [Option<String>; 2] = [None, None];
    let mut has_hook_line = [false, false];
    for line in text.split_inclusive('\n') {
        let body = line.trim_end_matches(['\n', '\r']);
        // The Listener's rule: the key is everything before the first '=', if that is not at 0.
        let kv = body
            .find('=')
            .filter(|&i| i > 0)
            .map(|i| (&body[..i], &body[i + 1..]));
        let mut ours_line = false;
        if let Some((key, value)) = kv {
            for (i, (hook, memory)) in KINDS.iter().enumerate() {
                if key == *hook {
                    ours_line = true;
                    has_hook_line[i] = true;
                    if !value.is_empty() && !is_our_hook(value) {
                        user[i] = Some(value.to_string());
                    }
                } else if key == *memory {
                    ours_line = true;
                    user[i] = (!value.is_empty()).then(|| value.to_string());
                }
            }
        }
        if ours_line {
            insert_at.get_or_insert(kept.len());
        } else {
            kept.push(line.to_string());
        }
    }
    for i in 0..2 {
        if !has_hook_line[i] {
            // No hook line left (the user removed it): the remembered value means nothing now.
            user[i] = None;
        }
    }
    let Some(at) = insert_at else {
        return Plan { text: None, user };
    };
    let mut ours_lines = Vec::new();
    for (i, (hook, memory)) in KINDS.iter().enumerate() {
        if !has_hook_line[i] {
            continue;
        }
        if let Some(u) = &user[i] {
            ours_lines.push(format!("{memory}={u}\n"));
        }
        ours_lines.push(format!("{hook}={}\n", ours[i]));
    }
    if at > 0 && !kept[at - 1].ends_with('\n') {
        kept[at - 1].push('\n');
    }
    kept.splice(at..at, ours_lines);
    let new: String = kept.concat();
    Plan {
        text: (new != text).then_some(new),
        user,
    }
}

/// The runner root: the directory of the runner command (`/home/runner/run.sh` ->
/// `/home/runner`), symlinks resolved like run.sh does. `None` for a bare command name.
pub fn runner_root(command: &Path) -> Option<PathBuf> {
    if command.parent().is_none_or(|p| p.as_os_str().is_empty()) {
        return None;
    }
    let real = fs::canonicalize(command).unwrap_or_else(|_| command.to_path_buf());
    real.parent().map(Path::to_path_buf)
}

/// Apply the plan to `<root>/.env` (atomically, keeping its mode); returns the user's hooks.
/// An error is one line: the runner must not start, or its jobs would run unlocked.
pub fn apply(root: &Path, ours: [&str; 2]) -> Result<[Option<String>; 2], String> {
    let path = root.join(".env");
    let text = match fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok([None, None]),
        Err(e) => {
            return Err(format!(
                "cannot read {} as uid {}: {e}; it may set the job hooks, so the runner is not started: make it readable by the runner user",
                path.display(),
                crate::lockdir::euid()
            ))
        }
    };
    let p = plan(&text, ours);
    if let Some(new) = &p.text {
        write_keeping_mode(&path, new).map_err(|e| {
            format!(
                "cannot rewrite {} as uid {}: {e}; its {} / {} lines would replace the job lock's hooks, so the runner is not started: make the file writable by the runner user, or remove those lines and set the hooks in the container's environment instead",
                path.display(),
                crate::lockdir::euid(),
                env::HOOK_STARTED,
                env::HOOK_COMPLETED
            )
        })?;
    }
    Ok(p.user)
}

fn write_keeping_mode(path: &Path, text: &str) -> io::Result<()> {
    let mode = fs::metadata(path)?.permissions().mode();
    let tmp = path.with_file_name(format!(".env.runner-wrapper.{}", std::process::id()));
    let result = fs::write(&tmp, text)
        .and_then(|()| fs::set_permissions(&tmp, fs::Permissions::from_mode(mode)))
        .and_then(|()| fs::rename(&tmp, path));
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: &str = "/tmp/runner-wrapper.7.100/job-started.sh";
    const C: &str = "/tmp/runner-wrapper.7.100/job-completed.sh";
    const S2: &str = "/tmp/runner-wrapper.1.200/job-started.sh";
    const C2: &str = "/tmp/runner-wrapper.1.200/job-completed.sh";

    fn run(text: &str) -> Plan {
        plan(text, [S, C])
    }

    #[test]
    fn table() {
        let u = |s: &str| Some(s.to_string());
        // (.env before, .env after (None: unchanged), user started, user completed)
        type Row = (&'static str, Option<String>, Option<String>, Option<String>);
        let table: Vec<Row> = vec![
            ("", None, None, None),
            ("LANG=C.UTF-8\nJAVA_HOME=/j\n", None, None, None),
            // A user hook is kept under the memory name and replaced by ours, in place.
            (
                "LANG=C\nACTIONS_RUNNER_HOOK_JOB_STARTED=/h/s.sh\nX=1\n",
                Some(format!("LANG=C\nRUNNER_WRAPPER_USER_HOOK_JOB_STARTED=/h/s.sh\nACTIONS_RUNNER_HOOK_JOB_STARTED={S}\nX=1\n")),
                u("/h/s.sh"),
                None,
            ),
            // Both kinds; CRLF; no final newline.
            (
                "ACTIONS_RUNNER_HOOK_JOB_COMPLETED=/h/c.sh\r\nACTIONS_RUNNER_HOOK_JOB_STARTED=/h/s.sh",
                Some(format!("RUNNER_WRAPPER_USER_HOOK_JOB_STARTED=/h/s.sh\nACTIONS_RUNNER_HOOK_JOB_STARTED={S}\nRUNNER_WRAPPER_USER_HOOK_JOB_COMPLETED=/h/c.sh\nACTIONS_RUNNER_HOOK_JOB_COMPLETED={C}\n")),
                u("/h/s.sh"),
                u("/h/c.sh"),
            ),
            // An empty value would unset our hook in the Listener: ours again, no user hook.
            (
                "ACTIONS_RUNNER_HOOK_JOB_STARTED=\n",
                Some(format!("ACTIONS_RUNNER_HOOK_JOB_STARTED={S}\n")),
                None,
                None,
            ),
            // Already ours (this run): unchanged.
            (&*format!("ACTIONS_RUNNER_HOOK_JOB_STARTED={S}\n").leak(), None, None, None),
            // A line the Listener ignores ('=' at 0) or treats as another key stays.
            ("=x\n ACTIONS_RUNNER_HOOK_JOB_STARTED=/h/s.sh\n", None, None, None),
            // The last of several lines wins, like in the Listener.
            (
                "ACTIONS_RUNNER_HOOK_JOB_STARTED=/a.sh\nACTIONS_RUNNER_HOOK_JOB_STARTED=/b.sh\n",
                Some(format!("RUNNER_WRAPPER_USER_HOOK_JOB_STARTED=/b.sh\nACTIONS_RUNNER_HOOK_JOB_STARTED={S}\n")),
                u("/b.sh"),
                None,
            ),
            // The user removed the hook line but our memory line stayed: dropped.
            (
                "RUNNER_WRAPPER_USER_HOOK_JOB_STARTED=/h/s.sh\nX=1\n",
                Some("X=1\n".into()),
                None,
                None,
            ),
        ];
        for (before, after, us, uc) in table {
            let p = run(before);
            assert_eq!(p.text, after, "{before:?}");
            assert_eq!(p.user, [us, uc], "{before:?}");
        }
    }

    #[test]
    fn idempotent_across_restarts() {
        let first = run("A=1\nACTIONS_RUNNER_HOOK_JOB_STARTED=/h/s.sh\nACTIONS_RUNNER_HOOK_JOB_COMPLETED=/h/c.sh\n");
        let text = first.text.unwrap();
        // Same run again: nothing to change.
        assert_eq!(run(&text).text, None);
        assert_eq!(run(&text).user, first.user);
        // The next run (new script paths): only our paths change, the user's hooks stay.
        let second = plan(&text, [S2, C2]);
        assert_eq!(second.user, first.user);
        let t2 = second.text.unwrap();
        assert_eq!(t2, text.replace(S, S2).replace(C, C2));
        // The user edits the hook line again later: the new value wins.
        let edited = format!("{t2}ACTIONS_RUNNER_HOOK_JOB_STARTED=/h/new.sh\n");
        let p = plan(&edited, [S2, C2]);
        assert_eq!(p.user[0].as_deref(), Some("/h/new.sh"));
        assert_eq!(
            p.text
                .as_deref()
                .unwrap()
                .matches("ACTIONS_RUNNER_HOOK_JOB_STARTED=")
                .count(),
            1
        );
    }

    #[test]
    fn roots() {
        assert_eq!(runner_root(Path::new("bash")), None);
        assert_eq!(
            runner_root(Path::new("/nonexistent/runner/run.sh")),
            Some(PathBuf::from("/nonexistent/runner"))
        );
    }
}
