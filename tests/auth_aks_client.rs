//! `aks_client`: ARM → kubeconfig → a kube client whose requests carry fresh Entra tokens,
//! against the emulator's ARM and its stand-in API server.

mod harness;

use harness::azure::*;
use kpush::auth::{AksTarget, AuthError, AuthMethod, aks_client, aks_kubeconfig};
use std::time::Duration;

async fn refused(settings: &kpush::auth::AzureSettings, target: &AksTarget) -> AuthError {
    match aks_client(settings, target).await {
        Ok(_) => panic!("expected {target} to be refused"),
        Err(e) => e,
    }
}

fn target(name: &str, admin: bool) -> AksTarget {
    AksTarget {
        subscription: SUB.into(),
        resource_group: RG.into(),
        cluster: name.into(),
        admin,
    }
}

#[tokio::test]
async fn aks_client_reaches_the_server_from_the_kubeconfig_with_an_entra_token() {
    let f = start(Duration::from_secs(3600));
    let env = f.github_env();
    let _env = EnvGuard::set(&pairs(&env)).await;
    let client = aks_client(&f.settings(AuthMethod::Auto), &target(CLUSTER, false))
        .await
        .unwrap();
    let version = client.apiserver_version().await.unwrap();
    assert_eq!(version.git_version, "v1.35.4");
    assert_eq!(f.count("/listClusterUserCredential", 200), 1);
    assert_eq!(f.count("/kube/version", 200), 1);
    // kpush ignored the kubeconfig's kubelogin user: the request carried its own token.
    let kubeconfig = aks_kubeconfig(&f.settings(AuthMethod::Auto), &target(CLUSTER, false))
        .await
        .unwrap();
    assert!(kubeconfig.contains("command: kubelogin"));
}

#[tokio::test]
async fn a_401_gets_a_new_token_and_one_retry() {
    let f = start(Duration::from_secs(3600));
    let _env = EnvGuard::set(&[
        ("AZURE_CLIENT_ID", SECRET_APP),
        ("AZURE_CLIENT_SECRET", SECRET),
    ])
    .await;
    let client = aks_client(
        &f.settings(AuthMethod::ClientSecret),
        &target(CLUSTER, false),
    )
    .await
    .unwrap();
    let tokens_before = f.count("/oauth2/v2.0/token", 200);
    f.emulator.reject_next_kube_requests(1);
    client.apiserver_version().await.unwrap();
    assert_eq!(f.count("/kube/version", 401), 1);
    assert_eq!(f.count("/kube/version", 200), 1);
    assert_eq!(
        f.count("/oauth2/v2.0/token", 200),
        tokens_before + 1,
        "a fresh token was fetched"
    );
    // Two rejections in a row: the retry happens once, and the 401 reaches the caller.
    f.emulator.reject_next_kube_requests(2);
    let err = client.apiserver_version().await.unwrap_err();
    assert!(
        err.to_string().contains("401") || err.to_string().contains("Unauthorized"),
        "{err}"
    );
}

#[tokio::test]
async fn tokens_are_refreshed_before_they_expire() {
    // 4 s tokens are replaced after half their life.
    let f = start(Duration::from_secs(4));
    let _env = EnvGuard::set(&[
        ("AZURE_CLIENT_ID", SECRET_APP),
        ("AZURE_CLIENT_SECRET", SECRET),
    ])
    .await;
    let client = aks_client(
        &f.settings(AuthMethod::ClientSecret),
        &target(CLUSTER, false),
    )
    .await
    .unwrap();
    client.apiserver_version().await.unwrap();
    let tokens = f.count("/oauth2/v2.0/token", 200);
    client.apiserver_version().await.unwrap();
    assert_eq!(
        f.count("/oauth2/v2.0/token", 200),
        tokens,
        "still fresh: no new token"
    );
    tokio::time::sleep(Duration::from_millis(2500)).await;
    client.apiserver_version().await.unwrap();
    assert_eq!(
        f.count("/oauth2/v2.0/token", 200),
        tokens + 1,
        "refreshed before expiry"
    );
    tokio::time::sleep(Duration::from_millis(4500)).await;
    client.apiserver_version().await.unwrap();
    assert_eq!(
        f.count("/kube/version", 401),
        0,
        "no request went out with an expired token"
    );
}

#[tokio::test]
async fn missing_role_names_the_role_and_the_command_to_grant_it() {
    let f = start(Duration::from_secs(3600));
    f.emulator.configure(|c| c.role_assignments.clear());
    let env = f.github_env();
    let _env = EnvGuard::set(&pairs(&env)).await;
    let err = refused(&f.settings(AuthMethod::GithubOidc), &target(CLUSTER, false)).await;
    match &err {
        AuthError::Arm { status, code, .. } => {
            assert_eq!((*status, code.as_str()), (403, "AuthorizationFailed"));
        }
        other => panic!("expected an ARM error, got {other:?}"),
    }
    let text = err.to_string();
    assert!(
        text.contains("Azure Kubernetes Service Cluster User Role"),
        "{text}"
    );
    assert!(
        text.contains(&format!("--assignee-object-id {FED_APP_OID}")),
        "{text}"
    );
}

#[tokio::test]
async fn unknown_cluster_and_admin_on_locked_cluster_are_explained() {
    let f = start(Duration::from_secs(3600));
    f.emulator.configure(|c| {
        c.role_assignments[0].role = kpush_azure_emulator::Role::ClusterAdmin;
    });
    let _env = EnvGuard::set(&[
        ("AZURE_CLIENT_ID", SECRET_APP),
        ("AZURE_CLIENT_SECRET", SECRET),
    ])
    .await;
    let settings = f.settings(AuthMethod::ClientSecret);
    let err = refused(&settings, &target("nope", false)).await;
    assert!(
        matches!(&err, AuthError::Arm { status: 404, .. }),
        "{err:?}"
    );
    assert!(err.to_string().contains("--aks-cluster-id"), "{err}");
    let err = refused(&settings, &target(LOCKED, true)).await;
    assert!(
        matches!(&err, AuthError::Arm { status: 400, .. }),
        "{err:?}"
    );
    assert!(err.to_string().contains("drop --admin"), "{err}");
}
