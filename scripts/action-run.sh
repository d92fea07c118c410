#!/usr/bin/env bash
# The GitHub Action's deploy step (action.yml): turns the action's inputs, passed as INPUT_*
# variables, into KPUSH_* variables and runs `kpush apply` (or `kpush diff` with diff-only).
#
# kpush itself writes the annotations, the job summary and the step outputs (result, counts),
# because GITHUB_ACTIONS, GITHUB_OUTPUT and GITHUB_STEP_SUMMARY are set; this script adds the
# `report` output: the path of the JSON report.
#
# KPUSH_BIN is the kpush binary (default: kpush on PATH).
set -euo pipefail

# One value per line, blank lines and surrounding spaces removed (YAML block scalars end in a
# newline, and an empty KPUSH_* variable would count as an empty value).
clean() { printf '%s\n' "$1" | sed -e 's/^[[:space:]]*//' -e 's/[[:space:]]*$//' -e '/^$/d'; }

map() { # map INPUT_NAME KPUSH_NAME
  local value
  value="$(clean "${!1:-}")"
  if [[ -n "$value" ]]; then
    export "$2=$value"
  else
    unset "$2"
  fi
}

map INPUT_MANIFESTS KPUSH_FILENAME
map INPUT_IMAGES KPUSH_IMAGE
map INPUT_VARS KPUSH_VAR
map INPUT_VAR_FILES KPUSH_VAR_FILE
map INPUT_NAMESPACE KPUSH_NAMESPACE
map INPUT_LABELS KPUSH_LABEL
map INPUT_ANNOTATIONS KPUSH_ANNOTATION
map INPUT_AKS_CLUSTER KPUSH_AKS_CLUSTER
map INPUT_RESOURCE_GROUP KPUSH_RESOURCE_GROUP
map INPUT_SUBSCRIPTION KPUSH_SUBSCRIPTION
map INPUT_AUTH KPUSH_AUTH
map INPUT_TENANT_ID KPUSH_TENANT_ID
map INPUT_CLIENT_ID KPUSH_CLIENT_ID
map INPUT_KUBECONFIG KPUSH_KUBECONFIG
map INPUT_CONTEXT KPUSH_CONTEXT
map INPUT_TARGETS KPUSH_TARGETS
map INPUT_PARALLEL KPUSH_PARALLEL
map INPUT_TIMEOUT KPUSH_TIMEOUT
map INPUT_WAIT KPUSH_WAIT
map INPUT_RELEASE KPUSH_RELEASE
map INPUT_APPLYSET KPUSH_APPLYSET
map INPUT_LOCK_TIMEOUT KPUSH_LOCK_TIMEOUT
# Prune takes a value: empty means kpush's default (on with a release), `false` turns it off.
map INPUT_PRUNE KPUSH_PRUNE
map INPUT_PRUNE_LIMIT KPUSH_PRUNE_LIMIT
map INPUT_ENVIRONMENT KPUSH_ENVIRONMENT
map INPUT_ENVIRONMENT_URL KPUSH_ENVIRONMENT_URL
map INPUT_NOTIFY KPUSH_NOTIFY
map INPUT_NOTIFY_ON KPUSH_NOTIFY_ON
# Switches are set only when on: clap counts a flag given through its variable as present even
# when the value is false.
switch() { # switch INPUT_NAME KPUSH_NAME
  if [[ "$(clean "${!1:-false}")" == "true" ]]; then export "$2=true"; else unset "$2"; fi
}
switch INPUT_ROLLBACK_ON_FAILURE KPUSH_ROLLBACK_ON_FAILURE
switch INPUT_FORCE_CONFLICTS KPUSH_FORCE_CONFLICTS
switch INPUT_ALLOW_EMPTY KPUSH_ALLOW_EMPTY
switch INPUT_TAKE_OVER_FROM_RELEASES KPUSH_TAKE_OVER_FROM_RELEASES
# github-deployment is on by default: only `false` sets the switch that turns it off.
if [[ "$(clean "${INPUT_GITHUB_DEPLOYMENT:-true}")" == "false" ]]; then
  export KPUSH_NO_GITHUB_DEPLOYMENT=true
else
  unset KPUSH_NO_GITHUB_DEPLOYMENT
fi
export KPUSH_CI=github

command=apply
if [[ "$(clean "${INPUT_DIFF_ONLY:-false}")" == "true" ]]; then
  command=diff
  # diff's flags are apply's minus the ones about changing and waiting.
  unset KPUSH_WAIT KPUSH_TIMEOUT KPUSH_PRUNE KPUSH_FORCE_CONFLICTS KPUSH_ROLLBACK_ON_FAILURE \
    KPUSH_LOCK_TIMEOUT KPUSH_ENVIRONMENT KPUSH_ENVIRONMENT_URL KPUSH_NO_GITHUB_DEPLOYMENT \
    KPUSH_NOTIFY KPUSH_NOTIFY_ON
fi

kpush="${KPUSH_BIN:-kpush}"
set +e
if "$kpush" "$command" --help 2>/dev/null | grep -q -- '--output'; then
  report="${RUNNER_TEMP:-${TMPDIR:-/tmp}}/kpush-${command}-${GITHUB_RUN_ID:-local}-${GITHUB_RUN_ATTEMPT:-1}-$$.json"
  if [[ -n "${GITHUB_OUTPUT:-}" ]]; then
    echo "report=$report" >>"$GITHUB_OUTPUT"
  fi
  "$kpush" "$command" --output json >"$report"
else
  # A kpush without the JSON run report (before `--output json` existed): no report output.
  "$kpush" "$command"
fi
code=$?
set -e

# For diff-only, finding differences (exit code 1) is a result, not a failure of the step.
if [[ "$command" == diff && "$code" == 1 ]]; then
  exit 0
fi
exit "$code"
