#!/usr/bin/env bash
# Benchmark rollout tracking against kubectl, side by side. Figures are printed, never asserted.
#
#   scripts/bench-track.sh            release build of kpush (KPUSH_BENCH_PROFILE=debug for speed)
#   KPUSH_BENCH_RUNS=N                runs of each measurement (default 3): median and best
#   KUBECONFIG_BENCH=FILE             use a running cluster (admin rights, >= 300 pods of room)
#   KPUSH_BENCH_RTT_MS=N              the second network distance (default 10; 0: only direct)
#
# Both tools are measured twice: directly (0 ms) and through the test environment's fault proxy
# adding N ms of round trip, since a CI runner is never 0 ms from a managed API server. With
# KUBECONFIG_BENCH only that cluster's own distance is measured.
#
# 1. Failure detection: a Deployment with an image that cannot be pulled, from apply to a
#    non-zero exit. kubectl: `kubectl apply` + `kubectl rollout status` (its default progress
#    deadline is 600 s; the wait is capped at KPUSH_BENCH_KUBECTL_CAP seconds, default 60, and
#    reported as "gave up after N s without a reason"; measured once, since it always hits the cap).
# 2. 50 Deployments x 3 replicas until all are available. kubectl: `kubectl apply --server-side`
#    + `kubectl rollout status` for each, one after the other. kpush: `kpush apply` (which waits).
#    Each run uses fresh namespaces; the tools take turns going first, and each run's namespaces
#    are deleted (and gone) before the next starts, so both find the node empty.
#
# Starts a throwaway test cluster (release build of kpush-dev-cluster: etcd, kube-apiserver,
# kube-controller-manager, node simulator) unless KUBECONFIG_BENCH is set.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"
PROFILE="${KPUSH_BENCH_PROFILE:-release}"
CAP="${KPUSH_BENCH_KUBECTL_CAP:-60}"
KUBECTL="${KUBECTL:-$HOME/.cache/kpush/control-plane/current/kubectl}"
COUNT="${KPUSH_BENCH_DEPLOYMENTS:-50}"
RUNS="${KPUSH_BENCH_RUNS:-3}"
RTT_MS="${KPUSH_BENCH_RTT_MS:-10}"

if [ "$PROFILE" = release ]; then
  # Both binaries in one build: built apart, their dependencies' features differ and every
  # dependency is compiled twice.
  cargo build --release --quiet -p kpush --bin kpush -p kpush-testenv --bin kpush-dev-cluster
else
  cargo build --quiet --bin kpush
  cargo build --release --quiet -p kpush-testenv --bin kpush-dev-cluster
fi
WORK="$(mktemp -d)"
# The target directory may be shared with other worktrees: keep our own copy of the binary.
cp "$CARGO_TARGET_DIR/$PROFILE/kpush" "$WORK/kpush"
BIN="$WORK/kpush"

CLUSTER_PID=""
cleanup() {
  if [ -n "$CLUSTER_PID" ]; then kill "$CLUSTER_PID" 2>/dev/null || true; wait "$CLUSTER_PID" 2>/dev/null || true; fi
  rm -rf "$WORK"
}
trap cleanup EXIT
DISTANCES=()   # "label kubeconfig" pairs
if [ -n "${KUBECONFIG_BENCH:-}" ]; then
  export KUBECONFIG="$KUBECONFIG_BENCH"
  DISTANCES+=("its-own-distance $KUBECONFIG_BENCH")
else
  cp "$CARGO_TARGET_DIR/release/kpush-dev-cluster" "$WORK/dev-cluster"
  proxy_args=()
  [ "$RTT_MS" != 0 ] && proxy_args=(--proxy-rtt-ms "$RTT_MS")
  "$WORK/dev-cluster" up --dir "$WORK/cluster" "${proxy_args[@]}" >"$WORK/cluster.log" 2>&1 &
  CLUSTER_PID=$!
  for _ in $(seq 1 600); do [ -f "$WORK/cluster/ready" ] && break; sleep 0.1; done
  [ -f "$WORK/cluster/ready" ] || { cat "$WORK/cluster.log" >&2; exit 1; }
  export KUBECONFIG="$WORK/cluster/kubeconfig"
  DISTANCES+=("0ms $WORK/cluster/kubeconfig")
  [ "$RTT_MS" != 0 ] && DISTANCES+=("${RTT_MS}ms $WORK/cluster/kubeconfig-rtt")
fi

RUN_ID_BASE="$(date +%s)"
now() { python3 -c 'import time; print(time.monotonic())'; }
since() { python3 -c "import sys,time; print(f'{time.monotonic()-float(sys.argv[1]):.2f}')" "$1"; }
stats() { # numbers... -> "median best (all)"
  python3 -c "import statistics,sys; v=sorted(map(float,sys.argv[1:])); print(f'{statistics.median(v):10.2f} {v[0]:10.2f}   ({\" \".join(f\"{x:.2f}\" for x in v)})')" "$@"
}

namespace() { # name
  "$KUBECTL" create namespace "$1" >/dev/null
  for _ in $(seq 1 200); do
    # Pods need the namespace's default ServiceAccount (since 1.24 it has no token Secret).
    "$KUBECTL" -n "$1" get serviceaccount default >/dev/null 2>&1 && return 0
    sleep 0.05
  done
}

deployment() { # namespace name image replicas
  cat <<YAML
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: $2, namespace: $1}
spec:
  replicas: $4
  selector: {matchLabels: {app: $2}}
  template:
    metadata: {labels: {app: $2}}
    spec:
      containers: [{name: app, image: "$3"}]
YAML
}

kpush_deploy() { # file -> exit code of the wait
  "$BIN" apply "$1" --kubeconfig "$KUBECONFIG" --no-run-annotations >/dev/null 2>"$WORK/kpush.err"
}

# Everything below runs once per network distance, with KUBECONFIG pointing at it.
bench() {
RUN_ID="$RUN_ID_BASE-$DISTANCE"
echo "kpush rollout tracking benchmark at $DISTANCE round trip ($PROFILE build of kpush, $RUNS runs; $(nproc) cores; load average $(cut -d' ' -f1-3 /proc/loadavg))"
echo

# 1. Failure detection --------------------------------------------------------------------
ns_k="bench-bad-kubectl-$RUN_ID"
namespace "$ns_k"
deployment "$ns_k" web registry.example/does-not-exist:1 1 >"$WORK/bad-kubectl.yaml"
t0="$(now)"
set +e
"$KUBECTL" apply -f "$WORK/bad-kubectl.yaml" >/dev/null &&
  "$KUBECTL" -n "$ns_k" rollout status deploy/web --timeout="${CAP}s" >"$WORK/kubectl.out" 2>&1
rc_k=$?
set -e
t_k="$(since "$t0")"
if grep -q "timed out" "$WORK/kubectl.out"; then
  kubectl_says="gave up after ${CAP} s without a reason (its own deadline is 600 s)"
else
  kubectl_says="exit $rc_k: $(tail -n1 "$WORK/kubectl.out")"
fi

times_p=()
for r in $(seq 1 "$RUNS"); do
  ns_p="bench-bad-kpush-$RUN_ID-$r"
  namespace "$ns_p"
  deployment "$ns_p" web registry.example/does-not-exist:1 1 >"$WORK/bad-kpush.yaml"
  t0="$(now)"
  set +e
  kpush_deploy "$WORK/bad-kpush.yaml"
  rc_p=$?
  set -e
  times_p+=("$(since "$t0")")
  reason="$(grep -m1 -o 'failed after [^:]*: [A-Za-z]*' "$WORK/kpush.err" || true)"
done

printf '%-52s %10s %10s\n' "failure detection (bad image)" "median s" "best s"
printf '%-52s %10s   %s\n' "kubectl apply + kubectl rollout status (1 run)" "$t_k" "$kubectl_says"
printf '%-52s %s   exit %s: %s\n' "kpush apply" "$(stats "${times_p[@]}")" "$rc_p" "${reason:-see output}"
echo

# 2. 50 Deployments x 3 replicas ------------------------------------------------------------
run_kubectl() { # namespace file
  "$KUBECTL" apply --server-side -f "$2" >/dev/null
  for i in $(seq 1 "$COUNT"); do
    "$KUBECTL" -n "$1" rollout status "deploy/d$i" --timeout=300s >/dev/null
  done
}
times_k=(); times_p=()
for r in $(seq 1 "$RUNS"); do
  if [ $((r % 2)) = 1 ]; then order="kpush kubectl"; else order="kubectl kpush"; fi
  for tool in $order; do
    ns="bench-many-$tool-$RUN_ID-$r"
    namespace "$ns"
    for i in $(seq 1 "$COUNT"); do deployment "$ns" "d$i" "web:$i" 3; done >"$WORK/many.yaml"
    t0="$(now)"
    if [ "$tool" = kubectl ]; then
      run_kubectl "$ns" "$WORK/many.yaml"; times_k+=("$(since "$t0")")
    else
      kpush_deploy "$WORK/many.yaml"; times_p+=("$(since "$t0")")
    fi
    # The simulated node holds 250 pods: free these 150 before the next measurement.
    "$KUBECTL" delete namespace "$ns" --timeout=180s >/dev/null 2>&1 || true
  done
done

printf '%-52s %10s %10s\n' "$COUNT Deployments x 3 replicas until available" "median s" "best s"
printf '%-52s %s\n' "kubectl apply --server-side + rollout status each" "$(stats "${times_k[@]}")"
printf '%-52s %s\n' "kpush apply" "$(stats "${times_p[@]}")"
python3 -c "import statistics as s,sys; n=len(sys.argv)//2; k=list(map(float,sys.argv[1:n+1])); p=list(map(float,sys.argv[n+1:])); print(f'{\"speed-up (median, best)\":<52} {s.median(k)/s.median(p):>9.1f}x {min(k)/min(p):>9.1f}x')" "${times_k[@]}" "${times_p[@]}"
echo "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"

"$KUBECTL" delete namespace "bench-bad-kubectl-$RUN_ID" $(for r in $(seq 1 "$RUNS"); do echo "bench-bad-kpush-$RUN_ID-$r"; done) --wait=false >/dev/null 2>&1 || true
}

for d in "${DISTANCES[@]}"; do
  DISTANCE="${d%% *}"
  export KUBECONFIG="${d#* }"
  bench
  echo
done
