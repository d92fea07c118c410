#!/usr/bin/env bash
# Runs kpush's test cluster (real etcd, kube-apiserver, kube-controller-manager; simulated node)
# in the background, for trying kpush and kubectl by hand.
#
#   scripts/dev-cluster.sh up       build kpush-dev-cluster, start it, wait until it is ready
#   scripts/dev-cluster.sh status   say whether it runs, and where
#   scripts/dev-cluster.sh down     stop it
#
# Files live in .dev-cluster/ at the repository root: kubeconfig (admin), kubeconfig-alice,
# kubeconfig-bob, pid, ready, dev-cluster.log. The first `up` on a machine also builds the
# Kubernetes 1.35 binaries from Go modules (scripts/build-control-plane.sh, about 15 minutes).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DIR="$ROOT/.dev-cluster"
PID_FILE="$DIR/pid"
READY_FILE="$DIR/ready"
LOG_FILE="$DIR/dev-cluster.log"
KUBECONFIG_FILE="$DIR/kubeconfig"
START_TIMEOUT="${KPUSH_DEV_CLUSTER_TIMEOUT:-1800}"

log() { echo "dev-cluster: $*" >&2; }

running_pid() {
  [ -f "$PID_FILE" ] || return 1
  local pid
  pid="$(cat "$PID_FILE")"
  [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || return 1
  # Only trust the pid file if it still names our program.
  grep -q "kpush-dev-cluster" "/proc/$pid/cmdline" 2>/dev/null || return 1
  echo "$pid"
}

server() {
  sed -n 's/^server=//p' "$READY_FILE" 2>/dev/null
}

print_exports() {
  echo "export KUBECONFIG=$KUBECONFIG_FILE"
  # The kubectl built with the control plane (same version), first on PATH.
  local bins
  if bins="$(bash "$ROOT/scripts/build-control-plane.sh" 2>/dev/null | tail -n1)" && [ -x "$bins/kubectl" ]; then
    echo "export PATH=$bins:\$PATH"
  fi
}

target_dir() {
  if [ -n "${CARGO_TARGET_DIR:-}" ]; then
    echo "$CARGO_TARGET_DIR"
  else
    (cd "$ROOT" && cargo metadata --format-version 1 --no-deps) |
      grep -o '"target_directory":"[^"]*"' | sed 's/.*:"\(.*\)"/\1/'
  fi
}

up() {
  if pid="$(running_pid)"; then
    log "already running (pid $pid) at $(server)"
    print_exports
    return 0
  fi
  mkdir -p "$DIR"
  rm -f "$READY_FILE" "$PID_FILE"
  log "building kpush-dev-cluster"
  (cd "$ROOT" && cargo build -q -p kpush-testenv --bin kpush-dev-cluster) >&2
  local bin
  bin="$(target_dir)/debug/kpush-dev-cluster"
  [ -x "$bin" ] || { log "no binary at $bin"; exit 1; }

  log "starting (log: $LOG_FILE)"
  nohup "$bin" up --dir "$DIR" >"$LOG_FILE" 2>&1 </dev/null &
  local pid=$!
  echo "$pid" >"$PID_FILE"

  local waited=0
  while [ ! -f "$READY_FILE" ]; do
    if ! kill -0 "$pid" 2>/dev/null; then
      log "kpush-dev-cluster exited before it was ready; its log:"
      tail -n 60 "$LOG_FILE" >&2
      rm -f "$PID_FILE"
      exit 1
    fi
    if [ "$waited" -ge "$((START_TIMEOUT * 2))" ]; then
      log "not ready after ${START_TIMEOUT}s; stopping it. Its log:"
      tail -n 60 "$LOG_FILE" >&2
      down
      exit 1
    fi
    sleep 0.5
    waited=$((waited + 1))
  done
  log "ready at $(server) (pid $pid)"
  print_exports
}

down() {
  local pid
  if ! pid="$(running_pid)"; then
    log "not running"
    rm -f "$PID_FILE" "$READY_FILE"
    return 0
  fi
  kill -TERM "$pid"
  for _ in $(seq 1 40); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.25
  done
  if kill -0 "$pid" 2>/dev/null; then
    log "still running after 10s; killing it"
    kill -KILL "$pid" 2>/dev/null || true
  fi
  # The kubeconfigs name a port that is closed now.
  rm -f "$PID_FILE" "$READY_FILE" "$DIR"/kubeconfig*
  log "stopped"
}

status() {
  local pid
  if pid="$(running_pid)"; then
    if [ -f "$READY_FILE" ]; then
      echo "running (pid $pid) at $(server); KUBECONFIG=$KUBECONFIG_FILE"
    else
      echo "starting (pid $pid); log: $LOG_FILE"
    fi
    return 0
  fi
  echo "not running"
  return 3
}

case "${1:-}" in
  up) up ;;
  down) down ;;
  status) status ;;
  *)
    echo "usage: $0 up|down|status" >&2
    exit 2
    ;;
esac
