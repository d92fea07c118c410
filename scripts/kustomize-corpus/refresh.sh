#!/usr/bin/env bash
# Rebuilds tests/fixtures/kustomize/{krusty,krusty-errors,repos} from their sources.
# Usage: scripts/kustomize-corpus/refresh.sh MIRRORS
#   MIRRORS: directory of git repositories `<owner>+<name>/repo` holding the commits listed in
#   scripts/kustomize-corpus/repos.txt (see import-repos.py). Review the diff before committing;
#   tests/fixtures/kustomize/known-differences.txt may need updating afterwards.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$ROOT"
MIRRORS="${1:?usage: $0 MIRRORS}"
KUSTOMIZE="$(scripts/build-kustomize.sh | tail -n1)"
RECORDS="$(mktemp -d)/krusty-records.jsonl"
scripts/kustomize-corpus/record-krusty.sh "$RECORDS" >/dev/null
python3 scripts/kustomize-corpus/extract-krusty.py "$RECORDS" "$KUSTOMIZE" tests/fixtures/kustomize
python3 scripts/kustomize-corpus/import-repos.py "$MIRRORS" "$KUSTOMIZE" tests/fixtures/kustomize
python3 scripts/kustomize-corpus/import-modules.py "$KUSTOMIZE" tests/fixtures/kustomize
scripts/kustomize-corpus/gen-kubebuilder.sh
python3 scripts/kustomize-corpus/gen-helmcharts.py "$KUSTOMIZE" "$(scripts/build-helm.sh v3 | tail -n1)" tests/fixtures/kustomize
rm -rf "$(dirname "$RECORDS")"
