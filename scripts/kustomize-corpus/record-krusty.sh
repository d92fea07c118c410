#!/usr/bin/env bash
# Runs kustomize's own api/krusty tests with a recording harness and writes what each test wrote,
# ran and expected as JSON lines to OUT (default /tmp/krusty-records.jsonl).
#
# The api module comes from the Go module proxy at the version pinned in
# testenv/tools/kustomize/go.sum (sigs.k8s.io/kustomize/api). A temporary copy gets record.go.txt
# as testutils/kusttest/record.go, and three calls to it are patched into the harness.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
OUT="${1:-/tmp/krusty-records.jsonl}"
API_VERSION="$(awk '$1 == "sigs.k8s.io/kustomize/api" && $3 !~ /go.mod/ { print $2 }' "$ROOT/testenv/tools/kustomize/go.sum" | head -n1)"
[ -n "$API_VERSION" ] || { echo "no sigs.k8s.io/kustomize/api in testenv/tools/kustomize/go.sum" >&2; exit 1; }
SRC="$(cd "$ROOT/testenv/tools/kustomize" && go mod download -json "sigs.k8s.io/kustomize/api@$API_VERSION" | python3 -c 'import json,sys; print(json.load(sys.stdin)["Dir"])')"
WORK="$(mktemp -d)"
trap 'chmod -R u+w "$WORK"; rm -rf "$WORK"' EXIT
cp -r "$SRC" "$WORK/api"
chmod -R u+w "$WORK/api"
K="$WORK/api/testutils/kusttest"
cp "$ROOT/scripts/kustomize-corpus/record.go.txt" "$K/record.go"
python3 - "$K" <<'PY'
import sys, re, pathlib
k = pathlib.Path(sys.argv[1])
def patch(name, old, new):
    p = k / name
    s = p.read_text()
    if s.count(old) != 1:
        sys.exit(f"record-krusty: cannot patch {name}: {old!r} found {s.count(old)} times")
    p.write_text(s.replace(old, new))
patch("harness.go",
      "m, err := krusty.MakeKustomizer(&o).Run(th.fSys, path)\n",
      "m, err := krusty.MakeKustomizer(&o).Run(th.fSys, path)\n\tkpushRecordRun(th.t, th.fSys, path, o, err)\n")
patch("harness.go",
      "_, err := krusty.MakeKustomizer(&o).Run(th.fSys, path)\n",
      "_, err := krusty.MakeKustomizer(&o).Run(th.fSys, path)\n\tkpushRecordRun(th.t, th.fSys, path, o, err)\n")
patch("hasgett.go",
      "\tif tweaker != nil {\n\t\tactual = tweaker(actual)\n\t}\n",
      "\tkpushRecordExpect(t, expected, actual, tweaker != nil)\n\tif tweaker != nil {\n\t\tactual = tweaker(actual)\n\t}\n")
PY
rm -f "$OUT"
echo "record-krusty: running sigs.k8s.io/kustomize/api@$API_VERSION krusty tests (failures are expected and ignored)" >&2
(cd "$WORK/api" && GOWORK=off GOFLAGS=-mod=mod KPUSH_KRUSTY_RECORD="$OUT" nice go test -count=1 -timeout 30m ./krusty/ >"$WORK/test.log" 2>&1) || true
tail -n 3 "$WORK/test.log" >&2
echo "$API_VERSION" >"$OUT.version"
echo "$OUT"
