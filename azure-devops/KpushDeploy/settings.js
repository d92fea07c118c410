"use strict";
// Turns the task's inputs and its AzureRM service connection into kpush's settings: command-line
// arguments, KPUSH_* / AZURE_* variables for the child process, and the secrets among them
// (which must be masked and never written anywhere). Pure: no I/O, so it is unit-tested alone.

/** Inputs that take one value per line, and the KPUSH_* variable each one sets. */
const MULTI_LINE = {
  manifests: "KPUSH_FILENAME",
  images: "KPUSH_IMAGE",
  vars: "KPUSH_VAR",
  varFiles: "KPUSH_VAR_FILE",
  labels: "KPUSH_LABEL",
  annotations: "KPUSH_ANNOTATION",
};

/** Single-value inputs and their KPUSH_* variable. */
const SINGLE = {
  namespace: "KPUSH_NAMESPACE",
  resourceGroup: "KPUSH_RESOURCE_GROUP",
  cluster: "KPUSH_AKS_CLUSTER",
  subscription: "KPUSH_SUBSCRIPTION",
  kubeconfig: "KPUSH_KUBECONFIG",
  context: "KPUSH_CONTEXT",
  targets: "KPUSH_TARGETS",
  parallel: "KPUSH_PARALLEL",
  timeout: "KPUSH_TIMEOUT",
  release: "KPUSH_RELEASE",
  applyset: "KPUSH_APPLYSET",
};

/** Single values that only `apply` takes. */
const APPLY_SINGLE = {
  lockTimeout: "KPUSH_LOCK_TIMEOUT",
};

/** Switches (only for apply) and their KPUSH_* variable; set only when on, because a flag given
 * through its variable counts as present even when false. */
const APPLY_SWITCHES = {
  forceConflicts: "KPUSH_FORCE_CONFLICTS",
  rollbackOnFailure: "KPUSH_ROLLBACK_ON_FAILURE",
};

/** Prune-guard switches (apply and diff give the same verdict) and their KPUSH_* variable. */
const GUARD_SWITCHES = {
  allowEmpty: "KPUSH_ALLOW_EMPTY",
  takeOverFromReleases: "KPUSH_TAKE_OVER_FROM_RELEASES",
};

/** Azure DevOps environment names → kpush --cloud values. */
const CLOUDS = {
  azurecloud: "AzurePublicCloud",
  azureusgovernment: "AzureUSGovernment",
  azurechinacloud: "AzureChinaCloud",
};

/** Lines without surrounding space, blank lines dropped. */
function lines(value) {
  return (value || "")
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => l !== "");
}

/** An error whose message says what to change. */
class SettingsError extends Error {}

/**
 * Maps the service connection to sign-in settings.
 * @param {{id: string, scheme: string, params: object, data: object}} endpoint
 * @param {{oidcRequestUri?: string, accessToken?: string}} pipeline
 * @returns {{env: object, secrets: string[]}}
 */
function credentialSettings(endpoint, pipeline) {
  const p = endpoint.params || {};
  const env = {};
  const secrets = [];
  const scheme = (endpoint.scheme || "").toLowerCase();
  if (p.tenantid) env.AZURE_TENANT_ID = p.tenantid;
  if (scheme === "workloadidentityfederation") {
    if (!p.serviceprincipalid) throw new SettingsError(`service connection ${endpoint.id} has no application (client) id`);
    if (!pipeline.oidcRequestUri || !pipeline.accessToken) {
      throw new SettingsError(
        "workload identity federation needs System.OidcRequestUri and the job's access token: run on Azure DevOps Services with agent 3.232.1 or newer"
      );
    }
    env.KPUSH_AUTH = "azure-pipelines";
    env.AZURE_CLIENT_ID = p.serviceprincipalid;
    env.AZURE_SERVICE_CONNECTION_ID = endpoint.id;
    env.SYSTEM_OIDCREQUESTURI = pipeline.oidcRequestUri;
    env.SYSTEM_ACCESSTOKEN = pipeline.accessToken;
    secrets.push(pipeline.accessToken);
  } else if (scheme === "serviceprincipal") {
    const type = (p.authenticationtype || "spnKey").toLowerCase();
    if (type === "spncertificate") {
      throw new SettingsError(
        "service connections with a certificate are not supported (kpush would have to write the private key to disk): use workload identity federation or a secret"
      );
    }
    if (!p.serviceprincipalid || !p.serviceprincipalkey) {
      throw new SettingsError(`service connection ${endpoint.id} lacks the application id or the secret`);
    }
    env.KPUSH_AUTH = "client-secret";
    env.AZURE_CLIENT_ID = p.serviceprincipalid;
    env.AZURE_CLIENT_SECRET = p.serviceprincipalkey;
    secrets.push(p.serviceprincipalkey);
  } else if (scheme === "managedserviceidentity") {
    env.KPUSH_AUTH = "managed-identity";
  } else {
    throw new SettingsError(
      `service connection ${endpoint.id} uses the '${endpoint.scheme}' scheme; kpush supports WorkloadIdentityFederation, ServicePrincipal and ManagedServiceIdentity`
    );
  }
  return { env, secrets };
}

/**
 * Everything kpush needs for one run.
 * @param {object} inputs task inputs by name (strings; booleans as "true"/"false")
 * @param {object|null} endpoint the AzureRM service connection, or null
 * @param {{oidcRequestUri?: string, accessToken?: string}} pipeline values from the job
 * @returns {{command: string, args: string[], env: object, secrets: string[]}}
 */
function kpushSettings(inputs, endpoint, pipeline = {}) {
  const command = inputs.command || "apply";
  if (command !== "apply" && command !== "diff") throw new SettingsError(`unknown command '${command}'`);
  const env = { KPUSH_CI: "azure-devops" };
  for (const [input, name] of Object.entries(MULTI_LINE)) {
    const values = lines(inputs[input]);
    if (values.length) env[name] = values.join("\n");
  }
  if (!env.KPUSH_FILENAME) throw new SettingsError("no manifests given: list files or directories in 'manifests'");
  for (const [input, name] of Object.entries(SINGLE)) {
    const value = (inputs[input] || "").trim();
    if (value) env[name] = value;
  }
  const on = (input) => String(inputs[input] || "").toLowerCase() === "true";
  for (const [input, name] of Object.entries(GUARD_SWITCHES)) {
    if (on(input)) env[name] = "true";
  }
  const pruneLimit = (inputs.pruneLimit || "").trim();
  if (pruneLimit) env.KPUSH_PRUNE_LIMIT = pruneLimit;
  if (command === "apply") {
    for (const [input, name] of Object.entries(APPLY_SWITCHES)) {
      if (on(input)) env[name] = "true";
    }
    for (const [input, name] of Object.entries(APPLY_SINGLE)) {
      const value = (inputs[input] || "").trim();
      if (value) env[name] = value;
    }
    // Prune takes a value; "default" (or nothing) leaves kpush's default: on with a release.
    const prune = String(inputs.prune || "").toLowerCase();
    if (prune === "true" || prune === "false") env.KPUSH_PRUNE = prune;
    if (inputs.wait !== undefined && inputs.wait !== "") env.KPUSH_WAIT = on("wait") ? "true" : "false";
  }
  let secrets = [];
  if (endpoint) {
    const cred = credentialSettings(endpoint, pipeline);
    Object.assign(env, cred.env);
    secrets = cred.secrets;
    const data = endpoint.data || {};
    if (!env.KPUSH_SUBSCRIPTION && data.subscriptionid) env.KPUSH_SUBSCRIPTION = data.subscriptionid;
    const cloud = CLOUDS[(data.environment || "").toLowerCase()];
    if (cloud && cloud !== "AzurePublicCloud") env.KPUSH_CLOUD = cloud;
    if (!env.KPUSH_AKS_CLUSTER && !env.KPUSH_TARGETS)
      throw new SettingsError("a service connection is set but no 'cluster': name the AKS cluster (or list clusters in 'targets')");
  }
  // apply writes its JSON report to standard output; diff writes the unified diff there (it
  // has no --output).
  const args = command === "apply" ? ["apply", "--output", "json"] : ["diff"];
  return { command, args, env, secrets };
}

/** The settings as a log line, secrets hidden. */
function describe(settings) {
  const hidden = new Set(["AZURE_CLIENT_SECRET", "SYSTEM_ACCESSTOKEN"]);
  const pairs = Object.keys(settings.env)
    .sort()
    .map((k) => `${k}=${hidden.has(k) ? "***" : JSON.stringify(settings.env[k])}`);
  return `kpush ${settings.args.join(" ")} with ${pairs.join(" ")}`;
}

module.exports = { kpushSettings, credentialSettings, describe, lines, SettingsError };
