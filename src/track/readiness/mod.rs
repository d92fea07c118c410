//! Whether an applied object has finished rolling out: one small pure rule per kind.
//!
//! Each rule takes a plain object (typed from k8s-openapi, or JSON for the generic rule) and
//! returns a [`Readiness`]. [`readiness_of`] picks the rule: annotation overrides first, then
//! the rule for the object's group and kind, then the generic rule.

mod annotations;
mod api_service;
mod custom_resource_definition;
mod daemon_set;
mod deployment;
mod field_path;
mod generic;
mod job;
mod persistent_volume_claim;
mod pod;
mod replica_failure;
mod replica_set;
mod service;
mod stateful_set;
mod status;

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use k8s_openapi::api::storage::v1::StorageClass;

pub use annotations::{READY_CONDITION, READY_JSONPATH, WAIT, wait_disabled};
pub use api_service::api_service;
pub use custom_resource_definition::custom_resource_definition;
pub use daemon_set::daemon_set;
pub use deployment::deployment;
pub use generic::generic;
pub use job::{cannot_create_pods, job};
pub use persistent_volume_claim::{explained as claim_explained, persistent_volume_claim};
pub use pod::pod;
pub use replica_set::{replica_set, replication_controller, replication_controller_pods};
pub use service::service;
pub use stateful_set::stateful_set;

pub use crate::event::Readiness;

/// Facts about the cluster that some rules need besides the object itself.
#[derive(Debug, Clone, Copy, Default)]
pub struct ReadinessContext<'a> {
    /// For a PersistentVolumeClaim: its StorageClass, if the caller fetched it.
    pub storage_class: Option<&'a StorageClass>,
    /// For kinds without a rule of their own: whether the object is known to report status
    /// (for example its CustomResourceDefinition declares a status subresource).
    pub expects_status: bool,
}

/// Which rule decided a [`Verdict`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum Rule {
    /// `kpush.dev/wait: "false"`: not waited for.
    Skipped,
    /// `kpush.dev/ready-condition` or `kpush.dev/ready-jsonpath`.
    Annotation,
    /// The rule for the object's kind.
    Kind,
    /// The generic rule for kinds without one of their own.
    Generic,
}

/// A readiness together with the rule that decided it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Verdict {
    /// The readiness.
    #[serde(flatten)]
    pub readiness: Readiness,
    /// The rule that decided it.
    pub rule: Rule,
}

/// The readiness of any object, given as JSON.
pub fn readiness_of(obj: &Value, ctx: &ReadinessContext<'_>) -> Readiness {
    assess(obj, ctx).readiness
}

/// The readiness of any object and the rule that decided it (annotations, kind, or generic).
pub fn assess(obj: &Value, ctx: &ReadinessContext<'_>) -> Verdict {
    if wait_disabled(obj) {
        return Verdict {
            readiness: Readiness::Ready,
            rule: Rule::Skipped,
        };
    }
    if let Some(readiness) = annotations::override_readiness(obj) {
        return Verdict {
            readiness,
            rule: Rule::Annotation,
        };
    }
    match kind_rule(obj, ctx) {
        Some(readiness) => Verdict {
            readiness,
            rule: Rule::Kind,
        },
        None => Verdict {
            readiness: generic(obj, ctx.expects_status && !status_optional(obj)),
            rule: Rule::Generic,
        },
    }
}

/// Custom resources whose CRD declares a status subresource but whose controller writes status
/// only when asked to: waiting for their status would time out on most clusters.
///
/// prometheus-operator writes status of these only with its `StatusForConfigurationResources`
/// feature gate (off by default); they are configuration the operator reads, not rollouts.
const STATUS_OPTIONAL: &[(&str, &str)] = &[
    ("monitoring.coreos.com", "ServiceMonitor"),
    ("monitoring.coreos.com", "PodMonitor"),
    ("monitoring.coreos.com", "Probe"),
    ("monitoring.coreos.com", "PrometheusRule"),
    ("monitoring.coreos.com", "ScrapeConfig"),
    ("monitoring.coreos.com", "AlertmanagerConfig"),
];

/// Whether the object's kind is in [`STATUS_OPTIONAL`].
fn status_optional(obj: &Value) -> bool {
    let api_version = obj.get("apiVersion").and_then(Value::as_str).unwrap_or("");
    let group = crate::manifest::split_api_version(api_version).0;
    let kind = obj.get("kind").and_then(Value::as_str).unwrap_or("");
    STATUS_OPTIONAL.contains(&(group, kind))
}

/// The rule for the object's group and kind; `None` when there is none or the object does not
/// deserialize into the kind's type.
fn kind_rule(obj: &Value, ctx: &ReadinessContext<'_>) -> Option<Readiness> {
    let api_version = obj.get("apiVersion").and_then(Value::as_str).unwrap_or("");
    let group = crate::manifest::split_api_version(api_version).0;
    let kind = obj.get("kind").and_then(Value::as_str).unwrap_or("");
    let readiness = match (group, kind) {
        ("apps", "Deployment") => deployment(&typed(obj)?),
        ("apps", "StatefulSet") => stateful_set(&typed(obj)?),
        ("apps", "DaemonSet") => daemon_set(&typed(obj)?),
        ("apps", "ReplicaSet") => replica_set(&typed(obj)?),
        ("", "ReplicationController") => replication_controller(&typed(obj)?),
        ("", "Pod") => pod(&typed(obj)?),
        ("batch", "Job") => job(&typed(obj)?),
        ("", "PersistentVolumeClaim") => persistent_volume_claim(&typed(obj)?, ctx.storage_class),
        ("", "Service") => service(&typed(obj)?),
        ("apiextensions.k8s.io", "CustomResourceDefinition") => {
            custom_resource_definition(&typed(obj)?)
        }
        ("apiregistration.k8s.io", "APIService") => api_service(&typed(obj)?),
        _ => return None,
    };
    Some(readiness)
}

fn typed<T: DeserializeOwned>(obj: &Value) -> Option<T> {
    T::deserialize(obj).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn dispatcher_uses_the_kind_rule_for_known_kinds() {
        let obj = json!({
            "apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "web", "generation": 2},
            "spec": {"replicas": 1},
            "status": {"observedGeneration": 1, "replicas": 1, "updatedReplicas": 1, "availableReplicas": 1}
        });
        let verdict = assess(&obj, &ReadinessContext::default());
        assert_eq!(verdict.rule, Rule::Kind);
        assert!(matches!(verdict.readiness, Readiness::InProgress { .. }));
    }

    #[test]
    fn dispatcher_falls_back_to_generic_when_the_typed_object_does_not_deserialize() {
        // `replicas` is not a number, so the Deployment type rejects it.
        let obj = json!({
            "apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "web", "generation": 1},
            "spec": {"replicas": "three"},
            "status": {"observedGeneration": 1}
        });
        let verdict = assess(&obj, &ReadinessContext::default());
        assert_eq!(verdict.rule, Rule::Generic);
        assert_eq!(verdict.readiness, Readiness::Ready);
    }

    #[test]
    fn a_service_monitor_without_status_is_ready_though_its_crd_declares_status() {
        let sm = json!({"apiVersion": "monitoring.coreos.com/v1", "kind": "ServiceMonitor",
                        "metadata": {"name": "m", "generation": 1}});
        let ctx = ReadinessContext {
            expects_status: true,
            ..Default::default()
        };
        assert_eq!(readiness_of(&sm, &ctx), Readiness::Ready);
        let other = json!({"apiVersion": "example.com/v1", "kind": "Widget",
                           "metadata": {"name": "w", "generation": 1}});
        assert!(!readiness_of(&other, &ctx).is_ready());
    }

    #[test]
    fn dispatcher_uses_generic_for_unknown_kinds() {
        let obj = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}});
        let verdict = assess(&obj, &ReadinessContext::default());
        assert_eq!(verdict.rule, Rule::Generic);
        assert_eq!(verdict.readiness, Readiness::Ready);
    }

    #[test]
    fn dispatcher_marks_wait_false_as_skipped() {
        let obj = json!({
            "apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "web", "generation": 2, "annotations": {"kpush.dev/wait": "false"}},
            "status": {"observedGeneration": 1}
        });
        let verdict = assess(&obj, &ReadinessContext::default());
        assert_eq!(verdict.rule, Rule::Skipped);
        assert_eq!(verdict.readiness, Readiness::Ready);
    }

    #[test]
    fn dispatcher_lets_annotations_override_the_kind_rule() {
        // A Deployment whose kind rule would wait, but whose annotation says what ready means.
        let obj = json!({
            "apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "web", "generation": 1,
                         "annotations": {"kpush.dev/ready-jsonpath": "status.readyReplicas=1"}},
            "spec": {"replicas": 3},
            "status": {"observedGeneration": 1, "readyReplicas": 1}
        });
        let verdict = assess(&obj, &ReadinessContext::default());
        assert_eq!(verdict.rule, Rule::Annotation);
        assert_eq!(verdict.readiness, Readiness::Ready);
    }

    #[test]
    fn dispatcher_passes_the_storage_class_to_the_claim_rule() {
        let claim = json!({
            "apiVersion": "v1", "kind": "PersistentVolumeClaim",
            "metadata": {"name": "data"},
            "spec": {"storageClassName": "managed-csi"},
            "status": {"phase": "Pending"}
        });
        let class: StorageClass = serde_json::from_value(json!({
            "apiVersion": "storage.k8s.io/v1", "kind": "StorageClass",
            "metadata": {"name": "managed-csi"},
            "provisioner": "disk.csi.azure.com",
            "volumeBindingMode": "WaitForFirstConsumer"
        }))
        .expect("fixture");
        let without = readiness_of(&claim, &ReadinessContext::default());
        assert!(matches!(without, Readiness::InProgress { .. }));
        let ctx = ReadinessContext {
            storage_class: Some(&class),
            ..Default::default()
        };
        assert_eq!(readiness_of(&claim, &ctx), Readiness::Ready);
    }

    #[test]
    fn readiness_serializes_with_a_state_tag() {
        let v = serde_json::to_value(Readiness::failed("X", "y")).expect("serialize");
        assert_eq!(v, json!({"state": "failed", "reason": "X", "message": "y"}));
        let v = serde_json::to_value(Verdict {
            readiness: Readiness::Ready,
            rule: Rule::Skipped,
        })
        .expect("serialize");
        assert_eq!(v, json!({"state": "ready", "rule": "skipped"}));
    }
}
