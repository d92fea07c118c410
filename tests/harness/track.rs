//! Helpers shared by the tracking tests: a namespace per test, manifests, applying them.

use std::time::Duration;

use kube::Client;
use serde_json::{Value, json};

use kpush::track::{TrackOptions, TrackTarget};
use kpush::{Manifest, Origin};
use kpush_testenv::TestCluster;

/// A namespace of its own for one test, and an admin client.
pub async fn setup(namespace: &str) -> (&'static TestCluster, Client) {
    let cluster = TestCluster::shared();
    cluster
        .create_namespace(namespace)
        .await
        .unwrap_or_else(|e| panic!("{e:#}"));
    let client = cluster
        .client("admin")
        .await
        .unwrap_or_else(|e| panic!("{e:#}"));
    (cluster, client)
}

/// Tracking options for tests: generous timeout, short graces, frequent status.
pub fn options() -> TrackOptions {
    TrackOptions {
        timeout: Duration::from_secs(60),
        unschedulable_grace: Duration::from_secs(2),
        status_interval: Duration::from_secs(1),
        ..TrackOptions::default()
    }
}

/// A manifest written at `file:line`.
pub fn manifest(file: &str, line: u32, object: Value) -> Manifest {
    Manifest::new(Origin::new(file, line), object)
}

/// Applies the manifests with kpush's own deploy engine (`deploy::Deployer`, without waiting)
/// and returns their targets with the applied generation, as `kpush apply` hands them to
/// tracking.
pub async fn apply(client: &Client, manifests: &[Manifest]) -> Vec<TrackTarget> {
    let sink = kpush::event::NullSink;
    let deployer = kpush::deploy::Deployer {
        client,
        server: "the test cluster",
        reporter: &sink,
        plan: kpush::plan::PlanOptions {
            field_manager: "kpush-test".into(),
            force_conflicts: true,
            ..Default::default()
        },
        apply: Default::default(),
        wait: None,
        interrupt: kpush::deploy::Interrupt::never(),
        adopt: false,
    };
    let deployed = deployer.deploy(manifests.to_vec()).await;
    if let Err(e) = &deployed.result {
        panic!("applying {} objects: {e}", manifests.len());
    }
    let outcome = deployed.outcome.expect("applied");
    kpush::deploy::tracking::track_targets(&outcome)
}

/// A Deployment whose pod template carries `pod_annotations`.
pub fn deployment(
    ns: &str,
    name: &str,
    image: &str,
    replicas: i32,
    pod_annotations: Value,
) -> Value {
    json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": name, "namespace": ns},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}, "annotations": pod_annotations},
                "spec": {"containers": [{"name": "app", "image": image}]}
            }
        }
    })
}
