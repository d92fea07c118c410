#!/usr/bin/env python3
"""Turns recorded krusty tests (scripts/kustomize-corpus/record-krusty.sh) into fixtures.

Usage: extract-krusty.py RECORDS KUSTOMIZE_BIN [OUT_DIR]

Each test assertion (`th.Run` + `AssertActualEqualsExpected`) becomes
OUT_DIR/krusty/<TestName>/{input files..., expected.yaml, SOURCE}; each run that kustomize
refuses (`th.RunWithErr`) becomes OUT_DIR/krusty-errors/<TestName>/{input files...,
expected-error.txt, SOURCE}. A case is kept only when the standalone kustomize CLI (the same
version) agrees with the test: same objects for a success, an error for an error case. Everything
left out is listed with its reason in OUT_DIR/krusty/SKIPPED.txt.

Needs PyYAML (Debian: python3-yaml). Writes nothing outside OUT_DIR.
"""

import json
import os
import pathlib
import re
import shutil
import subprocess
import sys
import tempfile

import yaml

REPO = "https://github.com/kubernetes-sigs/kustomize"
# The api module is cut from this commit (tag api/v0.20.1); kustomize/v5.7.1 (168971a5) has the
# same api/ tree. Checked: `git diff 8b42cd99 168971a5 -- api/` is empty.
COMMITS = {
    "v0.20.1": ("8b42cd9918f226dca98703088ba8af0b320df8a3", "api/v0.20.1"),
}
RESERVED = {"expected.yaml", "expected-error.txt", "SOURCE"}
REMOTE = re.compile(r"(https?|git|ssh)://|github\.com[/:]|gitlab\.com|\?ref=|\bgit@")


def sanitize(name):
    return re.sub(r"[^A-Za-z0-9_.-]", "_", name.replace("/", "__"))


def canonical(text):
    """Objects of a multi-document YAML stream as canonical JSON strings, in order."""
    docs = [d for d in yaml.safe_load_all(text) if d is not None]
    return [json.dumps(d, sort_keys=True, default=str) for d in docs]


def test_sources(module_dir):
    """Top-level test function name -> file path inside the repository."""
    out = {}
    for path in sorted((module_dir / "krusty").glob("*_test.go")):
        for m in re.finditer(r"^func (Test\w+)\(", path.read_text(), re.M):
            out[m.group(1)] = f"api/krusty/{path.name}"
    return out


def skip_reason(run):
    if run is None:
        return "asserts on a ResMap built without the harness's Run (a Go API unit test)"
    if run["fs"] != "*filesys.fsNode":
        return "uses an on-disk filesystem (temporary directories or symlinks), not a file tree"
    o = run["options"]
    if o.get("helm") == "true" or o.get("pluginRestrictions") == "PluginRestrictionsNone" or o.get("fnExec") == "true":
        return "needs plugins (helm, exec, Go or KRM function plugins enabled)"
    if o.get("loadRestrictions") != "LoadRestrictionsRootOnly":
        return "needs --load-restrictor LoadRestrictionsNone"
    if o.get("addManagedbyLabel") == "true":
        return "needs --enable-managedby-label"
    if not run["files"]:
        return "writes no files"
    for path, content in run["files"].items():
        if pathlib.PurePosixPath(path).name in RESERVED:
            return f"writes a file named {pathlib.PurePosixPath(path).name}, which the fixture layout reserves"
        if pathlib.PurePosixPath(path).name in ("kustomization.yaml", "kustomization.yml", "Kustomization"):
            if REMOTE.search(content):
                return "refers to a remote resource (network)"
            if "helmCharts" in content or "helmChartInflationGenerator" in content:
                return "uses helmCharts (needs helm)"
    return None


def silent_reason(path):
    """Why a test function recorded nothing, from the file it lives in."""
    if "helm" in path or "chartinflator" in path:
        return "needs helm (the test skips itself without it)"
    if "fnplugin" in path:
        return "needs KRM function plugins (containers or exec)"
    if "remoteloader" in path:
        return "loads remote resources (network)"
    if "transformerplugin" in path:
        return "needs Go or exec plugins"
    return "builds nothing through the harness's Run (remote origin annotations or Go API checks)"


def layout(run):
    """(common root, {relative path: content}, render dir relative to the root)."""
    files = {}
    for path, content in run["files"].items():
        files[str(pathlib.PurePosixPath("/") / path)] = content
    run_dir = str(pathlib.PurePosixPath("/") / run["dir"])
    root = os.path.commonpath([run_dir] + [os.path.dirname(p) for p in files])
    rel = {os.path.relpath(p, root): c for p, c in files.items()}
    return root, rel, os.path.relpath(run_dir, root)


def write_tree(dest, files):
    for rel, content in files.items():
        p = dest / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(content)


def run_cli(kustomize, fixture, render):
    p = subprocess.run(
        [kustomize, "build", str(fixture / render)],
        capture_output=True, text=True, timeout=60,
        env={"PATH": "/usr/bin:/bin", "HOME": "/nonexistent"},
    )
    return p.returncode, p.stdout, p.stderr.strip()


def source_text(version, path, test, render, kind):
    commit, tag = COMMITS[version]
    return (
        f"repository: {REPO}\n"
        f"commit: {commit}\n"
        f"tag: {tag} (Go module sigs.k8s.io/kustomize/api {version}, used by kustomize v5.7.1 and kubectl 1.35)\n"
        f"path: {path}\n"
        f"test: {test}\n"
        f"license: Apache-2.0 (Copyright The Kubernetes Authors; see ../LICENSE)\n"
        f"kind: {kind}\n"
        f"render: {render}\n"
    )


def main():
    records_path, kustomize = sys.argv[1], sys.argv[2]
    out = pathlib.Path(sys.argv[3] if len(sys.argv) > 3 else "tests/fixtures/kustomize")
    version = pathlib.Path(records_path + ".version").read_text().strip()
    module_dir = pathlib.Path(json.loads(subprocess.check_output(
        ["go", "mod", "download", "-json", f"sigs.k8s.io/kustomize/api@{version}"],
        cwd="testenv/tools/kustomize"))["Dir"])
    sources = test_sources(module_dir)
    records = [json.loads(line) for line in open(records_path)]

    for sub in ("krusty", "krusty-errors"):
        shutil.rmtree(out / sub, ignore_errors=True)
        (out / sub).mkdir(parents=True)
    shutil.copy(module_dir / "LICENSE", out / "krusty" / "LICENSE")
    shutil.copy(module_dir / "LICENSE", out / "krusty-errors" / "LICENSE")

    last_run = {}
    used = set()
    kept, skipped = [], []
    for rec in records:
        test = rec["test"]
        if rec["event"] == "run":
            last_run[test] = rec
            continue
        if rec["event"] == "expect":
            run, kind, sub = last_run.get(test), "output", "krusty"
            reason = skip_reason(run)
            if reason is None and rec.get("tweaked"):
                reason = "compares the output after a Go tweak function"
            if reason is None and rec.get("actual", "") != rec.get("expected", ""):
                reason = "fails upstream (the harness's output differs from the test's expectation)"
        else:  # error
            run, kind, sub = rec, "error", "krusty-errors"
            reason = skip_reason(run)
        base = sanitize(test) if kind == "output" else sanitize(test)
        name, n = base, 1
        while (sub, name) in used:
            n += 1
            name = f"{base}-{n}"
        used.add((sub, name))
        if reason is None:
            _, files, render = layout(run)
            dest = out / sub / name
            write_tree(dest, files)
            code, stdout, stderr = run_cli(kustomize, dest, render)
            if kind == "output":
                if code != 0:
                    reason = f"the kustomize CLI fails: {stderr.splitlines()[-1] if stderr else code}"
                elif sorted(canonical(stdout)) != sorted(canonical(rec.get("expected", ""))):
                    reason = "the kustomize CLI's objects differ from the harness's"
                else:
                    (dest / "expected.yaml").write_text(rec.get("expected", ""))
            else:
                if code == 0:
                    reason = "the kustomize CLI succeeds where the harness failed"
                else:
                    (dest / "expected-error.txt").write_text(rec["error"].strip() + "\n")
            if reason is not None:
                shutil.rmtree(dest)
            else:
                top = test.split("/")[0]
                (dest / "SOURCE").write_text(source_text(version, sources.get(top, "api/krusty"), test, render, kind))
        if reason is None:
            kept.append((sub, name))
        else:
            skipped.append((sub, name, reason))

    recorded = {r["test"].split("/")[0] for r in records}
    for test, path in sorted(sources.items()):
        if test not in recorded:
            skipped.append(("krusty", test, silent_reason(path)))

    with open(out / "krusty" / "SKIPPED.txt", "w") as f:
        f.write("# krusty test cases left out of the corpus, one per line: directory/name: reason.\n")
        f.write("# Written by scripts/kustomize-corpus/extract-krusty.py; do not edit by hand.\n")
        for sub, name, reason in skipped:
            f.write(f"{sub}/{name}: {reason}\n")
    print(f"kept {sum(1 for s, _ in kept if s == 'krusty')} output and "
          f"{sum(1 for s, _ in kept if s == 'krusty-errors')} error cases; skipped {len(skipped)}")


if __name__ == "__main__":
    main()
