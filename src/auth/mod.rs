//! Signing in to Microsoft Entra ID and getting a Kubernetes client for an AKS cluster.
//!
//! kpush signs in by itself (no az, no kubelogin): it picks a credential ([`AuthMethod`],
//! Auto detecting CI systems from the environment, see docs/authentication.md), asks ARM for
//! the cluster's kubeconfig, keeps its server URL and CA, and builds a [`kube::Client`] whose
//! requests carry an Entra token for AKS (scope [`AKS_SCOPE`]) that is refreshed before it
//! expires and once more when the API server answers 401. When the kubeconfig's user is a local
//! account (a client certificate: a cluster without Entra integration, or `--admin`), the
//! client presents that certificate instead.
//!
//! ```no_run
//! # async fn demo() -> Result<(), kpush::auth::AuthError> {
//! use kpush::auth::{AksTarget, AzureSettings, aks_client};
//! let target = AksTarget::from_resource_id(
//!     "/subscriptions/S/resourceGroups/RG/providers/Microsoft.ContainerService/managedClusters/NAME",
//! )?;
//! let client = aks_client(&AzureSettings::default(), &target).await?;
//! # let _ = client; Ok(()) }
//! ```

mod aadsts;
mod arm;
mod assertions;
mod chain;
mod connect;
pub mod connection;
mod credential;
mod device_code;
mod error;
mod exec;
mod forbidden;
mod http;
mod kube_client;
mod local_account;
pub mod request_count;
mod settings;
mod target;
pub(crate) mod tokens;

pub use connect::ConnectError;
pub use error::{AuthError, PresentedAssertion};
pub use exec::{AksCluster, EXEC_API_VERSION, exec_api_version, exec_credential, exec_kubeconfig};
pub use forbidden::{advise_missing, advise_missing_on_fleet, explain_forbidden};
pub use settings::{
    AKS_SCOPE, AKS_SERVER_APP_ID, AuthMethod, AzureSettings, Cloud, DEVICE_CODE_CLIENT_ID,
    DeviceCodeCallback, DeviceCodePrompt,
};
pub use target::{AksTarget, FleetTarget};
pub use tokens::AccessToken;

use local_account::ClusterUser;
use std::sync::Arc;
use tokens::TokenSource;

/// A [`kube::Client`] for an AKS cluster: ARM → kubeconfig → server + CA → client whose
/// requests carry a fresh Entra bearer token for AKS (or the local account's client certificate
/// when the kubeconfig holds one).
pub async fn aks_client(
    settings: &AzureSettings,
    target: &AksTarget,
) -> Result<kube::Client, AuthError> {
    aks_client_with(settings, target, |_| {})
        .await
        .map(|connected| connected.client)
}

/// A client from [`aks_client_with`], with what messages need to say about it.
#[derive(Clone)]
pub struct AksConnection {
    /// The client.
    pub client: kube::Client,
    /// The API server's URL, from ARM.
    pub server: String,
    /// Who kpush signed in as, as the API server names it: the Entra principal's object id
    /// (when the token says), or a local account certificate's common name.
    pub identity: Option<String>,
}

/// Like [`aks_client`]; `adjust` changes the client's configuration (timeouts, retries)
/// before it is built.
pub async fn aks_client_with(
    settings: &AzureSettings,
    target: &AksTarget,
    adjust: impl FnOnce(&mut kube::Config),
) -> Result<AksConnection, AuthError> {
    connect_through_arm(settings, arm::CredentialsOf::Aks(target), adjust).await
}

/// Like [`aks_client_with`], for the hub cluster of an Azure Kubernetes Fleet Manager fleet:
/// ARM's `listCredentials` of the fleet gives the hub's address, and the hub takes Entra ID
/// tokens for AKS as an AKS cluster does.
pub async fn fleet_client_with(
    settings: &AzureSettings,
    fleet: &FleetTarget,
    adjust: impl FnOnce(&mut kube::Config),
) -> Result<AksConnection, AuthError> {
    connect_through_arm(settings, arm::CredentialsOf::Fleet(fleet), adjust).await
}

async fn connect_through_arm(
    settings: &AzureSettings,
    of: arm::CredentialsOf<'_>,
    adjust: impl FnOnce(&mut kube::Config),
) -> Result<AksConnection, AuthError> {
    let http = http::reqwest_client(settings)?;
    let provider = credential::provider(settings, &http)?;
    let arm_endpoint = settings.arm_endpoint()?;
    let arm_tokens = TokenSource::new(provider.clone(), &settings.arm_scope());
    let arm_token = arm_tokens.token().await?;
    let kubeconfig = arm::list_credentials_of(&http, &arm_endpoint, &arm_token, of).await?;
    let endpoint = arm::cluster_endpoint(&kubeconfig)?;
    if let ClusterUser::Certificate(account) = local_account::cluster_user(&kubeconfig)? {
        let subject = account.subject.clone();
        tracing::info!(
            server = %endpoint.server,
            user = %account.user,
            certificate = subject.as_ref().map(ToString::to_string).as_deref().unwrap_or("unreadable subject"),
            "AKS API server found; signing in with the cluster's local-account client certificate from ARM, not Entra ID"
        );
        let client = local_account::client(account, &endpoint, adjust).await?;
        return Ok(AksConnection {
            client,
            server: endpoint.server,
            identity: subject.map(|s| s.common_name),
        });
    }
    tracing::info!(server = %endpoint.server, "AKS API server found; authenticating with Entra ID tokens");
    let aks_tokens = Arc::new(TokenSource::new(provider, AKS_SCOPE));
    // Sign in for the cluster now, so a refused sign-in fails here and not on the first request.
    let identity = aks_tokens.token().await?.principal();
    tracing::info!(
        method = %aks_tokens.method(),
        identity = identity.as_deref().unwrap_or("unknown"),
        "signed in to Entra ID for the AKS API server"
    );
    let client = kube_client::build(&endpoint.server, endpoint.ca_der, aks_tokens, adjust)?;
    Ok(AksConnection {
        client,
        server: endpoint.server,
        identity,
    })
}

/// A [`kube::Client`] for any API server URL and PEM CA that trusts Entra tokens for AKS
/// (skips ARM; for clusters reached directly, and for tests).
pub async fn entra_client(
    settings: &AzureSettings,
    server: &str,
    ca_pem: &str,
) -> Result<kube::Client, AuthError> {
    let http = http::reqwest_client(settings)?;
    let provider = credential::provider(settings, &http)?;
    let ca_der = arm::pem_certificates(ca_pem.as_bytes()).map_err(|message| AuthError::Config {
        message: format!("the API server CA: {message}"),
        fix: "pass the cluster's CA certificate in PEM".into(),
    })?;
    let tokens = Arc::new(TokenSource::new(provider, AKS_SCOPE));
    tokens.token().await?;
    kube_client::build(server, ca_der, tokens, |_| {})
}

/// An access token for `scope` (e.g. [`AKS_SCOPE`]), for `kpush token` (exec credential plugin).
pub async fn access_token(settings: &AzureSettings, scope: &str) -> Result<AccessToken, AuthError> {
    let http = http::reqwest_client(settings)?;
    let provider = credential::provider(settings, &http)?;
    provider.fetch(scope, false).await
}

/// The API server address and CA of `target`, from ARM (for `kpush kubeconfig`); refused for a
/// cluster without Entra integration, which would not accept `kpush token`.
pub async fn aks_cluster(
    settings: &AzureSettings,
    target: &AksTarget,
) -> Result<AksCluster, AuthError> {
    let kubeconfig = aks_kubeconfig(settings, target).await?;
    let (server, certificate_authority_data) = arm::server_and_ca_data(&kubeconfig)?;
    // Check the CA now, so a broken one fails here and not in kubectl.
    arm::cluster_endpoint(&kubeconfig)?;
    if let ClusterUser::Certificate(account) = local_account::cluster_user(&kubeconfig)? {
        return Err(AuthError::Config {
            message: format!(
                "the cluster has no Microsoft Entra ID integration: ARM's kubeconfig signs in with a local-account client certificate (user '{}'), so the cluster would refuse a kubeconfig that signs in through `kpush token`",
                account.user
            ),
            fix: "enable Entra ID integration on the cluster (az aks update --enable-aad), or use kpush apply/diff/status with --aks-cluster, which present the certificate without writing it to a file".into(),
        });
    }
    Ok(AksCluster {
        server,
        certificate_authority_data,
    })
}

/// The kubeconfig ARM returns for `target` (for `kpush get-credentials`-style commands): for
/// Entra clusters its user runs kubelogin, which kpush itself never needs; with `--admin` or
/// without Entra integration it holds a client key, a secret.
pub async fn aks_kubeconfig(
    settings: &AzureSettings,
    target: &AksTarget,
) -> Result<String, AuthError> {
    let http = http::reqwest_client(settings)?;
    let provider = credential::provider(settings, &http)?;
    let token = provider.fetch(&settings.arm_scope(), false).await?;
    arm::list_credentials(&http, &settings.arm_endpoint()?, &token, target).await
}
