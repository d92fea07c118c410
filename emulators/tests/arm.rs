//! ARM's AKS credential actions: authentication, authorization and the kubeconfigs returned.

mod common;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use common::*;
use kpush_azure_emulator::{Mint, SignWith, TokenIssuer};
use serde_json::Value;

fn cluster_path(name: &str, action: &str) -> String {
    format!(
        "/subscriptions/{SUB}/resourceGroups/{RG}/providers/Microsoft.ContainerService/managedClusters/{name}/{action}?api-version=2024-08-01"
    )
}

async fn post(f: &Fixture, path: &str, token: Option<&str>) -> (u16, Value) {
    let mut req = f.http.post(f.url(path));
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    let resp = req.send().await.expect("request");
    let status = resp.status().as_u16();
    (status, resp.json().await.expect("json"))
}

async fn arm_token(f: &Fixture) -> String {
    let id_token = f.github_id_token().await;
    let (status, body) = f.assertion_token(FED_APP, &id_token, ARM_SCOPE).await;
    assert_eq!(status, 200, "{body}");
    body["access_token"].as_str().unwrap().to_string()
}

fn kubeconfig(body: &Value) -> String {
    let value = body["kubeconfigs"][0]["value"]
        .as_str()
        .expect("kubeconfig value");
    String::from_utf8(STANDARD.decode(value).expect("base64")).expect("utf-8")
}

#[tokio::test]
async fn user_credentials_hold_server_ca_and_a_kubelogin_exec_user() {
    let f = start();
    let token = arm_token(&f).await;
    let (status, body) = post(
        &f,
        &format!(
            "{}&format=exec",
            cluster_path(CLUSTER, "listClusterUserCredential")
        ),
        Some(&token),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["kubeconfigs"][0]["name"], "clusterUser");
    let kc = kubeconfig(&body);
    assert!(kc.contains("server: \"https://127.0.0.1:6443\""), "{kc}");
    assert!(kc.contains(&format!(
        "certificate-authority-data: {}",
        STANDARD.encode(f.emulator.config().clusters[0].ca_pem.as_bytes())
    )));
    assert!(kc.contains("command: kubelogin"));
    assert!(kc.contains("- 6dae42f8-4368-4678-94ff-3960e28e3630"));
}

#[tokio::test]
async fn missing_role_is_403_authorization_failed_naming_the_action() {
    let f = start();
    let (_, body) = f.secret_token(SECRET_APP, SECRET, ARM_SCOPE).await;
    let token = body["access_token"].as_str().unwrap();
    let (status, err) = post(
        &f,
        &cluster_path(CLUSTER, "listClusterUserCredential"),
        Some(token),
    )
    .await;
    assert_eq!(status, 403);
    assert_eq!(err["error"]["code"], "AuthorizationFailed");
    let message = err["error"]["message"].as_str().unwrap();
    assert!(
        message.contains(&format!("object id '{SECRET_APP_OID}'")),
        "{message}"
    );
    assert!(
        message.contains(
            "'Microsoft.ContainerService/managedClusters/listClusterUserCredential/action'"
        )
    );
    // The user role does not allow admin credentials.
    let token = arm_token(&f).await;
    let (status, err) = post(
        &f,
        &cluster_path(CLUSTER, "listClusterAdminCredential"),
        Some(&token),
    )
    .await;
    assert_eq!(status, 403, "{err}");
}

#[tokio::test]
async fn unknown_cluster_is_404_and_locked_cluster_refuses_admin_credentials() {
    let f = start();
    let token = arm_token(&f).await;
    let (status, err) = post(
        &f,
        &cluster_path("nope", "listClusterUserCredential"),
        Some(&token),
    )
    .await;
    assert_eq!(status, 404);
    assert_eq!(err["error"]["code"], "ResourceNotFound");
    // The certificate app holds Cluster Admin on the subscription.
    let admin_token = f
        .emulator
        .mint_access_token(TENANT, CERT_APP_OID, "https://management.azure.com", 600)
        .unwrap();
    let (status, err) = post(
        &f,
        &cluster_path(LOCKED_CLUSTER, "listClusterAdminCredential"),
        Some(&admin_token),
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(err["error"]["code"], "BadRequest");
    assert_eq!(
        err["error"]["message"],
        "Getting static credential is not allowed because this cluster is set to disable local accounts."
    );
    let (status, body) = post(
        &f,
        &cluster_path(CLUSTER, "listClusterAdminCredential"),
        Some(&admin_token),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["kubeconfigs"][0]["name"], "clusterAdmin");
    assert!(kubeconfig(&body).contains("client-certificate-data:"));
}

#[tokio::test]
async fn bad_tokens_are_401_with_arm_codes() {
    let f = start();
    let path = cluster_path(CLUSTER, "listClusterUserCredential");
    let (status, err) = post(&f, &path, None).await;
    assert_eq!(
        (status, err["error"]["code"].as_str()),
        (401, Some("AuthenticationFailed"))
    );
    let aks_token = f
        .emulator
        .mint_access_token(
            TENANT,
            FED_APP_OID,
            "6dae42f8-4368-4678-94ff-3960e28e3630",
            600,
        )
        .unwrap();
    let (status, err) = post(&f, &path, Some(&aks_token)).await;
    assert_eq!(
        (status, err["error"]["code"].as_str()),
        (401, Some("InvalidAuthenticationTokenAudience"))
    );
    let expired = f
        .emulator
        .mint_access_token(TENANT, FED_APP_OID, "https://management.azure.com", -30)
        .unwrap();
    let (status, err) = post(&f, &path, Some(&expired)).await;
    assert_eq!(
        (status, err["error"]["code"].as_str()),
        (401, Some("ExpiredAuthenticationToken"))
    );
    let forged = f.emulator.mint_token(
        Mint::new(TokenIssuer::Entra(TENANT.into()))
            .claim("aud", "https://management.azure.com")
            .claim("oid", FED_APP_OID)
            .claim("groups", serde_json::json!([DEPLOYERS]))
            .signed_with(SignWith::WrongKey),
    );
    let (status, err) = post(&f, &path, Some(&forged)).await;
    assert_eq!(
        (status, err["error"]["code"].as_str()),
        (401, Some("InvalidAuthenticationToken"))
    );
}

#[tokio::test]
async fn api_version_is_required() {
    let f = start();
    let token = arm_token(&f).await;
    let path =
        cluster_path(CLUSTER, "listClusterUserCredential").replace("?api-version=2024-08-01", "");
    let (status, err) = post(&f, &path, Some(&token)).await;
    assert_eq!(
        (status, err["error"]["code"].as_str()),
        (400, Some("MissingApiVersionParameter"))
    );
}

fn fleet_path(name: &str) -> String {
    format!(
        "/subscriptions/{SUB}/resourceGroups/{RG}/providers/Microsoft.ContainerService/fleets/{name}/listCredentials?api-version=2025-03-01"
    )
}

#[tokio::test]
async fn fleet_credentials_need_a_fleet_role_and_hold_the_hubs_kubeconfig() {
    let f = start();
    f.emulator.configure(|c| {
        let mut hub = c.clusters[0].clone();
        hub.name = "fleet-1".into();
        hub.server = "https://hub.example:443".into();
        c.fleets.push(hub);
    });
    let token = arm_token(&f).await;
    // The deployers' AKS Cluster User role does not cover a fleet's credentials.
    let (status, body) = post(&f, &fleet_path("fleet-1"), Some(&token)).await;
    assert_eq!(status, 403, "{body}");
    assert_eq!(body["error"]["code"], "AuthorizationFailed");
    let message = body["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("Microsoft.ContainerService/fleets/listCredentials/action"),
        "{message}"
    );

    f.emulator.configure(|c| {
        c.role_assignments
            .push(kpush_azure_emulator::RoleAssignment {
                principal_id: DEPLOYERS.into(),
                role: kpush_azure_emulator::Role::FleetManagerContributor,
                scope: format!("/subscriptions/{SUB}/resourceGroups/{RG}"),
            })
    });
    let (status, body) = post(&f, &fleet_path("fleet-1"), Some(&token)).await;
    assert_eq!(status, 200, "{body}");
    let kc = kubeconfig(&body);
    assert!(kc.contains("server: \"https://hub.example:443\""), "{kc}");
    assert!(kc.contains("kubelogin"), "{kc}");

    let (status, body) = post(&f, &fleet_path("no-such-fleet"), Some(&token)).await;
    assert_eq!(status, 404, "{body}");
    assert_eq!(body["error"]["code"], "ResourceNotFound");
    // The fleet role does not open AKS clusters' admin credentials.
    let (status, _) = post(
        &f,
        &cluster_path(CLUSTER, "listClusterAdminCredential"),
        Some(&token),
    )
    .await;
    assert_eq!(status, 403);
}
