"""A small stand-in for the GitHub Actions runner, enough to run kpush's composite action.yml
the way the runner does: each `run:` step as `bash --noprofile --norc -eo pipefail FILE` with the
step's `env:` and `working-directory:`, `${{ inputs.* }}`, `${{ github.* }}` and
`${{ steps.<id>.outputs.* }}` expressions substituted, a fresh GITHUB_OUTPUT file per step whose
`name=value` and heredoc entries become the step's outputs, and one GITHUB_STEP_SUMMARY file.
"""

import os
import pathlib
import re
import subprocess
import tempfile

import yaml

EXPR = re.compile(r"\$\{\{\s*([A-Za-z0-9_.-]+)\s*\}\}")


def parse_outputs(text):
    """Parses a GITHUB_OUTPUT file: `name=value` lines and `name<<DELIM` heredocs."""
    out, lines, i = {}, text.split("\n"), 0
    while i < len(lines):
        line = lines[i]
        if "<<" in line and ("=" not in line or line.index("<<") < line.index("=")):
            name, delim = line.split("<<", 1)
            j = lines.index(delim, i + 1)
            out[name] = "\n".join(lines[i + 1 : j])
            i = j + 1
            continue
        if "=" in line:
            name, value = line.split("=", 1)
            out[name] = value
        i += 1
    return out


class Result:
    """What a run of the action produced."""

    def __init__(self):
        self.steps = {}  # step id -> {"outputs": {...}, "returncode": int}
        self.outputs = {}
        self.log = ""
        self.failed_step = None
        self.summary = ""


def run_action(action_dir, inputs, env, workspace, github=None, timeout=600):
    """Runs the composite action in `action_dir` with `inputs` (missing ones take their default)."""
    action_dir = pathlib.Path(action_dir)
    spec = yaml.safe_load((action_dir / "action.yml").read_text())
    values = {k: str(v.get("default", "")) for k, v in spec.get("inputs", {}).items()}
    unknown = set(inputs) - set(values)
    if unknown:
        raise ValueError(f"inputs not declared in action.yml: {unknown}")
    values.update(inputs)
    tmp = pathlib.Path(tempfile.mkdtemp(prefix="kpush-runner-"))
    summary = tmp / "step_summary.md"
    summary.touch()
    ctx = {
        "github": {
            "action_path": str(action_dir),
            "action_repository": "acme/kpush",
            "action_ref": "main",
            "workspace": str(workspace),
            **(github or {}),
        },
        "inputs": values,
        "steps": {},
        "runner": {"temp": str(tmp), "os": "Linux", "arch": "X64"},
    }
    result = Result()

    def lookup(path):
        node = ctx
        for part in path.split("."):
            if not isinstance(node, dict):
                return ""
            node = node.get(part, "")
        return "" if node is None else str(node)

    def subst(text):
        return EXPR.sub(lambda m: lookup(m.group(1)), str(text))

    for n, step in enumerate(spec["runs"]["steps"]):
        out_file = tmp / f"output_{n}"
        out_file.touch()
        script = tmp / f"step_{n}.sh"
        script.write_text(subst(step["run"]))
        step_env = dict(env)
        step_env.update(
            {
                "GITHUB_ACTIONS": "true",
                "GITHUB_WORKSPACE": str(workspace),
                "GITHUB_ACTION_PATH": str(action_dir),
                "GITHUB_OUTPUT": str(out_file),
                "GITHUB_STEP_SUMMARY": str(summary),
                "GITHUB_PATH": str(tmp / "path"),
                "GITHUB_RUN_ID": "42",
                "GITHUB_RUN_ATTEMPT": "1",
                "RUNNER_TEMP": str(tmp),
                "RUNNER_OS": "Linux",
                "RUNNER_ARCH": "X64",
            }
        )
        step_env.update({k: subst(v) for k, v in step.get("env", {}).items()})
        cwd = pathlib.Path(workspace) / subst(step.get("working-directory", "."))
        proc = subprocess.run(
            ["bash", "--noprofile", "--norc", "-eo", "pipefail", str(script)],
            cwd=cwd,
            env=step_env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        result.log += proc.stdout + proc.stderr
        outputs = parse_outputs(out_file.read_text())
        step_id = step.get("id", f"step{n}")
        ctx["steps"][step_id] = {"outputs": outputs}
        result.steps[step_id] = {"outputs": outputs, "returncode": proc.returncode}
        if proc.returncode != 0:
            result.failed_step = step_id
            break
    result.outputs = {k: subst(v["value"]) for k, v in spec.get("outputs", {}).items()}
    result.summary = summary.read_text()
    return result


def fake_env():
    """A minimal process environment for steps."""
    keep = ("PATH", "HOME", "LANG", "TMPDIR", "CARGO_TARGET_DIR", "RUSTUP_HOME", "CARGO_HOME")
    return {k: os.environ[k] for k in keep if k in os.environ}
