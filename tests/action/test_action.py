"""Runs action.yml's steps as the GitHub runner would (tests/action/runner.py): the installer
downloads a release from a local server, and the deploy step maps the inputs to KPUSH_* settings
and runs a stand-in kpush that records what it was given and answers like kpush does.

Run: python3 -m unittest discover -s tests/action -v
"""

import functools
import hashlib
import http.server
import json
import pathlib
import re
import shutil
import tempfile
import threading
import unittest

import yaml

from runner import fake_env, run_action

ROOT = pathlib.Path(__file__).resolve().parents[2]
TAG = "v0.1.0"

# Stands in for kpush: records argv, working directory and KPUSH_* variables, writes a result
# output like kpush's GitHub reporter, prints a JSON report, exits with $FAKE_KPUSH_EXIT.
FAKE_KPUSH = r"""#!/usr/bin/env python3
import json, os, sys
if sys.argv[1:] == ["version"]:
    print("kpush 0.1.0 (fake)"); sys.exit(0)
if sys.argv[2:] == ["--help"]:
    print("  -o, --output <OUTPUT>  ..."); sys.exit(0)
code = int(os.environ.get("FAKE_KPUSH_EXIT", "0"))
names = {0: "success", 1: "differences", 4: "rollout-failed"}
with open(os.environ["FAKE_KPUSH_LOG"], "w") as f:
    json.dump({"argv": sys.argv[1:], "cwd": os.getcwd(),
               "env": {k: v for k, v in os.environ.items() if k.startswith("KPUSH_") and k != "KPUSH_BIN" and not k.startswith("KPUSH_INSTALL_")}}, f)
with open(os.environ["GITHUB_OUTPUT"], "a") as f:
    f.write(f"result={names.get(code, 'internal-error')}\ncreated=2\nconfigured=1\nunchanged=3\npruned=0\n")
print(json.dumps({"command": sys.argv[1], "exitCode": code}))
sys.exit(code)
"""


class Handler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


class ActionTest(unittest.TestCase):
    maxDiff = None
    def setUp(self):
        self.tmp = pathlib.Path(tempfile.mkdtemp(prefix="kpush-action-"))
        www = self.tmp / "www" / "acme" / "kpush" / "releases" / "download" / TAG
        www.mkdir(parents=True)
        data = FAKE_KPUSH.encode()
        (www / "kpush-x86_64-unknown-linux-gnu").write_bytes(data)
        (www / "SHA256SUMS").write_text(
            f"{hashlib.sha256(data).hexdigest()}  kpush-x86_64-unknown-linux-gnu\n"
        )
        handler = functools.partial(Handler, directory=str(self.tmp / "www"))
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.workspace = self.tmp / "workspace"
        (self.workspace / "deploy").mkdir(parents=True)
        self.log = self.tmp / "kpush.json"

    def tearDown(self):
        self.server.shutdown()
        self.server.server_close()
        shutil.rmtree(self.tmp, ignore_errors=True)

    def run_action(self, inputs, exit_code=0):
        env = fake_env()
        env.update(
            {
                "KPUSH_INSTALL_BASE_URL": f"http://127.0.0.1:{self.server.server_port}",
                "FAKE_KPUSH_LOG": str(self.log),
                "FAKE_KPUSH_EXIT": str(exit_code),
            }
        )
        return run_action(ROOT, inputs, env, self.workspace, github={"action_ref": TAG})

    def recorded(self):
        return json.loads(self.log.read_text())

    def test_inputs_become_kpush_settings_one_value_per_line(self):
        r = self.run_action(
            {
                "manifests": "k8s/\n  extra.yaml  \n\n",
                "images": "web=:1.2.0\nworker=myacr.azurecr.io/worker@sha256:abc\n",
                "vars": "ENV=prod\nGREETING=hello world\n",
                "namespace": "shop",
                "aks-cluster": "aks-prod",
                "resource-group": "rg-prod",
                "subscription": "00000000-0000-0000-0000-000000000001",
                "auth": "github-oidc",
                "tenant-id": "tenant",
                "client-id": "client",
                "timeout": "5m",
                "prune": "false",
                "release": "shop",
                "rollback-on-failure": "true",
                "lock-timeout": "10m",
                "working-directory": "deploy",
            }
        )
        self.assertIsNone(r.failed_step, r.log)
        got = self.recorded()
        self.assertEqual(got["argv"], ["apply", "--output", "json"])
        self.assertEqual(got["cwd"], str(self.workspace / "deploy"))
        self.assertEqual(
            got["env"],
            {
                "KPUSH_FILENAME": "k8s/\nextra.yaml",
                "KPUSH_IMAGE": "web=:1.2.0\nworker=myacr.azurecr.io/worker@sha256:abc",
                "KPUSH_VAR": "ENV=prod\nGREETING=hello world",
                "KPUSH_NAMESPACE": "shop",
                "KPUSH_AKS_CLUSTER": "aks-prod",
                "KPUSH_RESOURCE_GROUP": "rg-prod",
                "KPUSH_SUBSCRIPTION": "00000000-0000-0000-0000-000000000001",
                "KPUSH_AUTH": "github-oidc",
                "KPUSH_TENANT_ID": "tenant",
                "KPUSH_CLIENT_ID": "client",
                "KPUSH_TIMEOUT": "5m",
                "KPUSH_WAIT": "true",
                "KPUSH_PRUNE": "false",
                "KPUSH_RELEASE": "shop",
                "KPUSH_ROLLBACK_ON_FAILURE": "true",
                "KPUSH_LOCK_TIMEOUT": "10m",
                "KPUSH_CI": "github",
            },
        )
        self.assertEqual(r.outputs["result"], "success")
        self.assertEqual(
            [r.outputs[k] for k in ("created", "configured", "unchanged", "pruned")],
            ["2", "1", "3", "0"],
        )
        report = json.loads(pathlib.Path(r.outputs["report"]).read_text())
        self.assertEqual(report, {"command": "apply", "exitCode": 0})
        self.assertEqual(r.steps["install"]["outputs"]["version"], TAG)

    def test_targets_and_parallel_become_kpush_settings(self):
        r = self.run_action(
            {"manifests": "k8s/", "targets": "deploy/targets.yaml\n", "parallel": "2"}
        )
        self.assertIsNone(r.failed_step, r.log)
        env = self.recorded()["env"]
        self.assertEqual(env["KPUSH_TARGETS"], "deploy/targets.yaml")
        self.assertEqual(env["KPUSH_PARALLEL"], "2")
        self.assertNotIn("KPUSH_AKS_CLUSTER", env)

    def test_environment_inputs_become_kpush_settings(self):
        r = self.run_action(
            {
                "manifests": "k8s/",
                "environment": "production\n",
                "environment-url": "https://shop.example.com",
            }
        )
        self.assertIsNone(r.failed_step, r.log)
        env = self.recorded()["env"]
        self.assertEqual(env["KPUSH_ENVIRONMENT"], "production")
        self.assertEqual(env["KPUSH_ENVIRONMENT_URL"], "https://shop.example.com")
        self.assertNotIn("KPUSH_NO_GITHUB_DEPLOYMENT", env)
        r = self.run_action(
            {"manifests": "k8s/", "environment": "production", "github-deployment": "false"}
        )
        self.assertIsNone(r.failed_step, r.log)
        self.assertEqual(self.recorded()["env"]["KPUSH_NO_GITHUB_DEPLOYMENT"], "true")

    def test_notify_inputs_become_kpush_settings(self):
        r = self.run_action(
            {
                "manifests": "k8s/",
                "notify": "teams=https://t.example/wf\n\nslack=https://hooks.slack.com/services/x\n",
                "notify-on": "failure",
            }
        )
        self.assertIsNone(r.failed_step, r.log)
        env = self.recorded()["env"]
        self.assertEqual(
            env["KPUSH_NOTIFY"], "teams=https://t.example/wf\nslack=https://hooks.slack.com/services/x"
        )
        self.assertEqual(env["KPUSH_NOTIFY_ON"], "failure")

    def test_diff_only_runs_diff_and_differences_do_not_fail_the_step(self):
        r = self.run_action({"manifests": "k8s", "diff-only": "true", "prune": "true"}, exit_code=1)
        self.assertIsNone(r.failed_step, r.log)
        got = self.recorded()
        self.assertEqual(got["argv"], ["diff", "--output", "json"])
        self.assertNotIn("KPUSH_WAIT", got["env"])
        self.assertNotIn("KPUSH_PRUNE", got["env"])
        self.assertEqual(r.outputs["result"], "differences")

    def test_a_failed_deploy_fails_the_step_and_still_sets_outputs(self):
        r = self.run_action({"manifests": "k8s"}, exit_code=4)
        self.assertEqual(r.failed_step, "deploy")
        self.assertEqual(r.steps["deploy"]["returncode"], 4)
        self.assertEqual(r.outputs["result"], "rollout-failed")
        self.assertTrue(pathlib.Path(r.outputs["report"]).is_file())


class ActionDefinitionTest(unittest.TestCase):
    spec = yaml.safe_load((ROOT / "action.yml").read_text())
    text = (ROOT / "action.yml").read_text()
    run_sh = (ROOT / "scripts" / "action-run.sh").read_text()

    def test_every_input_reaches_a_step(self):
        for name in self.spec["inputs"]:
            self.assertIn(f"inputs.{name} }}}}", self.text, f"input {name} is never used")

    def test_every_input_variable_is_mapped_by_the_deploy_script(self):
        deploy = next(s for s in self.spec["runs"]["steps"] if s.get("id") == "deploy")
        for var in deploy["env"]:
            if var.startswith("INPUT_"):
                self.assertRegex(self.run_sh, rf"\b{var}\b", f"{var} is not used by action-run.sh")

    def test_example_workflows_use_only_declared_inputs_and_outputs(self):
        inputs, outputs = set(self.spec["inputs"]), set(self.spec["outputs"])
        examples = sorted((ROOT / "docs" / "examples").glob("github-*.yml"))
        self.assertGreaterEqual(len(examples), 3)
        for path in examples:
            text = path.read_text()
            uses = 0
            for job in yaml.safe_load(text)["jobs"].values():
                for step in job.get("steps", []):
                    if "/kpush@" in step.get("uses", ""):
                        uses += 1
                        self.assertLessEqual(set(step.get("with", {})), inputs, path.name)
                        self.assertIn("manifests", step["with"], path.name)
            self.assertGreater(uses, 0, f"{path.name} does not use the action")
            for ref in re.findall(r"steps\.(?:kpush|deploy|diff)\.outputs\.([a-z-]+)", text):
                self.assertIn(ref, outputs, path.name)

    def test_outputs_come_from_the_deploy_step(self):
        for name, out in self.spec["outputs"].items():
            self.assertRegex(out["value"], rf"steps\.deploy\.outputs\.{re.escape(name)}\b")


if __name__ == "__main__":
    unittest.main()
