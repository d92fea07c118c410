#!/usr/bin/env bash
# The one command that runs every kpush test on a fresh machine (Debian bookworm, root or sudo).
#
# 1. Installs what the tests need and builds the real Kubernetes control plane once
#    (kube-apiserver, kube-controller-manager, kubectl v1.20.2 from Debian's source package;
#    etcd from Debian), cached under ~/.cache/kpush/control-plane.
# 2. Checks formatting and lints (cargo fmt, cargo clippy -D warnings).
# 3. Runs every test of the workspace: unit, golden, CLI, and the integration tests against the
#    real control plane with the node simulator.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n==> %s\n' "$*"; }

step "control plane (built once, then cached)"
bash scripts/build-control-plane.sh

if ! command -v openssl >/dev/null 2>&1; then
  step "installing openssl"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq openssl
fi

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
