#!/usr/bin/env python3
"""Generates src/render/patch/schema_table.rs: the patch metadata of the Kubernetes schema.

Reads Kubernetes' OpenAPI v2 document (api/openapi-spec/swagger.json of k8s.io/kubernetes) and
keeps, for every type reachable from a top-level kind, the fields that matter to a strategic
merge patch: fields whose value is another type (object, list of objects, map of objects) and
fields carrying x-kubernetes-patch-strategy / x-kubernetes-patch-merge-key /
x-kubernetes-list-map-keys. It also records which kinds are cluster-scoped, from the API paths
(a kind served under `namespaces/{namespace}` is namespaced), the way kustomize's kyaml/openapi
does, plus the cluster-scoped kinds of kustomize's built-in v1.21.2 schema removed since.

Usage: scripts/gen-patch-schema.py [SWAGGER_JSON]
Without an argument the document of k8s.io/kubernetes v1.35.4 is read from the Go module cache
(fetch it with `go mod download k8s.io/kubernetes@v1.35.4`).
"""

import json
import os
import subprocess
import sys

K8S_VERSION = "v1.35.4"
OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "src", "render", "patch",
                   "schema_table.rs")

# Cluster-scoped kinds of kustomize's built-in schema (kyaml/openapi precomputedIsNamespaceScoped,
# Kubernetes v1.21.2) whose group/version is no longer served; kustomize still knows them.
LEGACY_CLUSTER_SCOPED = [
    ("policy", "PodSecurityPolicy"),
    ("extensions", "PodSecurityPolicy"),
    ("v1", "ComponentStatus"),  # group "" written as its version below
]


def swagger_path():
    if len(sys.argv) > 1:
        return sys.argv[1]
    cache = subprocess.run(["go", "env", "GOMODCACHE"], capture_output=True, text=True,
                           check=True).stdout.strip()
    return os.path.join(cache, "k8s.io", f"kubernetes@{K8S_VERSION}", "api", "openapi-spec",
                        "swagger.json")


def ref_name(schema):
    ref = schema.get("$ref")
    if ref is None:
        return None
    return ref.rsplit("/", 1)[-1]


def rust_str(s):
    return json.dumps(s)


def main():
    path = swagger_path()
    with open(path, encoding="utf-8") as f:
        doc = json.load(f)
    defs = doc["definitions"]

    # Top-level kinds: definitions with x-kubernetes-group-version-kind.
    kinds = []
    for name, d in defs.items():
        for gvk in d.get("x-kubernetes-group-version-kind", []):
            kinds.append((gvk["group"], gvk["version"], gvk["kind"], name))
    # Several definitions can claim the same GVK (meta/v1 DeleteOptions, WatchEvent ...); keep
    # the first by definition name for determinism.
    kinds.sort()
    seen_gvk = set()
    unique = []
    for g, v, k, name in kinds:
        if (g, v, k) in seen_gvk:
            continue
        seen_gvk.add((g, v, k))
        unique.append((g, v, k, name))
    kinds = unique

    # Fields that matter, per type.
    def interesting_fields(d):
        out = []
        for fname, p in sorted(d.get("properties", {}).items()):
            # As kyaml's PatchStrategyAndKeyList: keys only beside a strategy; the list-map
            # keys when present, else the single merge key. The first key is the merge key.
            strategy = p.get("x-kubernetes-patch-strategy", "")
            merge_key = p.get("x-kubernetes-patch-merge-key")
            if not strategy:
                keys = []
            elif "x-kubernetes-list-map-keys" in p:
                keys = list(p["x-kubernetes-list-map-keys"])
                if merge_key and keys[0] != merge_key:
                    keys.remove(merge_key)
                    keys.insert(0, merge_key)
            else:
                keys = [merge_key] if merge_key else []
            shape, target = None, None
            if ref_name(p):
                shape, target = "Object", ref_name(p)
            elif p.get("type") == "array":
                shape, target = "List", ref_name(p.get("items", {}))
            elif p.get("type") == "object" and isinstance(p.get("additionalProperties"), dict):
                target = ref_name(p["additionalProperties"])
                if target:
                    shape = "Map"
            if shape is None and not strategy:
                continue
            if shape is None:
                shape = "Object"
            out.append((fname, shape, target, strategy, keys))
        return out

    # A field matters when it carries a strategy or leads (through objects, maps and merged
    # lists) to one; anything else merges the same with or without a schema (maps recursively,
    # lists and scalars replaced), so the table leaves it out.
    matters = set()
    changed = True
    while changed:
        changed = False
        for name, d in defs.items():
            if name in matters:
                continue
            for _, shape, target, strategy, _ in interesting_fields(d):
                if strategy or (shape != "List" and target in matters):
                    matters.add(name)
                    changed = True
                    break

    def kept_fields(name):
        return [f for f in interesting_fields(defs[name])
                if f[3] or (f[1] != "List" and f[2] in matters)]

    reachable = []
    index = {}
    queue = sorted({name for _, _, _, name in kinds})
    while queue:
        name = queue.pop(0)
        if name in index or name not in defs:
            continue
        index[name] = len(reachable)
        reachable.append(name)
        for _, _, target, _, _ in kept_fields(name):
            if target and target not in index:
                queue.append(target)

    # Cluster scope from the paths, as kyaml/openapi findNamespaceability does.
    namespaced = {}
    for p, info in doc.get("paths", {}).items():
        get = info.get("get")
        if not get or "x-kubernetes-group-version-kind" not in get:
            continue
        gvk = get["x-kubernetes-group-version-kind"]
        key = (gvk["group"], gvk["kind"])
        if "namespaces/{namespace}" in p:
            namespaced[key] = True
        else:
            namespaced.setdefault(key, False)
    cluster = sorted(k for k, ns in namespaced.items() if not ns)
    for g, k in LEGACY_CLUSTER_SCOPED:
        key = ("" if g == "v1" else g, k)
        if key not in cluster:
            cluster.append(key)
    cluster.sort()

    lines = []
    w = lines.append
    w(f"// @generated by scripts/gen-patch-schema.py from Kubernetes {K8S_VERSION}")
    w("// api/openapi-spec/swagger.json (Apache-2.0). Do not edit; run the script instead.")
    w("")
    w("use super::{FieldDef, KindDef, NONE, Shape, TypeDef};")
    w("")
    w("/// Kubernetes version the table was generated from.")
    w(f"pub const KUBERNETES_VERSION: &str = {rust_str(K8S_VERSION)};")
    w("")
    w("/// Types reachable from a kind, with the fields that matter to a strategic merge.")
    w("pub static TYPES: &[TypeDef] = &[")
    for i, name in enumerate(reachable):
        fields = kept_fields(name)
        w(f"    // {i}")
        w(f"    TypeDef {{ name: {rust_str(name)}, fields: &[")
        for fname, shape, target, strategy, keys in fields:
            ty = index.get(target, "NONE") if target else "NONE"
            ks = ", ".join(rust_str(k) for k in keys)
            w(f"        FieldDef {{ name: {rust_str(fname)}, shape: Shape::{shape}, ty: {ty}, "
              f"strategy: {rust_str(strategy)}, keys: &[{ks}] }},")
        w("    ] },")
    w("];")
    w("")
    w("/// Top-level kinds, sorted by (group, version, kind).")
    w("pub static KINDS: &[KindDef] = &[")
    for g, v, k, name in kinds:
        if name not in index:
            continue
        w(f"    KindDef {{ group: {rust_str(g)}, version: {rust_str(v)}, kind: {rust_str(k)}, "
          f"ty: {index[name]} }},")
    w("];")
    w("")
    w("/// Cluster-scoped kinds as (group, kind), sorted.")
    w("pub static CLUSTER_SCOPED: &[(&str, &str)] = &[")
    for g, k in cluster:
        w(f"    ({rust_str(g)}, {rust_str(k)}),")
    w("];")
    w("")
    with open(OUT, "w", encoding="utf-8") as f:
        f.write("\n".join(lines))
    print(f"wrote {OUT}: {len(reachable)} types, {len(kinds)} kinds, {len(cluster)} cluster-scoped",
          file=sys.stderr)


if __name__ == "__main__":
    main()
