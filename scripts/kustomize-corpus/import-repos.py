#!/usr/bin/env python3
"""Copies kustomizations of real public repositories into the conformance corpus.

Usage: import-repos.py MIRRORS KUSTOMIZE_BIN [OUT_DIR]

MIRRORS is a directory of git repositories named `<owner>+<name>/repo` (bare or not), holding
the commits that scripts/kustomize-corpus/repos.txt names (the layout the project's `fetch` tool
produces; `git clone --bare https://github.com/OWNER/NAME MIRRORS/OWNER+NAME/repo` works too).

For each directory listed in repos.txt this writes OUT_DIR/repos/<case>/ holding only the files
that kustomization needs (followed through resources, bases, components, patches, generators,
replacements, ...), the repository's license file, expected.yaml (the standalone kustomize's
output at import time) and SOURCE (origin, commit, path, license, render directory). A directory
the kustomize CLI cannot render offline is left out and listed in OUT_DIR/repos/SKIPPED.txt.
"""

import pathlib
import posixpath
import re
import shutil
import subprocess
import sys

import yaml

KUSTOMIZATION_NAMES = ("kustomization.yaml", "kustomization.yml", "Kustomization")
REMOTE = re.compile(r"^(https?://|git@|ssh://|git::|github\.com/|gitlab\.com/|oci://)")


class Repo:
    def __init__(self, git_dir, commit):
        self.git_dir, self.commit = git_dir, commit
        out = subprocess.check_output(
            ["git", "--git-dir", str(git_dir), "ls-tree", "-r", "--name-only", commit], text=True)
        self.files = set(out.splitlines())
        self.dirs = {posixpath.dirname(f) for f in self.files}
        for d in list(self.dirs):
            while d:
                d = posixpath.dirname(d)
                self.dirs.add(d)

    def read(self, path):
        return subprocess.check_output(
            ["git", "--git-dir", str(self.git_dir), "show", f"{self.commit}:{path}"])

    def kustomization_file(self, d):
        for name in KUSTOMIZATION_NAMES:
            p = posixpath.join(d, name) if d else name
            if p in self.files:
                return p
        return None


class Remote(Exception):
    pass


def norm(base, rel):
    p = posixpath.normpath(posixpath.join(base, rel))
    return "" if p == "." else p


def closure(repo, start):
    """Every repository file the kustomization in directory `start` reads."""
    need, seen = set(), set()

    def file_or_dir(base, ref):
        if REMOTE.match(ref):
            raise Remote(ref)
        p = norm(base, ref)
        if p in repo.files:
            need.add(p)
        elif p in repo.dirs or p == "":
            visit(p)
        else:
            raise FileNotFoundError(f"{ref} (from {base or '.'}) is not in the repository")

    def plain_file(base, ref):
        if ref and not REMOTE.match(ref):
            p = norm(base, ref)
            if p in repo.files:
                need.add(p)

    def visit(d):
        if d in seen:
            return
        seen.add(d)
        kf = repo.kustomization_file(d)
        if kf is None:
            raise FileNotFoundError(f"{d} holds no kustomization")
        need.add(kf)
        k = yaml.safe_load(repo.read(kf)) or {}
        for field in ("resources", "bases", "components"):
            for ref in k.get(field) or []:
                file_or_dir(d, ref)
        for field in ("crds", "configurations", "transformers", "generators", "validators"):
            for ref in k.get(field) or []:
                if isinstance(ref, str) and "\n" not in ref:
                    file_or_dir(d, ref)
        for ref in k.get("patchesStrategicMerge") or []:
            if isinstance(ref, str) and "\n" not in ref.strip():
                plain_file(d, ref)
        for field in ("patches", "patchesJson6902", "replacements"):
            for entry in k.get(field) or []:
                if isinstance(entry, dict) and entry.get("path"):
                    plain_file(d, entry["path"])
        if isinstance(k.get("openapi"), dict) and k["openapi"].get("path"):
            plain_file(d, k["openapi"]["path"])
        for field in ("configMapGenerator", "secretGenerator"):
            for gen in k.get(field) or []:
                for f in gen.get("files") or []:
                    plain_file(d, f.split("=", 1)[-1])
                for f in (gen.get("envs") or []) + ([gen["env"]] if gen.get("env") else []):
                    plain_file(d, f)
        if k.get("helmCharts") or k.get("helmChartInflationGenerator"):
            raise Remote("helmCharts")

    visit(start)
    return need


def parse_config(path):
    """repos.txt: `owner/name commit license-file license-id` then indented render directories."""
    repos = []
    for line in pathlib.Path(path).read_text().splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        if line.startswith((" ", "\t")):
            repos[-1]["dirs"].append(line.strip())
        else:
            name, commit, license_file, license_id = line.split()
            repos.append({"name": name, "commit": commit, "license_file": license_file,
                          "license": license_id, "dirs": []})
    return repos


def main():
    mirrors, kustomize = pathlib.Path(sys.argv[1]), sys.argv[2]
    out = pathlib.Path(sys.argv[3] if len(sys.argv) > 3 else "tests/fixtures/kustomize") / "repos"
    config = pathlib.Path(__file__).with_name("repos.txt")
    # Cases made by other scripts (gen-kubebuilder.sh: SOURCE starts with "generated:",
    # import-modules.py: "module:") stay.
    out.mkdir(parents=True, exist_ok=True)
    for case in out.iterdir():
        source = case / "SOURCE"
        if case.is_dir() and not (source.exists() and source.read_text().startswith(("generated:", "module:"))):
            shutil.rmtree(case)
    skipped, kept = [], 0
    for spec in parse_config(config):
        git_dir = mirrors / spec["name"].replace("/", "+") / "repo"
        if (git_dir / ".git").is_dir():
            git_dir = git_dir / ".git"
        repo = Repo(git_dir, spec["commit"])
        for d in spec["dirs"]:
            case = f"{spec['name'].replace('/', '--')}--{d.replace('/', '-') or 'root'}"
            try:
                files = closure(repo, d)
            except Remote as e:
                skipped.append((case, f"needs the network or helm ({e})"))
                continue
            except FileNotFoundError as e:
                skipped.append((case, f"incomplete in the repository: {e}"))
                continue
            root = posixpath.commonpath([posixpath.dirname(f) for f in files] + [d]) if d else ""
            dest = out / case
            for f in sorted(files):
                p = dest / posixpath.relpath(f, root or ".")
                p.parent.mkdir(parents=True, exist_ok=True)
                p.write_bytes(repo.read(f))
            render = posixpath.relpath(d, root or ".") if d else "."
            lic = dest / ("LICENSE.origin" if (dest / "LICENSE").exists() else "LICENSE")
            lic.write_bytes(repo.read(spec["license_file"]))
            p = subprocess.run([kustomize, "build", str(dest / render)], capture_output=True, text=True,
                               timeout=120, env={"PATH": "/usr/bin:/bin", "HOME": "/nonexistent"})
            if p.returncode != 0:
                shutil.rmtree(dest)
                last = p.stderr.strip().splitlines()[-1] if p.stderr.strip() else str(p.returncode)
                skipped.append((case, f"the kustomize CLI fails: {last}"))
                continue
            (dest / "expected.yaml").write_text(p.stdout)
            (dest / "SOURCE").write_text(
                f"repository: https://github.com/{spec['name']}\n"
                f"commit: {spec['commit']}\n"
                f"path: {d or '.'}\n"
                f"license: {spec['license']} (see {lic.name}, copied from {spec['license_file']})\n"
                f"kind: output\n"
                f"expected: output of kustomize v5.7.1 at import time\n"
                f"render: {render}\n"
                f"root: {root or '.'} (this directory's files are those under it in the repository)\n")
            kept += 1
    with open(out / "SKIPPED.txt", "w") as f:
        f.write("# Repository directories left out of the corpus: case: reason.\n")
        f.write("# Written by scripts/kustomize-corpus/import-repos.py; do not edit by hand.\n")
        for case, reason in skipped:
            f.write(f"{case}: {reason}\n")
    print(f"kept {kept} repository cases; skipped {len(skipped)}")


if __name__ == "__main__":
    main()
