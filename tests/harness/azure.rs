//! Shared setup for the auth tests: an emulator with one tenant, and an environment guard
//! (the credentials read process variables, so tests that set them take turns).

use kpush::auth::{AuthMethod, AzureSettings, Cloud};
use kpush_azure_emulator::*;
use std::time::Duration;

pub const TENANT: &str = "72f988bf-86f1-41af-91ab-2d7cd011db47";
pub const SECRET_APP: &str = "11111111-1111-4111-8111-111111111111";
pub const SECRET: &str = "correct-horse-battery-staple";
pub const FED_APP: &str = "22222222-2222-4222-8222-222222222222";
pub const FED_APP_OID: &str = "aaaaaaaa-0000-4000-8000-000000000002";
pub const CERT_APP: &str = "33333333-3333-4333-8333-333333333333";
pub const MI_CLIENT: &str = "44444444-4444-4444-8444-444444444444";
pub const MI_OID: &str = "aaaaaaaa-0000-4000-8000-000000000004";
pub const USER_OID: &str = "aaaaaaaa-0000-4000-8000-000000000005";
pub const DEPLOYERS: &str = "bbbbbbbb-0000-4000-8000-00000000000d";
pub const SUB: &str = "cccccccc-0000-4000-8000-000000000001";
pub const RG: &str = "rg-prod";
pub const CLUSTER: &str = "aks-prod";
pub const LOCKED: &str = "aks-locked";
pub const GITHUB_SUBJECT: &str = "repo:contoso/app:ref:refs/heads/main";
pub const WORKLOAD_SUBJECT: &str = "system:serviceaccount:ci:deployer";
pub const MI_HEADER: &str = "mi-header-value";

/// Every variable a credential reads; cleared before each test.
const VARS: &[&str] = &[
    "AZURE_TENANT_ID",
    "AZURE_CLIENT_ID",
    "AZURE_CLIENT_SECRET",
    "AZURE_CLIENT_CERTIFICATE_PATH",
    "AZURE_CLIENT_CERTIFICATE_PASSWORD",
    "AZURE_CLIENT_SEND_CERTIFICATE_CHAIN",
    "AZURE_FEDERATED_TOKEN_FILE",
    "AZURE_AUTHORITY_HOST",
    "AZURE_SERVICE_CONNECTION_ID",
    "AZURESUBSCRIPTION_TENANT_ID",
    "AZURESUBSCRIPTION_CLIENT_ID",
    "AZURESUBSCRIPTION_SERVICE_CONNECTION_ID",
    "ACTIONS_ID_TOKEN_REQUEST_URL",
    "ACTIONS_ID_TOKEN_REQUEST_TOKEN",
    "GITHUB_ACTIONS",
    "SYSTEM_OIDCREQUESTURI",
    "SYSTEM_ACCESSTOKEN",
    "IDENTITY_ENDPOINT",
    "IDENTITY_HEADER",
    "IDENTITY_SERVER_THUMBPRINT",
    "IMDS_ENDPOINT",
    "MSI_ENDPOINT",
    "MSI_SECRET",
];

static ENV_LOCK: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// Holds the environment for one test; clears the variables again when dropped.
pub struct EnvGuard {
    _lock: tokio::sync::MutexGuard<'static, ()>,
}

impl EnvGuard {
    /// Clears every credential variable, then sets `vars`.
    pub async fn set(vars: &[(&str, &str)]) -> EnvGuard {
        let lock = ENV_LOCK.lock().await;
        clear();
        for (k, v) in vars {
            // SAFETY: tests that touch the environment hold ENV_LOCK, so no other test
            // thread of this binary changes it concurrently.
            unsafe { std::env::set_var(k, v) };
        }
        EnvGuard { _lock: lock }
    }
}

fn clear() {
    for k in VARS {
        // SAFETY: see EnvGuard::set.
        unsafe { std::env::remove_var(k) };
    }
}

impl Drop for EnvGuard {
    fn drop(&mut self) {
        clear();
    }
}

/// The emulator, the certificate app's PEM (cert + key) and a temp dir for files.
pub struct Fixture {
    pub emulator: Emulator,
    pub cert: ClientCertificate,
    pub dir: tempfile::TempDir,
}

pub fn start(token_lifetime: Duration) -> Fixture {
    let cert = generate_client_certificate("kpush-test").expect("certificate");
    let mut fed = App::with_federated(FED_APP, FederatedCredential::github(GITHUB_SUBJECT));
    fed.federated_credentials
        .push(FederatedCredential::azure_devops(
            "sc://contoso/deploy/aks-prod",
        ));
    fed.federated_credentials
        .push(FederatedCredential::workload(WORKLOAD_SUBJECT));
    let config = Config {
        tenants: vec![Tenant {
            id: TENANT.into(),
            apps: vec![
                App::with_secret(SECRET_APP, SECRET),
                fed,
                App {
                    client_id: CERT_APP.into(),
                    certificates: vec![cert.cert_pem.clone()],
                    ..App::default()
                },
                App::public(KUBELOGIN_CLIENT_ID),
                App {
                    client_id: MI_CLIENT.into(),
                    ..App::default()
                },
            ],
            principals: vec![
                Principal::service(
                    "aaaaaaaa-0000-4000-8000-000000000001",
                    SECRET_APP,
                    &[DEPLOYERS],
                ),
                Principal::service(FED_APP_OID, FED_APP, &[DEPLOYERS]),
                Principal::service("aaaaaaaa-0000-4000-8000-000000000003", CERT_APP, &[]),
                Principal::service(MI_OID, MI_CLIENT, &[DEPLOYERS]),
                Principal::user(USER_OID, "dev@contoso.example", &[DEPLOYERS]),
            ],
        }],
        token_lifetime,
        device_code_interval: 1,
        managed_identity: Some(ManagedIdentityConfig {
            identity_header: MI_HEADER.into(),
            tenant: TENANT.into(),
            system_assigned_client_id: MI_CLIENT.into(),
            user_assigned_client_ids: vec![],
        }),
        role_assignments: vec![RoleAssignment {
            principal_id: DEPLOYERS.into(),
            role: Role::ClusterUser,
            scope: format!("/subscriptions/{SUB}/resourceGroups/{RG}"),
        }],
        ..Config::default()
    };
    let emulator = Emulator::start(config).expect("emulator starts");
    let (server, ca) = (emulator.kube_url(), emulator.ca_pem().to_string());
    emulator.configure(|c| {
        for (name, locked) in [(CLUSTER, false), (LOCKED, true)] {
            c.clusters.push(Cluster {
                subscription: SUB.into(),
                resource_group: RG.into(),
                name: name.into(),
                server: server.clone(),
                ca_pem: ca.clone(),
                entra_enabled: true,
                local_accounts_disabled: locked,
                admin_client_cert: None,
                user_client_cert: None,
                tenant: TENANT.into(),
            });
        }
    });
    Fixture {
        emulator,
        cert,
        dir: tempfile::tempdir().expect("temp dir"),
    }
}

impl Fixture {
    /// Settings pointing kpush at the emulator (authority host, ARM, CA).
    pub fn settings(&self, auth: AuthMethod) -> AzureSettings {
        AzureSettings {
            auth,
            tenant_id: Some(TENANT.into()),
            cloud: Cloud::Custom {
                authority_host: self.emulator.url(),
                arm_endpoint: self.emulator.url(),
            },
            azure_ca_file: Some(self.emulator.ca_file().to_path_buf()),
            token_cache_file: Some(self.dir.path().join("cache").join("tokens.json")),
            ..AzureSettings::default()
        }
    }

    /// How many requests went to `path_suffix` with `status`.
    pub fn count(&self, path_suffix: &str, status: u16) -> usize {
        self.emulator
            .requests()
            .iter()
            .filter(|r| r.path.ends_with(path_suffix) && r.status == status)
            .count()
    }

    pub fn github_env(&self) -> Vec<(&'static str, String)> {
        vec![
            (
                "ACTIONS_ID_TOKEN_REQUEST_URL",
                self.emulator.github_request_url(),
            ),
            (
                "ACTIONS_ID_TOKEN_REQUEST_TOKEN",
                self.emulator.github_request_token(),
            ),
            ("AZURE_CLIENT_ID", FED_APP.to_string()),
            ("AZURE_TENANT_ID", TENANT.to_string()),
        ]
    }
}

/// Borrows a list of owned pairs for [`EnvGuard::set`].
pub fn pairs<'a>(v: &'a [(&'static str, String)]) -> Vec<(&'static str, &'a str)> {
    v.iter().map(|(k, v)| (*k, v.as_str())).collect()
}

pub const AKS_SCOPE: &str = kpush::auth::AKS_SCOPE;
