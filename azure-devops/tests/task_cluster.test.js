"use strict";
// Runs the task as the Azure Pipelines agent does (`node KpushDeploy/index.js` with its inputs
// as INPUT_* variables and the agent's variables) with the real kpush binary against kpush's
// test control plane: each command the task offers (apply, diff) runs once for real, so a
// command line kpush does not accept fails here, not in a user's pipeline. The stand-in tests
// (task.test.js) cover the task's own logic.
//
// Needs KPUSH_TEST_BINARY (a kpush build) and KPUSH_TEST_KUBECONFIG (a running test cluster);
// scripts/test-ci-integrations.sh provides both (scripts/dev-cluster.sh). Without them the
// tests are skipped, except under CI=true, where that is an error.
const test = require("node:test");
const assert = require("node:assert/strict");
const { spawnSync } = require("node:child_process");
const crypto = require("node:crypto");
const fs = require("node:fs");
const os = require("node:os");
const path = require("node:path");

const BINARY = process.env.KPUSH_TEST_BINARY;
const KUBECONFIG = process.env.KPUSH_TEST_KUBECONFIG;
if (!(BINARY && KUBECONFIG) && process.env.CI === "true") {
  throw new Error("CI=true but KPUSH_TEST_BINARY / KPUSH_TEST_KUBECONFIG are not set");
}
const skip = BINARY && KUBECONFIG ? false : "needs KPUSH_TEST_BINARY and KPUSH_TEST_KUBECONFIG";

const ROOT = path.join(__dirname, "..", "..");
const TASK = path.join(__dirname, "..", "KpushDeploy", "index.js");

/** A workspace with the guestbook and its own namespace under deploy/. */
function workspace() {
  const ns = `ado-${crypto.randomBytes(4).toString("hex")}`;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `kpush-ado-${ns}-`));
  fs.cpSync(path.join(ROOT, "examples", "guestbook"), path.join(dir, "deploy", "guestbook"), { recursive: true });
  fs.writeFileSync(path.join(dir, "deploy", "namespace.yaml"), `apiVersion: v1\nkind: Namespace\nmetadata:\n  name: ${ns}\n`);
  return { ns, dir };
}

/** Runs the task with `inputs` (the agent's INPUT_* variables); returns its exit and log. */
function runTask(ws, inputs) {
  const agentTemp = fs.mkdtempSync(path.join(os.tmpdir(), "kpush-ado-agent-"));
  const env = { PATH: process.env.PATH, HOME: process.env.HOME || os.tmpdir(), AGENT_TEMPDIRECTORY: agentTemp, TF_BUILD: "True" };
  const all = { manifests: "deploy/", namespace: ws.ns, kubeconfig: KUBECONFIG, kpushPath: BINARY, workingDirectory: ws.dir, ...inputs };
  for (const [name, value] of Object.entries(all)) env[`INPUT_${name.toUpperCase()}`] = value;
  const r = spawnSync(process.execPath, [TASK], { env, cwd: ws.dir, encoding: "utf8", timeout: 300_000 });
  const log = r.stdout + r.stderr;
  // The agent keeps the worst result any task.complete command gave.
  const completions = [...log.matchAll(/##vso\[task\.complete result=(\w+);\](.*)/g)];
  const worst = ["Failed", "SucceededWithIssues", "Succeeded"].find((r) => completions.some((c) => c[1] === r));
  const completed = completions.find((c) => c[1] === worst);
  const report = log.match(/##vso\[task\.setvariable variable=report;isOutput=true;issecret=false;\](.*)/);
  return {
    log,
    result: completed && completed[1],
    message: completed && completed[2],
    report: report && report[1].trim(),
    output: (name) => {
      const m = log.match(new RegExp(`##vso\\[task\\.setvariable variable=${name};isoutput=true;\\](.*)`));
      return m && m[1];
    },
  };
}

/** The log's logging commands as the agent reads them: the first `##vso[` of each line on. */
function commands(log) {
  return log
    .split(/\r\n|\r|\n/)
    .map((l) => l.slice(Math.max(0, l.toLowerCase().indexOf("##vso["))))
    .filter((l) => l.toLowerCase().startsWith("##vso["));
}

test("apply: the real kpush deploys, sets the output variables and keeps the JSON report", { skip }, () => {
  const ws = workspace();
  const r = runTask(ws, { command: "apply", wait: "true" });
  assert.equal(r.result, "Succeeded", r.log);
  assert.equal(r.output("result"), "success", r.log);
  assert.equal(r.output("created"), "7", r.log);
  assert.ok(r.log.includes("##[group]kpush: apply"), r.log);
  assert.ok(r.log.includes(`[command]${BINARY} apply --output json`), r.log);
  const report = JSON.parse(fs.readFileSync(r.report, "utf8"));
  assert.equal(typeof report, "object", r.report);
});

test("diff: the real kpush shows the differences in the log, and no manifest line acts as a logging command", { skip }, () => {
  const ws = workspace();
  const applied = runTask(ws, { command: "apply", wait: "false" });
  assert.equal(applied.result, "Succeeded", applied.log);
  // A repository is untrusted: a value that holds logging commands.
  fs.writeFileSync(
    path.join(ws.dir, "deploy", "hostile.yaml"),
    [
      "apiVersion: v1",
      "kind: ConfigMap",
      "metadata:",
      "  name: hostile",
      "data:",
      "  script: |",
      "    ##vso[task.setvariable variable=PWNED;isoutput=true]yes",
      "    echo ##vso[task.complete result=Failed;]PWNED",
      "    ##[error]PWNED",
      "",
    ].join("\n")
  );
  const r = runTask(ws, { command: "diff", images: "ghcr.io/kpush-dev/guestbook-web=:2.1.0" });
  assert.equal(r.result, "Succeeded", r.log);
  assert.equal(r.message, "kpush diff found differences", r.log);
  assert.ok(r.log.includes(`[command]${BINARY} diff`), r.log);
  assert.ok(r.log.includes(`Deployment ${ws.ns}/web`), "the diff is in the log:\n" + r.log);
  assert.ok(r.log.includes("ghcr.io/kpush-dev/guestbook-web:2.1.0"), r.log);
  assert.ok(r.report.endsWith(".diff"), r.report);
  const diff = fs.readFileSync(r.report, "utf8");
  assert.ok(diff.includes(`ConfigMap ${ws.ns}/hostile`), diff);
  assert.ok(diff.includes("PWNED"), "the hostile text is shown, not dropped");
  for (const c of commands(r.log)) assert.ok(!c.includes("PWNED"), `a manifest line became a logging command: ${c}`);
  for (const l of r.log.split(/\r\n|\r|\n/)) assert.ok(!l.trimStart().startsWith("##[error]PWNED"), l);
});
