#!/usr/bin/env bash
# Scale benchmark: 10,000 objects rendered, applied and re-applied by kpush, and applied and
# re-applied by kubectl beside it, against a real control plane (kube-apiserver 1.35). Prints
# wall time and peak RSS (getrusage of the child) of every command; printed, never asserted.
# Steps: render, first apply, unchanged re-apply, and a re-apply in which every object changes
# (one more label each).
# The target: kpush's peak RSS at most 200 MB in every step (issue 16).
#
# Usage: scripts/bench-scale.sh            starts a throwaway cluster (kpush-dev-cluster)
#        KUBECONFIG_BENCH=FILE scripts/bench-scale.sh    uses a running cluster (admin rights)
#        KPUSH_BENCH_OBJECTS=N (default 10000)   objects (Deployments, Services, ConfigMaps)
#        KPUSH_BENCH_RUNS=N (default 1)          runs; median and best are printed
#        KPUSH_BENCH_LIMIT_MB=N (default 200)    the memory budget the last line checks
# Each run uses two fresh namespaces, one per tool; the tools take turns going first, and
# before every measurement the script waits until the controllers have created the previous
# one's ReplicaSets, so neither tool pays for the other's background work. Deployments have
# replicas 0 and Services are headless (the test cluster's service IP range is small).
# This is a script and not a test: one run takes minutes (kubectl alone needs well over a
# minute to apply 10,000 objects here), and the figure that matters is the release build's.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}"
N="${KPUSH_BENCH_OBJECTS:-10000}"
RUNS="${KPUSH_BENCH_RUNS:-1}"
LIMIT_MB="${KPUSH_BENCH_LIMIT_MB:-200}"
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

if [ -n "${KUBECONFIG_BENCH:-}" ]; then
  KC="$KUBECONFIG_BENCH"
else
  cp "$CARGO_TARGET_DIR/release/kpush-dev-cluster" "$WORK/dev-cluster"
  "$WORK/dev-cluster" up --dir "$WORK/cluster" >"$WORK/cluster.log" 2>&1 &
  CLUSTER_PID=$!
  for _ in $(seq 1 600); do [ -f "$WORK/cluster/ready" ] && break; sleep 0.1; done
  [ -f "$WORK/cluster/ready" ] || { cat "$WORK/cluster.log" >&2; exit 1; }
  KC="$WORK/cluster/kubeconfig"
fi
k() { "$KUBECTL" --kubeconfig "$KC" "$@"; }

DIR="$WORK/manifests"
python3 scripts/gen-manifests.py --count "$N" --out "$DIR" --replicas 0 --image registry.example/bench/app:1.0 >/dev/null
python3 - "$DIR" <<'PY'
import pathlib, sys
for f in pathlib.Path(sys.argv[1]).rglob("*.yaml"):
    docs = f.read_text().split("---\n")
    docs = [d.replace("\nspec:\n", "\nspec:\n  clusterIP: None\n", 1) if "kind: Service\n" in d else d for d in docs]
    f.write_text("---\n".join(docs))
PY
# The same objects with one more label each: a re-apply in which every object changes.
CHANGED="$WORK/changed"
cp -r "$DIR" "$CHANGED"
python3 - "$CHANGED" <<'PY'
import pathlib, sys
for f in pathlib.Path(sys.argv[1]).rglob("*.yaml"):
    f.write_text(f.read_text().replace("\n  labels:\n", "\n  labels:\n    bench.kpush.dev/round: two\n"))
PY
DEPLOYMENTS=$(( (N + 2) / 3 ))

# Appends "wall_seconds peak_rss_mb" of one run of the command to FILE (peak RSS from
# getrusage of that child alone: each measurement runs in its own Python process).
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

# The controllers create one ReplicaSet per Deployment; wait until they are done (at most 300 s).
settle() { # namespace
  for _ in $(seq 1 3000); do
    [ "$(k -n "$1" get replicasets -o name 2>/dev/null | wc -l)" -ge "$DEPLOYMENTS" ] && break
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
print(f"{label:<44} {statistics.median(walls):>8.2f} s {walls[0]:>8.2f} s {max(r[1] for r in rows):>8.0f} MB", flush=True)
PY
}

echo "scale benchmark: $N objects against $(k version 2>/dev/null | tail -1); $(nproc) cores; load average $(cut -d' ' -f1-3 /proc/loadavg)"
for r in $(seq 1 "$RUNS"); do
  measure "$WORK/render-kpush" "$WORK/kpush" render "$DIR" --no-run-annotations
  nsp="scale-kpush-$r" nsk="scale-kubectl-$r"
  k create namespace "$nsp" >/dev/null
  k create namespace "$nsk" >/dev/null
  kp=("$WORK/kpush" apply --kubeconfig "$KC" -n "$nsp" --no-run-annotations --wait=false)
  kc=("$KUBECTL" apply --server-side -R --kubeconfig "$KC" -n "$nsk")
  if [ $((r % 2)) = 1 ]; then order="kpush kubectl"; else order="kubectl kpush"; fi
  for phase in first again changed; do
    src="$DIR"; [ "$phase" = changed ] && src="$CHANGED"
    for tool in $order; do
      if [ "$tool" = kpush ]; then measure "$WORK/$phase-kpush" "${kp[@]}" "$src"; settle "$nsp"
      else measure "$WORK/$phase-kubectl" "${kc[@]}" -f "$src"; settle "$nsk"; fi
    done
  done
  k delete namespace "$nsp" "$nsk" --wait=false >/dev/null
done
printf '%-44s %10s %10s %11s\n' "command ($RUNS run(s))" "median" "best" "peak RSS"
report "kpush render" "$WORK/render-kpush"
report "kpush apply (first)" "$WORK/first-kpush"
report "kubectl apply --server-side (first)" "$WORK/first-kubectl"
report "kpush apply (unchanged re-apply)" "$WORK/again-kpush"
report "kubectl apply --server-side (re-apply)" "$WORK/again-kubectl"
report "kpush apply (every object changed)" "$WORK/changed-kpush"
report "kubectl apply --server-side (every object changed)" "$WORK/changed-kubectl"
echo "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
python3 - "$LIMIT_MB" "$WORK/render-kpush" "$WORK/first-kpush" "$WORK/again-kpush" "$WORK/changed-kpush" <<'PY'
import sys
limit, files = float(sys.argv[1]), sys.argv[2:]
peak = max(float(l.split()[1]) for f in files for l in open(f) if l.strip())
verdict = "within" if peak <= limit else "OVER"
print(f"kpush peak RSS over render, apply and both re-applies: {peak:.0f} MB ({verdict} the {limit:.0f} MB budget)")
PY
