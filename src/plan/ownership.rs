//! Which objects another deploy tool last applied, and the `managedFields` that take them over (`kubectl apply` client side,
//! `kubectl set image`, Helm 3, …), so moving to kpush needs neither `--force-conflicts` nor a
//! manual clean-up.
//!
//! Server-side apply only removes a field that the applier alone owns. An object applied
//! client side has its fields owned by `kubectl-client-side-apply` (operation `Update`): a
//! first server-side apply would conflict on every changed field and leave every removed field
//! (a container dropped from the manifest) in place forever. kubectl fixes this on its own
//! first server-side apply by moving the old manager's field set into its own entry
//! (`k8s.io/client-go/util/csaupgrade`); kpush does the same for every manager in
//! [`TOOL_MANAGERS`], and also drops `kubectl.kubernetes.io/last-applied-configuration`, which
//! would otherwise keep describing a configuration no one applies any more.
//!
//! The request that does it is `apply::adopt::adopt`; the preflight uses this module to tell
//! a conflict with a tool (that the apply will take over from) from a real one.
//!
//! Controllers are not deploy tools: fields owned by `kube-controller-manager`, an HPA (through
//! the `scale` subresource), an operator, or a person's `kubectl scale` stay theirs, and a
//! manifest that sets them to other values still gets a conflict.

use std::collections::BTreeSet;

use serde_json::{Map, Value, json};

/// The annotation client-side `kubectl apply` keeps its last configuration in.
pub const LAST_APPLIED: &str = "kubectl.kubernetes.io/last-applied-configuration";

/// Field managers of deploy tools whose ownership kpush takes over on its first apply.
///
/// | manager | written by |
/// |---|---|
/// | `kubectl-client-side-apply` | `kubectl apply` (client side, kubectl ≥ 1.18; also Azure/k8s-deploy and most pipelines) |
/// | `kubectl` | `kubectl apply` before 1.18 |
/// | `kubectl-create`, `kubectl-replace` | `kubectl create -f`, `kubectl replace -f` |
/// | `kubectl-edit`, `kubectl-patch`, `kubectl-set` | hand edits: `kubectl edit`, `kubectl patch`, `kubectl set image/env/resources` |
/// | `kubectl-label`, `kubectl-annotate` | `kubectl label` / `kubectl annotate` |
/// | `helm`, `Helm` | Helm 3 (client-go names the manager after the binary) |
/// | `k8s-deploy` | Azure's k8s-deploy task when it writes with its own manager name |
///
/// Not listed, on purpose: `kubectl-scale` and `kubectl-rollout` (taking over `replicas` or a
/// `restartedAt` annotation would undo an operator's action), and every controller.
pub const TOOL_MANAGERS: &[&str] = &[
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
    "Helm",
    "k8s-deploy",
];

/// Whether `manager` is a deploy tool kpush takes over from.
pub fn is_tool_manager(manager: &str) -> bool {
    TOOL_MANAGERS.contains(&manager)
}

fn entries(object: &Value) -> &[Value] {
    object
        .pointer("/metadata/managedFields")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or(&[])
}

fn field(entry: &Value, name: &str) -> String {
    entry
        .get(name)
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string()
}

/// An entry of a tool manager on the main resource (not a subresource such as `status`).
fn is_tool_entry(entry: &Value, own_manager: &str) -> bool {
    let manager = field(entry, "manager");
    manager != own_manager
        && is_tool_manager(&manager)
        && field(entry, "subresource").is_empty()
        && matches!(field(entry, "operation").as_str(), "Update" | "Apply")
}

/// The tool managers (from [`TOOL_MANAGERS`]) that own fields of `live`, in table order; empty
/// when there is nothing to take over.
pub fn tool_managers_of(live: &Value, own_manager: &str) -> Vec<String> {
    let found: BTreeSet<String> = entries(live)
        .iter()
        .filter(|e| is_tool_entry(e, own_manager))
        .map(|e| field(e, "manager"))
        .collect();
    TOOL_MANAGERS
        .iter()
        .filter(|m| found.contains(**m))
        .map(|m| m.to_string())
        .collect()
}

/// Whether `live` still carries client-side apply's annotation.
pub fn has_last_applied(live: &Value) -> bool {
    live.pointer("/metadata/annotations")
        .and_then(|a| a.get(LAST_APPLIED))
        .is_some()
}

/// Union of two `fieldsV1` sets (tries of `f:`/`k:`/`v:`/`i:` keys whose leaves are `{}`).
fn union(into: &mut Value, other: &Value) {
    if let (Value::Object(a), Value::Object(b)) = (into, other) {
        for (k, v) in b {
            match a.get_mut(k) {
                Some(existing) => union(existing, v),
                None => {
                    a.insert(k.clone(), v.clone());
                }
            }
        }
    }
}

/// `managedFields` with every tool manager's entries merged into `own_manager`'s `Apply`
/// entry, as kubectl's csaupgrade does: the tool's first entry becomes kpush's when kpush has
/// none; a tool entry of the same apiVersion as kpush's has its fields added; every tool
/// entry is then removed.
pub fn upgraded_managed_fields(managed: &[Value], own_manager: &str) -> Vec<Value> {
    let mut out: Vec<Value> = managed.to_vec();
    let is_own = |e: &Value| {
        field(e, "manager") == own_manager
            && field(e, "operation") == "Apply"
            && field(e, "subresource").is_empty()
    };
    let target = match out.iter().position(is_own) {
        Some(i) => i,
        None => match out.iter().position(|e| is_tool_entry(e, own_manager)) {
            Some(i) => {
                if let Value::Object(e) = &mut out[i] {
                    e.insert("manager".into(), Value::String(own_manager.into()));
                    e.insert("operation".into(), Value::String("Apply".into()));
                }
                i
            }
            None => return out,
        },
    };
    let api_version = field(&out[target], "apiVersion");
    let mut fields = out[target]
        .get("fieldsV1")
        .cloned()
        .unwrap_or_else(|| Value::Object(Map::new()));
    for (i, e) in out.iter().enumerate() {
        if i != target
            && is_tool_entry(e, own_manager)
            && field(e, "apiVersion") == api_version
            && let Some(f) = e.get("fieldsV1")
        {
            union(&mut fields, f);
        }
    }
    if let Value::Object(e) = &mut out[target] {
        e.insert("fieldsType".into(), Value::String("FieldsV1".into()));
        e.insert("fieldsV1".into(), fields);
    }
    out.into_iter()
        .enumerate()
        .filter(|(i, e)| *i == target || !is_tool_entry(e, own_manager))
        .map(|(_, e)| e)
        .collect()
}

/// The merge patch that takes `live` over: the upgraded `managedFields`, the live
/// `resourceVersion` (so a concurrent writer makes it fail rather than be overwritten) and the
/// `last-applied-configuration` annotation removed. `None` when there is nothing to take over.
pub fn adoption_patch(live: &Value, own_manager: &str) -> Option<Value> {
    let tools = tool_managers_of(live, own_manager);
    if tools.is_empty() && !has_last_applied(live) {
        return None;
    }
    let mut metadata = Map::new();
    if !tools.is_empty() {
        metadata.insert(
            "managedFields".into(),
            Value::Array(upgraded_managed_fields(entries(live), own_manager)),
        );
    }
    if let Some(rv) = live.pointer("/metadata/resourceVersion") {
        metadata.insert("resourceVersion".into(), rv.clone());
    }
    if has_last_applied(live) {
        metadata.insert("annotations".into(), json!({ LAST_APPLIED: null }));
    }
    Some(json!({ "metadata": metadata }))
}

/// What a take-over (`apply::adopt::adopt`) did.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Adopted {
    /// The tool managers whose fields are now `own_manager`'s.
    pub managers: Vec<String>,
    /// Whether `last-applied-configuration` was removed.
    pub dropped_last_applied: bool,
}

impl Adopted {
    /// A short sentence for the report, e.g. "took over from kubectl-client-side-apply".
    pub fn describe(&self) -> Option<String> {
        match (self.managers.is_empty(), self.dropped_last_applied) {
            (true, false) => None,
            (true, true) => Some(format!("removed the {LAST_APPLIED} annotation")),
            (false, dropped) => Some(format!(
                "took over the fields of {}{}",
                self.managers.join(", "),
                if dropped {
                    format!(" and removed the {LAST_APPLIED} annotation")
                } else {
                    String::new()
                }
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(manager: &str, operation: &str, api: &str, fields: Value) -> Value {
        json!({"manager": manager, "operation": operation, "apiVersion": api,
               "time": "2026-01-01T00:00:00Z", "fieldsType": "FieldsV1", "fieldsV1": fields})
    }

    #[test]
    fn client_side_apply_entry_becomes_kpush_apply_entry() {
        let managed = vec![
            entry(
                "kubectl-client-side-apply",
                "Update",
                "apps/v1",
                json!({"f:spec": {"f:replicas": {}}}),
            ),
            entry(
                "kube-controller-manager",
                "Update",
                "apps/v1",
                json!({"f:status": {"f:replicas": {}}}),
            ),
        ];
        let up = upgraded_managed_fields(&managed, "kpush");
        assert_eq!(up.len(), 2);
        assert_eq!(up[0]["manager"], "kpush");
        assert_eq!(up[0]["operation"], "Apply");
        assert_eq!(up[0]["fieldsV1"], json!({"f:spec": {"f:replicas": {}}}));
        assert_eq!(up[1]["manager"], "kube-controller-manager");
    }

    #[test]
    fn several_tools_are_merged_into_the_existing_kpush_entry() {
        let managed = vec![
            entry(
                "kpush",
                "Apply",
                "apps/v1",
                json!({"f:metadata": {"f:labels": {"f:a": {}}}}),
            ),
            entry(
                "kubectl-client-side-apply",
                "Update",
                "apps/v1",
                json!({"f:spec": {"f:template": {"f:spec": {"f:containers": {"k:{\"name\":\"a\"}": {".": {}, "f:image": {}}}}}}}),
            ),
            entry(
                "kubectl-set",
                "Update",
                "apps/v1",
                json!({"f:spec": {"f:template": {"f:spec": {"f:containers": {"k:{\"name\":\"b\"}": {"f:image": {}}}}}}}),
            ),
            entry(
                "kubectl-scale",
                "Update",
                "apps/v1",
                json!({"f:spec": {"f:replicas": {}}}),
            ),
        ];
        let up = upgraded_managed_fields(&managed, "kpush");
        let managers: Vec<_> = up.iter().map(|e| e["manager"].clone()).collect();
        assert_eq!(managers, vec![json!("kpush"), json!("kubectl-scale")]);
        assert_eq!(
            up[0]["fieldsV1"],
            json!({
                "f:metadata": {"f:labels": {"f:a": {}}},
                "f:spec": {"f:template": {"f:spec": {"f:containers": {
                    "k:{\"name\":\"a\"}": {".": {}, "f:image": {}},
                    "k:{\"name\":\"b\"}": {"f:image": {}},
                }}}},
            })
        );
    }

    #[test]
    fn subresource_entries_and_controllers_are_left_alone() {
        let mut status = entry("kubectl-edit", "Update", "apps/v1", json!({"f:status": {}}));
        status["subresource"] = json!("status");
        let live = json!({"metadata": {"managedFields": [
            status,
            entry("kube-controller-manager", "Update", "apps/v1", json!({"f:spec": {}})),
        ]}});
        assert!(tool_managers_of(&live, "kpush").is_empty());
        assert!(adoption_patch(&live, "kpush").is_none());
    }

    #[test]
    fn patch_keeps_resource_version_and_drops_last_applied() {
        let live = json!({"metadata": {
            "resourceVersion": "42",
            "annotations": {LAST_APPLIED: "{}", "keep": "x"},
            "managedFields": [entry("helm", "Update", "v1", json!({"f:data": {}}))],
        }});
        let patch = adoption_patch(&live, "kpush").unwrap();
        assert_eq!(patch["metadata"]["resourceVersion"], "42");
        assert_eq!(
            patch["metadata"]["annotations"],
            json!({LAST_APPLIED: null})
        );
        assert_eq!(patch["metadata"]["managedFields"][0]["manager"], "kpush");
        assert_eq!(
            Adopted {
                managers: vec!["helm".into()],
                dropped_last_applied: true
            }
            .describe()
            .unwrap(),
            format!("took over the fields of helm and removed the {LAST_APPLIED} annotation")
        );
    }

    #[test]
    fn an_entry_of_another_api_version_is_removed_without_merging() {
        let managed = vec![
            entry("kpush", "Apply", "apps/v1", json!({"f:spec": {}})),
            entry(
                "kubectl",
                "Update",
                "extensions/v1beta1",
                json!({"f:spec": {"f:paused": {}}}),
            ),
        ];
        let up = upgraded_managed_fields(&managed, "kpush");
        assert_eq!(up.len(), 1);
        assert_eq!(up[0]["fieldsV1"], json!({"f:spec": {}}));
    }
}
