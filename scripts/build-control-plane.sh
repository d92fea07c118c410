#!/usr/bin/env bash
# Builds kube-apiserver, kube-controller-manager and kubectl from Debian bookworm's vendored
# `kubernetes` source package, and installs etcd from Debian. Idempotent: the binaries are cached
# under ${XDG_CACHE_HOME:-~/.cache}/kpush/control-plane/<version>/ and never rebuilt once verified.
#
# Prints the cache directory on its last line of standard output.
set -euo pipefail

K8S_DEB_VERSION="1.20.5+really1.20.2"
K8S_VERSION="v1.20.2"
CACHE_ROOT="${KPUSH_CONTROL_PLANE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/kpush/control-plane}"
OUT="$CACHE_ROOT/$K8S_VERSION"
BINS=(kube-apiserver kube-controller-manager kubectl)

log() { echo "build-control-plane: $*" >&2; }

# Kubernetes 1.20 vendors github.com/modern-go/reflect2 v1.0.1, which crashes under Go >= 1.18
# (`fatal error: fault` in mapiternext whenever a map is encoded to JSON: kube-apiserver dies on its
# first JSON response holding labels, kubectl on `kubectl config set-credentials`). Debian's Go is
# 1.19, so the vendored copy is replaced by Debian's reflect2 1.0.2 before building, and a cached
# build only counts as verified when kubectl survives encoding a map.
REFLECT2_SRC=/usr/share/gocode/src/github.com/modern-go/reflect2

smoke_test() {
  local kc
  kc="$(mktemp)"
  "$OUT/kubectl" config set-credentials smoke --token=smoke --kubeconfig="$kc" >/dev/null 2>&1
  local rc=$?
  rm -f "$kc"
  return $rc
}

verified() {
  [ -f "$OUT/.verified" ] || return 1
  for b in "${BINS[@]}"; do [ -x "$OUT/$b" ] || return 1; done
  command -v etcd >/dev/null 2>&1 || return 1
  smoke_test
}

if verified; then
  log "using cached binaries in $OUT"
  echo "$OUT"
  exit 0
fi

SUDO=""
if [ "$(id -u)" != "0" ]; then SUDO="sudo"; fi

need_pkgs=()
command -v go >/dev/null 2>&1 || need_pkgs+=(golang-go)
command -v etcd >/dev/null 2>&1 || need_pkgs+=(etcd-server)
command -v rsync >/dev/null 2>&1 || need_pkgs+=(rsync)
command -v jq >/dev/null 2>&1 || need_pkgs+=(jq)
command -v dpkg-source >/dev/null 2>&1 || need_pkgs+=(dpkg-dev)
[ -f "$REFLECT2_SRC/go_above_118.go" ] || need_pkgs+=(golang-github-modern-go-reflect2-dev)

# deb-src for bookworm, so `apt-get source` finds the kubernetes source package.
if ! grep -rqs "^Types:.*deb-src" /etc/apt/sources.list.d/ && ! grep -qs "^deb-src" /etc/apt/sources.list 2>/dev/null; then
  log "enabling deb-src for bookworm"
  $SUDO tee /etc/apt/sources.list.d/kpush-deb-src.sources >/dev/null <<'SRC'
Types: deb-src
URIs: http://deb.debian.org/debian
Suites: bookworm
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SRC
  APT_UPDATED=""
fi

if [ ${#need_pkgs[@]} -gt 0 ] || [ -z "${APT_UPDATED-x}" ]; then
  log "apt-get update"
  $SUDO apt-get update -qq >&2
fi
if [ ${#need_pkgs[@]} -gt 0 ]; then
  log "installing ${need_pkgs[*]}"
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need_pkgs[@]}" >&2
fi

WORK="$CACHE_ROOT/src"
mkdir -p "$WORK" "$OUT"
cd "$WORK"
TREE="$WORK/kubernetes-1.20.5+really1.20.2"
if [ ! -d "$TREE" ]; then
  log "downloading the kubernetes $K8S_DEB_VERSION source package"
  if ! ls kubernetes_*.dsc >/dev/null 2>&1; then
    if ! apt-cache showsrc kubernetes 2>/dev/null | grep -q "^Version: $K8S_DEB_VERSION"; then
      $SUDO apt-get update -qq >&2
    fi
    apt-cache showsrc kubernetes | grep -q "^Version: $K8S_DEB_VERSION" || {
      log "Debian offers no kubernetes source $K8S_DEB_VERSION"; exit 1; }
    apt-get source --download-only kubernetes >&2
  fi
  dpkg-source -x --skip-patches kubernetes_*.dsc >&2 || true
  TREE="$(find "$WORK" -maxdepth 1 -type d -name 'kubernetes-*' | head -n1)"
fi
[ -d "$TREE" ] || { log "could not unpack the kubernetes source"; exit 1; }

cd "$TREE"
VENDORED_REFLECT2="$TREE/vendor/github.com/modern-go/reflect2"
if [ ! -f "$VENDORED_REFLECT2/go_above_118.go" ]; then
  log "replacing vendored reflect2 v1.0.1 with $REFLECT2_SRC (1.0.2, needed for Go >= 1.18)"
  find "$VENDORED_REFLECT2" -maxdepth 1 -type f \( -name '*.go' -o -name '*.s' \) -delete
  cp "$REFLECT2_SRC"/*.go "$REFLECT2_SRC"/*.s "$VENDORED_REFLECT2/"
fi
mkdir -p .go/src/k8s.io
[ -L .go/src/k8s.io/kubernetes ] || ln -s ../../.. .go/src/k8s.io/kubernetes
cd .go/src/k8s.io/kubernetes
log "building ${BINS[*]} (about 10 minutes on 2 cores)"
GOPATH="$TREE/.go" GO111MODULE=off GOFLAGS=-mod=vendor CGO_ENABLED=0 GOTOOLCHAIN=local \
  make WHAT="cmd/kube-apiserver cmd/kube-controller-manager cmd/kubectl" GOLDFLAGS="-s -w" >&2

for b in "${BINS[@]}"; do
  src="$(find "$TREE/_output" -type f -name "$b" -perm -u+x | head -n1)"
  [ -n "$src" ] || { log "build produced no $b"; exit 1; }
  install -m 0755 "$src" "$OUT/$b"
done
"$OUT/kube-apiserver" --version >&2
"$OUT/kubectl" version --client >&2 || true
smoke_test || { log "kubectl crashes encoding JSON: the reflect2 fix did not take"; exit 1; }
touch "$OUT/.verified"
log "cached in $OUT"
echo "$OUT"
