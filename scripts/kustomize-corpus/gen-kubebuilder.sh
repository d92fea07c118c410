#!/usr/bin/env bash
# Generates the kubebuilder cases of the kustomize conformance corpus
# (tests/fixtures/kustomize/repos/kubebuilder-v4.16.0--*) by scaffolding projects with the real
# kubebuilder and controller-gen, both built from the Go module proxy at pinned versions into
# ${KPUSH_TOOLS_CACHE:-~/.cache/kpush/tools} (nothing of them is committed), then recording
# `kubectl kustomize` (the conformance oracle, from the test control plane) as expected.yaml.
#
# Usage: scripts/kustomize-corpus/gen-kubebuilder.sh [KUBECTL]
#   KUBECTL defaults to ~/.cache/kpush/control-plane/current/kubectl (scripts/build-control-plane.sh).
# Needs Go, python3 and the Go module proxy (kubebuilder init runs `go mod tidy`).
#
# Projects (the commands are below, in order):
#   guestbook-init: the project right after `kubebuilder init`: config/default with no API yet, its
#               whole replacements section (about 200 lines) still commented out.
#   guestbook:  one group, kind Guestbook in v1 (hub, controller, defaulting + validating +
#               conversion webhooks) and v2 (spoke): config/default as scaffolded (webhook and
#               cert-manager replacements enabled by `create webhook`, the long commented-out
#               blocks for metrics certificates and prometheus left as they are), config/samples
#               (one kind in two API versions), config/prometheus, config/network-policy.
#   guestbook-all: the same project with every optional block of config/default and
#               config/prometheus uncommented, as the comments tell a user to (prometheus,
#               network policy, metrics served with cert-manager certificates, the
#               metrics-certs and ServiceMonitor replacements, the ServiceMonitor TLS patch).
#   multigroup: `kubebuilder edit --multigroup`, three groups, one kind in two versions with a
#               conversion webhook, another with defaulting and validating webhooks:
#               config/default and config/samples.
set -euo pipefail

KUBEBUILDER_VERSION=v4.16.0
CONTROLLER_TOOLS_VERSION=v0.22.0 # the version kubebuilder v4.16.0's Makefile pins

ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
OUT="$ROOT/tests/fixtures/kustomize/repos"
CACHE="${KPUSH_TOOLS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/kpush/tools}"
KUBECTL="${1:-$HOME/.cache/kpush/control-plane/current/kubectl}"
KB="$CACHE/kubebuilder-$KUBEBUILDER_VERSION/kubebuilder"
CG="$CACHE/controller-gen-$CONTROLLER_TOOLS_VERSION/controller-gen"

log() { echo "gen-kubebuilder: $*" >&2; }
[ -x "$KUBECTL" ] || { log "no kubectl at $KUBECTL (run scripts/build-control-plane.sh or pass one)"; exit 1; }
[ -x "$KB" ] || GOBIN="$(dirname "$KB")" go install "sigs.k8s.io/kubebuilder/v4@$KUBEBUILDER_VERSION"
[ -x "$CG" ] || GOBIN="$(dirname "$CG")" go install "sigs.k8s.io/controller-tools/cmd/controller-gen@$CONTROLLER_TOOLS_VERSION"
"$KB" version | grep -q "$KUBEBUILDER_VERSION" || { log "$KB is not $KUBEBUILDER_VERSION"; exit 1; }
LICENSE="$(go env GOMODCACHE)/sigs.k8s.io/kubebuilder/v4@$KUBEBUILDER_VERSION/LICENSE"
[ -f "$LICENSE" ] || go mod download "sigs.k8s.io/kubebuilder/v4@$KUBEBUILDER_VERSION"

WORK="$(mktemp -d)"
trap 'chmod -R u+w "$WORK" 2>/dev/null; rm -rf "$WORK"' EXIT

manifests() { # CRDs, RBAC role and webhook configurations, as `make manifests` does
  "$CG" rbac:roleName=manager-role crd webhook paths="./..." output:crd:artifacts:config=config/crd/bases
}

log "guestbook"
mkdir "$WORK/guestbook" && cd "$WORK/guestbook"
"$KB" init --domain example.com --repo example.com/guestbook
cp -r "$WORK/guestbook" "$WORK/guestbook-init"
"$KB" create api --group webapp --version v1 --kind Guestbook --resource --controller --make=false
"$KB" create api --group webapp --version v2 --kind Guestbook --resource --controller=false --make=false
"$KB" create webhook --group webapp --version v1 --kind Guestbook --defaulting --programmatic-validation \
  --conversion --spoke v2 --make=false
manifests

log "guestbook-all"
cp -r "$WORK/guestbook" "$WORK/guestbook-all"
python3 - "$WORK/guestbook-all/config" <<'PY'
import pathlib, sys
config = pathlib.Path(sys.argv[1])

def edit(path, fn):
    p = config / path
    lines = p.read_text().splitlines(keepends=True)
    new = fn(lines)
    assert new != lines, f"nothing uncommented in {path}: has the scaffold changed?"
    p.write_text("".join(new))

def default(lines):
    out, block = [], None
    for l in lines:
        if l.startswith("#- ../prometheus") or l.startswith("#- ../network-policy"):
            l = l[1:]
        elif l.startswith("#- path: cert_metrics_manager_patch.yaml"):
            block, l = "patch", l[1:]
        elif block == "patch" and l.startswith("#  "):
            l = l[1:]
        elif l.startswith("# - source: # Uncomment the following block to enable certificates for metrics"):
            block, l = "metrics", l[1:]
        elif block == "metrics" and l.strip() and not l.startswith("#"):
            block = None  # the webhook blocks, which `create webhook` uncommented
        elif block == "metrics" and l.startswith("#"):
            l = l[1:]
        elif block == "patch":
            block = None
        out.append(l)
    return out

def prometheus(lines):
    return [l[1:] if l.startswith("#patches:") or l.startswith("#  ") else l for l in lines]

edit("default/kustomization.yaml", default)
edit("prometheus/kustomization.yaml", prometheus)
PY

log "multigroup"
mkdir "$WORK/multigroup" && cd "$WORK/multigroup"
"$KB" init --domain example.com --repo example.com/fleet
"$KB" edit --multigroup
"$KB" create api --group crew --version v1 --kind Captain --resource --controller --make=false
"$KB" create api --group ship --version v1beta1 --kind Frigate --resource --controller --make=false
"$KB" create api --group ship --version v1 --kind Frigate --resource --controller=false --make=false
"$KB" create api --group sea-creatures --version v1beta1 --kind Kraken --resource --controller --make=false
"$KB" create webhook --group crew --version v1 --kind Captain --defaulting --programmatic-validation --make=false
"$KB" create webhook --group ship --version v1 --kind Frigate --conversion --spoke v1beta1 --make=false
manifests

# case name, project, directory to render (relative to config/), what it shows
CASES=(
  "guestbook-init-config-default guestbook-init default"
  "guestbook-config-default guestbook default"
  "guestbook-config-samples guestbook samples"
  "guestbook-config-prometheus guestbook prometheus"
  "guestbook-config-network-policy guestbook network-policy"
  "guestbook-all-config-default guestbook-all default"
  "guestbook-all-config-prometheus guestbook-all prometheus"
  "multigroup-config-default multigroup default"
  "multigroup-config-samples multigroup samples"
)
ORACLE="$("$KUBECTL" version --client | awk '/Client Version/ {k="kubectl " $3} /Kustomize Version/ {print k ", kustomize " $3}')"
rm -rf "$OUT"/kubebuilder-"$KUBEBUILDER_VERSION"--*
for c in "${CASES[@]}"; do
  read -r name project dir <<<"$c"
  dest="$OUT/kubebuilder-$KUBEBUILDER_VERSION--$name"
  mkdir -p "$dest"
  if [ "$dir" = default ]; then # reads ../crd, ../rbac, ../webhook, ...: the whole config/
    cp -r "$WORK/$project/config/." "$dest/"
  else # reads only its own directory
    cp -r "$WORK/$project/config/$dir" "$dest/$dir"
  fi
  cp "$LICENSE" "$dest/LICENSE"
  chmod -R u+w "$dest"
  (cd "$dest" && env -i PATH=/usr/bin:/bin HOME=/nonexistent "$KUBECTL" kustomize "$dir" >expected.yaml)
  cat >"$dest/SOURCE" <<SRC
generated: by kubebuilder $KUBEBUILDER_VERSION (Apache-2.0, see LICENSE, from the Go module sigs.k8s.io/kubebuilder/v4@$KUBEBUILDER_VERSION) and controller-gen $CONTROLLER_TOOLS_VERSION from the commands in scripts/kustomize-corpus/gen-kubebuilder.sh
registry: Go module proxy (proxy.golang.org), sigs.k8s.io/kubebuilder/v4@$KUBEBUILDER_VERSION, sigs.k8s.io/controller-tools@$CONTROLLER_TOOLS_VERSION
repository: https://github.com/kubernetes-sigs/kubebuilder
project: $project (see gen-kubebuilder.sh); this directory holds (part of) the project's config/
license: Apache-2.0 (see LICENSE, kubebuilder's)
kind: output
expected: output of kubectl kustomize ($ORACLE) at generation time
render: $dir
SRC
  log "$name: $(grep -c '^kind:' "$dest/expected.yaml") objects"
done
