"""Tests of scripts/install.sh, the GitHub Action's installer, against a local HTTP server that
holds fake release assets (no network): a verified download, a checksum mismatch that must fail,
and the fallbacks to building from source with cargo.

Run: python3 -m unittest discover -s tests/action -v
"""

import functools
import hashlib
import http.server
import os
import pathlib
import stat
import subprocess
import tempfile
import threading
import unittest

ROOT = pathlib.Path(__file__).resolve().parents[2]
INSTALL = ROOT / "scripts" / "install.sh"
REPO = "acme/kpush"


class Handler(http.server.SimpleHTTPRequestHandler):
    requests = []

    def do_GET(self):
        Handler.requests.append(self.path)
        super().do_GET()

    def log_message(self, *args):
        pass


class InstallerTest(unittest.TestCase):
    def setUp(self):
        self.tmp = pathlib.Path(tempfile.mkdtemp(prefix="kpush-install-"))
        self.www = self.tmp / "www"
        self.www.mkdir()
        handler = functools.partial(Handler, directory=str(self.www))
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        Handler.requests = []
        self.out = self.tmp / "github_output"
        self.path_file = self.tmp / "github_path"
        self.bindir = self.tmp / "fakebin"
        self.bindir.mkdir()

    def tearDown(self):
        self.server.shutdown()
        self.server.server_close()
        subprocess.run(["rm", "-rf", str(self.tmp)], check=False)

    def release(self, tag, assets, sums=None):
        """Publishes a fake release: assets {name: bytes}; sums overrides SHA256SUMS lines."""
        d = self.www / REPO / "releases" / "download" / tag
        d.mkdir(parents=True)
        lines = []
        for name, data in assets.items():
            (d / name).write_bytes(data)
            lines.append(f"{hashlib.sha256(data).hexdigest()}  {name}")
        (d / "SHA256SUMS").write_text("\n".join(sums if sums is not None else lines) + "\n")

    def fake_cargo(self):
        log = self.tmp / "cargo.log"
        script = self.bindir / "cargo"
        script.write_text(
            "#!/bin/sh\n"
            f'echo "$@" >> "{log}"\n'
            'while [ $# -gt 0 ]; do [ "$1" = --root ] && root="$2"; shift; done\n'
            'mkdir -p "$root/bin"\n'
            'printf "#!/bin/sh\\necho kpush from source\\n" > "$root/bin/kpush"\n'
            'chmod +x "$root/bin/kpush"\n'
        )
        script.chmod(script.stat().st_mode | stat.S_IEXEC)
        return log

    def install(self, ref, **extra):
        env = {
            "PATH": f"{self.bindir}:{os.environ['PATH']}",
            "HOME": str(self.tmp),
            "KPUSH_INSTALL_REPOSITORY": REPO,
            "KPUSH_INSTALL_REF": ref,
            "KPUSH_INSTALL_SOURCE": str(ROOT),
            "KPUSH_INSTALL_DIR": str(self.tmp / "install"),
            "KPUSH_INSTALL_BASE_URL": f"http://127.0.0.1:{self.server.server_port}",
            "RUNNER_OS": "Linux",
            "RUNNER_ARCH": "X64",
            "GITHUB_OUTPUT": str(self.out),
            "GITHUB_PATH": str(self.path_file),
        }
        env.update(extra)
        return subprocess.run(
            ["bash", str(INSTALL)], env=env, capture_output=True, text=True, timeout=60
        )

    def outputs(self):
        return dict(
            line.split("=", 1) for line in self.out.read_text().splitlines() if "=" in line
        )

    def test_verified_release_asset_is_installed_and_reported(self):
        binary = b"#!/bin/sh\necho 'kpush 1.2.3'\n"
        self.release("v1.2.3", {"kpush-x86_64-unknown-linux-gnu": binary, "kpush-aarch64-apple-darwin": b"mac"})
        r = self.install("v1.2.3")
        self.assertEqual(r.returncode, 0, r.stderr)
        installed = self.tmp / "install" / "kpush"
        self.assertEqual(installed.read_bytes(), binary)
        self.assertTrue(os.access(installed, os.X_OK))
        self.assertEqual(self.outputs(), {"path": str(installed), "version": "v1.2.3"})
        self.assertEqual(self.path_file.read_text().strip(), str(installed.parent))
        self.assertIn("SHA-256 verified", r.stderr)
        self.assertEqual(
            Handler.requests,
            [
                f"/{REPO}/releases/download/v1.2.3/SHA256SUMS",
                f"/{REPO}/releases/download/v1.2.3/kpush-x86_64-unknown-linux-gnu",
            ],
        )

    def test_checksum_mismatch_fails_and_installs_nothing(self):
        self.release(
            "v1.2.3",
            {"kpush-x86_64-unknown-linux-gnu": b"tampered"},
            sums=[f"{'0' * 64}  kpush-x86_64-unknown-linux-gnu"],
        )
        cargo_log = self.fake_cargo()
        r = self.install("v1.2.3")
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("::error title=kpush install::checksum mismatch", r.stderr)
        self.assertFalse((self.tmp / "install" / "kpush").exists())
        self.assertFalse(cargo_log.exists(), "a bad checksum must not fall back to building")
        self.assertFalse(self.out.exists())

    def test_runner_os_and_arch_select_the_asset(self):
        self.release("v2.0.0", {"kpush-aarch64-apple-darwin": b"#!/bin/sh\n", "kpush-x86_64-pc-windows-msvc.exe": b"#!/bin/sh\n"})
        r = self.install("v2.0.0", RUNNER_OS="macOS", RUNNER_ARCH="ARM64")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertTrue(Handler.requests[-1].endswith("/kpush-aarch64-apple-darwin"))
        r = self.install("v2.0.0", RUNNER_OS="Windows", RUNNER_ARCH="X64")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertTrue((self.tmp / "install" / "kpush.exe").exists())

    def test_branch_ref_builds_the_actions_own_source(self):
        cargo_log = self.fake_cargo()
        r = self.install("main")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(Handler.requests, [], "a branch has no release to ask for")
        args = cargo_log.read_text().split()
        self.assertEqual(args[:4], ["install", "--locked", "--path", str(ROOT)])
        self.assertEqual(self.outputs()["path"], str(self.tmp / "install" / "cargo" / "bin" / "kpush"))
        self.assertEqual(self.outputs()["version"], "source")

    def test_missing_release_falls_back_to_source(self):
        cargo_log = self.fake_cargo()
        r = self.install("v9.9.9")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("no release v9.9.9", r.stderr)
        self.assertTrue(cargo_log.exists())

    def test_release_without_this_platform_falls_back_to_source(self):
        self.release("v1.0.0", {"kpush-aarch64-apple-darwin": b"mac"})
        cargo_log = self.fake_cargo()
        r = self.install("v1.0.0")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("has no asset for x86_64-unknown-linux-gnu", r.stderr)
        self.assertTrue(cargo_log.exists())

    def test_version_input_overrides_the_ref(self):
        self.release("v1.1.0", {"kpush-x86_64-unknown-linux-gnu": b"#!/bin/sh\n"})
        r = self.install("main", KPUSH_INSTALL_VERSION="v1.1.0")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(self.outputs()["version"], "v1.1.0")

    def test_in_azure_pipelines_later_steps_find_kpush_on_path(self):
        self.release("v1.2.3", {"kpush-x86_64-unknown-linux-gnu": b"#!/bin/sh\n"})
        r = self.install("", KPUSH_INSTALL_VERSION="v1.2.3", TF_BUILD="True", GITHUB_OUTPUT="", GITHUB_PATH="")
        self.assertEqual(r.returncode, 0, r.stderr)
        lines = r.stdout.splitlines()
        self.assertEqual(lines, [f"##vso[task.prependpath]{self.tmp / 'install'}", str(self.tmp / "install" / "kpush")])

    def test_without_cargo_the_fallback_explains_what_to_do(self):
        r = self.install("main", PATH="/usr/bin:/bin")
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("cargo is not installed", r.stderr)


if __name__ == "__main__":
    unittest.main()
