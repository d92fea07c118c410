//! End to end: a real kube-apiserver trusting the Entra emulator's tokens (--oidc-*), reached
//! through ARM with `aks_client`.

mod harness;

use harness::azure::*;
use k8s_openapi::api::core::v1::{ConfigMap, Pod};
use k8s_openapi::api::rbac::v1::{ClusterRoleBinding, RoleRef, Subject};
use kpush::auth::{AksTarget, AuthMethod, aks_client};
use kpush_testenv::{ClusterOptions, TestCluster};
use kube::api::{Api, ListParams, PostParams};
use std::time::Duration;

#[tokio::test]
async fn apiserver_accepts_kpush_entra_tokens_and_maps_oid_and_groups() {
    let f = start(Duration::from_secs(3600));
    let issuer = f.emulator.tenant_issuer(TENANT);
    let cluster = TestCluster::start(ClusterOptions {
        extra_apiserver_args: vec![
            format!("--oidc-issuer-url={issuer}"),
            "--oidc-client-id=6dae42f8-4368-4678-94ff-3960e28e3630".into(),
            "--oidc-username-claim=oid".into(),
            "--oidc-username-prefix=-".into(),
            "--oidc-groups-claim=groups".into(),
            "--oidc-ca-file={dir}/entra-ca.pem".into(),
        ],
        extra_files: vec![(
            "entra-ca.pem".into(),
            f.emulator.ca_pem().as_bytes().to_vec(),
        )],
        ..ClusterOptions::default()
    })
    .expect("control plane starts");
    let (server, ca) = (
        cluster.server().to_string(),
        String::from_utf8(cluster.ca_pem()).unwrap(),
    );
    f.emulator.configure(|c| {
        c.clusters[0].server = server.clone();
        c.clusters[0].ca_pem = ca.clone();
    });
    let admin = cluster.client("admin").await.unwrap();
    let binding = ClusterRoleBinding {
        metadata: kube::api::ObjectMeta {
            name: Some("deployers-view".into()),
            ..Default::default()
        },
        role_ref: RoleRef {
            api_group: "rbac.authorization.k8s.io".into(),
            kind: "ClusterRole".into(),
            name: "view".into(),
        },
        subjects: Some(vec![Subject {
            kind: "Group".into(),
            name: DEPLOYERS.into(),
            api_group: Some("rbac.authorization.k8s.io".into()),
            ..Default::default()
        }]),
    };
    Api::<ClusterRoleBinding>::all(admin)
        .create(&PostParams::default(), &binding)
        .await
        .unwrap();

    let env = f.github_env();
    let _env = EnvGuard::set(&pairs(&env)).await;
    let target = AksTarget {
        subscription: SUB.into(),
        resource_group: RG.into(),
        cluster: CLUSTER.into(),
        admin: false,
    };
    let client = aks_client(&f.settings(AuthMethod::Auto), &target)
        .await
        .unwrap();
    // The group from the token's `groups` claim grants `view`.
    let pods = Api::<Pod>::namespaced(client.clone(), "default");
    // kube-apiserver initializes its OIDC authenticator in the background once it fetched the
    // issuer's discovery document ("authenticator not initialized" until then): allow 30 s.
    let mut ok = false;
    for _ in 0..150 {
        if pods.list(&ListParams::default()).await.is_ok() {
            ok = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(
        ok,
        "the API server never accepted the token:\n{}",
        cluster.logs()
    );
    // The user name is the token's `oid`.
    let cm = ConfigMap {
        metadata: kube::api::ObjectMeta {
            name: Some("x".into()),
            ..Default::default()
        },
        ..Default::default()
    };
    let err = Api::<ConfigMap>::namespaced(client, "default")
        .create(&PostParams::default(), &cm)
        .await
        .unwrap_err();
    assert!(
        err.to_string().contains(&format!("User \"{FED_APP_OID}\"")),
        "{err}"
    );
}
