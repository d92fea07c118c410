#!/usr/bin/env bash
# Benchmark rollout tracking against kubectl, side by side. Figures are printed, never asserted.
#
#   scripts/bench-track.sh            release build of kpush (KPUSH_BENCH_PROFILE=debug for speed)
#
# 1. Failure detection: a Deployment with an image that cannot be pulled, from apply to a
#    non-zero exit. kubectl: `kubectl apply` + `kubectl rollout status` (its default progress
#    deadline is 600 s; the wait is capped at KPUSH_BENCH_KUBECTL_CAP seconds, default 60, and
#    reported as "gave up after N s without a reason").
# 2. 50 Deployments x 3 replicas until all are available. kubectl: `kubectl apply --server-side`
#    + `kubectl rollout status` for each, one after the other.
#
# kpush side: `kpush apply` when this build has it; otherwise `kubectl apply --server-side`
# followed by `kpush status` (which is the wait `kpush apply` runs after applying).
# Uses the dev cluster (scripts/dev-cluster.sh): started if not running, stopped again after.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"
PROFILE="${KPUSH_BENCH_PROFILE:-release}"
CAP="${KPUSH_BENCH_KUBECTL_CAP:-60}"
KUBECTL="${KUBECTL:-$HOME/.cache/kpush/control-plane/v1.20.2/kubectl}"
COUNT="${KPUSH_BENCH_DEPLOYMENTS:-50}"

if [ "$PROFILE" = release ]; then
  cargo build --release --quiet --bin kpush
else
  cargo build --quiet --bin kpush
fi
WORK="$(mktemp -d)"
# The target directory may be shared with other worktrees: keep our own copy of the binary.
cp "$CARGO_TARGET_DIR/$PROFILE/kpush" "$WORK/kpush"
BIN="$WORK/kpush"

started_cluster=0
trap 'rm -rf "$WORK"' EXIT
if ! bash scripts/dev-cluster.sh status >/dev/null 2>&1; then
  bash scripts/dev-cluster.sh up >/dev/null
  started_cluster=1
fi
export KUBECONFIG="$ROOT/.dev-cluster/kubeconfig"
cleanup() {
  rm -rf "$WORK"
  if [ "$started_cluster" = 1 ]; then bash scripts/dev-cluster.sh down >/dev/null 2>&1 || true; fi
}
trap cleanup EXIT

if "$BIN" apply --help >/dev/null 2>&1; then HAVE_APPLY=1; else HAVE_APPLY=0; fi
RUN_ID="$(date +%s)"

now() { python3 -c 'import time; print(time.monotonic())'; }
since() { python3 -c "import sys,time; print(f'{time.monotonic()-float(sys.argv[1]):.1f}')" "$1"; }

namespace() { # name
  "$KUBECTL" create namespace "$1" >/dev/null
  for _ in $(seq 1 200); do
    "$KUBECTL" -n "$1" get serviceaccount default -o jsonpath='{.secrets[0].name}' 2>/dev/null | grep -q . && return 0
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
  if [ "$HAVE_APPLY" = 1 ]; then
    "$BIN" apply "$1" --kubeconfig "$KUBECONFIG" --no-run-annotations >/dev/null 2>"$WORK/kpush.err"
  else
    "$KUBECTL" apply --server-side -f "$1" >/dev/null &&
      "$BIN" status "$1" --kubeconfig "$KUBECONFIG" --no-run-annotations --progress plain 2>"$WORK/kpush.err"
  fi
}

echo "kpush rollout tracking benchmark ($PROFILE build; kpush side: $([ "$HAVE_APPLY" = 1 ] && echo 'kpush apply' || echo 'kubectl apply --server-side + kpush status'))"
echo

# 1. Failure detection --------------------------------------------------------------------
ns_k="bench-bad-kubectl-$RUN_ID"; ns_p="bench-bad-kpush-$RUN_ID"
namespace "$ns_k"; namespace "$ns_p"
deployment "$ns_k" web registry.example/does-not-exist:1 1 >"$WORK/bad-kubectl.yaml"
deployment "$ns_p" web registry.example/does-not-exist:1 1 >"$WORK/bad-kpush.yaml"

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

t0="$(now)"
set +e
kpush_deploy "$WORK/bad-kpush.yaml"
rc_p=$?
set -e
t_p="$(since "$t0")"
reason="$(grep -m1 -o 'failed after [^:]*: [A-Za-z]*' "$WORK/kpush.err" || true)"

printf '%-52s %10s   %s\n' "failure detection (bad image)" "seconds" "outcome"
printf '%-52s %10s   %s\n' "kubectl apply + kubectl rollout status" "$t_k" "$kubectl_says"
printf '%-52s %10s   %s\n' "kpush" "$t_p" "exit $rc_p: ${reason:-see output}"
echo

# 2. 50 Deployments x 3 replicas ------------------------------------------------------------
ns_k="bench-many-kubectl-$RUN_ID"; ns_p="bench-many-kpush-$RUN_ID"
namespace "$ns_k"; namespace "$ns_p"
for i in $(seq 1 "$COUNT"); do deployment "$ns_k" "d$i" "web:$i" 3; done >"$WORK/many-kubectl.yaml"
for i in $(seq 1 "$COUNT"); do deployment "$ns_p" "d$i" "web:$i" 3; done >"$WORK/many-kpush.yaml"

t0="$(now)"
"$KUBECTL" apply --server-side -f "$WORK/many-kubectl.yaml" >/dev/null
for i in $(seq 1 "$COUNT"); do
  "$KUBECTL" -n "$ns_k" rollout status "deploy/d$i" --timeout=300s >/dev/null
done
t_k="$(since "$t0")"
# The simulated node holds 250 pods: free kubectl's 150 before kpush's run.
"$KUBECTL" delete namespace "$ns_k" --timeout=180s >/dev/null

t0="$(now)"
kpush_deploy "$WORK/many-kpush.yaml" >/dev/null
t_p="$(since "$t0")"

printf '%-52s %10s\n' "$COUNT Deployments x 3 replicas until available" "seconds"
printf '%-52s %10s\n' "kubectl apply --server-side + rollout status each" "$t_k"
printf '%-52s %10s\n' "kpush" "$t_p"
python3 -c "import sys; k,p=map(float,sys.argv[1:]); print(f'{\"speed-up\":<52} {k/p:>9.1f}x')" "$t_k" "$t_p"

"$KUBECTL" delete namespace "bench-bad-kubectl-$RUN_ID" "bench-bad-kpush-$RUN_ID" "$ns_p" --wait=false >/dev/null 2>&1 || true
