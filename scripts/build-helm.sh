#!/usr/bin/env bash
# Builds the pinned Helm releases kpush's tests use as an oracle (`helm template`, `helm install`),
# from the Go module proxy:
#
#   helm v3   helm.sh/helm/v3/cmd/helm   (testenv/tools/helm-v3/go.mod)
#   helm v4   helm.sh/helm/v4/cmd/helm   (testenv/tools/helm-v4/go.mod)
#
# Usage: scripts/build-helm.sh [v3|v4|all]   (default: all)
#
# The versions are the ones pinned in those go.mod files (with go.sum checked in); the cache key is
# the pinned version plus a hash of that go.mod, go.sum and this script, so a build is reused until a pin changes.
# Binaries are cached under ${KPUSH_TOOLS_CACHE:-${XDG_CACHE_HOME:-~/.cache}/kpush/tools}/helm-<version>-<hash>/helm
# and only count once a smoke test passed (a `.verified` file). A build that stops half way leaves
# `<key>.partial/`, which is never trusted: the next run starts it again (Go's module and build
# caches keep the work already done).
#
# Needs Go 1.26 or newer on PATH. Prints the path of each helm binary it built or found, one line
# per major version asked for, v3 before v4.
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
CACHE_ROOT="${KPUSH_TOOLS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/kpush/tools}"

log() { echo "build-helm: $*" >&2; }
die() { log "$*"; exit 1; }

case "${1:-all}" in
  v3) MAJORS=(3) ;;
  v4) MAJORS=(4) ;;
  all) MAJORS=(3 4) ;;
  *) die "unknown argument '$1': expected v3, v4 or all" ;;
esac

# A chart small enough to read, big enough to show that templating, values, --set and
# .Capabilities work.
write_smoke_chart() {
  local dir="$1"
  mkdir -p "$dir/templates"
  cat >"$dir/Chart.yaml" <<'EOF'
apiVersion: v2
name: smoke
version: 0.1.0
EOF
  cat >"$dir/values.yaml" <<'EOF'
greeting: hello
EOF
  cat >"$dir/templates/configmap.yaml" <<'EOF'
apiVersion: v1
kind: ConfigMap
metadata:
  name: {{ .Release.Name }}-smoke
data:
  greeting: {{ .Values.greeting | quote }}
  kube: {{ .Capabilities.KubeVersion.Version | quote }}
EOF
}

smoke_test() {
  local helm="$1" version="$2" tmp out v
  v="$("$helm" version --template '{{.Version}}')"
  [ "$v" = "$version" ] || { log "$helm reports '$v', expected $version"; return 1; }
  tmp="$(mktemp -d)"
  write_smoke_chart "$tmp/smoke"
  if ! out="$(HELM_CACHE_HOME="$tmp/cache" HELM_CONFIG_HOME="$tmp/config" HELM_DATA_HOME="$tmp/data" \
    "$helm" template rel "$tmp/smoke" --set greeting=hi --kube-version 1.35.0 2>&1)"; then
    log "helm template failed: $out"; rm -rf "$tmp"; return 1
  fi
  rm -rf "$tmp"
  for want in "# Source: smoke/templates/configmap.yaml" "name: rel-smoke" 'greeting: "hi"' 'kube: "v1.35.0"'; do
    grep -qF -- "$want" <<<"$out" || { log "helm template output lacks '$want':"; echo "$out" >&2; return 1; }
  done
}

build_one() {
  local major="$1" mod version sums key out partial commit ldflags pkg
  mod="$ROOT/testenv/tools/helm-v$major"
  version="$(awk -v m="helm.sh/helm/v$major" '$1 == m { print $2 }' "$mod/go.mod" | head -n1)"
  [ -n "$version" ] || die "no helm.sh/helm/v$major version in $mod/go.mod"
  sums="$(cat "$mod/go.mod" "$mod/go.sum" "$ROOT/scripts/build-helm.sh" | sha256sum | cut -c1-12)"
  key="helm-$version-$sums"
  out="$CACHE_ROOT/$key"
  partial="$out.partial"

  if [ -f "$out/.verified" ] && [ -x "$out/helm" ] \
    && [ "$("$out/helm" version --template '{{.Version}}' 2>/dev/null)" = "$version" ]; then
    log "using the cached helm $version ($out)"
    echo "$out/helm"
    return 0
  fi

  command -v go >/dev/null 2>&1 || die "Go is not on PATH: install Go 1.26 or newer (the polyglot machines have it at /usr/local/go/bin)"
  if [ -d "$partial" ]; then
    log "a previous build of $key did not finish ($partial): starting it again"
  elif [ -d "$out" ]; then
    log "$out is not verified: rebuilding it"
  fi
  rm -rf "$partial" "$out"
  mkdir -p "$partial"

  # As helm's Makefile does for a tagged release: the version (and no "unreleased" metadata), so
  # `helm version` tells the truth. The proxy does not serve the commit; the tree is the module's.
  pkg="helm.sh/helm/v$major/internal/version"
  commit="$(curl -fsS "https://proxy.golang.org/helm.sh/helm/v$major/@v/$version.info" 2>/dev/null \
    | sed -n 's/.*"Hash": *"\([0-9a-f]*\)".*/\1/p' || true)"
  ldflags="-s -w -X $pkg.version=$version -X $pkg.metadata= -X $pkg.gitTreeState=clean"
  [ -n "$commit" ] && ldflags+=" -X $pkg.gitCommit=$commit"
  if [ "$major" = 3 ]; then
    # Helm 3's default .Capabilities.KubeVersion (without --kube-version) is the client-go it was
    # built with, set by its Makefile; without these it would claim Kubernetes v1.20.
    local kminor
    kminor="$(awk '$1 == "k8s.io/client-go" { print $2 }' "$mod/go.mod" | sed -E 's/^v0\.([0-9]+)\..*/\1/')"
    [ -n "$kminor" ] || die "no k8s.io/client-go version in $mod/go.mod"
    for p in helm.sh/helm/v3/pkg/lint/rules helm.sh/helm/v3/pkg/chartutil; do
      ldflags+=" -X $p.k8sVersionMajor=1 -X $p.k8sVersionMinor=$kminor"
    done
  fi

  local start=$SECONDS
  log "building helm $version from Go modules (a fresh machine: about 10 minutes on 2 busy cores)"
  (cd "$mod" && GOTOOLCHAIN="${GOTOOLCHAIN:-auto}" CGO_ENABLED=0 GOFLAGS=-mod=readonly \
    go build -trimpath -ldflags "$ldflags" -o "$partial/helm" "helm.sh/helm/v$major/cmd/helm") >&2
  log "built in $((SECONDS - start)) s; smoke test"
  smoke_test "$partial/helm" "$version" || die "the smoke test failed: $partial is left for inspection and is rebuilt on the next run"
  touch "$partial/.verified"
  mv "$partial" "$out"
  ln -sfn "$key" "$CACHE_ROOT/helm-v$major-current"
  log "cached in $out"
  echo "$out/helm"
}

mkdir -p "$CACHE_ROOT"
for major in "${MAJORS[@]}"; do
  build_one "$major"
done
