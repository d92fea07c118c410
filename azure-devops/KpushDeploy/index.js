"use strict";
// The task's entry point: read inputs and the service connection, run kpush with the settings
// from settings.js, keep its report (apply's JSON result, or the diff), and fail the task when
// kpush fails. kpush itself
// writes the issues, the summary and the output variables (KPUSH_CI=azure-devops).
const fs = require("node:fs");
const path = require("node:path");
const tl = require("azure-pipelines-task-lib/task");
const { kpushSettings, describe, SettingsError } = require("./settings");

const INPUTS = [
  "command", "manifests", "images", "vars", "varFiles", "labels", "annotations", "namespace",
  "resourceGroup", "cluster", "subscription", "kubeconfig", "context", "targets", "parallel",
  "timeout", "release",
  "applyset", "wait", "prune", "forceConflicts", "rollbackOnFailure", "lockTimeout",
];

function readEndpoint() {
  const id = tl.getInput("connectedServiceNameARM", false);
  if (!id) return null;
  const param = (key) => tl.getEndpointAuthorizationParameter(id, key, true);
  return {
    id,
    scheme: tl.getEndpointAuthorizationScheme(id, false),
    params: {
      tenantid: param("tenantid"),
      serviceprincipalid: param("serviceprincipalid"),
      serviceprincipalkey: param("serviceprincipalkey"),
      authenticationtype: param("authenticationType"),
    },
    data: {
      subscriptionid: tl.getEndpointDataParameter(id, "subscriptionId", true),
      environment: tl.getEndpointDataParameter(id, "environment", true),
    },
  };
}

async function run() {
  const inputs = {};
  for (const name of INPUTS) inputs[name] = tl.getInput(name, false) || "";
  const endpoint = readEndpoint();
  const pipeline = {};
  if (endpoint && (endpoint.scheme || "").toLowerCase() === "workloadidentityfederation") {
    pipeline.oidcRequestUri = tl.getVariable("System.OidcRequestUri");
    pipeline.accessToken = tl.getEndpointAuthorizationParameter("SystemVssConnection", "AccessToken", true);
  }
  const settings = kpushSettings(inputs, endpoint, pipeline);
  for (const secret of settings.secrets) tl.setSecret(secret);
  console.log(describe(settings));

  const kpush = tl.getInput("kpushPath", false) || tl.which("kpush", false);
  if (!kpush) {
    throw new SettingsError("kpush is not installed: install it in an earlier step (see docs/azure-devops.md) or set 'kpushPath'");
  }
  const temp = tl.getVariable("Agent.TempDirectory") || require("node:os").tmpdir();
  // apply's report is its JSON result; diff's is the diff itself.
  const extension = settings.command === "diff" ? "diff" : "json";
  const report = path.join(temp, `kpush-${settings.command}-${process.pid}.${extension}`);
  tl.setVariable("report", report, false, true);

  // Secrets reach kpush through its environment only; nothing is written to disk.
  const env = { ...process.env, ...settings.env };
  const tool = tl.tool(kpush).arg(settings.args);
  const chunks = [];
  tool.on("stdout", (data) => {
    chunks.push(Buffer.from(data));
    // The diff is what the user came to read; kpush breaks any logging command in it (it
    // quotes the repository's manifests), as on its standard error.
    if (settings.command === "diff") process.stdout.write(data);
  });
  // kpush's log (with its ##vso commands) is on its standard error; pass it on to the agent.
  tool.on("stderr", (data) => process.stdout.write(data));
  // silent (below) keeps apply's JSON out of the log, so announce the command as the tool runner would.
  console.log(`[command]${kpush} ${settings.args.join(" ")}`);
  const code = await tool.exec({
    cwd: tl.getInput("workingDirectory", false) || undefined,
    env,
    silent: true,
    ignoreReturnCode: true,
  });
  fs.writeFileSync(report, Buffer.concat(chunks));

  if (code === 0 || (settings.command === "diff" && code === 1)) {
    tl.setResult(tl.TaskResult.Succeeded, code === 1 ? "kpush diff found differences" : "kpush succeeded");
  } else {
    tl.setResult(tl.TaskResult.Failed, `kpush ${settings.command} failed with exit code ${code} (see the issues above and ${report})`);
  }
}

run().catch((err) => {
  tl.setResult(tl.TaskResult.Failed, err instanceof SettingsError ? err.message : `kpush task: ${err.stack || err}`);
});
