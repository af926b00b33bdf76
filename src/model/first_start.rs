//! Registration at a runner's first start, without one-off containers.
//!
//! Every runner's container starts through [`SCRIPT`] (bash, which every runner image has):
//! when ghr placed a credential in the runner's volume ([`CREDENTIAL`]: mode 0600, owned by
//! uid 1001, written with `docker cp` into the created container before it starts), the
//! script reads it, deletes it, and runs `config.sh` with the registration token in
//! `ACTIONS_RUNNER_INPUT_TOKEN` (config.sh's way of reading inputs; the variable is in
//! config.sh's environment only, never on a command line, in the compose file or in
//! `docker inspect`); then it runs the runner's own command (run.sh, or the wrapper on shared
//! boards). A volume that holds a registration just runs the command.
//!
//! No runner crash-loops unregistered: a failed `config.sh`, or a volume with neither a
//! registration nor a credential, leaves the container idle (not exiting, so the restart
//! policy never fires) with the reason in [`STATUS`], which ghr reads (`ghr init` waits for
//! it and stops such a container; `ghr list` shows it). `docker stop` during `config.sh` stops
//! it at once (config.sh runs as a child the script waits for, not in the foreground).

/// The credential ghr places before the first start: the token, the mode, then config.sh's
/// arguments, one a line (see [`credential`]). Deleted by the first start that reads it.
pub const CREDENTIAL: &str = "/home/runner/.ghr-credential";
/// The first start's outcome: `pending` (written by ghr with the credential), `registered`,
/// or `failed <reason>`.
pub const STATUS: &str = "/home/runner/.ghr-first-start";
/// [`STATUS`]'s text before the first start is over (ghr writes it with the credential).
pub const PENDING: &str = "pending\n";
/// [`STATUS`]'s text once the runner is registered (the script writes it).
pub const REGISTERED: &str = "registered\n";
/// The name the script runs under (its `$0`).
pub const SCRIPT_NAME: &str = "ghr-first-start";

/// The script every runner's container starts with; its arguments are the runner's command.
pub const SCRIPT: &str = r#"cred=/home/runner/.ghr-credential; status=/home/runner/.ghr-first-start
idle() {
  printf 'ghr first start: %s\n' "$1" >&2
  printf 'failed %s\n' "$1" > "$status.tmp" && mv -f "$status.tmp" "$status"
  trap 'exit 0' TERM INT
  while :; do sleep 3600 & wait $!; done
}
stopped() {
  kill -TERM "$child" 2>/dev/null
  printf 'failed stopped while config.sh registered it\n' > "$status.tmp" && mv -f "$status.tmp" "$status"
  exit 143
}
if [ -e "$cred" ]; then
  args=()
  { IFS= read -r token; IFS= read -r mode; while IFS= read -r a; do args+=("$a"); done; } < "$cred"
  rm -f "$cred"
  cd /home/runner || idle "no /home/runner"
  if [ "$mode" = jit ]; then
    printf 'registered\n' > "$status.tmp" && mv -f "$status.tmp" "$status"
    export ACTIONS_RUNNER_INPUT_JITCONFIG="$token"; unset token
    exec "$@"
  fi
  if [ "$mode" = again ]; then ./config.sh remove --local; fi
  ACTIONS_RUNNER_INPUT_TOKEN="$token" ./config.sh "${args[@]}" > "$status.log" 2>&1 &
  child=$!
  trap stopped TERM INT
  wait "$child"; rc=$?
  trap - TERM INT
  last=
  while IFS= read -r line || [ -n "$line" ]; do
    line=${line//"$token"/***}
    printf '%s\n' "$line"
    case "$line" in *[![:space:]]*) last=$line;; esac
  done < "$status.log"
  rm -f "$status.log"
  unset token
  if [ "$rc" -ne 0 ]; then idle "config.sh failed (exit $rc): $last"; fi
  printf 'registered\n' > "$status.tmp" && mv -f "$status.tmp" "$status"
elif [ ! -e /home/runner/.runner ] && [ ! -e /home/runner/.runner_migrated ]; then
  idle "not registered, and no registration token was placed: run ghr init or ghr register"
fi
exec "$@""#;

/// The container's command: [`SCRIPT`] in front of the runner's own command.
pub fn command(runner_command: Vec<String>) -> Vec<String> {
    let mut command = vec![
        "/bin/bash".to_string(),
        "-c".to_string(),
        SCRIPT.to_string(),
        SCRIPT_NAME.to_string(),
    ];
    command.extend(runner_command);
    command
}

/// What `config.sh` needs to register one runner (the token travels in the credential).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigArgs<'a> {
    pub url: &'a str,
    pub name: &'a str,
    pub labels: &'a [String],
    pub group: &'a str,
    pub workdir: Option<&'a str>,
    pub disable_update: bool,
    /// Drop the local registration first (`config.sh remove --local`).
    pub again: bool,
}

impl ConfigArgs<'_> {
    /// config.sh's arguments.
    pub fn args(&self) -> Vec<String> {
        let mut args: Vec<String> = [
            "--url",
            self.url,
            "--name",
            self.name,
            "--labels",
            &self.labels.join(","),
            "--runnergroup",
            self.group,
            "--unattended",
            "--replace",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        if let Some(work) = self.workdir {
            args.extend(["--work".to_string(), work.to_string()]);
        }
        if self.disable_update {
            args.push("--disableupdate".into());
        }
        args
    }
}

/// The credential file's text: the token, `register` or `again`, then config.sh's arguments,
/// one a line. `None` when a value holds a line break (it would split an argument).
pub fn credential(token: &str, cfg: &ConfigArgs) -> Option<String> {
    let mode = if cfg.again { "again" } else { "register" };
    let mut lines = vec![token.to_string(), mode.to_string()];
    lines.extend(cfg.args());
    if lines.iter().any(|l| l.contains(['\n', '\r'])) {
        return None;
    }
    Some(lines.join("\n") + "\n")
}

/// The credential of a one-job runner: its JIT configuration, then `jit`. The first start
/// gives it to the runner's command as `ACTIONS_RUNNER_INPUT_JITCONFIG` (no config.sh: the
/// configuration is the registration). `None` when the blob holds a line break.
pub fn jit_credential(jit_config: &str) -> Option<String> {
    if jit_config.contains(['\n', '\r']) || jit_config.is_empty() {
        return None;
    }
    Some(format!("{jit_config}\njit\n"))
}

/// The first start's outcome, as [`STATUS`] says it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Pending,
    Registered,
    Failed(String),
}

/// Reads [`STATUS`]'s text; anything unknown is pending (a partial write is never seen: the
/// script renames its file into place).
pub fn outcome(text: &str) -> Outcome {
    let text = text.trim_end();
    match text.split_once(' ') {
        _ if text == "registered" => Outcome::Registered,
        Some(("failed", why)) => Outcome::Failed(why.to_string()),
        _ => Outcome::Pending,
    }
}

/// The outcome [`STATUS`]'s size alone tells, so that asking needs no read of the file (the
/// engine reads a container's file by starting a helper process; it tells a size cheaply).
/// Every failure line the script writes is longer than both (see the test), so a size of
/// [`PENDING`] or [`REGISTERED`] is that text; any other size has to be read.
pub fn outcome_by_size(size: u64) -> Option<Outcome> {
    match size {
        s if s == PENDING.len() as u64 => Some(Outcome::Pending),
        s if s == REGISTERED.len() as u64 => Some(Outcome::Registered),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(labels: &[String], again: bool) -> ConfigArgs<'_> {
        ConfigArgs {
            url: "https://github.com/acme",
            name: "h-acme-runner-1",
            labels,
            group: "Default",
            workdir: Some("_work"),
            disable_update: true,
            again,
        }
    }

    fn labels() -> Vec<String> {
        vec!["a".into(), "b".into()]
    }

    /// The failure lines of [`SCRIPT`]: `idle "<reason>"` (written `failed <reason>`) and the
    /// stopped one.
    fn failure_lines() -> Vec<String> {
        let mut lines: Vec<String> = SCRIPT
            .split("idle \"")
            .skip(1) // the text before the first use
            .filter_map(|rest| {
                rest.split_once('"')
                    .map(|(why, _)| format!("failed {why}\n"))
            })
            .collect();
        let stopped = SCRIPT
            .split("printf 'failed ")
            .nth(2)
            .and_then(|rest| rest.split_once("\\n'"))
            .map(|(why, _)| format!("failed {why}\n"))
            .expect("the stopped line");
        lines.push(stopped);
        lines
    }

    #[test]
    fn a_status_of_pendings_or_registereds_size_is_that_text_and_no_failure_has_it() {
        assert_eq!(outcome(PENDING), Outcome::Pending);
        assert_eq!(outcome(REGISTERED), Outcome::Registered);
        assert_eq!(
            outcome_by_size(PENDING.len() as u64),
            Some(Outcome::Pending)
        );
        assert_eq!(
            outcome_by_size(REGISTERED.len() as u64),
            Some(Outcome::Registered)
        );
        assert!(
            SCRIPT.contains("printf 'registered\\n'"),
            "the script writes REGISTERED"
        );
        let failures = failure_lines();
        assert_eq!(failures.len(), 4, "{failures:?}");
        for line in failures {
            // The shortest a failure can be: its fixed text, with nothing in the parts
            // config.sh fills in.
            let fixed = line.replace("$rc", "").replace("$last", "");
            assert!(
                fixed.len() > REGISTERED.len() && outcome_by_size(fixed.len() as u64).is_none(),
                "{line:?} would be taken for pending or registered"
            );
            assert!(matches!(outcome(&line), Outcome::Failed(_)), "{line:?}");
        }
    }

    #[test]
    fn the_credential_holds_the_token_the_mode_and_one_argument_a_line() {
        let l = labels();
        let c = cfg(&l, false);
        assert_eq!(
            credential("T0K", &c).unwrap(),
            "T0K\nregister\n--url\nhttps://github.com/acme\n--name\nh-acme-runner-1\n--labels\na,b\n--runnergroup\nDefault\n--unattended\n--replace\n--work\n_work\n--disableupdate\n"
        );
        let again = cfg(&l, true);
        assert!(credential("T", &again).unwrap().starts_with("T\nagain\n"));
        assert_eq!(credential("T\nX", &c), None, "a line break would split");
    }

    #[test]
    fn the_token_is_never_an_argument_and_the_runners_command_follows_the_script() {
        let l = labels();
        let c = cfg(&l, false);
        assert!(!c.args().iter().any(|a| a.contains("T0K") || a == "--token"));
        let cmd = command(vec!["/home/runner/run.sh".into()]);
        assert_eq!(cmd[..2], ["/bin/bash", "-c"]);
        assert_eq!(cmd[3..], [SCRIPT_NAME, "/home/runner/run.sh"]);
        assert!(SCRIPT.contains(CREDENTIAL) && SCRIPT.contains(STATUS));
        assert!(SCRIPT.contains("ACTIONS_RUNNER_INPUT_TOKEN=\"$token\" ./config.sh"));
    }

    #[test]
    fn a_jit_credential_is_the_blob_and_its_mode_and_reaches_the_runner_in_its_environment() {
        assert_eq!(jit_credential("eyJ4Ijo=").unwrap(), "eyJ4Ijo=\njit\n");
        assert_eq!(jit_credential("a\nb"), None);
        assert_eq!(jit_credential(""), None);
        assert!(SCRIPT.contains(
            "export ACTIONS_RUNNER_INPUT_JITCONFIG=\"$token\"; unset token\n    exec \"$@\""
        ));
    }

    #[test]
    fn outcomes() {
        for (text, want) in [
            ("pending\n", Outcome::Pending),
            ("registered\n", Outcome::Registered),
            (
                "failed config.sh failed (exit 1): bad token\n",
                Outcome::Failed("config.sh failed (exit 1): bad token".into()),
            ),
            ("", Outcome::Pending),
            ("registeredx", Outcome::Pending),
        ] {
            assert_eq!(outcome(text), want, "{text:?}");
        }
    }
}
