#!/usr/bin/env bash
# Builds the standalone kustomize pinned in testenv/tools/kustomize/go.mod (the version kubectl of
# the test control plane embeds) from the Go module proxy, and caches it under
# ${KPUSH_TOOLS_CACHE:-${XDG_CACHE_HOME:-~/.cache}/kpush/tools}/kustomize-<version>-<sum>/kustomize.
# Idempotent: a cached binary that reports the pinned version is reused.
#
# Prints the path of the binary on its last line of standard output.
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
MOD="$ROOT/testenv/tools/kustomize"
CACHE_ROOT="${KPUSH_TOOLS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/kpush/tools}"

log() { echo "build-kustomize: $*" >&2; }
die() { log "$*"; exit 1; }

VERSION="$(awk '$1 == "sigs.k8s.io/kustomize/kustomize/v5" && $2 ~ /^v/ { print $2 }' "$MOD/go.mod" | head -n1)"
[ -n "$VERSION" ] || die "no sigs.k8s.io/kustomize/kustomize/v5 version in $MOD/go.mod"
SUM="$(cat "$MOD/go.mod" "$MOD/go.sum" | sha256sum | cut -c1-12)"
OUT="$CACHE_ROOT/kustomize-$VERSION-$SUM"
BIN="$OUT/kustomize"

verified() {
  [ -x "$BIN" ] && "$BIN" version 2>/dev/null | grep -q "$VERSION"
}

if verified; then
  log "using the cached kustomize $VERSION ($BIN)"
  echo "$BIN"
  exit 0
fi

command -v go >/dev/null 2>&1 || die "go is not on PATH (Go 1.24 or newer builds the pinned module)"
mkdir -p "$OUT.partial"
log "building kustomize $VERSION from the Go module proxy into $OUT"
# -ldflags sets the version the binary reports (kustomize reads it from its build info otherwise,
# which says "(devel)" for a tool build).
(cd "$MOD" && GOFLAGS=-mod=readonly nice go build -trimpath \
  -ldflags="-s -w -X sigs.k8s.io/kustomize/api/provenance.buildDate=unknown -X sigs.k8s.io/kustomize/api/provenance.version=kustomize/$VERSION" \
  -o "$OUT.partial/kustomize" sigs.k8s.io/kustomize/kustomize/v5)
v="$("$OUT.partial/kustomize" version)"
echo "$v" | grep -q "$VERSION" || die "the built kustomize reports '$v', expected $VERSION"
rm -rf "$OUT"
mv "$OUT.partial" "$OUT"
log "built $BIN ($v)"
echo "$BIN"
