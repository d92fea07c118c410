//! Azure Resource Manager: AKS managed clusters and their credential actions.

use crate::config::{AKS_SERVER_APP_ID, Cluster, Config, KUBELOGIN_CLIENT_ID};
use crate::jwt::{self, Decoded};
use crate::server::{Reply, Req, State};
use crate::{entra, util};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hyper::Method;
use serde_json::json;

const PROVIDER: &str = "Microsoft.ContainerService";
const ALLOWED_AUDIENCES: [&str; 4] = [
    "https://management.core.windows.net/",
    "https://management.core.windows.net",
    "https://management.azure.com/",
    "https://management.azure.com",
];

fn arm_error(status: u16, code: &str, message: &str) -> Reply {
    Reply::json(
        status,
        &json!({"error": {"code": code, "message": message}}),
    )
    .with_header("x-ms-request-id", util::uuid())
    .with_header("x-ms-correlation-request-id", util::uuid())
}

fn unauthenticated(code: &str, message: &str) -> Reply {
    arm_error(401, code, message).with_header(
        "www-authenticate",
        format!(
            "Bearer authorization_uri=\"https://login.windows.net/\", error=\"invalid_token\", error_description=\"{message}\""
        ),
    )
}

/// Routes `/subscriptions/...`.
pub(crate) fn handle(state: &State, req: &Req, segments: &[&str]) -> Reply {
    if let [
        "subscriptions",
        sub,
        rg_word,
        rg,
        "providers",
        provider,
        "fleets",
        name,
        action,
    ] = segments
        && rg_word.eq_ignore_ascii_case("resourceGroups")
        && provider.eq_ignore_ascii_case(PROVIDER)
        && action.eq_ignore_ascii_case("listCredentials")
        && req.method == Method::POST
    {
        return fleet_credentials(state, req, sub, rg, name);
    }
    let (sub, rg, name, action) = match segments {
        [
            "subscriptions",
            sub,
            rg_word,
            rg,
            "providers",
            provider,
            "managedClusters",
            name,
            rest @ ..,
        ] if rg_word.eq_ignore_ascii_case("resourceGroups")
            && provider.eq_ignore_ascii_case(PROVIDER) =>
        {
            match rest {
                [] if req.method == Method::GET => (*sub, *rg, *name, None),
                [action] if req.method == Method::POST => (*sub, *rg, *name, Some(*action)),
                _ => return not_found_path(req),
            }
        }
        _ => return not_found_path(req),
    };
    let admin = match action {
        None => None,
        Some(a) if a.eq_ignore_ascii_case("listClusterUserCredential") => Some(false),
        Some(a) if a.eq_ignore_ascii_case("listClusterAdminCredential") => Some(true),
        Some(_) => return not_found_path(req),
    };
    let config = state.config();
    let token = match authenticate(state, &config, req) {
        Ok(t) => t,
        Err(reply) => return reply,
    };
    if !req.query.contains_key("api-version") {
        return arm_error(
            400,
            "MissingApiVersionParameter",
            "The api-version query parameter (?api-version=) is required for all requests.",
        );
    }
    let scope = format!(
        "/subscriptions/{sub}/resourceGroups/{rg}/providers/{PROVIDER}/managedClusters/{name}"
    );
    let action_name = match admin {
        None => format!("{PROVIDER}/managedClusters/read"),
        Some(false) => format!("{PROVIDER}/managedClusters/listClusterUserCredential/action"),
        Some(true) => format!("{PROVIDER}/managedClusters/listClusterAdminCredential/action"),
    };
    if !authorized(&config, &token, &scope, admin) {
        let oid = token.str_claim("oid").unwrap_or_default();
        let client = token
            .str_claim("upn")
            .or_else(|| token.str_claim("appid"))
            .unwrap_or(oid);
        return arm_error(
            403,
            "AuthorizationFailed",
            &format!(
                "The client '{client}' with object id '{oid}' does not have authorization to perform action '{action_name}' over scope '{scope}' or the scope is invalid. If access was recently granted, please refresh your credentials."
            ),
        );
    }
    let Some(cluster) = config.clusters.iter().find(|c| {
        c.subscription.eq_ignore_ascii_case(sub)
            && c.resource_group.eq_ignore_ascii_case(rg)
            && c.name.eq_ignore_ascii_case(name)
    }) else {
        let rg_exists = config.clusters.iter().any(|c| {
            c.subscription.eq_ignore_ascii_case(sub) && c.resource_group.eq_ignore_ascii_case(rg)
        });
        if !rg_exists {
            return arm_error(
                404,
                "ResourceGroupNotFound",
                &format!("Resource group '{rg}' could not be found."),
            );
        }
        return arm_error(
            404,
            "ResourceNotFound",
            &format!(
                "The Resource '{PROVIDER}/managedClusters/{name}' under resource group '{rg}' was not found. For more details please go to https://aka.ms/ARMResourceNotFoundFix"
            ),
        );
    };
    let Some(admin) = admin else {
        return cluster_resource(cluster);
    };
    if let Some(format) = req.query.get("format")
        && !format.eq_ignore_ascii_case("exec")
    {
        return arm_error(
            400,
            "BadRequest",
            &format!(
                "Format '{format}' is not supported; use 'exec' (the 'azure' auth-provider format was removed in Kubernetes 1.26)."
            ),
        );
    }
    if admin && cluster.local_accounts_disabled {
        return arm_error(
            400,
            "BadRequest",
            "Getting static credential is not allowed because this cluster is set to disable local accounts.",
        );
    }
    let kubeconfig = if admin || !cluster.entra_enabled {
        static_kubeconfig(cluster, admin)
    } else {
        exec_kubeconfig(cluster)
    };
    let entry = if admin { "clusterAdmin" } else { "clusterUser" };
    Reply::json(
        200,
        &json!({"kubeconfigs": [{"name": entry, "value": STANDARD.encode(kubeconfig)}]}),
    )
    .with_header("x-ms-request-id", util::uuid())
}

/// `POST .../fleets/{name}/listCredentials`: the hub's kubeconfig, as Fleet Manager returns it
/// (an exec user running kubelogin, the hub being an Entra ID cluster).
fn fleet_credentials(state: &State, req: &Req, sub: &str, rg: &str, name: &str) -> Reply {
    let config = state.config();
    let token = match authenticate(state, &config, req) {
        Ok(t) => t,
        Err(reply) => return reply,
    };
    if !req.query.contains_key("api-version") {
        return arm_error(
            400,
            "MissingApiVersionParameter",
            "The api-version query parameter (?api-version=) is required for all requests.",
        );
    }
    let scope =
        format!("/subscriptions/{sub}/resourceGroups/{rg}/providers/{PROVIDER}/fleets/{name}");
    if !granted(&config, &token, &scope, |role| {
        role.allows_fleet_credentials()
    }) {
        let oid = token.str_claim("oid").unwrap_or_default();
        let client = token
            .str_claim("upn")
            .or_else(|| token.str_claim("appid"))
            .unwrap_or(oid);
        return arm_error(
            403,
            "AuthorizationFailed",
            &format!(
                "The client '{client}' with object id '{oid}' does not have authorization to perform action '{PROVIDER}/fleets/listCredentials/action' over scope '{scope}' or the scope is invalid. If access was recently granted, please refresh your credentials."
            ),
        );
    }
    let Some(hub) = config.fleets.iter().find(|c| {
        c.subscription.eq_ignore_ascii_case(sub)
            && c.resource_group.eq_ignore_ascii_case(rg)
            && c.name.eq_ignore_ascii_case(name)
    }) else {
        return arm_error(
            404,
            "ResourceNotFound",
            &format!(
                "The Resource '{PROVIDER}/fleets/{name}' under resource group '{rg}' was not found. For more details please go to https://aka.ms/ARMResourceNotFoundFix"
            ),
        );
    };
    Reply::json(
        200,
        &json!({"kubeconfigs": [{"name": "hub", "value": STANDARD.encode(exec_kubeconfig(hub))}]}),
    )
    .with_header("x-ms-request-id", util::uuid())
}

fn not_found_path(req: &Req) -> Reply {
    arm_error(
        404,
        "InvalidResourceType",
        &format!(
            "The resource type could not be found for {} {} in the emulator.",
            req.method, req.path
        ),
    )
}

/// Checks the bearer token: an Entra token for ARM from one of this emulator's tenants.
fn authenticate(state: &State, config: &Config, req: &Req) -> Result<Decoded, Reply> {
    let Some(token) = req.bearer() else {
        return Err(unauthenticated(
            "AuthenticationFailed",
            "Authentication failed. The 'Authorization' header is missing.",
        ));
    };
    let invalid = || unauthenticated("InvalidAuthenticationToken", "The access token is invalid.");
    let decoded = jwt::decode(token).map_err(|_| invalid())?;
    let issuer = decoded.str_claim("iss").unwrap_or_default();
    let known_issuer = config
        .tenants
        .iter()
        .any(|t| entra::tenant_issuer(&state.base, &t.id) == issuer);
    if !known_issuer
        || decoded.kid() != Some(state.keys.entra.kid())
        || !state
            .keys
            .entra
            .verifies(decoded.signing_input.as_bytes(), &decoded.signature)
    {
        return Err(invalid());
    }
    let now = util::now();
    let exp = decoded.num_claim("exp").unwrap_or(0);
    if exp <= now {
        return Err(unauthenticated(
            "ExpiredAuthenticationToken",
            &format!(
                "The access token expiry UTC time '{}' is earlier than current UTC time '{}'.",
                util::iso_timestamp(exp),
                util::iso_timestamp(now)
            ),
        ));
    }
    let audiences = decoded.audiences();
    if !audiences
        .iter()
        .any(|a| ALLOWED_AUDIENCES.contains(&a.as_str()))
    {
        let shown = audiences.first().cloned().unwrap_or_default();
        return Err(unauthenticated(
            "InvalidAuthenticationTokenAudience",
            &format!(
                "The access token has been obtained for wrong audience or resource '{shown}'. It should exactly match with one of the allowed audiences {}.",
                ALLOWED_AUDIENCES.map(|a| format!("'{a}'")).join(",")
            ),
        ));
    }
    Ok(decoded)
}

/// Whether the token's principal (or one of its groups) holds a role allowing the action.
fn authorized(config: &Config, token: &Decoded, scope: &str, admin: Option<bool>) -> bool {
    granted(config, token, scope, |role| match admin {
        None => true,
        Some(admin) => role.allows_credentials(admin),
    })
}

/// Whether the token's principal (or one of its groups) holds a role at `scope` (or above)
/// for which `allows` says yes.
fn granted(
    config: &Config,
    token: &Decoded,
    scope: &str,
    allows: impl Fn(crate::config::Role) -> bool,
) -> bool {
    let oid = token.str_claim("oid").unwrap_or_default();
    let groups: Vec<&str> = token
        .claims
        .get("groups")
        .and_then(|g| g.as_array())
        .map(|a| a.iter().filter_map(|v| v.as_str()).collect())
        .unwrap_or_default();
    let scope_lower = scope.to_ascii_lowercase();
    config.role_assignments.iter().any(|ra| {
        let who = ra.principal_id.eq_ignore_ascii_case(oid)
            || groups
                .iter()
                .any(|g| ra.principal_id.eq_ignore_ascii_case(g));
        let assigned = ra.scope.trim_end_matches('/').to_ascii_lowercase();
        let covers = scope_lower == assigned || scope_lower.starts_with(&format!("{assigned}/"));
        who && covers && allows(ra.role)
    })
}

fn cluster_resource(cluster: &Cluster) -> Reply {
    Reply::json(
        200,
        &json!({
            "id": cluster.resource_id(),
            "name": cluster.name,
            "type": "Microsoft.ContainerService/ManagedClusters",
            "location": "westeurope",
            "properties": {
                "provisioningState": "Succeeded",
                "powerState": {"code": "Running"},
                "kubernetesVersion": "1.35.4",
                "fqdn": cluster.server.trim_start_matches("https://"),
                "enableRBAC": true,
                "aadProfile": if cluster.entra_enabled { json!({"managed": true, "enableAzureRBAC": false, "tenantID": cluster.tenant}) } else { json!(null) },
                "disableLocalAccounts": cluster.local_accounts_disabled,
                "apiServerAccessProfile": {"enablePrivateCluster": false},
            }
        }),
    )
}

/// YAML-quotes a string (JSON strings are valid YAML double-quoted scalars).
fn q(s: &str) -> String {
    serde_json::Value::String(s.to_string()).to_string()
}

fn kubeconfig_head(cluster: &Cluster, user: &str) -> String {
    format!(
        "apiVersion: v1\nclusters:\n- cluster:\n    certificate-authority-data: {ca}\n    server: {server}\n  name: {name}\ncontexts:\n- context:\n    cluster: {name}\n    user: {user}\n  name: {name}\ncurrent-context: {name}\nkind: Config\npreferences: {{}}\n",
        ca = STANDARD.encode(cluster.ca_pem.as_bytes()),
        server = q(&cluster.server),
        name = q(&cluster.name),
        user = q(user),
    )
}

/// The kubeconfig AKS returns for Entra clusters: an exec user running kubelogin.
fn exec_kubeconfig(cluster: &Cluster) -> String {
    let user = format!("clusterUser_{}_{}", cluster.resource_group, cluster.name);
    let mut out = kubeconfig_head(cluster, &user);
    out.push_str(&format!(
        "users:\n- name: {user}\n  user:\n    exec:\n      apiVersion: client.authentication.k8s.io/v1beta1\n      args:\n      - get-token\n      - --environment\n      - AzurePublicCloud\n      - --server-id\n      - {AKS_SERVER_APP_ID}\n      - --client-id\n      - {KUBELOGIN_CLIENT_ID}\n      - --tenant-id\n      - {tenant}\n      - --login\n      - devicecode\n      command: kubelogin\n      env: null\n      installHint: |2\n\n        kubelogin is not installed which is required to connect to AAD enabled cluster.\n\n        To learn more, please go to https://aka.ms/aks/kubelogin\n      interactiveMode: IfAvailable\n      provideClusterInfo: false\n",
        user = q(&user),
        tenant = q(&cluster.tenant),
    ));
    out
}

/// A kubeconfig with static credentials: the user's or the admin's client certificate, or a
/// token if none is configured.
fn static_kubeconfig(cluster: &Cluster, admin: bool) -> String {
    let kind = if admin { "clusterAdmin" } else { "clusterUser" };
    let user = format!("{kind}_{}_{}", cluster.resource_group, cluster.name);
    let mut out = kubeconfig_head(cluster, &user);
    out.push_str(&format!("users:\n- name: {}\n  user:\n", q(&user)));
    let cert = match (admin, &cluster.user_client_cert) {
        (false, Some(user)) => Some(user),
        _ => cluster.admin_client_cert.as_ref(),
    };
    match cert {
        Some((cert, key)) => out.push_str(&format!(
            "    client-certificate-data: {}\n    client-key-data: {}\n",
            STANDARD.encode(cert.as_bytes()),
            STANDARD.encode(key.as_bytes())
        )),
        None => out.push_str(&format!("    token: {}\n", util::random_hex(32))),
    }
    out
}
