#!/usr/bin/env bash
# Benchmark: a release deploy with prune, `kpush apply --release` vs `kubectl apply
# --server-side --prune --applyset` vs `helm upgrade --install`, at several network distances,
# against a real control plane (kube-apiserver 1.35). Wall time; printed, never asserted.
#
# Usage: scripts/bench-release.sh
#        KPUSH_BENCH_RUNS=N (default 3)        runs per case; median and best are printed
#        KPUSH_BENCH_COUNT=N (default 30)      objects in the release (a third each Deployments
#                                              with replicas 0, headless Services, ConfigMaps)
#        KPUSH_BENCH_RTTS="0 10 50"            round trips added by the fault proxy (ms); the
#                                              cluster is started once per distance
#        KPUSH_BENCH_KPUSH="base=BIN now=BIN"  kpush binaries to compare side by side in the
#                                              same run (default: this tree's release build,
#                                              KPUSH_BENCH_PROFILE=debug for the debug build)
#        KPUSH_BENCH_OTHERS="kubectl helm"     the other tools ("" for kpush alone)
#        KPUSH_BENCH_DEV_CLUSTER=BIN           with KPUSH_BENCH_KPUSH: a built kpush-dev-cluster
#                                              (then nothing is built)
# Cases, each tool in a fresh namespace of its own, the tools taking turns going first:
#   first    the release's first deploy (nothing to prune; kpush still checks the prune)
#   again    an unchanged re-deploy (what most CI runs do)
#   prune1   a re-deploy whose manifests lost one ConfigMap, which is pruned
# Then, for each kpush binary, the requests of one unchanged re-deploy at each distance above
# 0 ms (KPUSH_LOG=kube_client=debug): how many, and how many rounds in sequence (requests sent
# within half the round trip, at most 15 ms, of the previous one are one round), the figure the
# network distance multiplies.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}"
RUNS="${KPUSH_BENCH_RUNS:-3}"
COUNT="${KPUSH_BENCH_COUNT:-30}"
RTTS="${KPUSH_BENCH_RTTS:-0 10 50}"
PROFILE="${KPUSH_BENCH_PROFILE:-release}"
OTHERS="${KPUSH_BENCH_OTHERS-kubectl helm}"
WORK="$(mktemp -d)"
CLUSTER_PID=""
stop_cluster() {
  if [ -n "$CLUSTER_PID" ]; then kill "$CLUSTER_PID" 2>/dev/null || true; wait "$CLUSTER_PID" 2>/dev/null || true; fi
  CLUSTER_PID=""
}
cleanup() { stop_cluster; rm -rf "$WORK"; }
trap cleanup EXIT

if [ -n "${KPUSH_BENCH_KPUSH:-}" ] && [ -x "${KPUSH_BENCH_DEV_CLUSTER:-}" ]; then
  cp "$KPUSH_BENCH_DEV_CLUSTER" "$WORK/dev-cluster"   # nothing to build
else
  if [ "$PROFILE" = release ]; then
    cargo build --release --quiet -p kpush --bin kpush -p kpush-testenv --bin kpush-dev-cluster
  else
    cargo build --quiet -p kpush --bin kpush -p kpush-testenv --bin kpush-dev-cluster
  fi
  cp "$CARGO_TARGET_DIR/$PROFILE/kpush-dev-cluster" "$WORK/dev-cluster"
fi
TOOLS=()
if [ -n "${KPUSH_BENCH_KPUSH:-}" ]; then
  for spec in $KPUSH_BENCH_KPUSH; do
    cp "${spec#*=}" "$WORK/kpush-${spec%%=*}"; TOOLS+=("kpush-${spec%%=*}")
  done
else
  cp "$CARGO_TARGET_DIR/$PROFILE/kpush" "$WORK/kpush-this"; TOOLS+=("kpush-this")
fi
KUBECTL="${KUBECTL:-$HOME/.cache/kpush/control-plane/current/kubectl}"
[ -x "$KUBECTL" ] || KUBECTL="$(command -v kubectl)" || { echo "kubectl not found: run scripts/build-control-plane.sh" >&2; exit 1; }
HELM="${HELM:-$HOME/.cache/kpush/tools/helm-v3-current/helm}"
for o in $OTHERS; do
  case "$o" in
    kubectl) TOOLS+=(kubectl) ;;
    helm) [ -x "$HELM" ] && TOOLS+=(helm) || echo "helm not found at $HELM (scripts/build-helm.sh): left out" >&2 ;;
  esac
done

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
# The full release, the same less one ConfigMap, and both as Helm charts.
gen "$COUNT" "$WORK/full"
cp -a "$WORK/full" "$WORK/less"
python3 - "$WORK/less" <<'PY'
import pathlib, sys
for f in sorted(pathlib.Path(sys.argv[1]).rglob("*.yaml")):
    docs = f.read_text().split("---\n")
    keep = [d for d in docs if "kind: ConfigMap\n" not in d]
    if len(keep) < len(docs):
        dropped = len(docs) - len(keep)
        keep += [d for d in docs if "kind: ConfigMap\n" in d][1:]
        f.write_text("---\n".join(keep))
        break
PY
for v in full less; do
  mkdir -p "$WORK/chart-$v/templates"
  printf 'apiVersion: v2\nname: bench\nversion: 0.1.0\n' >"$WORK/chart-$v/Chart.yaml"
  find "$WORK/$v" -name '*.yaml' -exec cp {} "$WORK/chart-$v/templates/" \;
done

measure() { # file command...   appends the wall time in seconds
  local out="$1"; shift
  python3 - "$out" "$@" <<'PY'
import os, subprocess, sys, time
out, cmd = sys.argv[1], sys.argv[2:]
env = dict(os.environ, KUBECTL_APPLYSET="true")
t0 = time.perf_counter()
p = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
dt = time.perf_counter() - t0
if p.returncode != 0:
    sys.exit(f"{cmd[0]} failed ({p.returncode}): {p.stderr.decode()[:800]}")
with open(out, "a") as f:
    f.write(f"{dt:.3f}\n")
PY
}

k() { "$KUBECTL" --kubeconfig "$KC" "$@"; }
settle() { # namespace   until the controllers made a ReplicaSet per Deployment (at most 60 s)
  local want=$(( (COUNT + 2) / 3 ))
  for _ in $(seq 1 600); do
    [ "$(k -n "$1" get replicasets -o name 2>/dev/null | wc -l)" -ge "$want" ] && break
    sleep 0.1
  done
  sleep 0.5
}

deploy() { # tool namespace version(full|less) kubeconfig
  local tool="$1" ns="$2" v="$3" kc="$4"
  case "$tool" in
    kpush-*) echo "$WORK/$tool" apply "$WORK/$v" --kubeconfig "$kc" -n "$ns" --release bench --no-run-annotations --wait=false ;;
    kubectl) echo "$KUBECTL" apply --server-side -R -f "$WORK/$v" --kubeconfig "$kc" -n "$ns" --prune --applyset=secret/bench ;;
    helm) echo "$HELM" upgrade --install bench "$WORK/chart-$v" --kubeconfig "$kc" -n "$ns" ;;
  esac
}

report() { # label file
  python3 - "$1" "$2" <<'PY'
import statistics, sys
label, path = sys.argv[1], sys.argv[2]
walls = sorted(float(l) for l in open(path) if l.strip())
print(f"  {label:<28} {statistics.median(walls):>7.3f} s {walls[0]:>7.3f} s   ({' '.join(f'{w:.3f}' for w in walls)})", flush=True)
PY
}

ROUNDS="$WORK/rounds.py"
cat >"$ROUNDS" <<'PY'
import re, sys, datetime
ansi = re.compile(r"\x1b\[[0-9;]*m")
times = []
for line in open(sys.argv[1]):
    line = ansi.sub("", line).rstrip()
    if line.endswith("requesting"):
        times.append(datetime.datetime.fromisoformat(line.split()[0].rstrip("Z")).timestamp())
gap = min(15.0, float(sys.argv[2]) / 2) / 1000   # well under one round trip
rounds, last = 0, None
for t in times:
    if last is None or t - last >= gap:
        rounds += 1
    last = t
print(f"{len(times)} requests, {rounds} rounds in sequence")
PY

echo "release benchmark: $COUNT objects, $RUNS runs; $(nproc) cores; load average $(cut -d' ' -f1-3 /proc/loadavg); $(date -u '+%F %H:%M') UTC"
echo "tools: ${TOOLS[*]}${KPUSH_BENCH_KPUSH:+ ($KPUSH_BENCH_KPUSH)}"
for rtt in $RTTS; do
  proxy_args=()
  [ "$rtt" != 0 ] && proxy_args=(--proxy-rtt-ms "$rtt")
  rm -rf "$WORK/cluster"
  "$WORK/dev-cluster" up --dir "$WORK/cluster" "${proxy_args[@]}" >"$WORK/cluster.log" 2>&1 &
  CLUSTER_PID=$!
  for _ in $(seq 1 600); do [ -f "$WORK/cluster/ready" ] && break; sleep 0.1; done
  [ -f "$WORK/cluster/ready" ] || { cat "$WORK/cluster.log" >&2; exit 1; }
  KC="$WORK/cluster/kubeconfig"
  KC_RUN="$KC"; [ "$rtt" != 0 ] && KC_RUN="$WORK/cluster/kubeconfig-rtt"
  rm -f "$WORK"/t-*
  for r in $(seq 1 "$RUNS"); do
    # Rotate who goes first.
    order=("${TOOLS[@]:$(( (r - 1) % ${#TOOLS[@]} ))}" "${TOOLS[@]:0:$(( (r - 1) % ${#TOOLS[@]} ))}")
    for tool in "${order[@]}"; do k create namespace "b-$tool-$r" >/dev/null; done
    for step in first:full again:full prune1:less; do
      for tool in "${order[@]}"; do
        ns="b-$tool-$r"
        # shellcheck disable=SC2046
        measure "$WORK/t-$tool-${step%%:*}" $(deploy "$tool" "$ns" "${step#*:}" "$KC_RUN")
        settle "$ns"
      done
    done
    for tool in "${order[@]}"; do k delete namespace "b-$tool-$r" --wait=false >/dev/null; done
  done
  echo "-- ${rtt} ms round trip (median, best, all runs)"
  for tool in "${TOOLS[@]}"; do
    for step in first again prune1; do report "$tool $step" "$WORK/t-$tool-$step"; done
  done
  if [ "$rtt" != 0 ]; then
    for tool in "${TOOLS[@]}"; do
      case "$tool" in kpush-*) ;; *) continue ;; esac
      ns="b-$tool-trace"
      k create namespace "$ns" >/dev/null
      # shellcheck disable=SC2046
      $(deploy "$tool" "$ns" full "$KC_RUN") >/dev/null 2>&1
      # shellcheck disable=SC2046
      KPUSH_LOG=kube_client=debug $(deploy "$tool" "$ns" full "$KC_RUN") >/dev/null 2>"$WORK/trace"
      echo "  $tool unchanged re-deploy: $(python3 "$ROUNDS" "$WORK/trace" "$rtt")"
      k delete namespace "$ns" --wait=false >/dev/null
    done
  fi
  stop_cluster
done
echo "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
