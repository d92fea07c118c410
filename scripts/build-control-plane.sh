#!/usr/bin/env bash
# Builds the Kubernetes control plane kpush's integration tests run against, from Go modules:
#
#   etcd                      go.etcd.io/etcd/server/v3   (testenv/control-plane/etcd/go.mod)
#   kube-apiserver            k8s.io/kubernetes/cmd/...   (testenv/control-plane/kubernetes/go.mod)
#   kube-controller-manager
#   kubectl                   (tests use it as an oracle: `kubectl apply`, `kubectl kustomize`)
#
# The versions are the ones pinned in those go.mod files (with go.sum checked in); the cache key is
# the pinned versions plus a hash of both go.sum files, so a build is reused until a pin changes.
# Binaries are cached under ${KPUSH_CONTROL_PLANE_CACHE:-${XDG_CACHE_HOME:-~/.cache}/kpush/control-plane}/<key>/
# and only count once a smoke test passed (a `.verified` file). A build that stops half way leaves
# `<key>.partial/`, never a half-verified cache; the next run says so and starts that directory
# again (Go's module and build caches keep the work already done, so it resumes quickly).
#
# Needs Go 1.26 or newer (`go` on PATH; older Go ≥ 1.21 fetches the toolchain go.mod names from the
# Go module proxy), curl and openssl. Runs as any user: nothing here needs root.
#
# Prints the cache directory on its last line of standard output.
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
KUBE_MOD="$ROOT/testenv/control-plane/kubernetes"
ETCD_MOD="$ROOT/testenv/control-plane/etcd"
CACHE_ROOT="${KPUSH_CONTROL_PLANE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/kpush/control-plane}"
BINS=(etcd kube-apiserver kube-controller-manager kubectl)

log() { echo "build-control-plane: $*" >&2; }
die() { log "$*"; exit 1; }

pinned() { # module go.mod → version on its require line
  awk -v m="$1" '$1 == "require" && $2 == m { print $3 } $1 == m && $2 ~ /^v/ { print $2 }' "$2" | head -n1
}
K8S_VERSION="$(pinned k8s.io/kubernetes "$KUBE_MOD/go.mod")"
ETCD_VERSION="$(pinned go.etcd.io/etcd/server/v3 "$ETCD_MOD/go.mod")"
[ -n "$K8S_VERSION" ] || die "no k8s.io/kubernetes version in $KUBE_MOD/go.mod"
[ -n "$ETCD_VERSION" ] || die "no go.etcd.io/etcd/server/v3 version in $ETCD_MOD/go.mod"
SUMS="$(cat "$KUBE_MOD/go.mod" "$KUBE_MOD/go.sum" "$ETCD_MOD/go.mod" "$ETCD_MOD/go.sum" | sha256sum | cut -c1-12)"
KEY="$K8S_VERSION-etcd$ETCD_VERSION-$SUMS"
OUT="$CACHE_ROOT/$KEY"
PARTIAL="$OUT.partial"
K8S_MINOR="$(echo "$K8S_VERSION" | sed -E 's/^v1\.([0-9]+)\..*/\1/')"

# The smoke test: each binary reports the pinned version, etcd serves, and kube-apiserver starts
# against it and answers /version and /readyz; kubectl encodes a kubeconfig (maps to JSON).
smoke_test() {
  local dir="$1" tmp rc=0
  tmp="$(mktemp -d)"
  smoke_test_in "$dir" "$tmp" || rc=$?
  [ -f "$tmp/etcd.pid" ] && kill "$(cat "$tmp/etcd.pid")" 2>/dev/null || true
  [ -f "$tmp/apiserver.pid" ] && kill "$(cat "$tmp/apiserver.pid")" 2>/dev/null || true
  wait 2>/dev/null || true
  if [ "$rc" != 0 ]; then
    for f in etcd.log apiserver.log; do
      [ -f "$tmp/$f" ] && { log "last lines of $f:"; tail -n 15 "$tmp/$f" >&2; }
    done
  fi
  rm -rf "$tmp"
  return $rc
}

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

smoke_test_in() {
  local dir="$1" tmp="$2" v
  v="$("$dir/kube-apiserver" --version)"
  [ "$v" = "Kubernetes $K8S_VERSION" ] || { log "kube-apiserver reports '$v', expected $K8S_VERSION"; return 1; }
  v="$("$dir/kube-controller-manager" --version)"
  [ "$v" = "Kubernetes $K8S_VERSION" ] || { log "kube-controller-manager reports '$v'"; return 1; }
  "$dir/kubectl" version --client -o json | grep -q "\"gitVersion\": \"$K8S_VERSION\"" \
    || { log "kubectl does not report $K8S_VERSION"; return 1; }
  "$dir/etcd" --version | grep -q "etcd Version: ${ETCD_VERSION#v}" \
    || { log "etcd does not report $ETCD_VERSION"; return 1; }
  "$dir/kubectl" config set-credentials smoke --token=smoke --kubeconfig="$tmp/kubeconfig" >/dev/null \
    || { log "kubectl cannot write a kubeconfig"; return 1; }

  local ec ep ap token=smoke-token-$$
  ec="$(free_port)"; ep="$(free_port)"; ap="$(free_port)"
  "$dir/etcd" --data-dir="$tmp/etcd" --listen-client-urls="http://127.0.0.1:$ec" \
    --advertise-client-urls="http://127.0.0.1:$ec" --listen-peer-urls="http://127.0.0.1:$ep" \
    --initial-advertise-peer-urls="http://127.0.0.1:$ep" --initial-cluster="default=http://127.0.0.1:$ep" \
    --log-level=warn --unsafe-no-fsync >"$tmp/etcd.log" 2>&1 &
  echo $! >"$tmp/etcd.pid"
  openssl genrsa -out "$tmp/sa.key" 2048 2>/dev/null
  echo "$token,smoke,smoke,system:masters" >"$tmp/tokens.csv"
  "$dir/kube-apiserver" --etcd-servers="http://127.0.0.1:$ec" --bind-address=127.0.0.1 \
    --secure-port="$ap" --cert-dir="$tmp/certs" --token-auth-file="$tmp/tokens.csv" \
    --authorization-mode=Node,RBAC --service-account-issuer=https://kubernetes.default.svc \
    --service-account-key-file="$tmp/sa.key" --service-account-signing-key-file="$tmp/sa.key" \
    --service-cluster-ip-range=10.0.0.0/24 --endpoint-reconciler-type=none >"$tmp/apiserver.log" 2>&1 &
  echo $! >"$tmp/apiserver.pid"
  local i body
  for i in $(seq 1 120); do
    body="$(curl -sk -H "Authorization: Bearer $token" "https://127.0.0.1:$ap/readyz" || true)"
    [ "$body" = "ok" ] && break
    sleep 0.5
  done
  [ "$body" = "ok" ] || { log "kube-apiserver did not become ready within 60 s"; return 1; }
  curl -sk -H "Authorization: Bearer $token" "https://127.0.0.1:$ap/version" \
    | grep -q "\"gitVersion\": \"$K8S_VERSION\"" || { log "/version does not say $K8S_VERSION"; return 1; }
  return 0
}

verified() {
  [ -f "$OUT/.verified" ] || return 1
  for b in "${BINS[@]}"; do [ -x "$OUT/$b" ] || return 1; done
  "$OUT/kube-apiserver" --version 2>/dev/null | grep -qx "Kubernetes $K8S_VERSION"
}

if verified; then
  log "using the cached control plane $KEY ($OUT)"
  echo "$OUT"
  exit 0
fi

command -v go >/dev/null 2>&1 || die "Go is not on PATH: install Go 1.26 or newer (the polyglot machines have it at /usr/local/go/bin)"
command -v curl >/dev/null 2>&1 || die "curl is needed for the smoke test"
command -v openssl >/dev/null 2>&1 || die "openssl is needed for the smoke test"
command -v python3 >/dev/null 2>&1 || die "python3 is needed for the smoke test"
GO_MINOR="$(go env GOVERSION | sed -E 's/^go1\.([0-9]+).*/\1/')"
if [ "${GO_MINOR:-0}" -lt 21 ]; then
  die "$(go env GOVERSION) is too old to fetch the toolchain go.mod asks for: install Go 1.26 or newer"
fi
# Go ≥ 1.21 switches to the toolchain a go.mod asks for (from the Go module proxy) when it is
# older; the local one is used when it is new enough.
export GOTOOLCHAIN="${GOTOOLCHAIN:-auto}"
export CGO_ENABLED=0 GOFLAGS=-mod=readonly

if [ -d "$PARTIAL" ]; then
  log "a previous build of $KEY did not finish ($PARTIAL): starting it again; Go's build cache keeps the packages already compiled"
  rm -rf "$PARTIAL"
elif [ -d "$OUT" ]; then
  log "$OUT is not verified: rebuilding it"
fi
rm -rf "$OUT"
mkdir -p "$PARTIAL"

# kube-apiserver and friends report their version from ldflags, as Kubernetes' own build does
# (hack/lib/version.sh); without them they would call themselves v0.0.0-master.
K8S_MAJOR=1
BUILD_DATE="$(date -u +%Y-%m-%dT%H:%M:%SZ)"
LDFLAGS="-s -w"
for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
  LDFLAGS+=" -X $pkg.gitVersion=$K8S_VERSION -X $pkg.gitMajor=$K8S_MAJOR -X $pkg.gitMinor=$K8S_MINOR"
  LDFLAGS+=" -X $pkg.gitTreeState=clean -X $pkg.buildDate=$BUILD_DATE"
done

start=$SECONDS
log "building kube-apiserver, kube-controller-manager, kubectl $K8S_VERSION from Go modules (a fresh machine: about 15 minutes on 2 cores)"
(cd "$KUBE_MOD" && go build -trimpath -ldflags "$LDFLAGS" -o "$PARTIAL/" \
  k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kube-controller-manager \
  k8s.io/kubernetes/cmd/kubectl) >&2
log "building etcd $ETCD_VERSION"
(cd "$ETCD_MOD" && go build -trimpath -ldflags "-s -w" -o "$PARTIAL/etcd" go.etcd.io/etcd/server/v3) >&2
log "built in $((SECONDS - start)) s; smoke test"

smoke_test "$PARTIAL" || die "the smoke test failed: $PARTIAL is left for inspection and is rebuilt on the next run"
touch "$PARTIAL/.verified"
mv "$PARTIAL" "$OUT"
ln -sfn "$KEY" "$CACHE_ROOT/current"
ln -sfn "$KEY" "$CACHE_ROOT/$K8S_VERSION"
log "cached in $OUT"
echo "$OUT"
