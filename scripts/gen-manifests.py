#!/usr/bin/env python3
"""Generates a realistic manifest tree for benchmarks: Deployments, Services and ConfigMaps.

Usage: gen-manifests.py --count N --out DIR [--image IMAGE] [--replicas R] [--namespace NS]
Objects are split into directories of 100 files; each file holds one app (3 objects).
"""
import argparse
import os

DEPLOY = """apiVersion: apps/v1
kind: Deployment
metadata:
  name: {name}
  labels:
    app.kubernetes.io/name: {name}
    app.kubernetes.io/part-of: bench
spec:
  replicas: {replicas}
  selector:
    matchLabels:
      app.kubernetes.io/name: {name}
  template:
    metadata:
      labels:
        app.kubernetes.io/name: {name}
    spec:
      containers:
        - name: app
          image: {image}
          ports:
            - containerPort: 8080
              name: http
          env:
            - name: MODE
              value: bench
          resources:
            requests:
              cpu: 10m
              memory: 16Mi
"""
SERVICE = """apiVersion: v1
kind: Service
metadata:
  name: {name}
  labels:
    app.kubernetes.io/name: {name}
spec:
  selector:
    app.kubernetes.io/name: {name}
  ports:
    - name: http
      port: 80
      targetPort: http
      protocol: TCP
"""
CONFIGMAP = """apiVersion: v1
kind: ConfigMap
metadata:
  name: {name}-config
  labels:
    app.kubernetes.io/name: {name}
data:
  settings.json: |
    {{"name": "{name}", "threads": 4, "verbose": false}}
  LOG_LEVEL: info
"""


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--count", type=int, required=True, help="number of objects")
    ap.add_argument("--out", required=True)
    ap.add_argument("--image", default="registry.example/bench/app:${TAG}")
    ap.add_argument("--replicas", type=int, default=1)
    ap.add_argument("--namespace", default=None)
    ap.add_argument("--kinds", default="deploy,svc,cm")
    a = ap.parse_args()
    kinds = a.kinds.split(",")
    templates = {"deploy": DEPLOY, "svc": SERVICE, "cm": CONFIGMAP}
    made = 0
    app = 0
    while made < a.count:
        name = f"app-{app:05d}"
        docs = []
        for k in kinds:
            if made >= a.count:
                break
            doc = templates[k].format(name=name, image=a.image, replicas=a.replicas)
            if a.namespace:
                doc = doc.replace("metadata:\n", f"metadata:\n  namespace: {a.namespace}\n", 1)
            docs.append(doc)
            made += 1
        d = os.path.join(a.out, f"{app // 100:02d}")
        os.makedirs(d, exist_ok=True)
        with open(os.path.join(d, f"{name}.yaml"), "w") as f:
            f.write("---\n".join(docs))
        app += 1
    print(a.out)


if __name__ == "__main__":
    main()
