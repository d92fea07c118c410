#!/usr/bin/env python3
"""Extracts kustomize's strategic-merge test cases into JSON fixtures for kpush's unit tests.

Sources (sigs.k8s.io/kustomize, Apache-2.0, Copyright The Kubernetes Authors):
  kyaml/yaml/merge2/{scalar,list,element,map}_test.go  -> testdata/kyaml-merge2.json
  api/filters/patchstrategicmerge/patchstrategicmerge_test.go -> testdata/kustomize-psm.json
  api/filters/replacement/replacement_test.go (TestFilter) -> testdata/kustomize-replacement.json
  api/filters/refvar/expand_test.go (TestMapping) -> testdata/kustomize-refvar-expand.json
Each case keeps its source file and test name. Cases that need what kpush does not model
(schemas given as YAML line comments, inferred associative keys) are kept and marked `skip`
with the reason, so the fixture stays a faithful copy.

Usage: scripts/port-kustomize-patch-tests.py KUSTOMIZE_GIT_DIR [COMMIT]
(a clone or bare mirror of github.com/kubernetes-sigs/kustomize).
"""

import json
import os
import re
import subprocess
import sys

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "src", "render", "patch",
                   "testdata")

# Cases whose expectation kpush cannot meet by design, with the reason.
KNOWN = {
    "kyaml/yaml/merge2/list_test.go merge k8s deployment containers -- $patch directive":
        "the expected order comes from kyaml's FormatInput, which the Go test applies to both "
        "sides; merge2 itself appends foo1..foo3 after foo4, foo5 (checked by running it)",
    "api/filters/patchstrategicmerge/patchstrategicmerge_test.go TestFilter/nullMapEntry1":
        "kustomize drops a target's empty value (`B:`) but keeps `B: null`; parsed objects "
        "cannot tell the two apart, so kpush drops such nulls in built-in kinds and keeps them "
        "in custom resources (this case is one)",
}

FIELD = re.compile(r"(\w+):\s*(?:yaml\.MustParse\()?`([^`]*)`")


def show(git_dir, commit, path):
    return subprocess.run(["git", "-C", git_dir, "show", f"{commit}:{path}"], check=True,
                          capture_output=True, text=True).stdout


def merge2_cases(src, path):
    cases = []
    for block in re.split(r"\{\s*description:", src)[1:]:
        m = re.match(r"\s*`([^`]*)`", block)
        if not m:
            continue
        fields = dict(FIELD.findall(block))
        case = {
            "source": f"{path} {m.group(1)}",
            "patch": fields.get("source", ""),
            "dest": fields.get("dest", ""),
            "expected": fields.get("expected", ""),
            "prepend": "MergeOptionsListPrepend" in block.split("description:")[0],
        }
        reasons = []
        if re.search(r"infer:\s*true", block):
            reasons.append("inferred associative keys (kustomize's patch filter never infers)")
        if "# {" in case["patch"] + case["dest"]:
            reasons.append("schema given as a YAML line comment")
        if reasons:
            case["skip"] = "; ".join(reasons)
        cases.append(case)
    return cases


def psm_cases(src, path):
    cases = []
    for name, block in re.findall(r'\n\t\t"([^"]+)": \{(.*?)\n\t\t\},', src, re.S):
        fields = dict(FIELD.findall(block))
        cases.append({
            "source": f"{path} TestFilter/{name}",
            "patch": fields.get("patch", ""),
            "dest": fields.get("input", ""),
            "expected": fields.get("expected", ""),
            "prepend": True,
        })
    return cases


QUOTED = re.compile(r'(\w+):\s*"((?:[^"\\]|\\.)*)"')


def replacement_cases(src, path):
    body = src.split("func TestValueInlineStructuredData")[0]
    cases = []
    for name, block in re.findall(r'\n\t\t"([^"]+)": \{(.*?)\n\t\t\},', body, re.S):
        fields = dict(FIELD.findall(block))
        for k, v in QUOTED.findall(block):
            fields.setdefault(k, json.loads(f'"{v}"'))
        cases.append({
            "source": f"{path} TestFilter/{name}",
            "input": fields.get("input", ""),
            "replacements": fields.get("replacements", ""),
            "expected": fields.get("expected", ""),
            "expected_err": fields.get("expectedErr", ""),
        })
    return cases


def go_string(lit):
    """A Go interpreted or raw string literal's value."""
    if lit.startswith("`"):
        return lit[1:-1]
    return json.loads(lit)


def expand_cases(src, path):
    body = src[src.index("func TestMapping"):]
    cases = []
    for block in re.split(r"\n\t\t\{\n", body)[1:]:
        fields = dict(re.findall(r'(name|input|expected):\s*("(?:[^"\\]|\\.)*"|`[^`]*`)', block))
        if "name" not in fields:
            continue
        counts = {k: int(v) for k, v in
                  re.findall(r'"(\w+)":\s*(\d+)', block.split("counts:")[1])} \
            if "counts:" in block else {}
        cases.append({
            "source": f"{path} TestMapping/{go_string(fields['name'])}",
            "input": go_string(fields["input"]),
            "expected": go_string(fields["expected"]),
            "counts": counts,
        })
    return cases


def main():
    git_dir = sys.argv[1]
    commit = sys.argv[2] if len(sys.argv) > 2 else "HEAD"
    commit = subprocess.run(["git", "-C", git_dir, "rev-parse", commit], check=True,
                            capture_output=True, text=True).stdout.strip()
    header = {
        "origin": "https://github.com/kubernetes-sigs/kustomize",
        "commit": commit,
        "license": "Apache-2.0, Copyright The Kubernetes Authors",
    }
    merge2 = []
    for name in ["scalar", "list", "element", "map"]:
        path = f"kyaml/yaml/merge2/{name}_test.go"
        merge2 += merge2_cases(show(git_dir, commit, path), path)
    path = "api/filters/patchstrategicmerge/patchstrategicmerge_test.go"
    psm = psm_cases(show(git_dir, commit, path), path)
    path = "api/filters/replacement/replacement_test.go"
    repl = replacement_cases(show(git_dir, commit, path), path)
    path = "api/filters/refvar/expand_test.go"
    expand = expand_cases(show(git_dir, commit, path), path)
    os.makedirs(OUT, exist_ok=True)
    for case in merge2 + psm + repl:
        if case["source"] in KNOWN:
            case["skip"] = KNOWN[case["source"]]
    for file, cases in [("kyaml-merge2.json", merge2), ("kustomize-psm.json", psm),
                        ("kustomize-replacement.json", repl),
                        ("kustomize-refvar-expand.json", expand)]:
        with open(os.path.join(OUT, file), "w", encoding="utf-8") as f:
            json.dump({**header, "cases": cases}, f, indent=1)
            f.write("\n")
        print(f"{file}: {len(cases)} cases", file=sys.stderr)


if __name__ == "__main__":
    main()
