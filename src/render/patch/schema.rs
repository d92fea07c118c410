//! Patch metadata of the Kubernetes schema: merge keys and list strategies per type and field,
//! generated from Kubernetes' OpenAPI document into `schema_table.rs` by
//! `scripts/gen-patch-schema.py`.
//!
//! Like kustomize (kyaml/openapi), a schema is found by the object's apiVersion and kind; kinds
//! the table does not know (custom resources) have none, so their lists are replaced. An old
//! apiVersion of a built-in group (`extensions/v1beta1` Deployment, which kustomize's older
//! built-in schema still knows) falls back to the same kind in another version.

#[path = "schema_table.rs"]
mod table;

pub use table::KUBERNETES_VERSION;

/// Marks a field whose value has no type in the table.
pub(crate) const NONE: u16 = u16::MAX;

/// What a field holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// A single value (an object of type `ty`, or a scalar when `ty` is [`NONE`]).
    Object,
    /// A list of `ty` (or of scalars when `ty` is [`NONE`]).
    List,
    /// A map from strings to `ty`.
    Map,
}

/// One field of a generated type.
#[derive(Debug)]
pub struct FieldDef {
    /// JSON name.
    pub name: &'static str,
    /// Object, list or map.
    pub shape: Shape,
    /// Index into the type table, or [`NONE`].
    pub ty: u16,
    /// `x-kubernetes-patch-strategy` (`merge`, `retainKeys`, `merge,retainKeys`, or empty).
    pub strategy: &'static str,
    /// Merge keys (the first is `x-kubernetes-patch-merge-key`, then other list-map keys).
    pub keys: &'static [&'static str],
}

/// One generated type: its fields that matter to a strategic merge, sorted by name.
#[derive(Debug)]
pub struct TypeDef {
    /// OpenAPI definition name.
    pub name: &'static str,
    /// Fields, sorted by name.
    pub fields: &'static [FieldDef],
}

/// A top-level kind and its type.
#[derive(Debug)]
pub struct KindDef {
    /// API group (empty for core).
    pub group: &'static str,
    /// API version.
    pub version: &'static str,
    /// Kind.
    pub kind: &'static str,
    /// Index into the type table.
    pub ty: u16,
}

/// Schema position while walking an object: the type of the current map, or nothing.
#[derive(Debug, Clone, Copy)]
pub struct Type(&'static TypeDef);

/// What the schema says about one field.
#[derive(Debug, Clone, Copy)]
pub struct Field(&'static FieldDef);

impl Type {
    /// The schema for a top-level object of this apiVersion and kind, if it is a built-in kind.
    pub fn for_object(api_version: &str, kind: &str) -> Option<Type> {
        let (group, version) = split_api_version(api_version);
        let kinds = table::KINDS;
        let exact = kinds
            .iter()
            .find(|k| k.group == group && k.version == version && k.kind == kind);
        let found = exact.or_else(|| {
            if !is_builtin_group(group) {
                return None;
            }
            kinds
                .iter()
                .filter(|k| k.kind == kind)
                .find(|k| k.group == group || (group == "extensions" && is_builtin_group(k.group)))
                .or_else(|| {
                    kinds
                        .iter()
                        .find(|k| k.kind == kind && is_builtin_group(k.group))
                })
        })?;
        Some(Type(&table::TYPES[found.ty as usize]))
    }

    /// The OpenAPI definition name.
    pub fn name(self) -> &'static str {
        self.0.name
    }

    /// What the schema says about a field of this type, if anything.
    pub fn field(self, name: &str) -> Option<Field> {
        let fields = self.0.fields;
        fields
            .binary_search_by(|f| f.name.cmp(name))
            .ok()
            .map(|i| Field(&fields[i]))
    }
}

impl Field {
    /// Object, list or map.
    pub fn shape(self) -> Shape {
        self.0.shape
    }

    /// The type of the value (object field), of each item (list) or of each value (map).
    pub fn value_type(self) -> Option<Type> {
        (self.0.ty != NONE).then(|| Type(&table::TYPES[self.0.ty as usize]))
    }

    /// Whether the patch strategy includes `merge` (an associative list).
    pub fn merges(self) -> bool {
        self.0.strategy.split(',').any(|s| s == "merge")
    }

    /// Whether the patch strategy includes `retainKeys`.
    pub fn retains_keys(self) -> bool {
        self.0.strategy.split(',').any(|s| s == "retainKeys")
    }

    /// Merge keys; empty for a list of scalars merged as a set.
    pub fn keys(self) -> &'static [&'static str] {
        self.0.keys
    }
}

/// Splits `apps/v1` into (`apps`, `v1`) and `v1` into (``, `v1`).
pub fn split_api_version(api_version: &str) -> (&str, &str) {
    match api_version.rsplit_once('/') {
        Some((g, v)) => (g, v),
        None => ("", api_version),
    }
}

/// Whether `group` is served by Kubernetes itself (or is the retired `extensions`).
/// Whether this exact apiVersion and kind is a built-in kind of the Kubernetes version the
/// table was generated from ([`KUBERNETES_VERSION`]).
pub fn is_builtin_kind(api_version: &str, kind: &str) -> bool {
    let (group, version) = split_api_version(api_version);
    table::KINDS
        .iter()
        .any(|k| k.group == group && k.version == version && k.kind == kind)
}

fn is_builtin_group(group: &str) -> bool {
    group == "extensions" || table::KINDS.iter().any(|k| k.group == group)
}

/// Whether a built-in kind is cluster-scoped (`Namespace`, `ClusterRole`, `Node`, ...);
/// unknown kinds are namespaced.
pub fn is_cluster_scoped(group: &str, kind: &str) -> bool {
    table::CLUSTER_SCOPED
        .binary_search_by(|(g, k)| (*g, *k).cmp(&(group, kind)))
        .is_ok()
}

/// A user's OpenAPI document (a kustomization's `openapi: path:`): merge keys for custom
/// resources, as kustomize reads them. Definitions may refer to each other and to Kubernetes'
/// own (`#/definitions/io.k8s.api.core.v1.PodTemplateSpec`), which the built-in table
/// supplies when the document does not.
#[derive(Debug, Clone, Default)]
pub struct OpenApiSchema {
    types: std::collections::BTreeMap<String, CustomType>,
    kinds: Vec<(String, String, String, String)>,
}

/// One definition of a user's OpenAPI document.
#[derive(Debug, Clone, Default)]
pub struct CustomType {
    fields: std::collections::BTreeMap<String, CustomField>,
    /// `additionalProperties` type, for maps.
    values: Option<Box<CustomField>>,
}

/// One property of a user's definition.
#[derive(Debug, Clone)]
pub struct CustomField {
    shape: Shape,
    target: CustomTarget,
    strategy: String,
    keys: Vec<String>,
}

/// What a user's property holds.
#[derive(Debug, Clone)]
pub enum CustomTarget {
    /// A scalar, or an object without properties.
    None,
    /// `$ref` to a definition (of the document or of Kubernetes).
    Named(String),
    /// An object described in place.
    Inline(Box<CustomType>),
}

impl OpenApiSchema {
    /// Parses the text of a schema file, JSON or YAML (kustomize reads both).
    pub fn parse(text: &str) -> Result<Self, super::PatchError> {
        Self::from_document(&super::json6902::parse_patch_document(text)?)
    }

    /// Reads a document with `definitions` (JSON or YAML already parsed); kinds come from
    /// `x-kubernetes-group-version-kind`.
    pub fn from_document(doc: &serde_json::Value) -> Result<Self, super::PatchError> {
        let Some(defs) = doc
            .get("definitions")
            .and_then(serde_json::Value::as_object)
        else {
            return Err(super::PatchError::Parse {
                message: "an OpenAPI schema needs a `definitions` map".to_string(),
            });
        };
        let mut out = OpenApiSchema::default();
        for (name, def) in defs {
            out.types.insert(name.clone(), custom_type(def));
            for gvk in def
                .get("x-kubernetes-group-version-kind")
                .and_then(serde_json::Value::as_array)
                .into_iter()
                .flatten()
            {
                let get = |k: &str| gvk.get(k).and_then(serde_json::Value::as_str).unwrap_or("");
                out.kinds.push((
                    get("group").to_string(),
                    get("version").to_string(),
                    get("kind").to_string(),
                    name.clone(),
                ));
            }
        }
        Ok(out)
    }

    /// The definition for a top-level object of this apiVersion and kind.
    pub fn for_object(&self, api_version: &str, kind: &str) -> Option<&CustomType> {
        let (group, version) = split_api_version(api_version);
        self.kinds
            .iter()
            .find(|(g, v, k, _)| g == group && v == version && k == kind)
            .and_then(|(_, _, _, name)| self.types.get(name))
    }

    /// A definition by name.
    pub fn named(&self, name: &str) -> Option<&CustomType> {
        self.types.get(name)
    }
}

fn ref_name(v: &serde_json::Value) -> Option<String> {
    v.get("$ref")
        .and_then(serde_json::Value::as_str)
        .map(|r| r.rsplit('/').next().unwrap_or(r).to_string())
}

fn custom_type(def: &serde_json::Value) -> CustomType {
    let fields = def
        .get("properties")
        .and_then(serde_json::Value::as_object)
        .map(|props| {
            props
                .iter()
                .map(|(k, p)| (k.clone(), custom_field(p)))
                .collect()
        })
        .unwrap_or_default();
    let values = def
        .get("additionalProperties")
        .filter(|a| a.is_object())
        .map(|a| Box::new(custom_field(a)));
    CustomType { fields, values }
}

fn custom_target(v: &serde_json::Value) -> CustomTarget {
    if let Some(name) = ref_name(v) {
        CustomTarget::Named(name)
    } else if v.get("properties").is_some() || v.get("additionalProperties").is_some() {
        CustomTarget::Inline(Box::new(custom_type(v)))
    } else {
        CustomTarget::None
    }
}

fn custom_field(p: &serde_json::Value) -> CustomField {
    let text = |k: &str| {
        p.get(k)
            .and_then(serde_json::Value::as_str)
            .map(str::to_string)
    };
    let strategy = text("x-kubernetes-patch-strategy").unwrap_or_default();
    let keys = if strategy.is_empty() {
        Vec::new()
    } else if let Some(list) = p
        .get("x-kubernetes-list-map-keys")
        .and_then(serde_json::Value::as_array)
    {
        list.iter()
            .filter_map(|k| k.as_str().map(str::to_string))
            .collect()
    } else {
        text("x-kubernetes-patch-merge-key").into_iter().collect()
    };
    let (shape, target) = if p.get("type").and_then(serde_json::Value::as_str) == Some("array") {
        (
            Shape::List,
            p.get("items").map_or(CustomTarget::None, custom_target),
        )
    } else {
        (Shape::Object, custom_target(p))
    };
    CustomField {
        shape,
        target,
        strategy,
        keys,
    }
}

impl CustomType {
    /// A property, or the map value type for any key.
    pub fn field(&self, name: &str) -> Option<&CustomField> {
        self.fields.get(name).or(self.values.as_deref())
    }
}

impl CustomField {
    /// Object or list.
    pub fn shape(&self) -> Shape {
        self.shape
    }

    /// What the value (or each item) is.
    pub fn target(&self) -> &CustomTarget {
        &self.target
    }

    /// Whether the patch strategy includes `merge`.
    pub fn merges(&self) -> bool {
        self.strategy.split(',').any(|s| s == "merge")
    }

    /// Merge keys.
    pub fn keys(&self) -> &[String] {
        &self.keys
    }
}

impl Type {
    /// A built-in definition by its OpenAPI name (for a user's `$ref`).
    pub fn named(name: &str) -> Option<Type> {
        table::TYPES.iter().find(|t| t.name == name).map(Type)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field(api_version: &str, kind: &str, path: &[&str]) -> Field {
        let mut ty = Type::for_object(api_version, kind).unwrap_or_else(|| panic!("{kind}"));
        let (last, walk) = path.split_last().unwrap();
        for name in walk {
            ty = ty
                .field(name)
                .and_then(Field::value_type)
                .unwrap_or_else(|| panic!("{kind}: no type at {name}"));
        }
        ty.field(last)
            .unwrap_or_else(|| panic!("{kind}: no field {last}"))
    }

    const POD_TEMPLATE_KINDS: &[(&str, &str)] = &[
        ("apps/v1", "Deployment"),
        ("apps/v1", "StatefulSet"),
        ("apps/v1", "DaemonSet"),
        ("apps/v1", "ReplicaSet"),
        ("batch/v1", "Job"),
        ("v1", "ReplicationController"),
        ("v1", "PodTemplate"),
    ];

    fn pod_spec_path(kind: &str) -> Vec<&'static str> {
        match kind {
            "PodTemplate" => vec!["template", "spec"],
            _ => vec!["spec", "template", "spec"],
        }
    }

    #[test]
    fn table_is_complete_for_core_workload_kinds() {
        for (api_version, kind) in POD_TEMPLATE_KINDS {
            let spec = pod_spec_path(kind);
            for (list, keys) in [
                ("containers", &["name"][..]),
                ("initContainers", &["name"]),
                ("ephemeralContainers", &["name"]),
                ("volumes", &["name"]),
                ("imagePullSecrets", &["name"]),
                ("hostAliases", &["ip"]),
                (
                    "topologySpreadConstraints",
                    &["topologyKey", "whenUnsatisfiable"],
                ),
            ] {
                let mut path = spec.clone();
                path.push(list);
                let f = field(api_version, kind, &path);
                assert!(f.merges(), "{kind} {list}");
                assert_eq!(f.keys(), keys, "{kind} {list}");
            }
            for (list, keys) in [
                ("env", &["name"][..]),
                ("ports", &["containerPort", "protocol"]),
                ("volumeMounts", &["mountPath"]),
                ("volumeDevices", &["devicePath"]),
            ] {
                let mut path = spec.clone();
                path.extend(["containers", list]);
                let f = field(api_version, kind, &path);
                assert!(f.merges(), "{kind} containers.{list}");
                assert_eq!(f.keys(), keys, "{kind} containers.{list}");
            }
            // Tolerations have no strategy: replaced as a whole.
            let mut t = Type::for_object(api_version, kind).unwrap();
            for name in &spec {
                t = t.field(name).and_then(Field::value_type).unwrap();
            }
            assert!(t.field("tolerations").is_none(), "{kind} tolerations");
        }
        let cron = field(
            "batch/v1",
            "CronJob",
            &[
                "spec",
                "jobTemplate",
                "spec",
                "template",
                "spec",
                "containers",
            ],
        );
        assert_eq!(cron.keys(), ["name"]);
        let svc = field("v1", "Service", &["spec", "ports"]);
        assert_eq!(svc.keys(), ["port", "protocol"]);
        let finalizers = field("v1", "Pod", &["metadata", "finalizers"]);
        assert!(finalizers.merges());
        assert!(finalizers.keys().is_empty());
        let owners = field("apps/v1", "Deployment", &["metadata", "ownerReferences"]);
        assert_eq!(owners.keys(), ["uid"]);
        let strategy = field("apps/v1", "Deployment", &["spec", "strategy"]);
        assert!(strategy.retains_keys());
    }

    #[test]
    fn custom_resources_have_no_schema() {
        assert!(Type::for_object("example.com/v1", "Deployment").is_none());
        assert!(Type::for_object("argoproj.io/v1alpha1", "Rollout").is_none());
    }

    #[test]
    fn retired_versions_of_builtin_kinds_fall_back_to_a_served_version() {
        let t = Type::for_object("extensions/v1beta1", "Deployment").unwrap();
        assert_eq!(t.name(), "io.k8s.api.apps.v1.Deployment");
        let t = Type::for_object("batch/v1beta1", "CronJob").unwrap();
        assert_eq!(t.name(), "io.k8s.api.batch.v1.CronJob");
    }

    #[test]
    fn cluster_scope_comes_from_the_api_paths() {
        assert!(is_cluster_scoped("", "Namespace"));
        assert!(is_cluster_scoped(
            "rbac.authorization.k8s.io",
            "ClusterRole"
        ));
        assert!(is_cluster_scoped(
            "apiextensions.k8s.io",
            "CustomResourceDefinition"
        ));
        assert!(is_cluster_scoped("policy", "PodSecurityPolicy"));
        assert!(!is_cluster_scoped("apps", "Deployment"));
        assert!(!is_cluster_scoped("", "ConfigMap"));
        assert!(!is_cluster_scoped("example.com", "Widget"));
    }
}
