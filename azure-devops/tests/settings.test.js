"use strict";
// Unit tests of KpushDeploy/settings.js: inputs and each service-connection scheme → kpush settings.
const test = require("node:test");
const assert = require("node:assert/strict");
const { kpushSettings, describe } = require("../KpushDeploy/settings");

const inputs = {
  command: "apply",
  manifests: "k8s/\n  extra.yaml \n\n",
  images: "web=myacr.azurecr.io/web:42\n",
  namespace: "shop",
  resourceGroup: "rg-shop",
  cluster: "aks-shop",
  wait: "true",
  prune: "default",
  forceConflicts: "false",
};
const endpoint = (scheme, params = {}) => ({
  id: "conn-1",
  scheme,
  params: { tenantid: "tenant-1", serviceprincipalid: "client-1", ...params },
  data: { subscriptionid: "sub-1", environment: "AzureCloud" },
});
const pipeline = { oidcRequestUri: "https://dev.azure.com/org/_apis/oidc", accessToken: "job-token" };

test("inputs become KPUSH_* variables, one value per line", () => {
  const s = kpushSettings(inputs, null);
  assert.deepEqual(s.args, ["apply", "--output", "json"]);
  assert.deepEqual(s.env, {
    KPUSH_CI: "azure-devops",
    KPUSH_FILENAME: "k8s/\nextra.yaml",
    KPUSH_IMAGE: "web=myacr.azurecr.io/web:42",
    KPUSH_NAMESPACE: "shop",
    KPUSH_RESOURCE_GROUP: "rg-shop",
    KPUSH_AKS_CLUSTER: "aks-shop",
    KPUSH_WAIT: "true",
  });
  assert.deepEqual(s.secrets, []);
});

test("workload identity federation signs in as azure-pipelines with the connection's ids", () => {
  const s = kpushSettings(inputs, endpoint("WorkloadIdentityFederation"), pipeline);
  assert.equal(s.env.KPUSH_AUTH, "azure-pipelines");
  assert.equal(s.env.AZURE_SERVICE_CONNECTION_ID, "conn-1");
  assert.equal(s.env.AZURE_TENANT_ID, "tenant-1");
  assert.equal(s.env.AZURE_CLIENT_ID, "client-1");
  assert.equal(s.env.SYSTEM_OIDCREQUESTURI, pipeline.oidcRequestUri);
  assert.equal(s.env.SYSTEM_ACCESSTOKEN, "job-token");
  assert.equal(s.env.KPUSH_SUBSCRIPTION, "sub-1");
  assert.deepEqual(s.secrets, ["job-token"]);
  assert.equal(s.env.AZURE_CLIENT_SECRET, undefined);
});

test("a service principal's secret goes to AZURE_CLIENT_SECRET and is a secret", () => {
  const s = kpushSettings(inputs, endpoint("ServicePrincipal", { serviceprincipalkey: "p@ss;word", authenticationtype: "spnKey" }));
  assert.equal(s.env.KPUSH_AUTH, "client-secret");
  assert.equal(s.env.AZURE_CLIENT_SECRET, "p@ss;word");
  assert.deepEqual(s.secrets, ["p@ss;word"]);
  assert.ok(!describe(s).includes("p@ss;word"), describe(s));
});

test("a certificate service principal is refused rather than written to disk", () => {
  assert.throws(
    () => kpushSettings(inputs, endpoint("ServicePrincipal", { authenticationtype: "spnCertificate" })),
    /certificate are not supported/
  );
});

test("managed identity signs in as managed-identity", () => {
  const s = kpushSettings(inputs, endpoint("ManagedServiceIdentity"));
  assert.equal(s.env.KPUSH_AUTH, "managed-identity");
  assert.deepEqual(s.secrets, []);
});

test("sovereign clouds select kpush's cloud, and an explicit subscription wins", () => {
  const e = endpoint("ManagedServiceIdentity");
  e.data.environment = "AzureUSGovernment";
  const s = kpushSettings({ ...inputs, subscription: "sub-2" }, e);
  assert.equal(s.env.KPUSH_CLOUD, "AzureUSGovernment");
  assert.equal(s.env.KPUSH_SUBSCRIPTION, "sub-2");
});

test("a targets file replaces the cluster, signing in through the service connection", () => {
  const { cluster, resourceGroup, ...rest } = inputs;
  const s = kpushSettings({ ...rest, targets: "deploy/targets.yaml", parallel: "2" }, endpoint("ManagedServiceIdentity"));
  assert.equal(s.env.KPUSH_TARGETS, "deploy/targets.yaml");
  assert.equal(s.env.KPUSH_PARALLEL, "2");
  assert.equal(s.env.KPUSH_AKS_CLUSTER, undefined);
  assert.equal(s.env.KPUSH_AUTH, "managed-identity");
});

test("switches are set only when on", () => {
  const s = kpushSettings({ ...inputs, prune: "true", applyset: "shop", rollbackOnFailure: "true" }, null);
  assert.equal(s.env.KPUSH_PRUNE, "true");
  assert.equal(s.env.KPUSH_APPLYSET, "shop");
  assert.equal(s.env.KPUSH_ROLLBACK_ON_FAILURE, "true");
  assert.equal(s.env.KPUSH_FORCE_CONFLICTS, undefined);
});

test("a release prunes by default; prune=false keeps, and the lock timeout passes", () => {
  const s = kpushSettings({ ...inputs, release: "shop", prune: "default", lockTimeout: "10m" }, null);
  assert.equal(s.env.KPUSH_RELEASE, "shop");
  assert.equal(s.env.KPUSH_PRUNE, undefined);
  assert.equal(s.env.KPUSH_LOCK_TIMEOUT, "10m");
  const keep = kpushSettings({ ...inputs, release: "shop", prune: "false" }, null);
  assert.equal(keep.env.KPUSH_PRUNE, "false");
});

test("the prune guards' inputs reach apply and diff", () => {
  for (const command of ["apply", "diff"]) {
    const s = kpushSettings({ ...inputs, command, allowEmpty: "true", pruneLimit: " 20% ", takeOverFromReleases: "true" }, null);
    assert.equal(s.env.KPUSH_ALLOW_EMPTY, "true");
    assert.equal(s.env.KPUSH_PRUNE_LIMIT, "20%");
    assert.equal(s.env.KPUSH_TAKE_OVER_FROM_RELEASES, "true");
  }
  const off = kpushSettings({ ...inputs, allowEmpty: "false", pruneLimit: "" }, null);
  assert.equal(off.env.KPUSH_ALLOW_EMPTY, undefined);
  assert.equal(off.env.KPUSH_PRUNE_LIMIT, undefined);
});

test("diff leaves out apply's flags", () => {
  const s = kpushSettings({ ...inputs, command: "diff" }, null);
  assert.deepEqual(s.args, ["diff"], "kpush diff has no --output");
  assert.equal(s.env.KPUSH_WAIT, undefined);
  assert.equal(s.env.KPUSH_PRUNE, undefined);
  assert.equal(s.env.KPUSH_LOCK_TIMEOUT, undefined);
});

test("mistakes are explained", () => {
  assert.throws(() => kpushSettings({ ...inputs, manifests: "\n" }, null), /no manifests/);
  assert.throws(() => kpushSettings({ ...inputs, cluster: "" }, endpoint("ManagedServiceIdentity")), /no 'cluster'/);
  assert.throws(() => kpushSettings(inputs, endpoint("UsernamePassword")), /supports WorkloadIdentityFederation/);
  assert.throws(() => kpushSettings(inputs, endpoint("WorkloadIdentityFederation"), {}), /OidcRequestUri/);
});
