//! Azure Resource Manager: fetch an AKS cluster's kubeconfig and read its server and CA.

use super::error::redact;
use super::tokens::AccessToken;
use super::{AksTarget, AuthError, FleetTarget};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::Value;

/// The API version of `listClusterUserCredential` kpush speaks.
pub(crate) const AKS_API_VERSION: &str = "2024-08-01";

/// The API version of a fleet's `listCredentials` kpush speaks (GA).
pub(crate) const FLEET_API_VERSION: &str = "2025-03-01";

/// Which ARM resource's kubeconfig to ask for.
#[derive(Debug, Clone, Copy)]
pub(crate) enum CredentialsOf<'a> {
    /// An AKS managed cluster (`listClusterUserCredential` or, with `admin`, `...AdminCredential`).
    Aks(&'a AksTarget),
    /// A Fleet Manager fleet's hub (`listCredentials`).
    Fleet(&'a FleetTarget),
}

/// Where and how to reach a cluster's API server, from its kubeconfig.
#[derive(Debug, Clone)]
pub(crate) struct ClusterEndpoint {
    /// API server URL.
    pub server: String,
    /// DER certificates of the API server's CA.
    pub ca_der: Vec<Vec<u8>>,
}

/// Calls `listClusterUserCredential` (or `listClusterAdminCredential`) and returns the kubeconfig.
pub(crate) async fn list_credentials(
    http: &reqwest::Client,
    arm_endpoint: &str,
    token: &AccessToken,
    target: &AksTarget,
) -> Result<String, AuthError> {
    list_credentials_of(http, arm_endpoint, token, CredentialsOf::Aks(target)).await
}

/// Calls the credential action of `of` and returns the kubeconfig.
pub(crate) async fn list_credentials_of(
    http: &reqwest::Client,
    arm_endpoint: &str,
    token: &AccessToken,
    of: CredentialsOf<'_>,
) -> Result<String, AuthError> {
    let url = match of {
        CredentialsOf::Aks(target) => {
            let action = if target.admin {
                "listClusterAdminCredential"
            } else {
                "listClusterUserCredential"
            };
            tracing::info!(cluster = %target.cluster, resource_group = %target.resource_group, action, "getting cluster credentials from ARM");
            format!(
                "{arm_endpoint}{}/{action}?api-version={AKS_API_VERSION}&format=exec",
                target.resource_id()
            )
        }
        CredentialsOf::Fleet(fleet) => {
            tracing::info!(fleet = %fleet.fleet, resource_group = %fleet.resource_group, "getting the fleet hub's credentials from ARM (listCredentials)");
            format!(
                "{arm_endpoint}{}/listCredentials?api-version={FLEET_API_VERSION}",
                fleet.resource_id()
            )
        }
    };
    let response = http
        .post(&url)
        .bearer_auth(token.secret())
        .header("content-length", "0")
        .send()
        .await
        .map_err(|e| AuthError::Unreachable {
            what: "Azure Resource Manager".into(),
            url: arm_endpoint.to_string(),
            detail: super::http::transport_detail(&e),
        })?;
    let status = response.status().as_u16();
    let body = response.bytes().await.map_err(|e| AuthError::Unreachable {
        what: "Azure Resource Manager".into(),
        url: arm_endpoint.to_string(),
        detail: super::http::transport_detail(&e),
    })?;
    if status != 200 {
        return Err(match of {
            CredentialsOf::Aks(target) => arm_error(status, &body, target),
            CredentialsOf::Fleet(fleet) => fleet_arm_error(status, &body, fleet),
        });
    }
    let json: Value = serde_json::from_slice(&body).map_err(|e| AuthError::Kubeconfig {
        message: format!("ARM's answer is not JSON: {e}"),
    })?;
    let value = json
        .get("kubeconfigs")
        .and_then(Value::as_array)
        .and_then(|k| k.first())
        .and_then(|k| k.get("value"))
        .and_then(Value::as_str)
        .ok_or_else(|| AuthError::Kubeconfig {
            message: "ARM's answer has no kubeconfigs[0].value".into(),
        })?;
    let bytes = STANDARD.decode(value).map_err(|e| AuthError::Kubeconfig {
        message: format!("kubeconfigs[0].value is not base64: {e}"),
    })?;
    String::from_utf8(bytes).map_err(|_| AuthError::Kubeconfig {
        message: "the kubeconfig is not UTF-8".into(),
    })
}

/// ARM's error code and (redacted) message.
fn code_and_message(status: u16, body: &[u8]) -> (String, String) {
    let json: Option<Value> = serde_json::from_slice(body).ok();
    let field = |name: &str| {
        json.as_ref()
            .and_then(|j| j.get("error"))
            .and_then(|e| e.get(name))
            .and_then(Value::as_str)
            .map(str::to_string)
    };
    let code = field("code").unwrap_or_else(|| format!("HTTP{status}"));
    let message = redact(
        &field("message")
            .unwrap_or_else(|| String::from_utf8_lossy(body).chars().take(300).collect()),
    );
    (code, message)
}

/// The object id ARM's AuthorizationFailed message names.
fn object_id(message: &str) -> &str {
    message
        .split("object id '")
        .nth(1)
        .and_then(|s| s.split('\'').next())
        .unwrap_or("OBJECT_ID")
}

fn fleet_arm_error(status: u16, body: &[u8], fleet: &FleetTarget) -> AuthError {
    let (code, message) = code_and_message(status, body);
    let fix = match code.as_str() {
        "AuthorizationFailed" => format!(
            "the identity needs Microsoft.ContainerService/fleets/listCredentials/action on the fleet, e.g. the 'Azure Kubernetes Fleet Manager Contributor Role': az role assignment create --assignee-object-id {} --assignee-principal-type ServicePrincipal --role \"Azure Kubernetes Fleet Manager Contributor Role\" --scope {}",
            object_id(&message),
            fleet.resource_id()
        ),
        "ResourceNotFound" | "ResourceGroupNotFound" | "SubscriptionNotFound" => {
            "check --fleet, --resource-group and --subscription; the identity must also be able to see the subscription".into()
        }
        "BadRequest" if message.to_ascii_lowercase().contains("hub") => {
            "this fleet has no hub cluster (created without --enable-hub): kpush deploys through a fleet's hub; create the fleet with a hub, or deploy to each member with --aks-cluster".into()
        }
        _ => "see ARM's message; retry if it is transient".into(),
    };
    AuthError::Arm {
        status,
        code,
        message,
        fix,
    }
}

fn arm_error(status: u16, body: &[u8], target: &AksTarget) -> AuthError {
    let (code, message) = code_and_message(status, body);
    let role = if target.admin {
        "Azure Kubernetes Service Cluster Admin Role"
    } else {
        "Azure Kubernetes Service Cluster User Role"
    };
    let fix = match code.as_str() {
        "AuthorizationFailed" => {
            let oid = object_id(&message);
            format!(
                "grant the identity the '{role}' on the cluster: az role assignment create --assignee-object-id {oid} --assignee-principal-type ServicePrincipal --role \"{role}\" --scope {}",
                target.resource_id()
            )
        }
        "ResourceNotFound" | "ResourceGroupNotFound" | "SubscriptionNotFound" => {
            "check --aks-cluster-id (subscription, resource group and name); the identity must also be able to see the subscription".into()
        }
        "BadRequest" if message.contains("disable local accounts") => {
            "drop --admin (and KPUSH_AKS_ADMIN): this cluster has local accounts disabled, so it has no admin certificate and accepts only Entra ID sign-ins; without --admin kpush signs in with Entra ID, and the identity needs a RoleBinding (or an Azure RBAC role) in the namespace it deploys to".into()
        }
        "InvalidAuthenticationTokenTenant" => {
            "the subscription belongs to another tenant: pass that tenant with --tenant-id".into()
        }
        "ExpiredAuthenticationToken" | "InvalidAuthenticationToken" | "AuthenticationFailed" => {
            "check the machine's clock and that --cloud/--arm-endpoint match the tenant's cloud".into()
        }
        "InvalidAuthenticationTokenAudience" => {
            "the ARM token was issued for another audience: check --cloud and --arm-scope".into()
        }
        _ => "see ARM's message; retry if it is transient".into(),
    };
    AuthError::Arm {
        status,
        code,
        message,
        fix,
    }
}

/// The server URL and CA of the kubeconfig's current context (its user is read by
/// `local_account`: kpush never runs kubelogin).
pub(crate) fn cluster_endpoint(kubeconfig: &str) -> Result<ClusterEndpoint, AuthError> {
    let (server, ca_data) = server_and_ca_data(kubeconfig)?;
    let pem = STANDARD
        .decode(ca_data.trim())
        .map_err(|e| AuthError::Kubeconfig {
            message: format!("certificate-authority-data is not base64: {e}"),
        })?;
    let ca_der = pem_certificates(&pem).map_err(|message| AuthError::Kubeconfig { message })?;
    Ok(ClusterEndpoint { server, ca_der })
}

/// The server URL and base64 `certificate-authority-data` of the kubeconfig's current context.
pub(crate) fn server_and_ca_data(kubeconfig: &str) -> Result<(String, String), AuthError> {
    let config =
        kube::config::Kubeconfig::from_yaml(kubeconfig).map_err(|e| AuthError::Kubeconfig {
            message: format!("it does not parse: {e}"),
        })?;
    let cluster_name = config
        .current_context
        .as_ref()
        .and_then(|name| config.contexts.iter().find(|c| &c.name == name))
        .and_then(|c| c.context.as_ref())
        .map(|c| c.cluster.clone());
    let named = match cluster_name {
        Some(name) => config.clusters.iter().find(|c| c.name == name),
        None => config.clusters.first(),
    }
    .ok_or_else(|| AuthError::Kubeconfig {
        message: "it names no cluster".into(),
    })?;
    let cluster = named
        .cluster
        .as_ref()
        .ok_or_else(|| AuthError::Kubeconfig {
            message: format!("cluster '{}' has no details", named.name),
        })?;
    let server = cluster
        .server
        .clone()
        .ok_or_else(|| AuthError::Kubeconfig {
            message: format!("cluster '{}' has no server", named.name),
        })?;
    let ca_data =
        cluster
            .certificate_authority_data
            .clone()
            .ok_or_else(|| AuthError::Kubeconfig {
                message: format!("cluster '{}' has no certificate-authority-data", named.name),
            })?;
    Ok((server, ca_data))
}

/// DER certificates of a PEM bundle.
pub(crate) fn pem_certificates(pem: &[u8]) -> Result<Vec<Vec<u8>>, String> {
    use rustls_pki_types::CertificateDer;
    use rustls_pki_types::pem::PemObject;
    let certs: Vec<Vec<u8>> = CertificateDer::pem_slice_iter(pem)
        .filter_map(Result::ok)
        .map(|c| c.as_ref().to_vec())
        .collect();
    if certs.is_empty() {
        return Err("the CA data holds no PEM certificate".into());
    }
    Ok(certs)
}
