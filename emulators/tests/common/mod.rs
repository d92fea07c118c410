//! Shared fixture: one tenant with a secret app, a federated app, a certificate app, a user,
//! a managed identity, and two clusters.
#![allow(dead_code)]

use kpush_azure_emulator::*;
use serde_json::Value;
use std::time::Duration;

pub const TENANT: &str = "72f988bf-86f1-41af-91ab-2d7cd011db47";
pub const SECRET_APP: &str = "11111111-1111-4111-8111-111111111111";
pub const SECRET: &str = "correct-horse-battery-staple";
pub const SECRET_APP_OID: &str = "aaaaaaaa-0000-4000-8000-000000000001";
pub const FED_APP: &str = "22222222-2222-4222-8222-222222222222";
pub const FED_APP_OID: &str = "aaaaaaaa-0000-4000-8000-000000000002";
pub const CERT_APP: &str = "33333333-3333-4333-8333-333333333333";
pub const CERT_APP_OID: &str = "aaaaaaaa-0000-4000-8000-000000000003";
pub const MI_CLIENT: &str = "44444444-4444-4444-8444-444444444444";
pub const MI_OID: &str = "aaaaaaaa-0000-4000-8000-000000000004";
pub const USER_OID: &str = "aaaaaaaa-0000-4000-8000-000000000005";
pub const ORPHAN_APP: &str = "55555555-5555-4555-8555-555555555555";
pub const DEPLOYERS: &str = "bbbbbbbb-0000-4000-8000-00000000000d";
pub const SUB: &str = "cccccccc-0000-4000-8000-000000000001";
pub const RG: &str = "rg-prod";
pub const CLUSTER: &str = "aks-prod";
pub const LOCKED_CLUSTER: &str = "aks-locked";
pub const GITHUB_SUBJECT: &str = "repo:contoso/app:ref:refs/heads/main";
pub const MI_HEADER: &str = "mi-header-value";

pub fn config(cert_pem: &str) -> Config {
    let mut fed = App::with_federated(FED_APP, FederatedCredential::github(GITHUB_SUBJECT));
    fed.federated_credentials
        .push(FederatedCredential::azure_devops(
            "sc://contoso/deploy/aks-prod",
        ));
    fed.federated_credentials
        .push(FederatedCredential::workload(
            "system:serviceaccount:ci:deployer",
        ));
    let cert_app = App {
        client_id: CERT_APP.into(),
        certificates: vec![cert_pem.to_string()],
        ..App::default()
    };
    let cluster = |name: &str, locked: bool| Cluster {
        subscription: SUB.into(),
        resource_group: RG.into(),
        name: name.into(),
        server: "https://127.0.0.1:6443".into(),
        ca_pem: "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n".into(),
        entra_enabled: true,
        local_accounts_disabled: locked,
        admin_client_cert: Some(("CERT".into(), "KEY".into())),
        user_client_cert: None,
        tenant: TENANT.into(),
    };
    Config {
        tenants: vec![Tenant {
            id: TENANT.into(),
            apps: vec![
                App::with_secret(SECRET_APP, SECRET),
                fed,
                cert_app,
                App::with_secret(ORPHAN_APP, SECRET),
                App::public(KUBELOGIN_CLIENT_ID),
                App {
                    client_id: MI_CLIENT.into(),
                    ..App::default()
                },
            ],
            principals: vec![
                Principal::service(SECRET_APP_OID, SECRET_APP, &[]),
                Principal::service(FED_APP_OID, FED_APP, &[DEPLOYERS]),
                Principal::service(CERT_APP_OID, CERT_APP, &[]),
                Principal::service(MI_OID, MI_CLIENT, &[DEPLOYERS]),
                Principal::user(USER_OID, "dev@contoso.example", &[DEPLOYERS]),
            ],
        }],
        token_lifetime: Duration::from_secs(600),
        device_code_interval: 1,
        managed_identity: Some(ManagedIdentityConfig {
            identity_header: MI_HEADER.into(),
            tenant: TENANT.into(),
            system_assigned_client_id: MI_CLIENT.into(),
            user_assigned_client_ids: vec![],
        }),
        clusters: vec![cluster(CLUSTER, false), cluster(LOCKED_CLUSTER, true)],
        role_assignments: vec![
            RoleAssignment {
                principal_id: DEPLOYERS.into(),
                role: Role::ClusterUser,
                scope: format!("/subscriptions/{SUB}/resourceGroups/{RG}"),
            },
            RoleAssignment {
                principal_id: CERT_APP_OID.into(),
                role: Role::ClusterAdmin,
                scope: format!("/subscriptions/{SUB}"),
            },
        ],
        ..Config::default()
    }
}

pub struct Fixture {
    pub emulator: Emulator,
    pub cert: ClientCertificate,
    pub http: reqwest::Client,
}

pub fn start() -> Fixture {
    let cert = generate_client_certificate("kpush-test").expect("certificate");
    let emulator = Emulator::start(config(&cert.cert_pem)).expect("emulator starts");
    let ca = reqwest::Certificate::from_pem(emulator.ca_pem().as_bytes()).expect("CA PEM");
    let http = reqwest::Client::builder()
        .tls_certs_only([ca])
        .build()
        .expect("client");
    Fixture {
        emulator,
        cert,
        http,
    }
}

impl Fixture {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.emulator.url())
    }

    pub async fn post_form(&self, path: &str, pairs: &[(&str, &str)]) -> (u16, Value) {
        let body = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(pairs)
            .finish();
        let resp = self
            .http
            .post(self.url(path))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body)
            .send()
            .await
            .expect("request");
        let status = resp.status().as_u16();
        (status, resp.json().await.expect("JSON body"))
    }

    pub async fn get_json(&self, path: &str) -> (u16, Value) {
        let resp = self.http.get(self.url(path)).send().await.expect("request");
        let status = resp.status().as_u16();
        (status, resp.json().await.expect("JSON body"))
    }

    pub async fn secret_token(&self, client: &str, secret: &str, scope: &str) -> (u16, Value) {
        self.post_form(
            &format!("/{TENANT}/oauth2/v2.0/token"),
            &[
                ("grant_type", "client_credentials"),
                ("client_id", client),
                ("client_secret", secret),
                ("scope", scope),
            ],
        )
        .await
    }

    pub async fn assertion_token(
        &self,
        client: &str,
        assertion: &str,
        scope: &str,
    ) -> (u16, Value) {
        self.post_form(
            &format!("/{TENANT}/oauth2/v2.0/token"),
            &[
                ("grant_type", "client_credentials"),
                ("client_id", client),
                (
                    "client_assertion_type",
                    "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
                ),
                ("client_assertion", assertion),
                ("scope", scope),
            ],
        )
        .await
    }

    pub async fn github_id_token(&self) -> String {
        let resp = self
            .http
            .get(format!(
                "{}&audience=api://AzureADTokenExchange",
                self.emulator.github_request_url()
            ))
            .header(
                "authorization",
                format!("bearer {}", self.emulator.github_request_token()),
            )
            .send()
            .await
            .expect("request");
        assert_eq!(resp.status(), 200);
        let body: Value = resp.json().await.expect("json");
        body["value"].as_str().expect("value").to_string()
    }
}

/// Asserts an Entra error: status, AADSTS code first in error_description, error_codes, ids.
pub fn assert_aadsts(got: &(u16, Value), status: u16, code: u32) {
    let (s, body) = got;
    assert_eq!(*s, status, "status for {body}");
    let description = body["error_description"].as_str().unwrap_or_default();
    assert!(
        description.starts_with(&format!("AADSTS{code}:")),
        "expected AADSTS{code}, got {description}"
    );
    assert_eq!(body["error_codes"][0].as_u64(), Some(u64::from(code)));
    for field in ["error", "timestamp", "trace_id", "correlation_id"] {
        assert!(body[field].is_string(), "missing {field} in {body}");
    }
}

pub const ARM_SCOPE: &str = "https://management.azure.com/.default";
pub const AKS_SCOPE: &str = "6dae42f8-4368-4678-94ff-3960e28e3630/.default";
