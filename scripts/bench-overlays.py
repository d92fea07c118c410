#!/usr/bin/env python3
"""Renders every overlay of a generated repository with several tools, one process per overlay
as a pipeline would, and prints wall time and peak RSS side by side.

Usage: bench-overlays.py REPO ROUNDS LABEL=PROGRAM[,ARG...] ...
  Each ARG may contain {dir}, replaced by the overlay directory. Example:
  bench-overlays.py /tmp/repo 3 'kpush=/path/kpush,render,{dir},--no-run-annotations'

Per tool: the best round's total wall time for all overlays, its mean per overlay, the largest
peak RSS of any of its processes (GNU time's %M), and the speed-up of the first tool over it.
Every tool's output for an overlay must hold the same number of objects as the first tool's;
otherwise the line says so (a benchmark of different work would mean nothing). Figures are
printed, never asserted.
"""

import pathlib
import re
import subprocess
import sys
import tempfile
import time

DOC_KIND = re.compile(r"^kind: ", re.M)


def run_once(cmd, rss_file):
    t0 = time.perf_counter()
    p = subprocess.run(["/usr/bin/time", "-f", "%M", "-o", rss_file, *cmd],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    dt = time.perf_counter() - t0
    rss_kb = int(pathlib.Path(rss_file).read_text().strip().splitlines()[-1] or 0) if p.returncode == 0 else 0
    return dt, rss_kb, p


def main():
    repo, rounds = pathlib.Path(sys.argv[1]), int(sys.argv[2])
    tools = []
    for spec in sys.argv[3:]:
        label, _, cmd = spec.partition("=")
        tools.append((label, cmd.split(",")))
    overlays = sorted(p for p in (repo / "overlays").iterdir() if p.is_dir())
    rss_file = tempfile.NamedTemporaryFile(delete=False).name
    best = {label: None for label, _ in tools}
    peak = {label: 0 for label, _ in tools}
    failed = {}
    objects = {}
    for r in range(rounds):
        for label, cmd in tools:
            if label in failed:
                continue
            total = 0.0
            for ov in overlays:
                argv = [a.replace("{dir}", str(ov)) for a in cmd]
                dt, rss, p = run_once(argv, rss_file)
                if p.returncode != 0:
                    first = next((l for l in p.stderr.splitlines() if l.strip()), "")
                    failed[label] = f"exit {p.returncode} on {ov.name}: {first[:150]}"
                    break
                total += dt
                peak[label] = max(peak[label], rss)
                if r == 0:
                    objects.setdefault(ov.name, {})[label] = len(DOC_KIND.findall(p.stdout))
            else:
                best[label] = total if best[label] is None else min(best[label], total)
    first = tools[0][0]
    n = len(overlays)
    print(f"{'renderer':<28} {'all ' + str(n) + ' overlays':>16} {'per overlay':>12} {'peak RSS':>10} {'kpush faster':>13}")
    for label, _ in tools:
        if label in failed:
            print(f"{label:<28} {'failed: ' + failed[label]}")
            continue
        ratio = ""
        if label != first and best.get(first):
            ratio = f"{best[label] / best[first]:.1f}x"
        print(f"{label:<28} {best[label] * 1000:>13.0f} ms {best[label] / n * 1000:>9.1f} ms {peak[label] / 1024:>7.1f} MB {ratio:>13}")
    mismatched = [ov for ov, counts in objects.items() if len(set(counts.values())) > 1]
    if mismatched:
        ov = mismatched[0]
        print(f"warning: object counts differ on {len(mismatched)} overlays, e.g. {ov}: {objects[ov]}")
    elif objects:
        ov = next(iter(objects))
        counts = objects[ov]
        print(f"every renderer printed the same number of objects per overlay ({ov}: {next(iter(counts.values()))})")


if __name__ == "__main__":
    main()
