//! Taking over objects another tool applied (`kubectl apply`, `kubectl set`, Helm): their field
//! managers' ownership moves to kpush's server-side apply manager, as kubectl's own
//! client-side → server-side upgrade does (`csaupgrade` in k8s.io/client-go), so the first kpush
//! deploy meets no conflicts and a field removed from the manifest is really removed.
//!
//! Only the managers in [`ADOPTED_MANAGERS`] are taken over; controllers (an HPA owning
//! `replicas`, kube-controller-manager) keep their fields, and conflicts with them are reported.

use std::collections::BTreeSet;

use kube::Client;
use serde_json::{Map, Value, json};

use crate::cluster::{self, Failure, RetryPolicy};
use crate::plan::{Live, Plan};

/// Field managers of deploy tools whose ownership kpush takes over.
pub const ADOPTED_MANAGERS: &[&str] = &[
    "kubectl-client-side-apply",
    "kubectl",
    "kubectl-create",
    "kubectl-replace",
    "kubectl-edit",
    "kubectl-patch",
    "kubectl-set",
    "kubectl-label",
    "kubectl-annotate",
    "helm",
];

/// kubectl's record of its last client-side apply, dropped on adoption as kubectl does.
pub const LAST_APPLIED_ANNOTATION: &str = "kubectl.kubernetes.io/last-applied-configuration";
/// Helm's annotation naming the release an object belongs to.
pub const HELM_RELEASE_ANNOTATION: &str = "meta.helm.sh/release-name";
/// Helm's annotation naming the release's namespace.
pub const HELM_NAMESPACE_ANNOTATION: &str = "meta.helm.sh/release-namespace";

/// What adoption did.
#[derive(Debug, Default)]
pub struct Adopted {
    /// Objects whose managed fields moved to kpush.
    pub objects: usize,
    /// Helm releases (`namespace/name`) some of those objects belonged to.
    pub helm_releases: BTreeSet<String>,
}

/// The merge patch that moves `live`'s adopted managers' fields to `manager`'s Apply entry and
/// drops kubectl's last-applied annotation; `None` when there is nothing to adopt.
pub fn upgrade_patch(live: &Value, manager: &str, now: &str) -> Option<Value> {
    let entries = live.pointer("/metadata/managedFields")?.as_array()?;
    let is_main = |e: &Value| {
        e.get("subresource")
            .and_then(Value::as_str)
            .is_none_or(str::is_empty)
    };
    let is_adopted = |e: &Value| {
        is_main(e)
            && e.get("manager")
                .and_then(Value::as_str)
                .is_some_and(|m| m != manager && ADOPTED_MANAGERS.contains(&m))
    };
    let is_ours = |e: &Value| {
        is_main(e)
            && e.get("manager").and_then(Value::as_str) == Some(manager)
            && e.get("operation").and_then(Value::as_str) == Some("Apply")
    };
    if !entries.iter().any(is_adopted) {
        return None;
    }
    let mut fields = Value::Object(Map::new());
    let mut api_version = live.get("apiVersion").cloned().unwrap_or(Value::Null);
    for e in entries.iter().filter(|e| is_ours(e)) {
        if let Some(v) = e.get("apiVersion") {
            api_version = v.clone();
        }
    }
    for e in entries.iter().filter(|e| is_adopted(e) || is_ours(e)) {
        if let Some(f) = e.get("fieldsV1") {
            union(&mut fields, f);
        }
    }
    let mut kept: Vec<Value> = entries
        .iter()
        .filter(|e| !is_adopted(e) && !is_ours(e))
        .cloned()
        .collect();
    kept.push(json!({
        "manager": manager,
        "operation": "Apply",
        "apiVersion": api_version,
        "time": now,
        "fieldsType": "FieldsV1",
        "fieldsV1": fields,
    }));
    let mut metadata = json!({
        "managedFields": kept,
        "resourceVersion": live.pointer("/metadata/resourceVersion").cloned().unwrap_or(Value::Null),
    });
    if live
        .pointer("/metadata/annotations")
        .and_then(|a| a.get(LAST_APPLIED_ANNOTATION))
        .is_some()
    {
        metadata["annotations"] = json!({ LAST_APPLIED_ANNOTATION: null });
    }
    Some(json!({ "metadata": metadata }))
}

/// Adds every field of `b` to `a` (FieldsV1 sets are nested maps).
fn union(a: &mut Value, b: &Value) {
    let (Value::Object(a), Value::Object(b)) = (a, b) else {
        return;
    };
    for (k, v) in b {
        match a.get_mut(k) {
            Some(existing) => union(existing, v),
            None => {
                a.insert(k.clone(), v.clone());
            }
        }
    }
}

/// Moves adopted managers' fields to kpush's manager on every live object of the plan.
/// `now` is the time to record in kpush's managedFields entry (RFC 3339).
pub async fn adopt(
    client: &Client,
    plan: &Plan,
    retry: RetryPolicy,
    now: &str,
) -> Result<Adopted, String> {
    let mut adopted = Adopted::default();
    let manager = &plan.options.field_manager;
    for o in &plan.objects {
        let (Live::Present(live), Some(target)) = (&o.live, &o.target) else {
            continue;
        };
        let Some(patch) = upgrade_patch(live, manager, now) else {
            continue;
        };
        cluster::requests::merge_patch(client, retry, target, o.manifest.name(), &patch, manager)
            .await
            .map_err(|f: Failure| {
                format!(
                    "{}: cannot take over {} from the tool that applied it before: {}",
                    o.manifest.origin,
                    o.manifest.key(),
                    f.message()
                )
            })?;
        adopted.objects += 1;
        let annotation = |k: &str| {
            live.pointer("/metadata/annotations")
                .and_then(|a| a.get(k))
                .and_then(Value::as_str)
        };
        if let Some(release) = annotation(HELM_RELEASE_ANNOTATION) {
            let ns = annotation(HELM_NAMESPACE_ANNOTATION).unwrap_or("default");
            adopted.helm_releases.insert(format!("{ns}/{release}"));
        }
    }
    Ok(adopted)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn helm_and_kubectl_fields_move_to_kpush_and_controllers_keep_theirs() {
        let live = json!({
            "apiVersion": "apps/v1",
            "metadata": {
                "resourceVersion": "42",
                "annotations": {LAST_APPLIED_ANNOTATION: "{}", "meta.helm.sh/release-name": "r"},
                "managedFields": [
                    {"manager": "helm", "operation": "Update", "apiVersion": "apps/v1",
                     "fieldsType": "FieldsV1",
                     "fieldsV1": {"f:spec": {"f:replicas": {}, "f:template": {"f:a": {}}}}},
                    {"manager": "kubectl-client-side-apply", "operation": "Update",
                     "fieldsType": "FieldsV1",
                     "fieldsV1": {"f:spec": {"f:template": {"f:b": {}}}}},
                    {"manager": "kube-controller-manager", "operation": "Update",
                     "subresource": "status", "fieldsV1": {"f:status": {}}},
                    {"manager": "hpa", "operation": "Update", "fieldsV1": {"f:spec": {"f:replicas": {}}}}
                ]
            }
        });
        let patch = upgrade_patch(&live, "kpush", "2026-11-29T00:00:00Z").unwrap();
        let fields = patch["metadata"]["managedFields"].as_array().unwrap();
        let managers: Vec<&str> = fields
            .iter()
            .map(|e| e["manager"].as_str().unwrap())
            .collect();
        assert_eq!(managers, ["kube-controller-manager", "hpa", "kpush"]);
        let ours = &fields[2];
        assert_eq!(ours["operation"], "Apply");
        assert_eq!(
            ours["fieldsV1"],
            json!({"f:spec": {"f:replicas": {}, "f:template": {"f:a": {}, "f:b": {}}}})
        );
        assert_eq!(patch["metadata"]["resourceVersion"], "42");
        assert!(patch["metadata"]["annotations"][LAST_APPLIED_ANNOTATION].is_null());
        assert!(
            patch["metadata"]["annotations"]
                .as_object()
                .unwrap()
                .contains_key(LAST_APPLIED_ANNOTATION)
        );
    }

    #[test]
    fn objects_only_kpush_manages_are_left_alone() {
        let live = json!({"metadata": {"managedFields": [
            {"manager": "kpush", "operation": "Apply", "fieldsV1": {}}
        ]}});
        assert!(upgrade_patch(&live, "kpush", "t").is_none());
    }
}
