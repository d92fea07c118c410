#!/usr/bin/env bash
# Benchmark: kpush apply (preflight on) vs kubectl apply --server-side, side by side, against a
# real control plane (kube-apiserver 1.35). Wall time and peak RSS; printed, never asserted.
#
# Usage: scripts/bench-apply.sh            starts a throwaway cluster (kpush-dev-cluster)
#        KUBECONFIG_BENCH=FILE scripts/bench-apply.sh    uses a running cluster (admin rights)
#        KPUSH_BENCH_RUNS=N (default 3)   runs per case; median and best are printed
#        KPUSH_BENCH_SIZES="300 3000"     object counts
#        KPUSH_BENCH_RTT_MS=N (default 10)  the second network distance (0: only direct)
# Every case is measured directly (0 ms) and through the test environment's fault proxy adding
# N ms of round trip, since a CI runner is never 0 ms from a managed API server. With
# KUBECONFIG_BENCH only that cluster's own distance is measured.
# Cases: first apply into an empty namespace, then unchanged re-apply. Each run uses fresh
# namespaces, one per tool; the tools take turns going first, and before every measurement the
# script waits until the controllers have finished with the previous one (ReplicaSets created),
# so neither tool pays for the other's background work.
# Objects: Deployments (replicas 0, so the benchmark measures applying, not scheduling),
# Services and ConfigMaps from scripts/gen-manifests.py.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}"
RUNS="${KPUSH_BENCH_RUNS:-3}"
SIZES="${KPUSH_BENCH_SIZES:-300 3000}"
RTT_MS="${KPUSH_BENCH_RTT_MS:-10}"
WORK="$(mktemp -d)"
CLUSTER_PID=""
cleanup() {
  if [ -n "$CLUSTER_PID" ]; then kill "$CLUSTER_PID" 2>/dev/null || true; wait "$CLUSTER_PID" 2>/dev/null || true; fi
  rm -rf "$WORK"
}
trap cleanup EXIT

# Both binaries in one build: built apart, their dependencies' features differ and every
# dependency is compiled twice.
cargo build --release --quiet -p kpush --bin kpush -p kpush-testenv --bin kpush-dev-cluster
cp "$CARGO_TARGET_DIR/release/kpush" "$WORK/kpush"   # a private copy: the target dir may be shared
KUBECTL="${KUBECTL:-$HOME/.cache/kpush/control-plane/current/kubectl}"
[ -x "$KUBECTL" ] || KUBECTL="$(command -v kubectl)" || { echo "kubectl not found: run scripts/build-control-plane.sh" >&2; exit 1; }

DISTANCES=()   # "label kubeconfig" pairs
if [ -n "${KUBECONFIG_BENCH:-}" ]; then
  KC="$KUBECONFIG_BENCH"
  DISTANCES+=("its-own-distance $KC")
else
  cp "$CARGO_TARGET_DIR/release/kpush-dev-cluster" "$WORK/dev-cluster"
  proxy_args=()
  [ "$RTT_MS" != 0 ] && proxy_args=(--proxy-rtt-ms "$RTT_MS")
  "$WORK/dev-cluster" up --dir "$WORK/cluster" "${proxy_args[@]}" >"$WORK/cluster.log" 2>&1 &
  CLUSTER_PID=$!
  for _ in $(seq 1 600); do [ -f "$WORK/cluster/ready" ] && break; sleep 0.1; done
  [ -f "$WORK/cluster/ready" ] || { cat "$WORK/cluster.log" >&2; exit 1; }
  KC="$WORK/cluster/kubeconfig"
  DISTANCES+=("0ms $KC")
  [ "$RTT_MS" != 0 ] && DISTANCES+=("${RTT_MS}ms $WORK/cluster/kubeconfig-rtt")
fi
k() { "$KUBECTL" --kubeconfig "$KC" "$@"; }

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

# Appends "wall_seconds peak_rss_mb" of one run of the command to FILE.
measure() { # file command...
  local out="$1"; shift
  python3 - "$out" "$@" <<'PY'
import resource, subprocess, sys, time
out, cmd = sys.argv[1], sys.argv[2:]
t0 = time.perf_counter()
p = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
dt = time.perf_counter() - t0
if p.returncode != 0:
    sys.exit(f"{cmd[0]} failed ({p.returncode}): {p.stderr.decode()[:800]}")
peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
with open(out, "a") as f:
    f.write(f"{dt:.3f} {peak:.1f}\n")
PY
}

# The controllers create one ReplicaSet per Deployment; wait until they are done (at most 120 s).
settle() { # namespace expected-replicasets
  for _ in $(seq 1 1200); do
    [ "$(k -n "$1" get replicasets -o name 2>/dev/null | wc -l)" -ge "$2" ] && break
    sleep 0.1
  done
  sleep 1
}

report() { # label file
  python3 - "$1" "$2" <<'PY'
import statistics, sys
label, path = sys.argv[1], sys.argv[2]
rows = [tuple(map(float, l.split())) for l in open(path) if l.strip()]
walls = sorted(r[0] for r in rows)
print(f"{label:<40} {statistics.median(walls):>8.2f} s {walls[0]:>8.2f} s {max(r[1] for r in rows):>8.0f} MB   ({' '.join(f'{w:.2f}' for w in walls)})", flush=True)
PY
}

ratio() { # label kubectl-file kpush-file
  python3 - "$1" "$2" "$3" <<'PY'
import statistics, sys
label, a, b = sys.argv[1:]
med = lambda p: statistics.median(float(l.split()[0]) for l in open(p) if l.strip())
best = lambda p: min(float(l.split()[0]) for l in open(p) if l.strip())
print(f"{'speed-up, ' + label:<40} {med(a)/med(b):>7.1f}x  {best(a)/best(b):>7.1f}x", flush=True)
PY
}

case_() { # count
  local n="$1" dir="$WORK/m$1-$DISTANCE" deployments=$(( ($1 + 2) / 3 ))
  gen "$n" "$dir"
  for r in $(seq 1 "$RUNS"); do
    local nsp="bench-kpush-$n-$r-$DISTANCE" nsk="bench-kubectl-$n-$r-$DISTANCE"
    k create namespace "$nsp" >/dev/null
    k create namespace "$nsk" >/dev/null
    local kp=("$WORK/kpush" apply "$dir" --kubeconfig "$KC_RUN" -n "$nsp" --no-run-annotations --wait=false)
    local kc=("$KUBECTL" apply --server-side -R -f "$dir" --kubeconfig "$KC_RUN" -n "$nsk")
    # Take turns going first; wait for the controllers between measurements.
    if [ $((r % 2)) = 1 ]; then order="kpush kubectl"; else order="kubectl kpush"; fi
    for phase in first again; do
      for tool in $order; do
        if [ "$tool" = kpush ]; then measure "$WORK/$n-$DISTANCE-$phase-kpush" "${kp[@]}"; settle "$nsp" "$deployments"
        else measure "$WORK/$n-$DISTANCE-$phase-kubectl" "${kc[@]}"; settle "$nsk" "$deployments"; fi
      done
    done
    # Further re-applies for a best-of-3 per run (cheap).
    for _ in 1 2; do measure "$WORK/$n-$DISTANCE-again-kpush" "${kp[@]}"; measure "$WORK/$n-$DISTANCE-again-kubectl" "${kc[@]}"; done
  done
  echo "-- $n objects at $DISTANCE round trip ($RUNS runs; re-apply: 3 per run)"
  local f="$WORK/$n-$DISTANCE"
  report "kpush apply (first)" "$f-first-kpush"
  report "kubectl apply --server-side (first)" "$f-first-kubectl"
  report "kpush apply (unchanged re-apply)" "$f-again-kpush"
  report "kubectl apply --server-side (re-apply)" "$f-again-kubectl"
  ratio "first apply" "$f-first-kubectl" "$f-first-kpush"
  ratio "re-apply" "$f-again-kubectl" "$f-again-kpush"
}

echo "apply benchmark against $(k version 2>/dev/null | tail -1); $(nproc) cores; load average $(cut -d' ' -f1-3 /proc/loadavg)"
printf '%-40s %10s %10s %11s\n' "command" "median" "best" "peak RSS"
for d in "${DISTANCES[@]}"; do
  DISTANCE="${d%% *}"; KC_RUN="${d#* }"
  for n in $SIZES; do case_ "$n"; done
done
echo "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "targets: kpush at least 4x faster than kubectl; under 150 MB for 3,000 objects"
