//! What the emulated directory, CI systems and subscriptions contain.

use std::time::Duration;

/// The application id of AKS's Entra server application (the audience of cluster tokens).
pub const AKS_SERVER_APP_ID: &str = "6dae42f8-4368-4678-94ff-3960e28e3630";
/// The public client id kubelogin (and the Azure CLI family) use for device-code sign-in.
pub const KUBELOGIN_CLIENT_ID: &str = "80faf920-1908-4b52-b5ef-a8e7bedfc67a";
/// The resource (audience) of Azure Resource Manager tokens in the public cloud.
pub const ARM_RESOURCE: &str = "https://management.azure.com";
/// The audience every federated credential uses for token exchange.
pub const TOKEN_EXCHANGE_AUDIENCE: &str = "api://AzureADTokenExchange";

/// Everything the emulator knows; changeable after start with [`crate::Emulator::configure`].
#[derive(Debug, Clone)]
pub struct Config {
    /// Entra tenants (directories).
    pub tenants: Vec<Tenant>,
    /// Lifetime of access tokens Entra issues (`expires_in`).
    pub token_lifetime: Duration,
    /// Resources Entra issues tokens for; anything else fails with AADSTS500011.
    pub resources: Vec<String>,
    /// Seconds a device-code client is told to wait between polls.
    pub device_code_interval: u64,
    /// GitHub Actions OIDC provider.
    pub github: GithubConfig,
    /// Azure DevOps OIDC provider.
    pub ado: AdoConfig,
    /// App Service style managed identity endpoint; `None` answers 404 there.
    pub managed_identity: Option<ManagedIdentityConfig>,
    /// AKS clusters ARM knows.
    pub clusters: Vec<Cluster>,
    /// Azure Kubernetes Fleet Manager fleets ARM knows, each with its hub cluster (`name` is
    /// the fleet's name; `server` and `ca_pem` are the hub's).
    pub fleets: Vec<Cluster>,
    /// Azure role assignments ARM checks.
    pub role_assignments: Vec<RoleAssignment>,
    /// The GitHub REST API subset (deployments): which tokens it accepts, with what access.
    pub github_api: GithubApiConfig,
    /// A Key Vault served at the emulator's own URL (`/keys/...`); `None` answers 404 there.
    pub key_vault: Option<KeyVaultConfig>,
}

/// A Key Vault with RSA keys (made on first use) and the principals allowed to use them.
#[derive(Debug, Clone, Default)]
pub struct KeyVaultConfig {
    /// The tenant the vault belongs to (its challenge names this tenant's authority).
    pub tenant: String,
    /// The vault's keys.
    pub keys: Vec<VaultKey>,
    /// Object ids holding *Key Vault Crypto User* on the vault.
    pub crypto_users: Vec<String>,
}

/// One RSA key of the vault.
#[derive(Debug, Clone)]
pub struct VaultKey {
    /// The key's name.
    pub name: String,
    /// Permitted operations (`encrypt`, `decrypt`, `wrapKey`, `unwrapKey`), as `--ops` of
    /// `az keyvault key create`.
    pub ops: Vec<String>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            tenants: Vec::new(),
            token_lifetime: Duration::from_secs(3600),
            resources: vec![
                ARM_RESOURCE.to_string(),
                AKS_SERVER_APP_ID.to_string(),
                "https://graph.microsoft.com".to_string(),
            ],
            device_code_interval: 5,
            github: GithubConfig::default(),
            ado: AdoConfig::default(),
            managed_identity: None,
            clusters: Vec::new(),
            fleets: Vec::new(),
            role_assignments: Vec::new(),
            github_api: GithubApiConfig::default(),
            key_vault: None,
        }
    }
}

impl Config {
    /// Finds a tenant by id (case-insensitive, as Entra does).
    pub fn tenant(&self, id: &str) -> Option<&Tenant> {
        self.tenants.iter().find(|t| t.id.eq_ignore_ascii_case(id))
    }
}

/// One Entra tenant.
#[derive(Debug, Clone, Default)]
pub struct Tenant {
    /// Tenant id as used in URLs and the `tid` claim.
    pub id: String,
    /// App registrations (and managed identities, which are apps too).
    pub apps: Vec<App>,
    /// Service principals and users that tokens are issued to.
    pub principals: Vec<Principal>,
}

impl Tenant {
    /// Finds an app registration by client id.
    pub fn app(&self, client_id: &str) -> Option<&App> {
        self.apps
            .iter()
            .find(|a| a.client_id.eq_ignore_ascii_case(client_id))
    }

    /// Finds the service principal that signs in with `client_id`.
    pub fn principal_for_client(&self, client_id: &str) -> Option<&Principal> {
        self.principals.iter().find(|p| {
            p.client_ids
                .iter()
                .any(|c| c.eq_ignore_ascii_case(client_id))
        })
    }

    /// Finds a principal by object id.
    pub fn principal(&self, oid: &str) -> Option<&Principal> {
        self.principals
            .iter()
            .find(|p| p.oid.eq_ignore_ascii_case(oid))
    }
}

/// An app registration: how a client proves who it is.
#[derive(Debug, Clone, Default)]
pub struct App {
    /// Application (client) id.
    pub client_id: String,
    /// Client secret values accepted.
    pub secrets: Vec<String>,
    /// Federated identity credentials accepted as client assertions.
    pub federated_credentials: Vec<FederatedCredential>,
    /// PEM certificates whose keys may sign client assertions.
    pub certificates: Vec<String>,
    /// Public clients may use the device-code flow (no secret).
    pub public_client: bool,
}

impl App {
    /// An app that authenticates with one client secret.
    pub fn with_secret(client_id: &str, secret: &str) -> Self {
        App {
            client_id: client_id.to_string(),
            secrets: vec![secret.to_string()],
            ..Default::default()
        }
    }

    /// An app with one federated credential.
    pub fn with_federated(client_id: &str, credential: FederatedCredential) -> Self {
        App {
            client_id: client_id.to_string(),
            federated_credentials: vec![credential],
            ..Default::default()
        }
    }

    /// A public client (device code).
    pub fn public(client_id: &str) -> Self {
        App {
            client_id: client_id.to_string(),
            public_client: true,
            ..Default::default()
        }
    }
}

/// Which token issuer a federated credential trusts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Issuer {
    /// The emulated GitHub Actions OIDC provider (`https://HOST:PORT/github`).
    Github,
    /// The emulated Azure DevOps OIDC provider (`https://HOST:PORT/ado/{org-id}`).
    AzureDevOps,
    /// The emulated Kubernetes service-account issuer used for workload identity
    /// (`https://HOST:PORT/workload`).
    Workload,
    /// Any other issuer URL; assertions from it never verify (useful for mismatch tests).
    Url(String),
}

/// A federated identity credential on an app.
#[derive(Debug, Clone)]
pub struct FederatedCredential {
    /// Trusted issuer.
    pub issuer: Issuer,
    /// Exact (case-sensitive) subject, e.g. `repo:ORG/REPO:ref:refs/heads/main`.
    pub subject: String,
    /// Accepted audience, normally `api://AzureADTokenExchange`.
    pub audience: String,
}

impl FederatedCredential {
    /// A credential trusting the emulated GitHub issuer for `subject`.
    pub fn github(subject: &str) -> Self {
        Self::new(Issuer::Github, subject)
    }

    /// A credential trusting the emulated Azure DevOps issuer for `subject`.
    pub fn azure_devops(subject: &str) -> Self {
        Self::new(Issuer::AzureDevOps, subject)
    }

    /// A credential trusting the emulated workload-identity issuer for `subject`.
    pub fn workload(subject: &str) -> Self {
        Self::new(Issuer::Workload, subject)
    }

    /// A credential for `issuer` and `subject` with the standard audience.
    pub fn new(issuer: Issuer, subject: &str) -> Self {
        FederatedCredential {
            issuer,
            subject: subject.to_string(),
            audience: TOKEN_EXCHANGE_AUDIENCE.to_string(),
        }
    }
}

/// A security principal tokens are issued for (service principal or user).
#[derive(Debug, Clone, Default)]
pub struct Principal {
    /// Object id (`oid` claim).
    pub oid: String,
    /// Group object ids (`groups` claim).
    pub groups: Vec<String>,
    /// Client ids that sign in as this principal (its app registration or managed identity).
    pub client_ids: Vec<String>,
    /// User principal name; set for users who sign in with device code.
    pub username: Option<String>,
}

impl Principal {
    /// The service principal of `client_id`.
    pub fn service(oid: &str, client_id: &str, groups: &[&str]) -> Self {
        Principal {
            oid: oid.to_string(),
            groups: groups.iter().map(|g| g.to_string()).collect(),
            client_ids: vec![client_id.to_string()],
            username: None,
        }
    }

    /// A user who signs in interactively.
    pub fn user(oid: &str, username: &str, groups: &[&str]) -> Self {
        Principal {
            oid: oid.to_string(),
            groups: groups.iter().map(|g| g.to_string()).collect(),
            client_ids: Vec::new(),
            username: Some(username.to_string()),
        }
    }
}

/// The GitHub Actions OIDC provider.
#[derive(Debug, Clone)]
pub struct GithubConfig {
    /// Value expected in `Authorization: bearer` (`ACTIONS_ID_TOKEN_REQUEST_TOKEN`).
    pub request_token: String,
    /// `sub` claim of issued tokens.
    pub subject: String,
    /// `repository` claim.
    pub repository: String,
    /// `ref` claim.
    pub git_ref: String,
    /// Lifetime of issued ID tokens.
    pub token_lifetime: Duration,
}

impl Default for GithubConfig {
    fn default() -> Self {
        GithubConfig {
            request_token: "github-request-token".to_string(),
            subject: "repo:contoso/app:ref:refs/heads/main".to_string(),
            repository: "contoso/app".to_string(),
            git_ref: "refs/heads/main".to_string(),
            token_lifetime: Duration::from_secs(300),
        }
    }
}

/// The GitHub REST API subset: the tokens it knows. Any other token is answered 401
/// `Bad credentials`, as GitHub does.
#[derive(Debug, Clone, Default)]
pub struct GithubApiConfig {
    /// Installation tokens (a job's `GITHUB_TOKEN`) with their repository and permissions.
    pub tokens: Vec<GithubToken>,
}

/// A job's `GITHUB_TOKEN`: scoped to one repository, with the `deployments` permission the
/// workflow's `permissions:` gave it.
#[derive(Debug, Clone)]
pub struct GithubToken {
    /// The token's value.
    pub token: String,
    /// `owner/repo` it is scoped to (other repositories answer 404, as GitHub does).
    pub repository: String,
    /// The `deployments` permission.
    pub deployments: GithubAccess,
}

/// A `GITHUB_TOKEN` permission level.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum GithubAccess {
    /// `none`.
    None,
    /// `read`.
    Read,
    /// `write`.
    Write,
}

/// The Azure DevOps OIDC provider.
#[derive(Debug, Clone)]
pub struct AdoConfig {
    /// Organization name (in subjects and URLs).
    pub org: String,
    /// Organization id (in the issuer URL).
    pub org_id: String,
    /// Project name (in subjects).
    pub project: String,
    /// Value expected in `Authorization: Bearer` (`SYSTEM_ACCESSTOKEN`).
    pub system_access_token: String,
    /// Service connections that can issue tokens.
    pub service_connections: Vec<ServiceConnection>,
    /// Lifetime of issued OIDC tokens.
    pub token_lifetime: Duration,
}

impl Default for AdoConfig {
    fn default() -> Self {
        AdoConfig {
            org: "contoso".to_string(),
            org_id: "8a4f4e5c-0b1e-4a55-9a53-0b6a3f7c1d2e".to_string(),
            project: "deploy".to_string(),
            system_access_token: "ado-system-access-token".to_string(),
            service_connections: vec![ServiceConnection {
                id: "3c2d5e2a-7b7e-4b61-8f7d-1f0d7a2c9e41".to_string(),
                name: "aks-prod".to_string(),
            }],
            token_lifetime: Duration::from_secs(600),
        }
    }
}

impl AdoConfig {
    /// The `sub` claim tokens for `connection` carry: `sc://ORG/PROJECT/CONNECTION`.
    pub fn subject(&self, connection: &ServiceConnection) -> String {
        format!("sc://{}/{}/{}", self.org, self.project, connection.name)
    }
}

/// An Azure DevOps service connection.
#[derive(Debug, Clone)]
pub struct ServiceConnection {
    /// Id passed as `serviceConnectionId`.
    pub id: String,
    /// Name, the last part of the subject.
    pub name: String,
}

/// The App Service style managed identity endpoint (`IDENTITY_ENDPOINT` + `IDENTITY_HEADER`).
#[derive(Debug, Clone)]
pub struct ManagedIdentityConfig {
    /// Value the client must send in `X-IDENTITY-HEADER`.
    pub identity_header: String,
    /// Tenant the identities live in.
    pub tenant: String,
    /// Client id of the system-assigned identity.
    pub system_assigned_client_id: String,
    /// Client ids of user-assigned identities, selectable with `client_id=`.
    pub user_assigned_client_ids: Vec<String>,
}

/// An AKS cluster ARM knows about.
#[derive(Debug, Clone)]
pub struct Cluster {
    /// Subscription id.
    pub subscription: String,
    /// Resource group name.
    pub resource_group: String,
    /// Cluster name.
    pub name: String,
    /// API server URL put in kubeconfigs.
    pub server: String,
    /// PEM CA bundle of the API server.
    pub ca_pem: String,
    /// Entra integration (kubeconfig users run kubelogin).
    pub entra_enabled: bool,
    /// Local accounts disabled (admin credentials refused).
    pub local_accounts_disabled: bool,
    /// Client certificate and key (PEM) returned with admin credentials.
    pub admin_client_cert: Option<(String, String)>,
    /// Client certificate and key (PEM) returned with the user credentials of a cluster without
    /// Entra integration; `None` returns the admin certificate there, as AKS does.
    pub user_client_cert: Option<(String, String)>,
    /// Tenant written into kubelogin's `--tenant-id`.
    pub tenant: String,
}

impl Cluster {
    /// ARM resource id of the cluster.
    pub fn resource_id(&self) -> String {
        format!(
            "/subscriptions/{}/resourceGroups/{}/providers/Microsoft.ContainerService/managedClusters/{}",
            self.subscription, self.resource_group, self.name
        )
    }
}

/// A built-in Azure role relevant to AKS credentials.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Azure Kubernetes Service Cluster User Role.
    ClusterUser,
    /// Azure Kubernetes Service Cluster Admin Role.
    ClusterAdmin,
    /// Contributor.
    Contributor,
    /// Owner.
    Owner,
    /// Reader (cannot list credentials).
    Reader,
    /// Azure Kubernetes Fleet Manager Contributor Role (lists a fleet hub's credentials, not a
    /// cluster's).
    FleetManagerContributor,
}

impl Role {
    /// Whether the role grants `listClusterUserCredential` (false) or `listClusterAdminCredential` (true).
    pub fn allows_credentials(self, admin: bool) -> bool {
        match self {
            Role::Owner | Role::Contributor | Role::ClusterAdmin => true,
            Role::ClusterUser => !admin,
            Role::Reader | Role::FleetManagerContributor => false,
        }
    }

    /// Whether the role grants a fleet's `listCredentials`.
    pub fn allows_fleet_credentials(self) -> bool {
        matches!(
            self,
            Role::Owner | Role::Contributor | Role::FleetManagerContributor
        )
    }
}

/// A role assignment: principal (or group) + role + scope.
#[derive(Debug, Clone)]
pub struct RoleAssignment {
    /// Object id of a principal or of a group it belongs to.
    pub principal_id: String,
    /// Role granted.
    pub role: Role,
    /// ARM scope, e.g. `/subscriptions/S` or a cluster's resource id.
    pub scope: String,
}
