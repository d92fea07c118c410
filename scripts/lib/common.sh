# Shared by the test scripts: `source "$(dirname "$0")/lib/common.sh"`.
#
# as_root CMD...       runs CMD as root: directly when already root, else through `sudo -n`
#                      (passwordless sudo); fails with an explanation otherwise.
# apt_install PKG...   installs Debian packages with as_root (one `apt-get update` per run).
# require_rust         checks that cargo and rustc are on PATH and at least the version
#                      Cargo.toml's `rust-version` (and README.md) requires.

as_root() {
  if [[ "$(id -u)" == 0 ]]; then
    "$@"
  elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    sudo -n "$@"
  else
    echo "error: '$*' needs root: run as root or with passwordless sudo" >&2
    return 1
  fi
}

KPUSH_APT_UPDATED="${KPUSH_APT_UPDATED:-}"
apt_install() {
  if [[ -z "$KPUSH_APT_UPDATED" ]]; then
    as_root apt-get update -qq
    KPUSH_APT_UPDATED=1
    export KPUSH_APT_UPDATED
  fi
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@"
}

require_rust() {
  local root want have
  root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
  want="$(sed -n 's/^rust-version *= *"\([0-9.]*\)".*/\1/p' "$root/Cargo.toml" | head -n1)"
  if ! command -v cargo >/dev/null 2>&1 || ! command -v rustc >/dev/null 2>&1; then
    echo "error: kpush needs Rust $want or newer (README.md), and cargo/rustc are not on PATH;" \
      "install it with rustup (https://rustup.rs) or add ~/.cargo/bin to PATH" >&2
    return 1
  fi
  have="$(rustc --version | awk '{print $2}')"
  if [[ "$(printf '%s\n%s\n' "$want" "${have%%-*}" | sort -V | head -n1)" != "$want" ]]; then
    echo "error: kpush needs Rust $want or newer (README.md); this machine has rustc $have:" \
      "run 'rustup update stable'" >&2
    return 1
  fi
  echo "Rust $have (kpush needs $want or newer)"
}
