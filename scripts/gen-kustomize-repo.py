#!/usr/bin/env python3
"""Writes a kustomize repository for benchmarks: one base and N overlays.

Usage: gen-kustomize-repo.py --overlays 50 --out DIR

The base holds SERVICES services (Deployment, Service, ServiceAccount, HorizontalPodAutoscaler,
a ConfigMap generator each) plus an Ingress; a Component adds monitoring annotations and a
sidecar. Each overlay `overlays/envNN` sets a namespace, a name prefix, labels and annotations,
images, replicas, a strategic-merge patch file, an inline JSON 6902 patch, ConfigMap generators
(merge with the base's, files and literals), a Secret generator, and every other overlay uses the
component: the features a real repository's overlays use, so every renderer does the same work.
"""

import argparse
import pathlib

SERVICES = ["web", "api", "worker", "cart", "checkout", "search", "auth", "mail"]


def base(out):
    d = out / "base"
    d.mkdir(parents=True)
    resources, generators = [], []
    for s in SERVICES:
        (d / f"{s}.yaml").write_text(f"""apiVersion: apps/v1
kind: Deployment
metadata:
  name: {s}
spec:
  replicas: 2
  selector:
    matchLabels:
      component: {s}
  template:
    metadata:
      labels:
        component: {s}
    spec:
      serviceAccountName: {s}
      containers:
        - name: {s}
          image: registry.example/shop/{s}:1.0.0
          ports:
            - containerPort: 8080
          envFrom:
            - configMapRef:
                name: {s}-config
          env:
            - name: DB_PASSWORD
              valueFrom:
                secretKeyRef:
                  name: db
                  key: password
          resources:
            requests: {{cpu: 100m, memory: 128Mi}}
          readinessProbe:
            httpGet: {{path: /healthz, port: 8080}}
        - name: proxy
          image: envoyproxy/envoy:v1.30.0
---
apiVersion: v1
kind: Service
metadata:
  name: {s}
spec:
  selector:
    component: {s}
  ports:
    - port: 80
      targetPort: 8080
      protocol: TCP
---
apiVersion: v1
kind: ServiceAccount
metadata:
  name: {s}
---
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata:
  name: {s}
spec:
  scaleTargetRef:
    apiVersion: apps/v1
    kind: Deployment
    name: {s}
  minReplicas: 2
  maxReplicas: 10
  metrics:
    - type: Resource
      resource:
        name: cpu
        target: {{type: Utilization, averageUtilization: 70}}
""")
        resources.append(f"{s}.yaml")
        generators.append(f"""  - name: {s}-config
    literals:
      - SERVICE={s}
      - LOG_LEVEL=info
      - PORT=8080""")
    rules = "\n".join(f"""    - host: {s}.shop.example
      http:
        paths:
          - path: /
            pathType: Prefix
            backend:
              service:
                name: {s}
                port: {{number: 80}}""" for s in SERVICES)
    (d / "ingress.yaml").write_text(f"""apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: shop
spec:
  rules:
{rules}
""")
    resources.append("ingress.yaml")
    (d / "kustomization.yaml").write_text(
        "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\n"
        "labels:\n  - pairs:\n      app.kubernetes.io/part-of: shop\n    includeSelectors: true\n"
        "resources:\n" + "".join(f"  - {r}\n" for r in resources)
        + "configMapGenerator:\n" + "\n".join(generators) + "\n")


def component(out):
    d = out / "components" / "monitoring"
    d.mkdir(parents=True)
    (d / "kustomization.yaml").write_text("""apiVersion: kustomize.config.k8s.io/v1alpha1
kind: Component
commonAnnotations:
  prometheus.io/scrape: "true"
patches:
  - target:
      kind: Deployment
    patch: |-
      - op: add
        path: /spec/template/spec/containers/-
        value:
          name: exporter
          image: prom/statsd-exporter:v0.26.0
""")


def overlay(out, n):
    name = f"env{n:02d}"
    d = out / "overlays" / name
    d.mkdir(parents=True)
    (d / "resources-patch.yaml").write_text(f"""apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  template:
    spec:
      containers:
        - name: web
          resources:
            limits: {{cpu: "{1 + n % 4}", memory: {256 * (1 + n % 3)}Mi}}
          env:
            - name: ENVIRONMENT
              value: {name}
""")
    (d / "settings.json").write_text(f'{{"environment": "{name}", "features": ["a", "b"], "shard": {n}}}\n')
    components = "components:\n  - ../../components/monitoring\n" if n % 2 == 0 else ""
    (d / "kustomization.yaml").write_text(f"""apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
namespace: shop-{name}
namePrefix: {name}-
resources:
  - ../../base
{components}labels:
  - pairs:
      environment: {name}
commonAnnotations:
  team.example/owner: team-{n % 7}
images:
  - name: registry.example/shop/web
    newTag: "1.{n}.0"
  - name: registry.example/shop/api
    newName: registry.example/shop/api-{name}
    newTag: "2.{n}.1"
  - name: envoyproxy/envoy
    digest: sha256:{n:064x}
replicas:
  - name: web
    count: {2 + n % 5}
  - name: worker
    count: {1 + n % 3}
patches:
  - path: resources-patch.yaml
  - target:
      kind: Deployment
      name: api
    patch: |-
      - op: replace
        path: /spec/template/spec/containers/0/ports/0/containerPort
        value: {9000 + n}
configMapGenerator:
  - name: web-config
    behavior: merge
    literals:
      - LOG_LEVEL=debug
      - ENVIRONMENT={name}
  - name: overlay-settings
    files:
      - settings.json
secretGenerator:
  - name: db
    literals:
      - password=bench-{n}
""")


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--overlays", type=int, default=50)
    p.add_argument("--out", required=True)
    a = p.parse_args()
    out = pathlib.Path(a.out)
    base(out)
    component(out)
    for n in range(1, a.overlays + 1):
        overlay(out, n)
    print(out)


if __name__ == "__main__":
    main()
