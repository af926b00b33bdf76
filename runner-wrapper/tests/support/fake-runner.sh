#!/bin/bash
# Simulated actions runner for runner-wrapper's tests, faithful where the wrapper can see it.
# Reads jobs from stdin, one per line:
#   <name> <seconds> [flag...]
# flags: nocompleted (skip the completed hook, like a stopped runner), noline (no completion
# line), exit=<code> (the runner exits after this job with <code>), fail (job result Failed).
# Like the real runner:
# - the Listener loads <root>/.env (its own directory) into its environment at start, a line
#   with '=' past index 0 setting the variable to the rest of the line, an empty value unsetting
#   it, overriding what it inherited;
# - hooks run from a "Worker" (a subshell tests can kill to orphan the hook) as `bash -e
#   <script>` for .sh, with the job's env and a fresh $GITHUB_ENV file; after the hook, its
#   KEY=VALUE (and KEY<<DELIM heredoc) lines become the env of the job's later steps;
# - the Listener prints `<UTC>: Running job: <name>` and `<UTC>: Job <name> completed with
#   result: <result>`;
# - SIGINT/SIGTERM: goes offline and exits 0 (after the current job, if one runs).
# Test output: EVENT lines with $EPOCHREALTIME timestamps; hook output and the job step's view of
# its env go to the job log $FAKE_RUNNER_LOGDIR/<name>.log.
set -u
root=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# The time as the Listener prints it, into $TS, without a child process: bash drops a SIGINT
# that arrives while it waits for a foreground child which then exits normally (it assumes the
# child handled it), and `$(date)` is such a child; the runner would then never go offline.
ts() { TZ=UTC printf -v TS '%(%Y-%m-%d %H:%M:%S)TZ' -1; }
logdir=${FAKE_RUNNER_LOGDIR:-/tmp}
n=0

if [ -f "$root/.env" ]; then
  while IFS= read -r line || [ -n "$line" ]; do
    line=${line%$'\r'}
    [[ $line == ?*=* ]] || continue
    key=${line%%=*} value=${line#*=}
    [[ $key =~ ^[A-Za-z_][A-Za-z0-9_]*$ ]] || continue
    if [ -z "$value" ]; then unset "$key"; else export "$key=$value"; fi
  done <"$root/.env"
fi

offline() {
  ts
  echo "$TS: Runner going offline"
  echo "EVENT offline - $EPOCHREALTIME"
  exit 0
}
trap offline INT TERM

run_hook() { # kind name envfile -> the hook's exit code
  local var=ACTIONS_RUNNER_HOOK_JOB_${1^^}
  local hook=${!var:-}
  [ -z "$hook" ] && return 0
  (
    trap - INT TERM
    if [[ $hook == *.sh ]]; then
      GITHUB_ENV=$3 bash -e "$hook" </dev/null >>"$logdir/$2.log" 2>&1 &
    else
      GITHUB_ENV=$3 "$hook" </dev/null >>"$logdir/$2.log" 2>&1 &
    fi
    echo "EVENT hook-$1 $2 $!"
    wait $!
  ) &
  local worker=$!
  echo "EVENT worker-$1 $2 $worker"
  wait "$worker"
}

# The file commands of a step: KEY=VALUE and KEY<<DELIM ... DELIM lines, for later steps.
step_env=()
read_github_env() {
  local line key delim value
  step_env=()
  while IFS= read -r line; do
    if [[ $line == *'<<'* && $line != *=* ]]; then
      key=${line%%<<*} delim=${line#*<<} value=
      while IFS= read -r line && [ "$line" != "$delim" ]; do value+=${value:+$'\n'}$line; done
      step_env+=("$key=$value")
    elif [[ $line == ?*=* ]]; then
      step_env+=("$line")
    fi
  done <"$1"
}

# The next job line into $line; 1 at EOF. Read with a timeout, because a SIGINT that arrives
# just as bash enters read(2) is handled only when the read returns: without new input, never.
# What a timed-out read got of a line is kept.
next_job() {
  local rc part
  line=
  while :; do
    IFS= read -r -t 0.2 part
    rc=$?
    line+=$part
    [ "$rc" = 0 ] && return 0
    [ "$rc" -gt 128 ] || return 1
  done
}

ts
echo "$TS: Listening for Jobs"
while next_job; do
  read -r name dur flags <<<"$line"
  [ -z "$name" ] && continue
  n=$((n + 1))
  export GITHUB_RUN_ID=${FAKE_RUN_ID_BASE:-1000}$n GITHUB_RUN_ATTEMPT=1 GITHUB_JOB=$name
  export GITHUB_REPOSITORY=${FAKE_REPOSITORY:-org/repo}
  # Builtins only between the hooks and the step, so the timings measure the wrapper.
  envfile="$logdir/.github_env.$$.$n"
  : >"$envfile"
  ts
  echo "$TS: Running job: $name"
  result=Succeeded
  echo "EVENT asking $name $EPOCHREALTIME"
  if run_hook started "$name" "$envfile"; then
    echo "EVENT granted $name $EPOCHREALTIME"
    read_github_env "$envfile"
    # The job's step: sees what the hook put in GITHUB_ENV (only this job's steps do).
    for kv in "${step_env[@]}"; do export "$kv"; done
    echo "STEP GHR_RESOURCE=${GHR_RESOURCE:-}" >>"$logdir/$name.log"
    for kv in "${step_env[@]}"; do
      case $kv in SERIAL=* | RELAY=* | BOARD_*) echo "STEP $kv" >>"$logdir/$name.log" ;; esac
    done
    echo "EVENT start $name $EPOCHREALTIME"
    echo "EVENT resource $name ${GHR_RESOURCE:--}"
    sleep "$dur"
    echo "EVENT end $name $EPOCHREALTIME"
    for kv in "${step_env[@]}"; do unset "${kv%%=*}"; done
    [[ " $flags " == *" fail "* ]] && result=Failed
  else
    echo "EVENT startfail $name $EPOCHREALTIME"
    result=Failed
  fi
  if [[ " $flags " != *" nocompleted "* ]]; then
    : >"$envfile.post"
    run_hook completed "$name" "$envfile.post"
    rc=$?
    echo "EVENT completed $name $rc $EPOCHREALTIME"
    [ "$rc" != 0 ] && result=Failed
  fi
  ts
  [[ " $flags " != *" noline "* ]] && echo "$TS: Job $name completed with result: $result"
  if [[ " $flags " =~ \ exit=([0-9]+)\  ]]; then
    exit "${BASH_REMATCH[1]}"
  fi
done
exit "${FAKE_RUNNER_EXIT:-0}"
