#!/usr/bin/env bash
# Tests of the Azure DevOps task and extension: installs the committed package-lock.json files
# (npm ci, skipped when node_modules already matches the lock), runs the unit and mock-runner
# tests (tests/), and packages the extension with tfx-cli, checking the .vsix holds the task.
set -euo pipefail
cd "$(dirname "$0")"

install() { # install DIR [npm ci flags]: npm ci unless node_modules matches package-lock.json
  local dir="$1"; shift
  local sum
  sum="$(sha256sum "$dir/package-lock.json" | cut -d' ' -f1)"
  if [[ "$(cat "$dir/node_modules/.kpush-lock-sha256" 2>/dev/null)" != "$sum" ]]; then
    (cd "$dir" && npm ci --silent --no-audit --no-fund "$@")
    echo "$sum" >"$dir/node_modules/.kpush-lock-sha256"
  fi
}

install KpushDeploy --omit=dev
install .

node --test tests/

out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT
npx --no-install tfx extension create --manifest-globs vss-extension.json --output-path "$out/kpush.vsix" --no-prompt --no-color >"$out/tfx.log" 2>&1 ||
  { cat "$out/tfx.log"; exit 1; }
vsix="$out/kpush.vsix"
python3 - "$vsix" <<'PY'
import json, sys, zipfile
z = zipfile.ZipFile(sys.argv[1])
names = set(z.namelist())
for need in ["KpushDeploy/task.json", "KpushDeploy/index.js", "KpushDeploy/settings.js",
             "KpushDeploy/node_modules/azure-pipelines-task-lib/task.js", "extension.vsixmanifest"]:
    assert need in names, f"{need} missing from the .vsix"
assert not any(n.startswith("tests/") for n in names), "tests packaged"
task = json.loads(z.read("KpushDeploy/task.json"))
assert task["inputs"][1]["type"] == "connectedService:AzureRM", task["inputs"][1]
print(f"packaged {sys.argv[1].rsplit('/', 1)[-1]}: {len(names)} files")
PY
