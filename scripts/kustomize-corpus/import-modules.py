#!/usr/bin/env python3
"""Copies kustomizations from Go modules (the Go module proxy) into the conformance corpus.

Usage: import-modules.py KUBECTL_OR_KUSTOMIZE [OUT_DIR]

For each module@version in scripts/kustomize-corpus/modules.txt this runs `go mod download`
(the module zip from the Go module proxy, into the Go module cache) and, for each directory
listed, writes OUT_DIR/repos/<case>/ as import-repos.py does: only the files the kustomization
reads (import-repos.py's closure), the module's license, expected.yaml (the oracle's output at
import time) and SOURCE (registry, module@version, path, license, render directory). Cases whose
SOURCE starts with "module:" are this script's: it deletes them first. Directories the oracle
cannot render offline are listed in OUT_DIR/repos/SKIPPED-modules.txt.
"""

import importlib.util
import json
import os
import pathlib
import posixpath
import shutil
import subprocess
import sys

spec = importlib.util.spec_from_file_location(
    "import_repos", pathlib.Path(__file__).with_name("import-repos.py"))
import_repos = importlib.util.module_from_spec(spec)
spec.loader.exec_module(import_repos)


class Module:
    """import-repos.py's Repo interface over an extracted module in the Go module cache."""

    def __init__(self, root):
        self.root = pathlib.Path(root)
        self.files = {p.relative_to(self.root).as_posix() for p in self.root.rglob("*") if p.is_file()}
        self.dirs = {""}
        for f in self.files:
            d = posixpath.dirname(f)
            while d:
                self.dirs.add(d)
                d = posixpath.dirname(d)

    def read(self, path):
        return (self.root / path).read_bytes()

    kustomization_file = import_repos.Repo.kustomization_file


def args_kubectl(oracle):
    return pathlib.Path(oracle).name.startswith("kubectl")


def render(oracle, d):
    args = [oracle, "kustomize", d] if args_kubectl(oracle) else [oracle, "build", d]
    return subprocess.run(args, capture_output=True, text=True, timeout=120,
                          env={"PATH": "/usr/bin:/bin", "HOME": "/nonexistent"})


def main():
    oracle = sys.argv[1]
    out = pathlib.Path(sys.argv[2] if len(sys.argv) > 2 else "tests/fixtures/kustomize") / "repos"
    out.mkdir(parents=True, exist_ok=True)
    for case in out.iterdir():
        if case.is_dir() and (case / "SOURCE").exists() and (case / "SOURCE").read_text().startswith("module:"):
            shutil.rmtree(case)
    skipped, kept = [], 0
    for line in pathlib.Path(__file__).with_name("modules.txt").read_text().splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        if not line.startswith((" ", "\t")):
            module, ver, license_file, license_id, repository = line.split()
            info = json.loads(subprocess.check_output(["go", "mod", "download", "-json", f"{module}@{ver}"]))
            mod = Module(info["Dir"])
            continue
        d = line.strip()
        case = f"{module.replace('/', '--')}--{d.replace('/', '-')}"
        try:
            files = import_repos.closure(mod, d)
        except import_repos.Remote as e:
            skipped.append((case, f"needs the network or helm ({e})"))
            continue
        except FileNotFoundError as e:
            skipped.append((case, f"incomplete in the module: {e}"))
            continue
        root = posixpath.commonpath([posixpath.dirname(f) for f in files] + [d])
        dest = out / case
        for f in sorted(files):
            p = dest / posixpath.relpath(f, root or ".")
            p.parent.mkdir(parents=True, exist_ok=True)
            p.write_bytes(mod.read(f))
            os.chmod(p, 0o644)  # the module cache is read-only
        rel = posixpath.relpath(d, root or ".")
        lic = dest / ("LICENSE.origin" if (dest / "LICENSE").exists() else "LICENSE")
        lic.write_bytes(mod.read(license_file))
        p = render(oracle, str(dest / rel))
        if p.returncode != 0:
            shutil.rmtree(dest)
            last = p.stderr.strip().splitlines()[-1] if p.stderr.strip() else str(p.returncode)
            skipped.append((case, f"the oracle fails: {last}"))
            continue
        (dest / "expected.yaml").write_text(p.stdout)
        (dest / "SOURCE").write_text(
            f"module: {module}@{ver} (Go module proxy, proxy.golang.org; go mod download -json {module}@{ver})\n"
            f"repository: {repository}\n"
            f"path: {d} (inside the module)\n"
            f"license: {license_id} (see {lic.name}, the module's {license_file})\n"
            f"kind: output\n"
            f"expected: output of {'kubectl kustomize' if args_kubectl(oracle) else 'kustomize build'} (kustomize v5.7.1) at import time\n"
            f"render: {rel}\n"
            f"root: {root or '.'} (this directory's files are those under it in the module)\n")
        kept += 1
    with open(out / "SKIPPED-modules.txt", "w") as f:
        f.write("# Module directories left out of the corpus: case: reason.\n")
        f.write("# Written by scripts/kustomize-corpus/import-modules.py; do not edit by hand.\n")
        for case, reason in skipped:
            f.write(f"{case}: {reason}\n")
    print(f"kept {kept} module cases; skipped {len(skipped)}")


if __name__ == "__main__":
    main()
