//! Helpers shared by the tracking tests: a namespace per test, manifests, applying them.

use std::time::Duration;

use kube::Client;
use kube::api::{Api, DynamicObject, Patch, PatchParams};
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

/// Server-side applies the manifests and returns their targets with the applied generation.
pub async fn apply(client: &Client, manifests: &[Manifest]) -> Vec<TrackTarget> {
    let mut targets = kpush::track::resolve(client, manifests)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    for (t, m) in targets.iter_mut().zip(manifests) {
        let api: Api<DynamicObject> = match &t.namespace {
            Some(ns) => Api::namespaced_with(client.clone(), ns, &t.resource),
            None => Api::all_with(client.clone(), &t.resource),
        };
        let applied = api
            .patch(
                &t.name,
                &PatchParams::apply("kpush-test").force(),
                &Patch::Apply(&m.object),
            )
            .await
            .unwrap_or_else(|e| panic!("applying {}: {e}", m.describe()));
        t.generation = applied.metadata.generation;
    }
    targets
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
