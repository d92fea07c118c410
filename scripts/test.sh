#!/usr/bin/env bash
# The one command that runs every kpush test on a fresh machine (Debian bookworm or 12-based,
# with Rust and Go 1.26; as root, or as a user with passwordless sudo for apt-get and the
# container test's chroot).
#
# 1. Checks the Rust toolchain, installs what the tests need and builds the real Kubernetes
#    control plane once (etcd 3.6, kube-apiserver, kube-controller-manager and kubectl 1.35 from
#    Go modules), cached under ~/.cache/kpush/control-plane, and the pinned helm v3 and v4
#    (scripts/build-helm.sh) and sops (scripts/build-sops.sh), cached under ~/.cache/kpush/tools,
#    and the KubeFleet hub and member agents (scripts/build-fleet.sh), cached under
#    ~/.cache/kpush/fleet.
# 2. Checks formatting and lints (cargo fmt, cargo clippy -D warnings).
# 3. Runs every test of the workspace: unit, golden, CLI, and the integration tests against the
#    real control plane with the node simulator.
set -euo pipefail
cd "$(dirname "$0")/.."

# shellcheck source=scripts/lib/common.sh
source scripts/lib/common.sh

step() { printf '\n==> %s\n' "$*"; }

step "Rust toolchain"
require_rust

missing=()
for tool in openssl curl python3; do
  command -v "$tool" >/dev/null 2>&1 || missing+=("$tool")
done
if [[ ${#missing[@]} -gt 0 ]]; then
  step "installing ${missing[*]}"
  apt_install "${missing[@]}"
fi

step "control plane (built once, then cached)"
bash scripts/build-control-plane.sh

step "helm v3 and v4 (the charts' oracle; built once, then cached)"
bash scripts/build-helm.sh

step "sops (encrypts the SOPS tests' fixtures; built once, then cached)"
bash scripts/build-sops.sh

step "KubeFleet hub and member agents (the Fleet tests; built once, then cached)"
bash scripts/build-fleet.sh

step "cargo fmt --check"
cargo fmt --all -- --check

step "cargo clippy"
cargo clippy --workspace --all-targets --locked -- -D warnings

step "cargo test"
cargo test --workspace --locked --no-fail-fast 2>&1 | tee "${TMPDIR:-/tmp}/kpush-test.log"

# --- CI integrations -------------------------------------------------------------------------
# The GitHub Action, workflows, installer, Azure DevOps task and the container's static binary.
step "CI integrations (scripts/test-ci-integrations.sh)"
bash scripts/test-ci-integrations.sh
