"""Runs action.yml's steps as the GitHub runner would (tests/action/runner.py) with the real kpush
binary against kpush's test control plane: the installer downloads the binary from a local
release server (checksum verified), the deploy step applies manifests from GITHUB_WORKSPACE,
and the test checks the step outputs (GITHUB_OUTPUT), the job summary (GITHUB_STEP_SUMMARY) and
the annotations in the log.

Needs KPUSH_TEST_BINARY (a kpush build) and KPUSH_TEST_KUBECONFIG (a running test cluster);
scripts/test-ci-integrations.sh provides both (scripts/dev-cluster.sh). Without them the tests
are skipped, except under CI=true, where that is an error.
"""

import functools
import hashlib
import http.server
import json
import os
import pathlib
import shutil
import tempfile
import threading
import unittest
import uuid

from runner import fake_env, run_action

ROOT = pathlib.Path(__file__).resolve().parents[2]
TAG = "v0.1.0"
BINARY = os.environ.get("KPUSH_TEST_BINARY")
KUBECONFIG = os.environ.get("KPUSH_TEST_KUBECONFIG")

if not (BINARY and KUBECONFIG) and os.environ.get("CI") == "true":
    raise RuntimeError("CI=true but KPUSH_TEST_BINARY / KPUSH_TEST_KUBECONFIG are not set")

BROKEN = """apiVersion: apps/v1
kind: Deployment
metadata:
  name: broken
spec:
  replicas: -1
  selector:
    matchLabels: {app: broken}
  template:
    metadata:
      labels: {app: broken}
    spec:
      containers:
        - name: c
          image: nginx:1.27
"""


class Handler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@unittest.skipUnless(BINARY and KUBECONFIG, "needs KPUSH_TEST_BINARY and KPUSH_TEST_KUBECONFIG")
class ActionOnClusterTest(unittest.TestCase):
    maxDiff = None

    @classmethod
    def setUpClass(cls):
        cls.tmp = pathlib.Path(tempfile.mkdtemp(prefix="kpush-action-cluster-"))
        release = cls.tmp / "www" / "acme" / "kpush" / "releases" / "download" / TAG
        release.mkdir(parents=True)
        data = pathlib.Path(BINARY).read_bytes()
        (release / "kpush-x86_64-unknown-linux-gnu").write_bytes(data)
        (release / "SHA256SUMS").write_text(
            f"{hashlib.sha256(data).hexdigest()}  kpush-x86_64-unknown-linux-gnu\n"
        )
        handler = functools.partial(Handler, directory=str(cls.tmp / "www"))
        cls.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        threading.Thread(target=cls.server.serve_forever, daemon=True).start()

    @classmethod
    def tearDownClass(cls):
        cls.server.shutdown()
        cls.server.server_close()
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def setUp(self):
        self.ns = f"gh-{uuid.uuid4().hex[:8]}"
        self.workspace = self.tmp / self.ns
        deploy = self.workspace / "deploy"
        shutil.copytree(ROOT / "examples" / "guestbook", deploy / "guestbook")
        (deploy / "namespace.yaml").write_text(
            f"apiVersion: v1\nkind: Namespace\nmetadata:\n  name: {self.ns}\n"
        )

    def run_action(self, extra_env=None, **inputs):
        env = fake_env()
        env["KPUSH_INSTALL_BASE_URL"] = f"http://127.0.0.1:{self.server.server_port}"
        env.update(extra_env or {})
        values = {"manifests": "deploy/", "namespace": self.ns, "kubeconfig": KUBECONFIG}
        values.update(inputs)
        return run_action(ROOT, values, env, self.workspace, github={"action_ref": TAG})

    def test_deploy_sets_outputs_writes_the_summary_and_groups_the_log(self):
        r = self.run_action(images="ghcr.io/kpush-dev/guestbook-web=:2.0.0\n")
        self.assertIsNone(r.failed_step, r.log)
        self.assertEqual(r.steps["install"]["outputs"]["version"], TAG)
        self.assertEqual(
            {k: r.outputs[k] for k in ("result", "created", "configured", "unchanged", "pruned")},
            {"result": "success", "created": "7", "configured": "0", "unchanged": "0", "pruned": "0"},
        )
        deploy = r.steps["deploy"]["outputs"]
        self.assertEqual(deploy["exit-code"], "0")
        self.assertIn("ghcr.io/kpush-dev/guestbook-web:2.0.0", deploy["images"].splitlines())
        self.assertIn("## ✅ kpush apply: success", r.summary)
        self.assertIn("| 7 | 0 | 0 | 0 |", r.summary)
        self.assertIn("- `ghcr.io/kpush-dev/guestbook-web:2.0.0`", r.summary)
        self.assertIn("### Rollouts", r.summary)
        self.assertIn(f"| Deployment {self.ns}/web | ✅ ready |", r.summary)
        report = json.loads(pathlib.Path(r.outputs["report"]).read_text())
        self.assertIsInstance(report, dict)
        self.assertIn("::group::kpush: apply", r.log)
        self.assertIn("::endgroup::", r.log)
        self.assertIn(f"Deployment {self.ns}/web (deploy/guestbook/web.yaml:14)", r.log)

        again = self.run_action(images="ghcr.io/kpush-dev/guestbook-web=:2.0.0\n")
        self.assertIsNone(again.failed_step, again.log)
        self.assertEqual((again.outputs["created"], again.outputs["unchanged"]), ("0", "7"))

        drift = self.run_action(images="ghcr.io/kpush-dev/guestbook-web=:2.1.0\n", **{"diff-only": "true"})
        self.assertIsNone(drift.failed_step, "differences must not fail a diff-only step\n" + drift.log)
        self.assertEqual(drift.outputs["result"], "differences")

    def test_a_rejected_object_is_annotated_on_its_file_and_line_and_fails_the_step(self):
        (self.workspace / "deploy" / "broken.yaml").write_text(BROKEN)
        r = self.run_action()
        self.assertEqual(r.failed_step, "deploy")
        self.assertEqual(r.steps["deploy"]["returncode"], 3)
        self.assertEqual(r.outputs["result"], "rejected")
        self.assertEqual(r.steps["deploy"]["outputs"]["failed"], "1")
        self.assertIn(
            f"::error file=deploy/broken.yaml,line=1,title=Deployment {self.ns}/broken was rejected::",
            r.log,
        )
        self.assertIn("spec.replicas: Invalid value: -1", r.log)
        self.assertIn("## ❌ kpush apply: rejected", r.summary)
        self.assertIn(f"**Deployment {self.ns}/broken** at `deploy/broken.yaml:1`", r.summary)

    def test_manifest_errors_are_annotated_before_anything_is_sent(self):
        (self.workspace / "deploy" / "typo.yaml").write_text(
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: typo\ndata:\n  url: ${API_URL}\n"
        )
        # Substitution runs only when asked; strict substitution makes an unknown name an error.
        r = self.run_action(extra_env={"KPUSH_STRICT_VARS": "true"})
        self.assertEqual(r.steps["deploy"]["returncode"], 2)
        self.assertEqual(r.outputs["result"], "invalid-input")
        self.assertIn(
            "::error file=deploy/typo.yaml,line=6,col=8,title=kpush%3A undefined-variable::variable API_URL is not defined",
            r.log,
        )


if __name__ == "__main__":
    unittest.main()
