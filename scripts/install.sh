#!/usr/bin/env bash
# Installs kpush for the GitHub Action (action.yml), or anywhere with bash and curl.
#
# Downloads the release asset for this OS and architecture from the action's own repository,
# checks its SHA-256 against the release's SHA256SUMS (a mismatch always fails), and builds the
# action's source with cargo when no release matches (a branch or commit ref, or a platform
# without an asset).
#
# Settings (environment):
#   KPUSH_INSTALL_REPOSITORY  owner/name to download from (the action passes github.action_repository)
#   KPUSH_INSTALL_REF         the action's ref (github.action_ref): a tag like v1.2.3 selects that release
#   KPUSH_INSTALL_VERSION     overrides the ref: a release tag, or `source` to always build
#   KPUSH_INSTALL_SOURCE      source tree for the cargo fallback (the action passes github.action_path)
#   KPUSH_INSTALL_DIR         where to put the binary (default: $RUNNER_TEMP/kpush-bin)
#   KPUSH_INSTALL_BASE_URL    release download base (default: $GITHUB_SERVER_URL or https://github.com)
#   KPUSH_INSTALL_TARGET      target triple (default: from RUNNER_OS/RUNNER_ARCH or uname)
# Writes `path=<binary>` and `version=<tag or source>` to $GITHUB_OUTPUT and adds the directory
# to $GITHUB_PATH when those are set; in Azure Pipelines (TF_BUILD=True) it prepends it to PATH
# with ##vso[task.prependpath]. Prints the binary's path last.
set -euo pipefail

log() { printf 'kpush-install: %s\n' "$*" >&2; }
fail() { printf '::error title=kpush install::%s\n' "$*" >&2; exit 1; }

target_triple() {
  if [[ -n "${KPUSH_INSTALL_TARGET:-}" ]]; then echo "$KPUSH_INSTALL_TARGET"; return; fi
  local os="${RUNNER_OS:-$(uname -s)}" arch="${RUNNER_ARCH:-$(uname -m)}"
  case "$arch" in
    X64 | x86_64 | amd64) arch=x86_64 ;;
    ARM64 | arm64 | aarch64) arch=aarch64 ;;
    *) fail "unsupported architecture '$arch'" ;;
  esac
  case "$os" in
    Linux) echo "$arch-unknown-linux-gnu" ;;
    macOS | Darwin) echo "$arch-apple-darwin" ;;
    Windows | MINGW* | MSYS* | CYGWIN*) echo "$arch-pc-windows-msvc" ;;
    *) fail "unsupported operating system '$os'" ;;
  esac
}

sha256() {
  if command -v sha256sum >/dev/null 2>&1; then
    sha256sum "$1" | cut -d' ' -f1
  else
    shasum -a 256 "$1" | cut -d' ' -f1
  fi
}

# download URL FILE: 0 on success, 2 when the server says 404, 1 otherwise.
download() {
  local status
  status="$(curl --silent --show-error --location --retry 3 --retry-connrefused \
    --output "$2" --write-out '%{http_code}' "$1")" || return 1
  case "$status" in
    200) return 0 ;;
    404) return 2 ;;
    *) log "GET $1 answered HTTP $status"; return 1 ;;
  esac
}

build_from_source() {
  local why="$1"
  local src="${KPUSH_INSTALL_SOURCE:-}"
  [[ -n "$src" && -f "$src/Cargo.toml" ]] || fail "$why, and there is no source to build (KPUSH_INSTALL_SOURCE)"
  command -v cargo >/dev/null 2>&1 || fail "$why, and cargo is not installed to build kpush from source (add a Rust toolchain step, or use a release tag as the action's ref)"
  log "$why: building kpush from $src with cargo"
  cargo install --locked --path "$src" --root "$dir/cargo" --bin kpush >&2
  bin="$dir/cargo/bin/$exe"
  installed_version=source
}

target="$(target_triple)"
exe=kpush
[[ "$target" == *windows* ]] && exe=kpush.exe
dir="${KPUSH_INSTALL_DIR:-${RUNNER_TEMP:-${TMPDIR:-/tmp}}/kpush-bin}"
mkdir -p "$dir"
bin=""
installed_version=""

tag="${KPUSH_INSTALL_VERSION:-${KPUSH_INSTALL_REF:-}}"
if [[ "$tag" == source ]]; then
  build_from_source "version 'source' was requested"
elif [[ ! "$tag" =~ ^v?[0-9]+\.[0-9]+\.[0-9]+([-+][0-9A-Za-z.-]+)?$ ]]; then
  build_from_source "the ref '${tag:-<none>}' is not a release tag"
else
  repo="${KPUSH_INSTALL_REPOSITORY:-}"
  [[ -n "$repo" ]] || fail "KPUSH_INSTALL_REPOSITORY (owner/name) is not set"
  base="${KPUSH_INSTALL_BASE_URL:-${GITHUB_SERVER_URL:-https://github.com}}"
  url="$base/$repo/releases/download/$tag"
  asset="kpush-$target"
  [[ "$target" == *windows* ]] && asset="$asset.exe"
  tmp="$(mktemp -d)"
  trap 'rm -rf "$tmp"' EXIT

  rc=0
  download "$url/SHA256SUMS" "$tmp/SHA256SUMS" || rc=$?
  if [[ $rc == 2 ]]; then
    build_from_source "no release $tag in $repo"
  elif [[ $rc != 0 ]]; then
    fail "cannot download $url/SHA256SUMS"
  else
    want="$(awk -v a="$asset" '$2 == a || $2 == "*" a { print $1 }' "$tmp/SHA256SUMS" | head -n1)"
    if [[ -z "$want" ]]; then
      build_from_source "release $tag has no asset for $target"
    else
      log "downloading $url/$asset"
      rc=0
      download "$url/$asset" "$tmp/$asset" || rc=$?
      [[ $rc == 0 ]] || fail "cannot download $url/$asset (SHA256SUMS lists it)"
      got="$(sha256 "$tmp/$asset")"
      if [[ "$got" != "$want" ]]; then
        fail "checksum mismatch for $asset of $tag: SHA256SUMS says $want, the download has $got; refusing to install it"
      fi
      log "SHA-256 verified: $got"
      bin="$dir/$exe"
      mv "$tmp/$asset" "$bin"
      chmod +x "$bin"
      installed_version="$tag"
    fi
  fi
fi

log "installed $("$bin" version 2>/dev/null | head -n1 || echo kpush) at $bin"
if [[ -n "${GITHUB_OUTPUT:-}" ]]; then
  { echo "path=$bin"; echo "version=$installed_version"; } >>"$GITHUB_OUTPUT"
fi
if [[ -n "${GITHUB_PATH:-}" ]]; then
  dirname "$bin" >>"$GITHUB_PATH"
fi
if [[ "${TF_BUILD:-}" == True ]]; then
  # Azure Pipelines: later steps (and the KpushDeploy task) find kpush on PATH.
  echo "##vso[task.prependpath]$(dirname "$bin")"
fi
echo "$bin"
