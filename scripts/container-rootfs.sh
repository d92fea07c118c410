#!/usr/bin/env bash
# Lays out the container image's whole file system in DEST: the static kpush binary, the CA
# bundle, and the passwd/group entries of the non-root user (65532). No shell, no libc.
# Used by the Dockerfile's build stage and by scripts/test-container.sh.
#
#   scripts/container-rootfs.sh DEST BINARY
set -euo pipefail
dest="$1"
bin="$2"
ca="${CA_BUNDLE:-/etc/ssl/certs/ca-certificates.crt}"

install -D -m 0755 "$bin" "$dest/usr/local/bin/kpush"
install -D -m 0644 "$ca" "$dest/etc/ssl/certs/ca-certificates.crt"
printf 'root:x:0:0:root:/root:/sbin/nologin\nkpush:x:65532:65532:kpush:/home/kpush:/sbin/nologin\n' >"$dest/etc/passwd"
printf 'root:x:0:\nkpush:x:65532:\n' >"$dest/etc/group"
install -d -m 1777 "$dest/tmp"
install -d -m 0755 "$dest/home/kpush"
chown 65532:65532 "$dest/home/kpush" 2>/dev/null || true
