#!/bin/bash
# Simulated actions runner for runner-wrapper's tests. Reads jobs from stdin, one per line:
#   <name> <seconds> [flag...]
# flags: nocompleted (skip the completed hook, like a stopped runner), noline (no completion
# line), exit=<code> (the runner exits after this job with <code>), fail (job result Failed).
# Hooks run as the real runner runs them: `bash -e <script>` for .sh, output to the job log
# ($FAKE_RUNNER_LOGDIR/<name>.log). Prints the Listener's lines and EVENT lines with
# $EPOCHREALTIME timestamps (seconds.microseconds) for the tests to check.
set -u
ts() { date -u '+%Y-%m-%d %H:%M:%SZ'; }
logdir=${FAKE_RUNNER_LOGDIR:-/tmp}
n=0

run_hook() { # kind name -> the hook's exit code
  local var=ACTIONS_RUNNER_HOOK_JOB_${1^^}
  local hook=${!var:-}
  [ -z "$hook" ] && return 0
  # A "Worker" subshell runs the hook, so tests can kill the Worker and orphan the hook.
  (
    if [[ $hook == *.sh ]]; then
      bash -e "$hook" </dev/null >>"$logdir/$2.log" 2>&1 &
    else
      "$hook" </dev/null >>"$logdir/$2.log" 2>&1 &
    fi
    echo "EVENT hook-$1 $2 $!"
    wait $!
  ) &
  local worker=$!
  echo "EVENT worker-$1 $2 $worker"
  wait "$worker"
}

echo "$(ts): Listening for Jobs"
while read -r name dur flags; do
  [ -z "$name" ] && continue
  n=$((n + 1))
  export GITHUB_RUN_ID=${FAKE_RUN_ID_BASE:-1000}$n GITHUB_RUN_ATTEMPT=1 GITHUB_JOB=$name
  export GITHUB_REPOSITORY=${FAKE_REPOSITORY:-org/repo}
  echo "$(ts): Running job: $name"
  result=Succeeded
  if run_hook started "$name"; then
    echo "EVENT start $name $EPOCHREALTIME"
    sleep "$dur"
    echo "EVENT end $name $EPOCHREALTIME"
    [[ " $flags " == *" fail "* ]] && result=Failed
  else
    echo "EVENT startfail $name $EPOCHREALTIME"
    result=Failed
  fi
  if [[ " $flags " != *" nocompleted "* ]]; then
    run_hook completed "$name"
    rc=$?
    echo "EVENT completed $name $rc $EPOCHREALTIME"
    [ "$rc" != 0 ] && result=Failed
  fi
  [[ " $flags " != *" noline "* ]] && echo "$(ts): Job $name completed with result: $result"
  if [[ " $flags " =~ \ exit=([0-9]+)\  ]]; then
    exit "${BASH_REMATCH[1]}"
  fi
done
exit "${FAKE_RUNNER_EXIT:-0}"
