#!/usr/bin/env bash
# Builds the KubeFleet agents (Azure Kubernetes Fleet Manager's open-source core) kpush's Fleet
# tests run, from the Go module pinned in testenv/fleet/go.mod (go.goms.io/fleet, which is
# github.com/Azure/fleet at the same tag; go.sum checked in):
#
#   hubagent      the hub's controllers: MemberCluster join, placement scheduler, rollout,
#                 work generator, ClusterStagedUpdateRun
#   memberagent   runs beside each member cluster: applies the hub's Work, reports status
#   crds/         the module's CRDs (config/crd/bases), installed on the hub and members
#
# Cached under ${KPUSH_FLEET_CACHE:-${XDG_CACHE_HOME:-~/.cache}/kpush/fleet}/<version>-<hash of go.mod+go.sum>/;
# a build counts once both binaries print their flags (a `.verified` file). Prints the cache
# directory on its last line of standard output. Needs Go 1.24 or newer.
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
MOD="$ROOT/testenv/fleet"
CACHE_ROOT="${KPUSH_FLEET_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/kpush/fleet}"

log() { echo "build-fleet: $*" >&2; }
die() { log "$*"; exit 1; }

VERSION="$(awk '$1 == "require" && $2 == "go.goms.io/fleet" { print $3 } $1 == "go.goms.io/fleet" && $2 ~ /^v/ { print $2 }' "$MOD/go.mod" | head -n1)"
[ -n "$VERSION" ] || die "no go.goms.io/fleet version in $MOD/go.mod"
SUMS="$(cat "$MOD/go.mod" "$MOD/go.sum" | sha256sum | cut -c1-12)"
KEY="$VERSION-$SUMS"
OUT="$CACHE_ROOT/$KEY"
PARTIAL="$OUT.partial"

verified() {
  [ -f "$OUT/.verified" ] && [ -x "$OUT/hubagent" ] && [ -x "$OUT/memberagent" ] && [ -d "$OUT/crds" ]
}

if verified; then
  log "using the cached Fleet agents $KEY ($OUT)"
  echo "$OUT"
  exit 0
fi

command -v go >/dev/null 2>&1 || die "Go is not on PATH: install Go 1.24 or newer"
export GOTOOLCHAIN="${GOTOOLCHAIN:-auto}"
export GOFLAGS="-mod=readonly -buildvcs=false"

rm -rf "$PARTIAL" "$OUT"
mkdir -p "$PARTIAL/crds"
start=$SECONDS
log "building hubagent and memberagent $VERSION from go.goms.io/fleet (a fresh machine: about 10 minutes on 2 cores)"
(cd "$MOD" && go build -ldflags "-s -w" -o "$PARTIAL/" \
  go.goms.io/fleet/cmd/hubagent go.goms.io/fleet/cmd/memberagent) >&2
SRC="$(cd "$MOD" && go list -m -f '{{.Dir}}' go.goms.io/fleet)"
cp "$SRC"/config/crd/bases/*.yaml "$PARTIAL/crds/"
cp "$SRC/LICENSE" "$PARTIAL/LICENSE"
log "built in $((SECONDS - start)) s; checking the binaries"
for b in hubagent memberagent; do
  help="$("$PARTIAL/$b" --help 2>&1 || true)"
  grep -q -- "-enable-v1beta1-apis" <<<"$help" || die "$b does not run: $(head -c 300 <<<"$help")"
done
touch "$PARTIAL/.verified"
mv "$PARTIAL" "$OUT"
log "cached in $OUT"
echo "$OUT"
