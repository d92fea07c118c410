//! What the CLI tells the auth module: sign-in method, tenant, cloud, endpoints, CA.

use super::AuthError;
use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;
use std::sync::Arc;

/// AKS's Entra server application id; its tokens carry this audience in every cloud.
pub const AKS_SERVER_APP_ID: &str = "6dae42f8-4368-4678-94ff-3960e28e3630";
/// Scope of tokens for AKS API servers.
pub const AKS_SCOPE: &str = "6dae42f8-4368-4678-94ff-3960e28e3630/.default";
/// Public client id used for device-code sign-in (the one kubelogin and az use for AKS).
pub const DEVICE_CODE_CLIENT_ID: &str = "80faf920-1908-4b52-b5ef-a8e7bedfc67a";

/// How kpush signs in to Entra ID.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AuthMethod {
    /// Detect from the environment (see docs/authentication.md for the order).
    #[default]
    Auto,
    /// GitHub Actions OIDC token exchanged through a federated credential.
    GithubOidc,
    /// Azure Pipelines service connection with workload identity federation.
    AzurePipelines,
    /// A federated token file (`AZURE_FEDERATED_TOKEN_FILE`), e.g. AKS workload identity.
    WorkloadIdentity,
    /// Service principal with a client secret (`AZURE_CLIENT_SECRET`).
    ClientSecret,
    /// Service principal with a PEM certificate (`AZURE_CLIENT_CERTIFICATE_PATH`).
    ClientCertificate,
    /// Managed identity (App Service / Functions endpoint, or IMDS on VMs).
    ManagedIdentity,
    /// The signed-in Azure CLI (`az account get-access-token`).
    AzureCli,
    /// Interactive device-code sign-in, cached in the user's cache directory.
    DeviceCode,
}

impl AuthMethod {
    /// Every method, in the order `Auto` tries them (Auto itself excluded).
    pub const ALL: [AuthMethod; 8] = [
        AuthMethod::GithubOidc,
        AuthMethod::AzurePipelines,
        AuthMethod::WorkloadIdentity,
        AuthMethod::ClientSecret,
        AuthMethod::ClientCertificate,
        AuthMethod::ManagedIdentity,
        AuthMethod::AzureCli,
        AuthMethod::DeviceCode,
    ];

    /// The flag value: `auto`, `github-oidc`, `azure-pipelines`, ...
    pub fn as_str(self) -> &'static str {
        match self {
            AuthMethod::Auto => "auto",
            AuthMethod::GithubOidc => "github-oidc",
            AuthMethod::AzurePipelines => "azure-pipelines",
            AuthMethod::WorkloadIdentity => "workload-identity",
            AuthMethod::ClientSecret => "client-secret",
            AuthMethod::ClientCertificate => "client-certificate",
            AuthMethod::ManagedIdentity => "managed-identity",
            AuthMethod::AzureCli => "azure-cli",
            AuthMethod::DeviceCode => "device-code",
        }
    }
}

impl fmt::Display for AuthMethod {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for AuthMethod {
    type Err = AuthError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        std::iter::once(AuthMethod::Auto)
            .chain(AuthMethod::ALL)
            .find(|m| m.as_str().eq_ignore_ascii_case(s))
            .ok_or_else(|| AuthError::Config {
                message: format!("unknown sign-in method '{s}'"),
                fix: format!(
                    "use one of: auto, {}",
                    AuthMethod::ALL.map(AuthMethod::as_str).join(", ")
                ),
            })
    }
}

/// An Azure cloud: where Entra ID and ARM live.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Cloud {
    /// Azure public cloud (login.microsoftonline.com, management.azure.com).
    #[default]
    AzurePublicCloud,
    /// Azure US Government (login.microsoftonline.us, management.usgovcloudapi.net).
    AzureUSGovernment,
    /// Azure operated by 21Vianet (login.chinacloudapi.cn, management.chinacloudapi.cn).
    AzureChinaCloud,
    /// Any other endpoints (Azure Stack, emulators); tokens for ARM use the public audience
    /// unless [`AzureSettings::arm_scope`] says otherwise.
    Custom {
        /// Entra authority host, e.g. `https://login.example`.
        authority_host: String,
        /// ARM endpoint, e.g. `https://management.example`.
        arm_endpoint: String,
    },
}

impl Cloud {
    /// Entra authority host of the cloud.
    pub fn authority_host(&self) -> &str {
        match self {
            Cloud::AzurePublicCloud => "https://login.microsoftonline.com",
            Cloud::AzureUSGovernment => "https://login.microsoftonline.us",
            Cloud::AzureChinaCloud => "https://login.chinacloudapi.cn",
            Cloud::Custom { authority_host, .. } => authority_host,
        }
    }

    /// ARM endpoint of the cloud.
    pub fn arm_endpoint(&self) -> &str {
        match self {
            Cloud::AzurePublicCloud => "https://management.azure.com",
            Cloud::AzureUSGovernment => "https://management.usgovcloudapi.net",
            Cloud::AzureChinaCloud => "https://management.chinacloudapi.cn",
            Cloud::Custom { arm_endpoint, .. } => arm_endpoint,
        }
    }

    /// Scope of ARM tokens in this cloud.
    pub fn arm_scope(&self) -> &'static str {
        match self {
            Cloud::AzureUSGovernment => "https://management.usgovcloudapi.net/.default",
            Cloud::AzureChinaCloud => "https://management.chinacloudapi.cn/.default",
            Cloud::AzurePublicCloud | Cloud::Custom { .. } => {
                "https://management.azure.com/.default"
            }
        }
    }

    /// The name kubelogin and az use (`AzurePublicCloud`, ...).
    pub fn name(&self) -> &'static str {
        match self {
            Cloud::AzurePublicCloud => "AzurePublicCloud",
            Cloud::AzureUSGovernment => "AzureUSGovernment",
            Cloud::AzureChinaCloud => "AzureChinaCloud",
            Cloud::Custom { .. } => "Custom",
        }
    }
}

impl FromStr for Cloud {
    type Err = AuthError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "azurepubliccloud" | "azurecloud" | "public" => Ok(Cloud::AzurePublicCloud),
            "azureusgovernment" | "azureusgovernmentcloud" | "usgov" => {
                Ok(Cloud::AzureUSGovernment)
            }
            "azurechinacloud" | "china" => Ok(Cloud::AzureChinaCloud),
            _ => Err(AuthError::Config {
                message: format!("unknown Azure cloud '{s}'"),
                fix: "use AzurePublicCloud, AzureUSGovernment or AzureChinaCloud, or set --authority-host and --arm-endpoint for other clouds".into(),
            }),
        }
    }
}

/// Details of a pending device-code sign-in, to show the user.
#[derive(Debug, Clone)]
pub struct DeviceCodePrompt {
    /// Entra's sentence telling the user where to go and which code to enter.
    pub message: String,
    /// The page to open.
    pub verification_uri: String,
    /// The code to enter.
    pub user_code: String,
}

/// Callback that shows a device-code prompt to the user.
pub type DeviceCodeCallback = Arc<dyn Fn(&DeviceCodePrompt) + Send + Sync>;

/// Everything the auth module needs; built by the CLI from flags and `KPUSH_*`/`AZURE_*` variables.
#[derive(Clone, Default)]
pub struct AzureSettings {
    /// Sign-in method.
    pub auth: AuthMethod,
    /// Tenant (directory) id; falls back to `AZURE_TENANT_ID`.
    pub tenant_id: Option<String>,
    /// Application (client) id of the service principal or managed identity;
    /// falls back to `AZURE_CLIENT_ID`.
    pub client_id: Option<String>,
    /// Cloud.
    pub cloud: Cloud,
    /// Overrides the cloud's Entra authority host (must be https).
    pub authority_host: Option<String>,
    /// Overrides the cloud's ARM endpoint (must be https).
    pub arm_endpoint: Option<String>,
    /// Overrides the scope of ARM tokens (default: the cloud's).
    pub arm_scope: Option<String>,
    /// Extra PEM CA bundle trusted for Entra, ARM and CI token endpoints (a TLS-inspecting
    /// proxy, or a test emulator).
    pub azure_ca_file: Option<PathBuf>,
    /// Azure DevOps service connection id; falls back to `AZURE_SERVICE_CONNECTION_ID`
    /// (and `AZURESUBSCRIPTION_SERVICE_CONNECTION_ID`, which AzureCLI@2 sets).
    pub service_connection_id: Option<String>,
    /// Where the device-code token cache lives (default: the user's cache directory).
    pub token_cache_file: Option<PathBuf>,
    /// Shows device-code prompts (default: print Entra's message to standard error).
    pub device_code_prompt: Option<DeviceCodeCallback>,
}

impl fmt::Debug for AzureSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AzureSettings")
            .field("auth", &self.auth)
            .field("tenant_id", &self.tenant_id)
            .field("client_id", &self.client_id)
            .field("cloud", &self.cloud)
            .field("authority_host", &self.authority_host)
            .field("arm_endpoint", &self.arm_endpoint)
            .field("arm_scope", &self.arm_scope)
            .field("azure_ca_file", &self.azure_ca_file)
            .field("service_connection_id", &self.service_connection_id)
            .field("token_cache_file", &self.token_cache_file)
            .finish_non_exhaustive()
    }
}

impl AzureSettings {
    /// The authority host in use (override or cloud's), validated to be https, no trailing slash.
    pub fn authority_host(&self) -> Result<String, AuthError> {
        let host = self
            .authority_host
            .as_deref()
            .unwrap_or_else(|| self.cloud.authority_host());
        https_base(host, "authority host", "--authority-host")
    }

    /// The ARM endpoint in use (override or cloud's), validated to be https, no trailing slash.
    pub fn arm_endpoint(&self) -> Result<String, AuthError> {
        let endpoint = self
            .arm_endpoint
            .as_deref()
            .unwrap_or_else(|| self.cloud.arm_endpoint());
        https_base(endpoint, "ARM endpoint", "--arm-endpoint")
    }

    /// The scope of ARM tokens.
    pub fn arm_scope(&self) -> String {
        self.arm_scope
            .clone()
            .unwrap_or_else(|| self.cloud.arm_scope().to_string())
    }
}

fn https_base(value: &str, what: &str, flag: &str) -> Result<String, AuthError> {
    let parsed = url::Url::parse(value).map_err(|e| AuthError::Config {
        message: format!("the {what} '{value}' is not a URL: {e}"),
        fix: format!("pass an https URL to {flag}, like https://login.microsoftonline.com"),
    })?;
    if parsed.scheme() != "https" {
        return Err(AuthError::Config {
            message: format!("the {what} '{value}' does not use https"),
            fix: format!(
                "Entra ID and ARM are only reached over https; pass an https URL to {flag} (and --azure-ca-file for a private CA)"
            ),
        });
    }
    Ok(value.trim_end_matches('/').to_string())
}
