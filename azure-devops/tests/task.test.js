"use strict";
// Tests of the whole task with azure-pipelines-task-lib's MockTestRunner: the inputs and each
// service-connection scheme lead to the right kpush invocation, secrets are masked and never
// printed, kpush's report is kept, and a failed deploy fails the task.
const test = require("node:test");
const assert = require("node:assert/strict");
const fs = require("node:fs");
const os = require("node:os");
const path = require("node:path");

// MockTestRunner runs the task with the Node version task.json names, downloading it into
// $HOME/azure-pipelines-task-lib/_download unless it is there. There is no internet here: put
// the Node that runs these tests where it looks (the handler is Node20_1, as this Node is 20+).
const home = fs.mkdtempSync(path.join(os.tmpdir(), "kpush-ado-home-"));
process.env.HOME = home;
const nodeDir = path.join(home, "azure-pipelines-task-lib", "_download", "node20");
fs.mkdirSync(path.join(nodeDir, "node-v20.13.1-linux-x64", "bin"), { recursive: true });
fs.symlinkSync(process.execPath, path.join(nodeDir, "node-v20.13.1-linux-x64", "bin", "node"));
fs.writeFileSync(`${nodeDir}.completed`, "");

const taskDir = path.join(__dirname, "..", "KpushDeploy");
const { MockTestRunner } = require(path.join(taskDir, "node_modules", "azure-pipelines-task-lib", "mock-test"));

const temp = fs.mkdtempSync(path.join(os.tmpdir(), "kpush-ado-agent-"));
const scenarios = fs.mkdtempSync(path.join(os.tmpdir(), "kpush-ado-scenarios-"));

/** The log without the task library's own debug lines (the agent hides those, and masks them). */
const log = (tr) => tr.stdout.split("\n").filter((l) => !l.startsWith("##vso[task.debug]")).join("\n");
const KPUSH = "/opt/kpush/bin/kpush";

async function runTask(scenario) {
  const file = path.join(scenarios, `scenario-${Math.random().toString(36).slice(2)}.json`);
  fs.writeFileSync(file, JSON.stringify(scenario));
  process.env.KPUSH_TEST_SCENARIO = file;
  const tr = await new MockTestRunner().LoadAsync(path.join(__dirname, "mock-task.js"), path.join(taskDir, "task.json"));
  await tr.runAsync();
  return tr;
}

const base = {
  command: "apply",
  manifests: "deploy/\n",
  images: "web=myacr.azurecr.io/web:42",
  namespace: "shop",
  connectedServiceNameARM: "conn-1",
  resourceGroup: "rg-shop",
  cluster: "aks-shop",
  wait: "true",
};
const connection = (scheme, params) => {
  const env = {
    ENDPOINT_AUTH_SCHEME_CONN_1: scheme,
    "ENDPOINT_AUTH_SCHEME_conn-1": scheme,
    "ENDPOINT_DATA_conn-1_SUBSCRIPTIONID": "sub-1",
    "ENDPOINT_DATA_conn-1_ENVIRONMENT": "AzureCloud",
    AGENT_TEMPDIRECTORY: temp,
  };
  for (const [k, v] of Object.entries(params)) env[`ENDPOINT_AUTH_PARAMETER_conn-1_${k.toUpperCase()}`] = v;
  return env;
};

test("workload identity federation: kpush apply signs in as azure-pipelines", async () => {
  const tr = await runTask({
    inputs: base,
    env: {
      ...connection("WorkloadIdentityFederation", { tenantid: "tenant-1", serviceprincipalid: "client-1" }),
      SYSTEM_OIDCREQUESTURI: "https://dev.azure.com/org/_apis/distributedtask/hubs/build/plans/p/jobs/j/oidctoken",
      ENDPOINT_AUTH_PARAMETER_SYSTEMVSSCONNECTION_ACCESSTOKEN: "job-access-token",
    },
    kpushStdout: '{"result":"success"}',
    kpushStderr: "##vso[task.setvariable variable=result;isoutput=true;]success",
  });
  assert.ok(tr.succeeded, tr.stdout + tr.stderr);
  assert.ok(tr.ran(`${KPUSH} apply --output json`), tr.stdout);
  assert.ok(tr.stdOutContained('KPUSH_AUTH="azure-pipelines"'), tr.stdout);
  assert.ok(tr.stdOutContained('AZURE_SERVICE_CONNECTION_ID="conn-1"'));
  assert.ok(tr.stdOutContained('AZURE_CLIENT_ID="client-1"'));
  assert.ok(tr.stdOutContained('AZURE_TENANT_ID="tenant-1"'));
  assert.ok(tr.stdOutContained('KPUSH_SUBSCRIPTION="sub-1"'));
  assert.ok(tr.stdOutContained('KPUSH_AKS_CLUSTER="aks-shop"'));
  assert.ok(tr.stdOutContained("SYSTEM_ACCESSTOKEN=***"));
  assert.ok(tr.stdOutContained("##vso[task.setsecret]job-access-token"));
  assert.equal(log(tr).split("job-access-token").length - 1, 1, "the token is printed only to mask it");
  assert.ok(tr.stdOutContained("##vso[task.setvariable variable=result;isoutput=true;]success"), "kpush's log reaches the agent");
});

test("service principal: the secret reaches kpush through its environment only", async () => {
  const secret = "very;secret]value%";
  const tr = await runTask({
    inputs: base,
    env: connection("ServicePrincipal", {
      tenantid: "tenant-1",
      serviceprincipalid: "client-1",
      serviceprincipalkey: secret,
      authenticationType: "spnKey",
    }),
  });
  assert.ok(tr.succeeded, tr.stdout);
  assert.ok(tr.stdOutContained('KPUSH_AUTH="client-secret"'));
  assert.ok(tr.stdOutContained("AZURE_CLIENT_SECRET=***"));
  assert.ok(tr.stdOutContained("##vso[task.setsecret]very;secret]value%AZP25"));
  assert.ok(!log(tr).replace("##vso[task.setsecret]very;secret]value%AZP25", "").includes("very;secret"), "the secret is printed only to mask it");
  for (const f of fs.readdirSync(temp)) {
    assert.ok(!fs.readFileSync(path.join(temp, f), "utf8").includes(secret), `secret written to ${f}`);
  }
});

test("managed identity: kpush signs in with managed-identity", async () => {
  const tr = await runTask({ inputs: base, env: connection("ManagedServiceIdentity", { tenantid: "tenant-1" }) });
  assert.ok(tr.succeeded, tr.stdout);
  assert.ok(tr.stdOutContained('KPUSH_AUTH="managed-identity"'));
});

test("the JSON report is kept and named in the report output variable", async () => {
  const tr = await runTask({
    inputs: base,
    env: connection("ManagedServiceIdentity", {}),
    kpushStdout: '{"command":"apply","exitCode":0}',
  });
  const m = tr.stdout.match(/##vso\[task\.setvariable variable=report;isOutput=true;issecret=false;\](.*)/);
  assert.ok(m, tr.stdout);
  assert.equal(fs.readFileSync(m[1].trim(), "utf8"), '{"command":"apply","exitCode":0}');
});

test("a failed deploy fails the task with kpush's exit code", async () => {
  const tr = await runTask({ inputs: base, env: connection("ManagedServiceIdentity", {}), kpushExit: 4 });
  assert.ok(tr.failed);
  assert.ok(tr.errorIssues.some((e) => e.includes("exit code 4")), tr.errorIssues.join("\n"));
});

test("diff with differences succeeds; without a service connection kpush uses a kubeconfig", async () => {
  const tr = await runTask({
    inputs: { command: "diff", manifests: "deploy/", kubeconfig: "/home/vsts/.kube/config" },
    env: { AGENT_TEMPDIRECTORY: temp },
    kpushExit: 1,
    kpushStdout: "ConfigMap shop/app (deploy/app.yaml:1) would change\n",
  });
  assert.ok(tr.succeeded, tr.stdout);
  assert.ok(tr.ran(`${KPUSH} diff`), tr.stdout);
  assert.ok(tr.stdOutContained("ConfigMap shop/app (deploy/app.yaml:1) would change"), "the diff is in the log");
  const m = tr.stdout.match(/##vso\[task\.setvariable variable=report;isOutput=true;issecret=false;\](.*\.diff)/);
  assert.ok(m, tr.stdout);
  assert.ok(tr.stdOutContained('KPUSH_KUBECONFIG="/home/vsts/.kube/config"'));
  assert.ok(!tr.stdOutContained("KPUSH_AUTH"));
});

test("a certificate service connection fails with an explanation", async () => {
  const tr = await runTask({
    inputs: base,
    env: connection("ServicePrincipal", { tenantid: "t", serviceprincipalid: "c", authenticationType: "spnCertificate" }),
  });
  assert.ok(tr.failed);
  assert.ok(tr.errorIssues.some((e) => e.includes("workload identity federation")), tr.errorIssues.join("\n"));
  assert.equal(tr.invokedToolCount, 0);
});
