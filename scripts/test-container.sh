#!/usr/bin/env bash
# Tests what the container image relies on, without a container engine: the release binary,
# built with the Dockerfile's own command (scripts/build-release.sh), is static, and runs
# `kpush version` and `kpush render` as the image's non-root user inside an empty root laid
# out by the Dockerfile's own script (scripts/container-rootfs.sh): no shell, no libc.
#
# Needs root for chown and chroot: runs them directly as root, else through passwordless sudo.
# The release build takes minutes the first time; cargo caches it.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/lib/common.sh
source scripts/lib/common.sh

fail() { echo "test-container: FAIL: $*" >&2; exit 1; }

for s in scripts/build-release.sh scripts/container-rootfs.sh; do
  grep -q "$s" Dockerfile || fail "the Dockerfile does not use $s; the test would not test the image"
done
as_root true || fail "needs root (or passwordless sudo) for chown and chroot"

bin="$(bash scripts/build-release.sh | tail -n1)"
[[ -x "$bin" ]] || fail "no binary at $bin"

# A static executable has no PT_INTERP program header (no dynamic loader, no libc.so).
python3 - "$bin" <<'PY' || fail "$bin is not statically linked"
import struct, sys
data = open(sys.argv[1], "rb").read(1 << 20)
assert data[:4] == b"\x7fELF" and data[4] == 2, "not a 64-bit ELF file"
phoff, = struct.unpack_from("<Q", data, 0x20)
phentsize, phnum = struct.unpack_from("<HH", data, 0x36)
types = [struct.unpack_from("<I", data, phoff + i * phentsize)[0] for i in range(phnum)]
sys.exit(1 if 3 in types else 0)  # 3 = PT_INTERP
PY

root="$(mktemp -d)"
chmod 0755 "$root"
trap 'as_root rm -rf "$root"' EXIT
bash scripts/container-rootfs.sh "$root" "$bin"
mkdir -p "$root/home/kpush/app"
cp -r examples/guestbook/. "$root/home/kpush/app/"
as_root chown -R 65532:65532 "$root/home/kpush"
find "$root" -name '*.so*' | grep -q . && fail "the root holds shared libraries"

chroot="$(command -v chroot)" || fail "chroot is not installed (coreutils)"
in_root() { as_root env -i PATH=/usr/local/bin HOME=/home/kpush SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt \
  "$chroot" --userspec=65532:65532 "$root" "$@"; }

out="$(in_root /usr/local/bin/kpush version)" || fail "kpush version failed in the empty root"
grep -q '^kpush ' <<<"$out" || fail "unexpected version output: $out"
echo "$out"

out="$(cd "$root" && in_root /usr/local/bin/kpush render /home/kpush/app -n demo --no-run-annotations)" ||
  fail "kpush render failed in the empty root"
grep -q '^kind: Deployment' <<<"$out" || fail "render printed no Deployment: $out"
grep -q 'namespace: demo' <<<"$out" || fail "render did not set the namespace"
echo "render in the empty root: $(grep -c '^kind:' <<<"$out") objects"

# Bad input still exits 2 with its message (error paths need no libc either).
set +e
err="$(in_root /usr/local/bin/kpush render /home/kpush/missing 2>&1)"
code=$?
set -e
[[ $code == 2 ]] || fail "expected exit code 2 for a missing path, got $code: $err"
# kpush reaches AKS by host name: a program linked the same way resolves names from /etc/hosts
# in the empty root (glibc 2.34+ has the files and dns NSS modules inside libc; Docker provides
# /etc/hosts and /etc/resolv.conf at run time).
probe="$(mktemp -d)"
cat >"$probe/resolve.rs" <<'RS'
use std::net::ToSocketAddrs;
fn main() {
    let addrs: Vec<_> = ("aks-test.internal", 443).to_socket_addrs().expect("resolve").collect();
    println!("{addrs:?}");
}
RS
target="$(rustc -vV | sed -n 's/^host: //p')"
rustc -O -C target-feature=+crt-static --target "$target" -o "$probe/resolve" "$probe/resolve.rs"
install -m 0755 "$probe/resolve" "$root/usr/local/bin/resolve"
echo "10.1.2.3 aks-test.internal" >"$root/etc/hosts"
out="$(in_root /usr/local/bin/resolve)" || fail "name resolution failed in the empty root"
[[ "$out" == "[10.1.2.3:443]" ]] || fail "unexpected resolution: $out"
rm -rf "$probe"
echo "name resolution in the empty root: $out"
echo "test-container: ok"
