#!/usr/bin/env bash
# Benchmark: render 5,000 generated objects and print wall time and peak memory; then render each
# overlay of a generated 50-overlay kustomize repository in its own process (as a pipeline would)
# with kpush, `kubectl kustomize` and the standalone kustomize, side by side.
# Usage: scripts/bench-render.sh [COUNT] [OVERLAYS]   (defaults 5000 and 50).
# kubectl comes from the test control plane (scripts/build-control-plane.sh, or $KUBECTL), the
# standalone kustomize from scripts/build-kustomize.sh. Figures are printed, never asserted.
set -euo pipefail
cd "$(dirname "$0")/.."
COUNT="${1:-5000}"
OVERLAYS="${2:-50}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}"
cargo build --release --quiet --bin kpush
BIN="$CARGO_TARGET_DIR/release/kpush"
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
python3 scripts/gen-manifests.py --count "$COUNT" --out "$WORK/manifests" >/dev/null

measure() { # label, command...
  local label="$1"; shift
  python3 - "$label" "$@" <<'PY'
import resource, subprocess, sys, time
label, cmd = sys.argv[1], sys.argv[2:]
best = None
for _ in range(3):
    t0 = time.perf_counter()
    p = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    dt = time.perf_counter() - t0
    if p.returncode != 0:
        sys.exit(f"{label} failed: {p.stderr.decode()[:500]}")
    best = dt if best is None else min(best, dt)
peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
print(f"{label:<40} {best*1000:>9.0f} ms {peak:>9.1f} MB")
PY
}

echo "render benchmark: $COUNT objects ($(du -sh "$WORK/manifests" | cut -f1) of YAML), best of 3"
printf '%-40s %12s %12s\n' "command" "time" "peak RSS"
measure "kpush render (yaml out)" "$BIN" render "$WORK/manifests" --no-run-annotations --var TAG=1.0 -n bench
measure "kpush render --summary" "$BIN" render "$WORK/manifests" --no-run-annotations --var TAG=1.0 -n bench --summary
if command -v kubectl >/dev/null 2>&1; then
  # kubectl has no offline renderer; `kubectl create --dry-run=client` needs a cluster for
  # discovery, so the closest offline equivalent is a client-side parse+print via `kubectl apply -k`-less path:
  # convert: we run it only when it works without a cluster.
  if kubectl create --dry-run=client -o name -f "$WORK/manifests/00" >/dev/null 2>&1; then
    measure "kubectl create --dry-run=client -o yaml" kubectl create --dry-run=client -o yaml -R -f "$WORK/manifests"
  else
    echo "(kubectl needs a reachable cluster even for --dry-run=client; not compared here)"
  fi
fi
echo "targets: under 300 ms and under 150 MB for 5,000 objects"

echo
echo "kustomize overlays: one base + $OVERLAYS overlays (scripts/gen-kustomize-repo.py), one process per overlay, best of 3"
python3 scripts/gen-kustomize-repo.py --overlays "$OVERLAYS" --out "$WORK/kustomize" >/dev/null
# A pipeline renders inside a checkout: kpush reads only files inside the git work tree.
git init -q "$WORK/kustomize"
TOOLS=("kpush render=$BIN,render,{dir},--no-run-annotations")
KUBECTL="${KUBECTL:-}"
if [ -z "$KUBECTL" ]; then
  CP_DIR="$(scripts/build-control-plane.sh 2>/dev/null | tail -n1 || true)"
  [ -n "$CP_DIR" ] && [ -x "$CP_DIR/kubectl" ] && KUBECTL="$CP_DIR/kubectl"
fi
if [ -n "$KUBECTL" ] && [ -x "$KUBECTL" ]; then
  KV="$("$KUBECTL" version --client -o json 2>/dev/null | python3 -c 'import json,sys; d=json.load(sys.stdin); print(d["clientVersion"]["gitVersion"], "kustomize", d.get("kustomizeVersion", "?"))')"
  echo "kubectl: $KUBECTL ($KV)"
  TOOLS+=("kubectl kustomize=$KUBECTL,kustomize,{dir}")
else
  echo "kubectl: not available (scripts/build-control-plane.sh failed; set KUBECTL)"
fi
if KUSTOMIZE="$(scripts/build-kustomize.sh 2>/dev/null | tail -n1)" && [ -x "$KUSTOMIZE" ]; then
  echo "kustomize: $KUSTOMIZE ($("$KUSTOMIZE" version))"
  TOOLS+=("kustomize build=$KUSTOMIZE,build,{dir}")
else
  echo "kustomize: not available (scripts/build-kustomize.sh failed)"
fi
python3 scripts/bench-overlays.py "$WORK/kustomize" 3 "${TOOLS[@]}"
echo "target: kpush at least 5x faster than kubectl kustomize over the same overlays"
