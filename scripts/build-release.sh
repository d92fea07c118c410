#!/usr/bin/env bash
# Builds the release binary exactly as the Dockerfile, the release workflow and the container
# test do. On Linux the C library is linked statically (`+crt-static`), so the binary needs no
# glibc at run time and runs in an empty (scratch) image.
#
#   scripts/build-release.sh [TARGET]    # default: the host's target triple
#
# Prints the path of the built binary on its last line of standard output.
set -euo pipefail
cd "$(dirname "$0")/.."

target="${1:-$(rustc -vV | sed -n 's/^host: //p')}"
case "$target" in
  *-linux-gnu*) export RUSTFLAGS="${RUSTFLAGS:-} -C target-feature=+crt-static" ;;
  *-windows-msvc) export RUSTFLAGS="${RUSTFLAGS:-} -C target-feature=+crt-static" ;;
esac

# --target keeps RUSTFLAGS away from build scripts and proc-macros (they must stay dynamic).
cargo build --release --locked --bin kpush --target "$target" >&2

exe=kpush
case "$target" in *windows*) exe=kpush.exe ;; esac
echo "${CARGO_TARGET_DIR:-target}/$target/release/$exe"
