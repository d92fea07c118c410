//! Which objects a patch or replacement applies to: resource ids and kustomize's `Selector`.

use std::collections::BTreeMap;

use regex::Regex;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::error::PatchError;
use super::labels::LabelSelector;
use super::schema::split_api_version;

/// Annotation listing an object's earlier names (comma separated, oldest first), as kustomize
/// records them when a prefix, suffix or namespace changes an object's identity.
pub const PREVIOUS_NAMES: &str = "internal.config.kubernetes.io/previousNames";
/// Annotation listing an object's earlier kinds, parallel to [`PREVIOUS_NAMES`].
pub const PREVIOUS_KINDS: &str = "internal.config.kubernetes.io/previousKinds";
/// Annotation listing an object's earlier namespaces, parallel to [`PREVIOUS_NAMES`].
pub const PREVIOUS_NAMESPACES: &str = "internal.config.kubernetes.io/previousNamespaces";

/// Cluster-scoped types as kustomize knows them: exactly the `false` entries of kyaml's
/// `precomputedIsNamespaceScoped` (kustomize v5.7.1, `kyaml/openapi/openapi.go`). Types not
/// listed (custom resources, newer API versions such as `flowcontrol.apiserver.k8s.io/v1`)
/// are namespaced to kustomize, and so to kpush while it renders an overlay.
pub const KUSTOMIZE_CLUSTER_SCOPED: &[(&str, &str)] = &[
    (
        "admissionregistration.k8s.io/v1",
        "MutatingWebhookConfiguration",
    ),
    (
        "admissionregistration.k8s.io/v1",
        "ValidatingWebhookConfiguration",
    ),
    (
        "admissionregistration.k8s.io/v1beta1",
        "MutatingWebhookConfiguration",
    ),
    (
        "admissionregistration.k8s.io/v1beta1",
        "ValidatingWebhookConfiguration",
    ),
    ("apiextensions.k8s.io/v1", "CustomResourceDefinition"),
    ("apiextensions.k8s.io/v1beta1", "CustomResourceDefinition"),
    ("apiregistration.k8s.io/v1", "APIService"),
    ("apiregistration.k8s.io/v1beta1", "APIService"),
    ("certificates.k8s.io/v1", "CertificateSigningRequest"),
    ("certificates.k8s.io/v1beta1", "CertificateSigningRequest"),
    ("flowcontrol.apiserver.k8s.io/v1beta1", "FlowSchema"),
    (
        "flowcontrol.apiserver.k8s.io/v1beta1",
        "PriorityLevelConfiguration",
    ),
    ("networking.k8s.io/v1", "IngressClass"),
    ("networking.k8s.io/v1beta1", "IngressClass"),
    ("node.k8s.io/v1", "RuntimeClass"),
    ("node.k8s.io/v1beta1", "RuntimeClass"),
    ("policy/v1beta1", "PodSecurityPolicy"),
    ("rbac.authorization.k8s.io/v1", "ClusterRole"),
    ("rbac.authorization.k8s.io/v1", "ClusterRoleBinding"),
    ("rbac.authorization.k8s.io/v1beta1", "ClusterRole"),
    ("rbac.authorization.k8s.io/v1beta1", "ClusterRoleBinding"),
    ("scheduling.k8s.io/v1", "PriorityClass"),
    ("scheduling.k8s.io/v1beta1", "PriorityClass"),
    ("storage.k8s.io/v1", "CSIDriver"),
    ("storage.k8s.io/v1", "CSINode"),
    ("storage.k8s.io/v1", "StorageClass"),
    ("storage.k8s.io/v1", "VolumeAttachment"),
    ("storage.k8s.io/v1beta1", "CSIDriver"),
    ("storage.k8s.io/v1beta1", "CSINode"),
    ("storage.k8s.io/v1beta1", "StorageClass"),
    ("storage.k8s.io/v1beta1", "VolumeAttachment"),
    ("v1", "ComponentStatus"),
    ("v1", "Namespace"),
    ("v1", "Node"),
    ("v1", "NodeProxyOptions"),
    ("v1", "PersistentVolume"),
];

/// Whether kustomize treats `apiVersion`/`kind` as cluster-scoped.
pub fn kustomize_cluster_scoped(api_version: &str, kind: &str) -> bool {
    KUSTOMIZE_CLUSTER_SCOPED
        .iter()
        .any(|(a, k)| *a == api_version && *k == kind)
}

/// An object's identity: group, version, kind, name, namespace (empty means unset).
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(default)]
pub struct ResId {
    /// API group (`apps`; empty for the core group).
    pub group: String,
    /// API version (`v1`).
    pub version: String,
    /// Kind (`Deployment`).
    pub kind: String,
    /// `metadata.name`.
    pub name: String,
    /// `metadata.namespace`.
    pub namespace: String,
}

/// The current id of an object followed by its previous ids (oldest first) recorded in the
/// [`PREVIOUS_NAMES`], [`PREVIOUS_KINDS`] and [`PREVIOUS_NAMESPACES`] annotations.
pub fn res_ids(obj: &Value) -> Vec<ResId> {
    let current = ResId::of(obj);
    let annotations = string_map(obj, "annotations");
    let mut ids = vec![current.clone()];
    if let Some(names) = annotations.get(PREVIOUS_NAMES) {
        let names: Vec<&str> = names.split(',').collect();
        let empty = String::new();
        let kinds: Vec<&str> = annotations
            .get(PREVIOUS_KINDS)
            .unwrap_or(&empty)
            .split(',')
            .collect();
        let namespaces: Vec<&str> = annotations
            .get(PREVIOUS_NAMESPACES)
            .unwrap_or(&empty)
            .split(',')
            .collect();
        for (i, name) in names.iter().enumerate() {
            ids.insert(
                i,
                ResId {
                    group: current.group.clone(),
                    version: current.version.clone(),
                    kind: kinds.get(i).copied().unwrap_or(&current.kind).to_string(),
                    name: name.to_string(),
                    namespace: namespaces.get(i).copied().unwrap_or("").to_string(),
                },
            );
        }
    }
    ids
}

/// Records the object's current id as its latest previous id (kustomize `StorePreviousId`):
/// call it before a transform changes a name, namespace or kind, so selectors and vars
/// written against the old id still find the object.
pub fn store_previous_id(obj: &mut Value) {
    let id = ResId::of(obj);
    let ns = id.effective_namespace().to_string();
    for (key, value) in [
        (PREVIOUS_NAMES, &id.name),
        (PREVIOUS_NAMESPACES, &ns),
        (PREVIOUS_KINDS, &id.kind),
    ] {
        if value.is_empty() {
            continue;
        }
        let Some(annotations) = annotations_mut(obj) else {
            return;
        };
        let joined = match annotations.get(key).and_then(Value::as_str) {
            Some(old) if !old.is_empty() => format!("{old},{value}"),
            _ => value.to_string(),
        };
        annotations.insert(key.to_string(), Value::String(joined));
    }
}

/// `metadata.annotations` of an object, made (in place of a missing or null one) when absent,
/// as kyaml's annotation setter makes it; `None` when the object or its metadata is no map.
pub(crate) fn annotations_mut(obj: &mut Value) -> Option<&mut Map<String, Value>> {
    let meta = obj
        .as_object_mut()?
        .entry("metadata")
        .or_insert_with(|| Value::Object(Map::new()));
    if meta.is_null() {
        *meta = Value::Object(Map::new());
    }
    let annotations = meta
        .as_object_mut()?
        .entry("annotations")
        .or_insert_with(|| Value::Object(Map::new()));
    if annotations.is_null() {
        *annotations = Value::Object(Map::new());
    }
    annotations.as_object_mut()
}

/// A string map under `metadata` (`labels` or `annotations`); non-string values are skipped.
pub(crate) fn string_map(obj: &Value, field: &str) -> BTreeMap<String, String> {
    obj.get("metadata")
        .and_then(|m| m.get(field))
        .and_then(Value::as_object)
        .map(|m| {
            m.iter()
                .filter_map(|(k, v)| v.as_str().map(|v| (k.clone(), v.to_string())))
                .collect()
        })
        .unwrap_or_default()
}

/// A string field of an object (`""` when missing).
fn str_at<'a>(obj: &'a Value, path: &[&str]) -> &'a str {
    let mut cur = obj;
    for p in path {
        match cur.get(p) {
            Some(v) => cur = v,
            None => return "",
        }
    }
    cur.as_str().unwrap_or("")
}

impl ResId {
    /// The current id of an object.
    pub fn of(obj: &Value) -> ResId {
        let (group, version) = split_api_version(str_at(obj, &["apiVersion"]));
        ResId {
            group: group.to_string(),
            version: version.to_string(),
            kind: str_at(obj, &["kind"]).to_string(),
            name: str_at(obj, &["metadata", "name"]).to_string(),
            namespace: str_at(obj, &["metadata", "namespace"]).to_string(),
        }
    }

    /// Whether the kind is cluster-scoped as kustomize decides it: by exact apiVersion and
    /// kind, from kustomize's own list ([`kustomize_cluster_scoped`]). Newer types
    /// (`admissionregistration.k8s.io/v1` ValidatingAdmissionPolicy,
    /// `flowcontrol.apiserver.k8s.io/v1` FlowSchema) are namespaced to kustomize, so a target's
    /// `namespace: default` selects them.
    pub fn is_cluster_scoped(&self) -> bool {
        let api_version = if self.group.is_empty() {
            self.version.clone()
        } else {
            format!("{}/{}", self.group, self.version)
        };
        kustomize_cluster_scoped(&api_version, &self.kind)
    }

    /// The namespace as kustomize compares it: `default` when unset, and a marker that no
    /// namespace equals for cluster-scoped kinds.
    pub fn effective_namespace(&self) -> &str {
        if self.is_cluster_scoped() {
            "_non_namespaceable_"
        } else if self.namespace.is_empty() {
            "default"
        } else {
            &self.namespace
        }
    }

    /// kustomize's `IsSelectedBy`: every non-empty field of `selector` is equal (namespaces
    /// compared as effective namespaces).
    pub fn is_selected_by(&self, selector: &ResId) -> bool {
        (selector.name.is_empty() || selector.name == self.name)
            && (selector.namespace.is_empty()
                || selector.effective_namespace() == self.effective_namespace())
            && (selector.group.is_empty() || selector.group == self.group)
            && (selector.version.is_empty() || selector.version == self.version)
            && (selector.kind.is_empty() || selector.kind == self.kind)
    }

    /// Printed as kustomize prints ids: `Kind.version.group/name.namespace`, with `[noGrp]`,
    /// `[noVer]`, `[noKind]`, `[noName]` and `[noNs]` for empty parts.
    pub fn display(&self) -> String {
        let or = |s: &str, none: &str| {
            if s.is_empty() {
                none.to_string()
            } else {
                s.to_string()
            }
        };
        format!(
            "{}.{}.{}/{}.{}",
            or(&self.kind, "[noKind]"),
            or(&self.version, "[noVer]"),
            or(&self.group, "[noGrp]"),
            or(&self.name, "[noName]"),
            or(&self.namespace, "[noNs]"),
        )
    }
}

impl std::fmt::Display for ResId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.display())
    }
}

/// kustomize's target selector: every non-empty field must match. `group`, `version`, `kind`,
/// `name` and `namespace` are regular expressions anchored at both ends; `labelSelector` and
/// `annotationSelector` use the Kubernetes label selector syntax.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct Selector {
    /// API group regex.
    pub group: String,
    /// API version regex.
    pub version: String,
    /// Kind regex.
    pub kind: String,
    /// Name regex (matched against the original and the current name).
    pub name: String,
    /// Namespace regex (matched against the original and the current namespace; an object
    /// without namespace is in `default`).
    pub namespace: String,
    /// Label selector (`app=web,tier in (a,b),!legacy`).
    pub label_selector: String,
    /// Annotation selector, same syntax as labels.
    pub annotation_selector: String,
}

impl Selector {
    /// Compiles the regexes and selectors once, to match many objects.
    pub fn compile(&self) -> Result<SelectorMatcher, PatchError> {
        let anchored = |what: &str, pattern: &str| -> Result<Option<Regex>, PatchError> {
            if pattern.is_empty() {
                return Ok(None);
            }
            Regex::new(&format!("^(?:{pattern})$"))
                .map(Some)
                .map_err(|e| PatchError::Selector {
                    message: format!("{what} `{pattern}` is not a valid regular expression: {e}"),
                })
        };
        Ok(SelectorMatcher {
            group: anchored("group", &self.group)?,
            version: anchored("version", &self.version)?,
            kind: anchored("kind", &self.kind)?,
            name: anchored("name", &self.name)?,
            namespace: anchored("namespace", &self.namespace)?,
            labels: LabelSelector::parse(&self.label_selector)?,
            annotations: LabelSelector::parse(&self.annotation_selector)?,
        })
    }

    /// Whether only group, version, kind, name and namespace are set (no label selectors).
    pub fn is_id_only(&self) -> bool {
        self.label_selector.is_empty() && self.annotation_selector.is_empty()
    }

    /// Whether every field is empty (it selects everything).
    pub fn is_empty(&self) -> bool {
        *self == Selector::default()
    }
}

impl std::fmt::Display for Selector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let id = ResId {
            group: self.group.clone(),
            version: self.version.clone(),
            kind: self.kind.clone(),
            name: self.name.clone(),
            namespace: self.namespace.clone(),
        };
        write!(
            f,
            "{id}:a={}:l={}",
            self.annotation_selector, self.label_selector
        )
    }
}

/// A compiled [`Selector`].
#[derive(Debug, Clone)]
pub struct SelectorMatcher {
    group: Option<Regex>,
    version: Option<Regex>,
    kind: Option<Regex>,
    name: Option<Regex>,
    namespace: Option<Regex>,
    labels: LabelSelector,
    annotations: LabelSelector,
}

fn is_match(re: &Option<Regex>, text: &str) -> bool {
    re.as_ref().is_none_or(|re| re.is_match(text))
}

impl SelectorMatcher {
    /// Whether `obj` is selected, as kustomize's `ResMap.Select` decides (original or current
    /// name and namespace, current group/version/kind, labels, annotations).
    pub fn matches(&self, obj: &Value) -> bool {
        let ids = res_ids(obj);
        let original = &ids[0];
        let current = &ids[ids.len() - 1];
        (is_match(&self.namespace, original.effective_namespace())
            || is_match(&self.namespace, current.effective_namespace()))
            && (is_match(&self.name, &original.name) || is_match(&self.name, &current.name))
            && is_match(&self.group, &current.group)
            && is_match(&self.version, &current.version)
            && is_match(&self.kind, &current.kind)
            && self.matches_labels(obj)
    }

    /// Whether a group/version/kind/name/namespace id is selected (regexes only).
    pub fn matches_id(&self, id: &ResId) -> bool {
        is_match(&self.group, &id.group)
            && is_match(&self.version, &id.version)
            && is_match(&self.kind, &id.kind)
            && is_match(&self.name, &id.name)
            && is_match(&self.namespace, &id.namespace)
    }

    /// Whether the object's labels and annotations satisfy the selectors.
    pub fn matches_labels(&self, obj: &Value) -> bool {
        (self.labels.is_empty() || self.labels.matches(&string_map(obj, "labels")))
            && (self.annotations.is_empty()
                || self.annotations.matches(&string_map(obj, "annotations")))
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn deployment(name: &str, ns: Option<&str>) -> Value {
        let mut o = json!({"apiVersion": "apps/v1", "kind": "Deployment",
                           "metadata": {"name": name, "labels": {"app": "web"},
                                        "annotations": {"team": "a"}}});
        if let Some(ns) = ns {
            o["metadata"]["namespace"] = json!(ns);
        }
        o
    }

    fn sel(f: impl FnOnce(&mut Selector)) -> SelectorMatcher {
        let mut s = Selector::default();
        f(&mut s);
        s.compile().unwrap_or_else(|e| panic!("{e}"))
    }

    // After kustomize api/types/selector_test.go and resmap Select: anchored regexes, original
    // or current name and namespace, `default` for objects without namespace.
    #[test]
    fn selectors_match_as_kustomize_resmap_select_does() {
        let mut d = deployment("web", None);
        assert!(sel(|_| {}).matches(&d));
        assert!(sel(|s| s.name = "w.b".into()).matches(&d));
        assert!(
            !sel(|s| s.name = "we".into()).matches(&d),
            "regexes match whole names"
        );
        assert!(sel(|s| s.kind = "Deployment|StatefulSet".into()).matches(&d));
        assert!(sel(|s| s.group = "apps".into()).matches(&d));
        assert!(!sel(|s| s.version = "v1beta1".into()).matches(&d));
        assert!(sel(|s| s.namespace = "default".into()).matches(&d));
        assert!(sel(|s| s.label_selector = "app=web".into()).matches(&d));
        assert!(!sel(|s| s.annotation_selector = "team=b".into()).matches(&d));

        store_previous_id(&mut d);
        d["metadata"]["name"] = json!("prod-web");
        d["metadata"]["namespace"] = json!("prod");
        assert!(sel(|s| s.name = "web".into()).matches(&d), "original name");
        assert!(
            sel(|s| s.name = "prod-web".into()).matches(&d),
            "current name"
        );
        assert!(
            sel(|s| s.namespace = "default".into()).matches(&d),
            "original namespace"
        );
        assert!(
            sel(|s| s.namespace = "prod".into()).matches(&d),
            "current namespace"
        );

        let ns = json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "x"}});
        assert!(!sel(|s| s.namespace = "default".into()).matches(&ns));
        assert!(
            Selector {
                name: "(".into(),
                ..Selector::default()
            }
            .compile()
            .is_err()
        );
        assert!(
            Selector {
                label_selector: "a in b".into(),
                ..Selector::default()
            }
            .compile()
            .is_err()
        );
    }

    #[test]
    fn previous_ids_come_first_and_oldest_first() {
        let mut d = deployment("web", Some("dev"));
        store_previous_id(&mut d);
        d["metadata"]["name"] = json!("a-web");
        store_previous_id(&mut d);
        d["metadata"]["name"] = json!("b-a-web");
        let names: Vec<String> = res_ids(&d).into_iter().map(|id| id.name).collect();
        assert_eq!(names, ["web", "a-web", "b-a-web"]);
        assert_eq!(
            d["metadata"]["annotations"][PREVIOUS_NAMESPACES],
            json!("dev,dev")
        );
        assert_eq!(ResId::of(&d).to_string(), "Deployment.v1.apps/b-a-web.dev");
        let selector = ResId {
            kind: "Deployment".into(),
            name: "web".into(),
            ..ResId::default()
        };
        assert!(res_ids(&d).iter().any(|id| id.is_selected_by(&selector)));
    }
}
#[cfg(test)]
mod scope_tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn newer_cluster_scoped_types_are_namespaced_to_kustomize() {
        let vap = json!({"apiVersion": "admissionregistration.k8s.io/v1",
                         "kind": "ValidatingAdmissionPolicy", "metadata": {"name": "v"}});
        let sel = Selector {
            namespace: "default".into(),
            ..Selector::default()
        };
        assert!(sel.compile().unwrap().matches(&vap));
        let cr = json!({"apiVersion": "rbac.authorization.k8s.io/v1",
                        "kind": "ClusterRole", "metadata": {"name": "c"}});
        assert!(!sel.compile().unwrap().matches(&cr));
    }
}
