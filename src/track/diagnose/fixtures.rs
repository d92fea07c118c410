//! Pods and events for the diagnosis tests.

use k8s_openapi::api::core::v1::{Event, Pod};
use k8s_openapi::jiff::Timestamp;
use serde_json::{Value, json};

use super::DiagnoseOptions;

/// 2026-11-02T10:00:00Z, the time the tests judge at.
pub const NOW: &str = "2026-11-02T10:00:00Z";

/// `NOW` minus `secs` seconds, as an RFC 3339 string.
pub fn ago(secs: i64) -> String {
    let now: Timestamp = NOW.parse().expect("NOW");
    (now - k8s_openapi::jiff::SignedDuration::from_secs(secs)).to_string()
}

pub fn opts() -> DiagnoseOptions {
    DiagnoseOptions::at(NOW.parse().expect("NOW"))
}

/// A ReplicaSet-owned pod with one container `app` (spec extended by `container`) and `status`.
pub fn pod(container: Value, status: Value) -> Pod {
    let mut c = json!({"name": "app", "image": "registry.example/app:1"});
    if let (Some(c), Some(extra)) = (c.as_object_mut(), container.as_object()) {
        c.extend(extra.clone());
    }
    serde_json::from_value(json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {
            "name": "web-7d9f-abcde", "namespace": "prod", "uid": "pod-uid",
            "creationTimestamp": ago(600),
            "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "web-7d9f", "uid": "rs-uid", "controller": true}]
        },
        "spec": {"containers": [c]},
        "status": status,
    }))
    .expect("pod fixture")
}

/// A status for container `app` with the given state, last state and restart count.
pub fn container_status(state: Value, last_state: Value, restarts: i32, ready: bool) -> Value {
    json!({
        "name": "app", "image": "registry.example/app:1", "imageID": "", "ready": ready,
        "restartCount": restarts, "state": state, "lastState": last_state,
    })
}

/// An event about the pod (and container `app` when `container`), last seen `secs_ago`.
pub fn event(reason: &str, message: &str, container: bool, secs_ago: i64, count: i32) -> Event {
    let mut involved =
        json!({"kind": "Pod", "name": "web-7d9f-abcde", "namespace": "prod", "uid": "pod-uid"});
    if container {
        involved["fieldPath"] = json!("spec.containers{app}");
    }
    serde_json::from_value(json!({
        "apiVersion": "v1", "kind": "Event",
        "metadata": {"name": format!("web.{reason}.{secs_ago}"), "namespace": "prod"},
        "involvedObject": involved,
        "reason": reason, "message": message, "type": "Warning", "count": count,
        "firstTimestamp": ago(secs_ago), "lastTimestamp": ago(secs_ago),
    }))
    .expect("event fixture")
}
