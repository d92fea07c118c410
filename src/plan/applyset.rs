//! ApplySets (KEP-3659), the part that needs no cluster: the set's id, its member label and the
//! parent's annotations, computed exactly as kubectl does so both tools agree on membership.
//!
//! The parent is a Secret named after the set (`--applyset NAME`) in the set's namespace, as
//! with `kubectl apply --applyset=NAME`. It carries:
//! - label `applyset.kubernetes.io/id: applyset-<base64url(sha256("NAME.NAMESPACE.Secret."))>-v1`
//! - annotation `applyset.kubernetes.io/tooling: kpush/<version>`
//! - annotation `applyset.kubernetes.io/contains-group-kinds: ConfigMap,Deployment.apps,...`
//! - annotation `applyset.kubernetes.io/additional-namespaces: a,b` (namespaces other than its own)
//!
//! Every member carries label `applyset.kubernetes.io/part-of: <id>`.

use std::collections::BTreeSet;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::manifest::Manifest;

/// Label on the parent holding the set's id.
pub const ID_LABEL: &str = "applyset.kubernetes.io/id";
/// Label on every member naming the set's id.
pub const PART_OF_LABEL: &str = "applyset.kubernetes.io/part-of";
/// Annotation naming the tool that manages the set.
pub const TOOLING_ANNOTATION: &str = "applyset.kubernetes.io/tooling";
/// Annotation listing the member kinds (`Kind.group`, sorted, comma-separated).
pub const GROUP_KINDS_ANNOTATION: &str = "applyset.kubernetes.io/contains-group-kinds";
/// Annotation listing member namespaces other than the parent's.
pub const NAMESPACES_ANNOTATION: &str = "applyset.kubernetes.io/additional-namespaces";

/// The tooling value kpush writes: `kpush/<version>`.
pub fn tooling() -> String {
    format!("kpush/v{}", env!("CARGO_PKG_VERSION"))
}

/// An ApplySet: its parent Secret's name and namespace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApplySet {
    /// Name of the set (and of its parent Secret).
    pub name: String,
    /// Namespace of the parent.
    pub namespace: String,
}

impl ApplySet {
    /// Creates a set reference.
    pub fn new(name: impl Into<String>, namespace: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            namespace: namespace.into(),
        }
    }

    /// The set's id, as kubectl computes it for a Secret parent.
    pub fn id(&self) -> String {
        let unencoded = format!("{}.{}.Secret.", self.name, self.namespace);
        let hash = Sha256::digest(unencoded.as_bytes());
        format!("applyset-{}-v1", URL_SAFE_NO_PAD.encode(hash))
    }

    /// Labels `m` as a member of the set.
    pub fn label_member(&self, m: &mut Manifest) {
        m.metadata_map_mut("labels")
            .insert(PART_OF_LABEL.into(), Value::String(self.id()));
    }

    /// The parent Secret to server-side apply, recording `group_kinds` and `namespaces`.
    pub fn parent(&self, group_kinds: &BTreeSet<String>, namespaces: &BTreeSet<String>) -> Value {
        let kinds: Vec<&str> = group_kinds.iter().map(String::as_str).collect();
        let others: Vec<&str> = namespaces
            .iter()
            .map(String::as_str)
            .filter(|n| !n.is_empty() && *n != self.namespace)
            .collect();
        json!({
            "apiVersion": "v1",
            "kind": "Secret",
            "type": "Opaque",
            "metadata": {
                "name": self.name,
                "namespace": self.namespace,
                "labels": { ID_LABEL: self.id() },
                "annotations": {
                    TOOLING_ANNOTATION: tooling(),
                    GROUP_KINDS_ANNOTATION: kinds.join(","),
                    NAMESPACES_ANNOTATION: others.join(","),
                }
            }
        })
    }
}

/// Whether `live` (the parent as read) already is what a server-side apply of `intended` by
/// `manager` would make it: the same type, labels and annotations, owned by `manager`'s Apply
/// entry and only those (so the apply would change nothing, not even ownership).
pub fn parent_is_current(live: &Value, intended: &Value, manager: &str) -> bool {
    if live.get("type") != intended.get("type") {
        return false;
    }
    let Some(entry) = live
        .pointer("/metadata/managedFields")
        .and_then(Value::as_array)
        .and_then(|es| {
            es.iter().find(|e| {
                e["manager"].as_str() == Some(manager)
                    && e["operation"].as_str() == Some("Apply")
                    && e.get("subresource").is_none_or(|s| s.as_str() == Some(""))
            })
        })
    else {
        return false;
    };
    let owned = &entry["fieldsV1"];
    let keys =
        |v: &Value| -> Option<BTreeSet<String>> { Some(v.as_object()?.keys().cloned().collect()) };
    let expected_top: BTreeSet<String> = ["f:metadata", "f:type"].map(String::from).into();
    let expected_meta: BTreeSet<String> = ["f:annotations", "f:labels"].map(String::from).into();
    if keys(owned) != Some(expected_top) || keys(&owned["f:metadata"]) != Some(expected_meta) {
        return false;
    }
    ["labels", "annotations"].iter().all(|field| {
        let want = intended["metadata"][field].as_object();
        let have = &live["metadata"][field];
        let Some(want) = want else {
            return false;
        };
        let owned_keys = keys(&owned["f:metadata"][format!("f:{field}")]);
        let want_keys: BTreeSet<String> = want.keys().map(|k| format!("f:{k}")).collect();
        owned_keys == Some(want_keys) && want.iter().all(|(k, v)| have.get(k) == Some(v))
    })
}

/// `Deployment.apps`, or `ConfigMap` for the core group, as ApplySet annotations spell kinds.
pub fn group_kind(group: &str, kind: &str) -> String {
    if group.is_empty() {
        kind.to_string()
    } else {
        format!("{kind}.{group}")
    }
}

/// Splits `Deployment.apps` into `("apps", "Deployment")`.
pub fn parse_group_kind(gk: &str) -> (String, String) {
    match gk.split_once('.') {
        Some((k, g)) => (g.to_string(), k.to_string()),
        None => (String::new(), gk.to_string()),
    }
}

/// Reads a comma-separated annotation of the parent into a set.
pub fn read_list(parent: &Value, annotation: &str) -> BTreeSet<String> {
    parent
        .pointer("/metadata/annotations")
        .and_then(|a| a.get(annotation))
        .and_then(Value::as_str)
        .unwrap_or("")
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn id_matches_kubectls_algorithm() {
        // kubectl: "applyset-" + base64.RawURLEncoding(sha256("<name>.<ns>.<Kind>.<group>")) + "-v1"
        let set = ApplySet::new("guestbook", "shop");
        let expected = format!(
            "applyset-{}-v1",
            URL_SAFE_NO_PAD.encode(Sha256::digest(b"guestbook.shop.Secret."))
        );
        assert_eq!(set.id(), expected);
        assert!(
            set.id().len() <= 63,
            "label values are at most 63 characters"
        );
    }

    /// The parent as the API server returns it after `manager` applied `intended`.
    fn applied(intended: &Value, manager: &str) -> Value {
        let mut live = intended.clone();
        let f = |field: &str| -> Value {
            intended["metadata"][field]
                .as_object()
                .unwrap()
                .keys()
                .map(|k| (format!("f:{k}"), json!({})))
                .collect::<serde_json::Map<_, _>>()
                .into()
        };
        live["metadata"]["managedFields"] = json!([
            {"manager": "kube-controller-manager", "operation": "Update", "fieldsV1": {"f:data": {}}},
            {"manager": manager, "operation": "Apply", "fieldsV1": {
                "f:metadata": {"f:annotations": f("annotations"), "f:labels": f("labels")},
                "f:type": {}}}
        ]);
        live["metadata"]["resourceVersion"] = json!("42");
        live
    }

    #[test]
    fn a_parent_already_applied_as_intended_is_current() {
        let set = ApplySet::new("app", "shop");
        let kinds: BTreeSet<String> = ["Deployment.apps", "ConfigMap"].map(String::from).into();
        let nss: BTreeSet<String> = ["shop"].map(String::from).into();
        let intended = set.parent(&kinds, &nss);
        let live = applied(&intended, "kpush");
        assert!(parent_is_current(&live, &intended, "kpush"));
        // Another manager's apply, or another record, or fields kpush no longer writes: write.
        assert!(!parent_is_current(&live, &intended, "other"));
        let fewer: BTreeSet<String> = ["ConfigMap"].map(String::from).into();
        assert!(!parent_is_current(
            &live,
            &set.parent(&fewer, &nss),
            "kpush"
        ));
        let mut extra = live.clone();
        extra["metadata"]["managedFields"][1]["fieldsV1"]["f:metadata"]["f:annotations"]["f:old"] =
            json!({});
        assert!(!parent_is_current(&extra, &intended, "kpush"));
        let mut edited = live.clone();
        edited["metadata"]["annotations"][GROUP_KINDS_ANNOTATION] = json!("ConfigMap");
        assert!(!parent_is_current(&edited, &intended, "kpush"));
        let mut unowned = live;
        unowned["metadata"]["managedFields"] = json!([]);
        assert!(!parent_is_current(&unowned, &intended, "kpush"));
    }

    #[test]
    fn parent_lists_kinds_sorted_and_only_other_namespaces() {
        let set = ApplySet::new("app", "shop");
        let kinds: BTreeSet<String> = ["Deployment.apps", "ConfigMap"].map(String::from).into();
        let nss: BTreeSet<String> = ["shop", "other"].map(String::from).into();
        let p = set.parent(&kinds, &nss);
        assert_eq!(read_list(&p, GROUP_KINDS_ANNOTATION), kinds);
        assert_eq!(p["metadata"]["annotations"][NAMESPACES_ANNOTATION], "other");
        assert_eq!(
            p["metadata"]["annotations"][GROUP_KINDS_ANNOTATION],
            "ConfigMap,Deployment.apps"
        );
        assert_eq!(
            parse_group_kind("Deployment.apps"),
            ("apps".into(), "Deployment".into())
        );
        assert_eq!(
            parse_group_kind("ConfigMap"),
            ("".into(), "ConfigMap".into())
        );
    }
}
