#!/usr/bin/env python3
"""Writes the conformance corpus's kustomizations that use `helmCharts`.

Usage: gen-helmcharts.py KUBECTL_OR_KUSTOMIZE HELM3 [OUT_DIR]

Charts come from Go modules (the Go module proxy, `go mod download`): kustomize's own test chart
and values files (sigs.k8s.io/kustomize/api, api/krusty/testdata/helmcharts) with the
kustomizations of its local-chart tests (api/krusty/helmchartinflationgenerator_test.go), and
metrics-server's chart (sigs.k8s.io/metrics-server, charts/metrics-server) under overlays that
exercise every helmCharts field kpush renders and the transformers around it; plus one small
chart of this project with CRDs and hooks (includeCRDs, skipHooks). Each case is written to
OUT_DIR/repos/helm--<name>/ with the chart, the module's license, expected.yaml (the oracle's
`--enable-helm --helm-command HELM3` output: kustomize v5.7.1 runs only Helm 3) and SOURCE
(`generated:`, `helm: true`). Cases whose SOURCE starts with "generated: gen-helmcharts" are this
script's: it deletes them first.
"""

import json
import os
import re
import pathlib
import shutil
import subprocess
import sys

KUSTOMIZE_API = ("sigs.k8s.io/kustomize/api", "v0.20.1", "https://github.com/kubernetes-sigs/kustomize")
METRICS_SERVER = ("sigs.k8s.io/metrics-server", "v0.9.0", "https://github.com/kubernetes-sigs/metrics-server")
MARK = "generated: gen-helmcharts"


def module_dir(module, version):
    info = json.loads(subprocess.check_output(["go", "mod", "download", "-json", f"{module}@{version}"]))
    return pathlib.Path(info["Dir"])


def copytree(src, dest):
    shutil.copytree(src, dest, dirs_exist_ok=True)
    for p in [dest, *dest.rglob("*")]:
        os.chmod(p, 0o755 if p.is_dir() else 0o644)  # the module cache is read-only


def write(dest, files):
    for rel, text in files.items():
        p = dest / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text)


def render(oracle, helm, d):
    kubectl = pathlib.Path(oracle).name.startswith("kubectl")
    args = [oracle, "kustomize" if kubectl else "build", str(d), "--enable-helm", "--helm-command", helm]
    return subprocess.run(args, capture_output=True, text=True, timeout=120,
                          env={"PATH": "/usr/bin:/bin", "HOME": "/nonexistent"})


# kustomize's local-chart tests: test name -> kustomization (charts/ holds test-chart and
# valuesFiles, as copyValuesFilesTestChartsIntoHarness lays them out).
KRUSTY = {
    "TestHelmChartInflationGeneratorMultipleValuesFiles": """helmCharts:
  - name: test-chart
    releaseName: test-chart
    additionalValuesFiles:
    - charts/valuesFiles/file1.yaml
    - charts/valuesFiles/file2.yaml
""",
    "TestHelmChartInflationGeneratorApiVersions": """helmCharts:
  - name: test-chart
    releaseName: test-chart
    apiVersions:
    - foo/v1
""",
    "TestHelmChartInflationGeneratorSkipTests": """helmCharts:
  - name: test-chart
    releaseName: test-chart
    skipTests: true
""",
    "TestHelmChartInflationGeneratorNameTemplate": """helmCharts:
  - name: test-chart
    nameTemplate: name-template
""",
}

# Overlays over metrics-server's chart (charts/metrics-server below each case's chart home).
METRICS = {
    # The chart through the overlay's transformers: namespace, prefix, labels, images, patches,
    # replicas; valuesInline over the chart's values (override), a release namespace, and the
    # capabilities that turn the PodDisruptionBudget on.
    "metrics-server-overlay": {
        "kustomization.yaml": """apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
namespace: monitoring
namePrefix: team-
labels:
- pairs:
    app.kubernetes.io/part-of: platform
  includeSelectors: false
helmCharts:
- name: metrics-server
  releaseName: metrics
  namespace: monitoring
  kubeVersion: "1.35.4"
  apiVersions:
  - policy/v1
  valuesInline:
    replicas: 2
    podDisruptionBudget:
      enabled: true
      minAvailable: 1
    args:
    - --kubelet-insecure-tls
    apiService:
      create: false
images:
- name: registry.k8s.io/metrics-server/metrics-server
  newName: myacr.azurecr.io/metrics-server
  newTag: v0.8.0
patches:
- target:
    kind: Deployment
    name: metrics-metrics-server
  patch: |
    - op: add
      path: /spec/template/spec/nodeSelector
      value:
        kubernetes.io/os: linux
replicas:
- name: metrics-metrics-server
  count: 3
""",
    },
    # A base inflating the chart with a valuesFile and additionalValuesFiles; an overlay adds a
    # component (kind: Component) with a ConfigMap generator, a replacement from it into the
    # chart's Deployment, and a strategic merge patch.
    "metrics-server-component": {
        "base/kustomization.yaml": """apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
helmGlobals:
  chartHome: vendor
helmCharts:
- name: metrics-server
  releaseName: metrics-server
  namespace: kube-system
  valuesFile: values/base.yaml
  additionalValuesFiles:
  - values/ha.yaml
  includeCRDs: true
""",
        "base/values/base.yaml": """replicas: 1
commonLabels:
  team: observability
service:
  labels:
    scrape: "true"
""",
        "base/values/ha.yaml": """replicas: 2
updateStrategy:
  type: RollingUpdate
  rollingUpdate:
    maxUnavailable: 1
""",
        "components/resolution/kustomization.yaml": """apiVersion: kustomize.config.k8s.io/v1alpha1
kind: Component
configMapGenerator:
- name: metrics-settings
  namespace: kube-system
  literals:
  - resolution=30s
replacements:
- source:
    kind: ConfigMap
    name: metrics-settings
    fieldPath: data.resolution
  targets:
  - select:
      kind: Deployment
      name: metrics-server
    fieldPaths:
    - spec.template.metadata.annotations.metrics-resolution
    options:
      create: true
patches:
- path: resources.yaml
""",
        "components/resolution/resources.yaml": """apiVersion: apps/v1
kind: Deployment
metadata:
  name: metrics-server
  namespace: kube-system
spec:
  template:
    spec:
      containers:
      - name: metrics-server
        resources:
          requests:
            cpu: 200m
            memory: 300Mi
""",
        "overlay/kustomization.yaml": """apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
resources:
- ../base
components:
- ../components/resolution
commonAnnotations:
  owner: platform-team
""",
    },
    # valuesMerge: merge (the chart's values win over the inline ones) and replace (the inline
    # values alone, over the chart's defaults).
    "metrics-server-values-merge": {
        "kustomization.yaml": """helmCharts:
- name: metrics-server
  releaseName: kept
  valuesMerge: merge
  valuesInline:
    replicas: 4
    priorityClassName: ""
    service:
      port: 8443
""",
    },
    "metrics-server-values-replace": {
        "kustomization.yaml": """helmCharts:
- name: metrics-server
  releaseName: replaced
  valuesMerge: replace
  valuesInline:
    replicas: 5
    apiService:
      create: false
""",
    },
    # Two releases that both make the APIService v1beta1.metrics.k8s.io: kustomize refuses the
    # second object with one identity, and so does kpush.
    "error-two-releases-one-apiservice": {
        "kustomization.yaml": """helmCharts:
- name: metrics-server
  releaseName: one
- name: metrics-server
  releaseName: two
""",
    },
}

# A chart of this project: a CRD in crds/, a hook Job, a ConfigMap.
OWN_CHART = {
    "Chart.yaml": "apiVersion: v2\nname: widgets\nversion: 0.3.0\nappVersion: \"1.0\"\n",
    "values.yaml": "greeting: hello\n",
    "crds/widget.yaml": """apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: widgets.example.com
spec:
  group: example.com
  names:
    kind: Widget
    plural: widgets
  scope: Namespaced
  versions:
  - name: v1
    served: true
    storage: true
    schema:
      openAPIV3Schema:
        type: object
        x-kubernetes-preserve-unknown-fields: true
""",
    "templates/configmap.yaml": """apiVersion: v1
kind: ConfigMap
metadata:
  name: {{ .Release.Name }}-config
  namespace: {{ .Release.Namespace }}
data:
  greeting: {{ .Values.greeting | quote }}
  kube: {{ .Capabilities.KubeVersion.Version | quote }}
""",
    "templates/migrate.yaml": """apiVersion: batch/v1
kind: Job
metadata:
  name: {{ .Release.Name }}-migrate
  annotations:
    helm.sh/hook: pre-install,pre-upgrade
    helm.sh/hook-delete-policy: hook-succeeded
spec:
  template:
    spec:
      restartPolicy: Never
      containers:
      - name: migrate
        image: example.com/migrate:1
""",
}

OWN = {
    "widgets-crds-and-hooks": """helmCharts:
- name: widgets
  releaseName: w
  namespace: apps
  includeCRDs: true
  kubeVersion: v1.33.0
  valuesInline:
    greeting: hi
""",
    "widgets-skip-hooks": """namespace: apps
helmCharts:
- name: widgets
  releaseName: w
  skipHooks: true
""",
    # The deprecated helmChartInflationGenerator, which kustomize turns into helmCharts and
    # helmGlobals (its chartHome here), beside a helmCharts entry of another release.
    "widgets-deprecated-generator": """helmChartInflationGenerator:
- chartName: widgets
  chartHome: charts
  releaseName: old
  values: charts/widgets/values.yaml
  valuesLocal:
    greeting: hey
helmCharts:
- name: widgets
  releaseName: new
  namespace: other
""",
}

# Cases where kustomize must fail, and kpush too (exit 2).
ERRORS = {
    "error-no-chart-no-repo": "helmCharts:\n- name: absent\n  releaseName: absent\n",
    "error-values-merge": "helmCharts:\n- name: widgets\n  releaseName: w\n  valuesMerge: mix\n  valuesInline:\n    a: 1\n",
}


def main():
    oracle, helm = sys.argv[1], sys.argv[2]
    out = pathlib.Path(sys.argv[3] if len(sys.argv) > 3 else "tests/fixtures/kustomize") / "repos"
    out.mkdir(parents=True, exist_ok=True)
    for case in out.iterdir():
        source = case / "SOURCE"
        if case.is_dir() and source.exists() and source.read_text().startswith(MARK):
            shutil.rmtree(case)
    api = module_dir(*KUSTOMIZE_API[:2])
    metrics = module_dir(*METRICS_SERVER[:2])
    kept = 0

    def finish(dest, render_dir, origin, license_text, expect_error=False):
        nonlocal kept
        p = render(oracle, helm, dest / render_dir)
        if expect_error:
            if p.returncode == 0:
                raise SystemExit(f"{dest.name}: the oracle renders an error case")
            last = p.stderr.strip().splitlines()[-1]
            (dest / "expected-error.txt").write_text(re.sub(r"0x[0-9a-f]+", "0x…", last) + "\n")
        else:
            if p.returncode != 0:
                raise SystemExit(f"{dest.name}: the oracle fails: {p.stderr.strip()}")
            (dest / "expected.yaml").write_text(p.stdout)
        if license_text is not None:
            (dest / "LICENSE").write_bytes(license_text)
        (dest / "SOURCE").write_text(
            f"{MARK}.py (scripts/kustomize-corpus/gen-helmcharts.py)\n"
            f"{origin}"
            f"kind: {'error' if expect_error else 'output'}\n"
            f"expected: {'error' if expect_error else 'output'} of kubectl kustomize --enable-helm "
            f"--helm-command <helm v3> (kustomize v5.7.1) when generated\n"
            f"render: {render_dir}\n"
            f"helm: true\n")
        kept += 1

    chart_src = api / "krusty/testdata/helmcharts"
    for test, k in KRUSTY.items():
        dest = out / f"helm--krusty-{test}"
        copytree(chart_src / "test-chart", dest / "charts/test-chart")
        copytree(chart_src / "valuesFiles", dest / "charts/valuesFiles")
        write(dest, {"kustomization.yaml": k})
        finish(dest, ".",
               f"module: {KUSTOMIZE_API[0]}@{KUSTOMIZE_API[1]} (Go module proxy; go mod download -json "
               f"{KUSTOMIZE_API[0]}@{KUSTOMIZE_API[1]})\n"
               f"repository: {KUSTOMIZE_API[2]}\n"
               f"path: krusty/testdata/helmcharts (chart and values files, inside the module); the "
               f"kustomization is {test}'s in krusty/helmchartinflationgenerator_test.go\n"
               f"license: Apache-2.0 (see LICENSE, the module's LICENSE)\n",
               (api / "LICENSE").read_bytes())

    for case, files in METRICS.items():
        dest = out / f"helm--{case}"
        write(dest, files)
        home = "base/vendor" if "base/kustomization.yaml" in files else "charts"
        copytree(metrics / "charts/metrics-server", dest / home / "metrics-server")
        render_dir = "overlay" if "overlay/kustomization.yaml" in files else "."
        error = case.startswith("error-")
        finish(dest, render_dir,
               f"module: {METRICS_SERVER[0]}@{METRICS_SERVER[1]} (Go module proxy; go mod download -json "
               f"{METRICS_SERVER[0]}@{METRICS_SERVER[1]})\n"
               f"repository: {METRICS_SERVER[2]}\n"
               f"path: charts/metrics-server (the chart, inside the module, in {home}/metrics-server); "
               f"the kustomizations and values files are this project's\n"
               f"license: Apache-2.0 (see LICENSE, the module's LICENSE)\n",
               (metrics / "LICENSE").read_bytes(), expect_error=error)

    for case, k in OWN.items():
        dest = out / f"helm--{case}"
        write(dest, {"kustomization.yaml": k, **{f"charts/widgets/{f}": t for f, t in OWN_CHART.items()}})
        finish(dest, ".", "origin: this project (chart and kustomization written for the corpus)\n"
               "license: the project's own\n", None)

    for case, k in ERRORS.items():
        dest = out / f"helm--{case}"
        write(dest, {"kustomization.yaml": k, **{f"charts/widgets/{f}": t for f, t in OWN_CHART.items()}})
        finish(dest, ".", "origin: this project (kustomization written for the corpus)\n"
               "license: the project's own\n", None, expect_error=True)

    print(f"wrote {kept} helmCharts cases")


if __name__ == "__main__":
    main()
