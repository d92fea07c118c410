#!/usr/bin/env bash
# Benchmark: kpush apply (preflight on) vs kubectl apply --server-side, side by side, against a
# real control plane (kube-apiserver 1.20.2). Wall time and peak RSS; printed, never asserted.
#
# Usage: scripts/bench-apply.sh            starts a throwaway cluster (kpush-dev-cluster)
#        KUBECONFIG_BENCH=FILE scripts/bench-apply.sh    uses a running cluster (admin rights)
# Cases: 300 objects (first apply, unchanged re-apply), 3,000 objects (first apply, re-apply).
# Objects: Deployments (replicas 0, so the benchmark measures applying, not scheduling),
# Services and ConfigMaps from scripts/gen-manifests.py.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}"
WORK="$(mktemp -d)"
CLUSTER_PID=""
cleanup() {
  if [ -n "$CLUSTER_PID" ]; then kill "$CLUSTER_PID" 2>/dev/null || true; wait "$CLUSTER_PID" 2>/dev/null || true; fi
  rm -rf "$WORK"
}
trap cleanup EXIT

cargo build --release --quiet --bin kpush
cp "$CARGO_TARGET_DIR/release/kpush" "$WORK/kpush"   # a private copy: the target dir may be shared
KUBECTL="${KUBECTL:-$HOME/.cache/kpush/control-plane/v1.20.2/kubectl}"
[ -x "$KUBECTL" ] || KUBECTL="$(command -v kubectl)" || { echo "kubectl not found: run scripts/build-control-plane.sh" >&2; exit 1; }

if [ -n "${KUBECONFIG_BENCH:-}" ]; then
  KC="$KUBECONFIG_BENCH"
else
  cargo build --release --quiet -p kpush-testenv --bin kpush-dev-cluster
  cp "$CARGO_TARGET_DIR/release/kpush-dev-cluster" "$WORK/dev-cluster"
  "$WORK/dev-cluster" up --dir "$WORK/cluster" >"$WORK/cluster.log" 2>&1 &
  CLUSTER_PID=$!
  for _ in $(seq 1 600); do [ -f "$WORK/cluster/ready" ] && break; sleep 0.1; done
  [ -f "$WORK/cluster/ready" ] || { cat "$WORK/cluster.log" >&2; exit 1; }
  KC="$WORK/cluster/kubeconfig"
fi

gen() { # count dir   (Services headless: the test cluster's service IP range is small)
  python3 scripts/gen-manifests.py --count "$1" --out "$2" --replicas 0 --image registry.example/bench/app:1.0 >/dev/null
  python3 - "$2" <<'PY'
import pathlib, sys
for f in pathlib.Path(sys.argv[1]).rglob("*.yaml"):
    docs = f.read_text().split("---\n")
    docs = [d.replace("\nspec:\n", "\nspec:\n  clusterIP: None\n", 1) if "kind: Service\n" in d else d for d in docs]
    f.write_text("---\n".join(docs))
PY
}

measure() { # label, runs, command...  (prints best wall time of RUNS and peak RSS)
  local label="$1" runs="$2"; shift 2
  python3 - "$label" "$runs" "$@" <<'PY'
import resource, subprocess, sys, time
label, runs, cmd = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
best = None
for _ in range(runs):
    t0 = time.perf_counter()
    p = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    dt = time.perf_counter() - t0
    if p.returncode != 0:
        sys.exit(f"{label} failed ({p.returncode}): {p.stderr.decode()[:800]}")
    best = dt if best is None else min(best, dt)
peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
print(f"{label:<46} {best:>9.2f} s {peak:>9.1f} MB", flush=True)
PY
}

case_() { # count
  local n="$1" dir="$WORK/m$1"
  gen "$n" "$dir"
  "$KUBECTL" --kubeconfig "$KC" create namespace "bench-kpush-$n" >/dev/null
  "$KUBECTL" --kubeconfig "$KC" create namespace "bench-kubectl-$n" >/dev/null
  local kp=("$WORK/kpush" apply "$dir" --kubeconfig "$KC" -n "bench-kpush-$n" --no-run-annotations)
  local kc=("$KUBECTL" apply --server-side -R -f "$dir" --kubeconfig "$KC" -n "bench-kubectl-$n")
  echo "-- $n objects"
  measure "kpush apply (first)" 1 "${kp[@]}"
  measure "kubectl apply --server-side (first)" 1 "${kc[@]}"
  measure "kpush apply (unchanged re-apply, best of 3)" 3 "${kp[@]}"
  measure "kubectl apply --server-side (re-apply, best of 3)" 3 "${kc[@]}"
}

echo "apply benchmark against $( "$KUBECTL" --kubeconfig "$KC" version --short 2>/dev/null | tail -1 )"
printf '%-46s %11s %12s\n' "command" "wall time" "peak RSS"
case_ 300
case_ 3000
echo "targets: kpush at least 4x faster than kubectl; under 150 MB for 3,000 objects"
