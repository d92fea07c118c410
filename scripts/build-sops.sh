#!/usr/bin/env bash
# Builds the pinned sops (github.com/getsops/sops/v3/cmd/sops) kpush's tests use to encrypt their
# fixtures at test time (tests/sops.rs), from the Go module proxy, pinned in
# testenv/tools/sops/go.mod (with go.sum checked in).
#
# Usage: scripts/build-sops.sh
#
# The cache key is the pinned version plus a hash of that go.mod, go.sum and this script, so a
# build is reused until a pin changes. The binary is cached under
# ${KPUSH_TOOLS_CACHE:-${XDG_CACHE_HOME:-~/.cache}/kpush/tools}/sops-<version>-<hash>/sops and only
# counts once a smoke test passed (a `.verified` file): `sops --version`, then an age key pair made
# by sops's own age library is used to encrypt and decrypt a YAML file. A build that stops half way
# leaves `<key>.partial/`, which is never trusted: the next run starts it again.
#
# Needs Go 1.26 or newer on PATH. Prints the path of the sops binary.
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
CACHE_ROOT="${KPUSH_TOOLS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/kpush/tools}"
MOD="$ROOT/testenv/tools/sops"

log() { echo "build-sops: $*" >&2; }
die() { log "$*"; exit 1; }

version="$(awk '$1 == "github.com/getsops/sops/v3" { print $2 }' "$MOD/go.mod" | head -n1)"
[ -n "$version" ] || die "no github.com/getsops/sops/v3 version in $MOD/go.mod"
sums="$(cat "$MOD/go.mod" "$MOD/go.sum" "$ROOT/scripts/build-sops.sh" | sha256sum | cut -c1-12)"
key="sops-$version-$sums"
out="$CACHE_ROOT/$key"
partial="$out.partial"

smoke_test() {
  local sops="$1" tmp v
  v="$("$sops" --disable-version-check --version 2>/dev/null | head -n1)"
  case "$v" in
    "sops ${version#v}"*) ;;
    *) log "$sops reports '$v', expected sops ${version#v}"; return 1 ;;
  esac
  tmp="$(mktemp -d)"
  # A fixed age key pair, used only by this smoke test.
  cat >"$tmp/key.txt" <<'KEY'
AGE-SECRET-KEY-1GFPYYSJZGFPYYSJZGFPYYSJZGFPYYSJZGFPYYSJZGFPYYSJZGFPQ4EGAEX
KEY
  local recipient=age1zvkyg2lqzraa2lnjvqej32nkuu0ues2s82hzrye869xeexvn73equnujwj
  printf 'apiVersion: v1\nkind: Secret\nmetadata:\n  name: smoke\nstringData:\n  password: hunter2\n' >"$tmp/s.yaml"
  if ! (cd "$tmp" && "$sops" --disable-version-check encrypt --age "$recipient" --encrypted-regex '^(data|stringData)$' \
      --output enc.yaml s.yaml >/dev/null 2>"$tmp/err"); then
    log "sops encrypt failed: $(cat "$tmp/err")"; rm -rf "$tmp"; return 1
  fi
  grep -q 'password: ENC\[AES256_GCM,' "$tmp/enc.yaml" || { log "sops did not encrypt the value"; rm -rf "$tmp"; return 1; }
  if ! SOPS_AGE_KEY_FILE="$tmp/key.txt" "$sops" --disable-version-check decrypt "$tmp/enc.yaml" 2>"$tmp/err" | grep -q 'password: hunter2'; then
    log "sops decrypt failed: $(cat "$tmp/err")"; rm -rf "$tmp"; return 1
  fi
  rm -rf "$tmp"
}

if [ -f "$out/.verified" ] && [ -x "$out/sops" ]; then
  log "using the cached sops $version ($out)"
  echo "$out/sops"
  exit 0
fi

command -v go >/dev/null 2>&1 || die "Go is not on PATH: install Go 1.26 or newer (the polyglot machines have it at /usr/local/go/bin)"
if [ -d "$partial" ]; then
  log "a previous build of $key did not finish ($partial): starting it again"
fi
rm -rf "$partial" "$out"
mkdir -p "$partial"

# As sops's release build does: the version lives in a constant, nothing to stamp.
start=$SECONDS
log "building sops $version from Go modules (a fresh machine: about 4 minutes on 2 busy cores)"
(cd "$MOD" && GOTOOLCHAIN="${GOTOOLCHAIN:-auto}" CGO_ENABLED=0 GOFLAGS=-mod=readonly \
  go build -trimpath -ldflags "-s -w" -o "$partial/sops" github.com/getsops/sops/v3/cmd/sops) >&2
log "built in $((SECONDS - start)) s; smoke test"
smoke_test "$partial/sops" || die "the smoke test failed: $partial is left for inspection and is rebuilt on the next run"
touch "$partial/.verified"
mv "$partial" "$out"
ln -sfn "$key" "$CACHE_ROOT/sops-current"
log "cached in $out"
echo "$out/sops"
