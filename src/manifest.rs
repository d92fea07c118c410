//! The one type that carries Kubernetes objects from stage to stage: an object plus its origin.

use std::fmt;
use std::sync::Arc;

use serde_json::{Map, Value};

/// Where an object came from: a file (or `-` for standard input) and the 1-based line of its document.
///
/// Objects rendered by kustomize also list in `via` the overlay entries (a `namePrefix`, a patch,
/// a generator) that changed or made them, in the order they were applied.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Origin {
    /// The path as the user gave it (relative paths stay relative), or `-` for standard input.
    pub file: Arc<str>,
    /// 1-based line where the object's document starts (the first non-marker line).
    pub line: u32,
    /// Overlay entries that changed the object after it was read, oldest first.
    pub via: Vec<Via>,
    /// Rendered from a Helm chart: only then are its `helm.sh/hook` annotations honoured.
    pub chart: bool,
}

/// One overlay entry that changed an object: the kustomization field and its file:line.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Via {
    /// What changed it: the kustomization field, for example `namePrefix` or `patches`.
    pub what: Arc<str>,
    /// The file holding the entry (a kustomization or a patch file).
    pub file: Arc<str>,
    /// 1-based line of the entry.
    pub line: u32,
}

impl fmt::Display for Via {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({}:{})", self.what, self.file, self.line)
    }
}

impl Origin {
    /// Creates an origin for `file` at `line`.
    pub fn new(file: impl Into<Arc<str>>, line: u32) -> Self {
        Self {
            file: file.into(),
            line,
            via: Vec::new(),
            chart: false,
        }
    }

    /// This origin, marked as rendered from a Helm chart.
    pub fn from_chart(mut self) -> Self {
        self.chart = true;
        self
    }

    /// `file:line`, followed by ` via …` for each overlay entry that changed the object.
    pub fn with_via(&self) -> String {
        let mut s = self.to_string();
        for v in &self.via {
            s.push_str(" via ");
            s.push_str(&v.to_string());
        }
        s
    }
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.file, self.line)
    }
}

/// Identity of an object in a cluster: API group, kind, namespace and name.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ObjectKey {
    /// API group (`""` for the core group).
    pub group: String,
    /// Kind, for example `Deployment`.
    pub kind: String,
    /// Namespace, `None` for cluster-scoped objects or when not yet known.
    pub namespace: Option<String>,
    /// metadata.name.
    pub name: String,
}

/// The one spelling of an object in every output: `Deployment shop/web`, `Namespace shop`.
impl fmt::Display for ObjectKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.namespace {
            Some(ns) => write!(f, "{} {ns}/{}", self.kind, self.name),
            None => write!(f, "{} {}", self.kind, self.name),
        }
    }
}

/// A Kubernetes object together with the file and line it came from.
///
/// `object` is always a JSON object holding at least `apiVersion`, `kind` and `metadata.name`
/// once rendering has validated it.
#[derive(Debug, Clone, PartialEq)]
pub struct Manifest {
    /// Where the object was written.
    pub origin: Origin,
    /// The object itself, as JSON.
    pub object: Value,
}

impl Manifest {
    /// Wraps an object with its origin.
    pub fn new(origin: Origin, object: Value) -> Self {
        Self { origin, object }
    }

    fn str_at(&self, path: &[&str]) -> Option<&str> {
        let mut v = &self.object;
        for p in path {
            v = v.get(p)?;
        }
        v.as_str()
    }

    /// `apiVersion`, or `""` when missing.
    pub fn api_version(&self) -> &str {
        self.str_at(&["apiVersion"]).unwrap_or("")
    }

    /// API group derived from `apiVersion` (`""` for `v1`).
    pub fn group(&self) -> &str {
        split_api_version(self.api_version()).0
    }

    /// API version without the group, for example `v1`.
    pub fn version(&self) -> &str {
        split_api_version(self.api_version()).1
    }

    /// `kind`, or `""` when missing.
    pub fn kind(&self) -> &str {
        self.str_at(&["kind"]).unwrap_or("")
    }

    /// `metadata.name`, or `""` when missing.
    pub fn name(&self) -> &str {
        self.str_at(&["metadata", "name"]).unwrap_or("")
    }

    /// `metadata.namespace`, if set and not empty.
    pub fn namespace(&self) -> Option<&str> {
        self.str_at(&["metadata", "namespace"])
            .filter(|s| !s.is_empty())
    }

    /// The object's identity.
    pub fn key(&self) -> ObjectKey {
        ObjectKey {
            group: self.group().to_string(),
            kind: self.kind().to_string(),
            namespace: self.namespace().map(str::to_string),
            name: self.name().to_string(),
        }
    }

    /// `metadata`, created as an empty map if absent.
    pub fn metadata_mut(&mut self) -> &mut Map<String, Value> {
        let obj = ensure_object(&mut self.object);
        ensure_object(
            obj.entry("metadata")
                .or_insert_with(|| Value::Object(Map::new())),
        )
    }

    /// `metadata.<field>` (labels or annotations) as a map, created if absent.
    pub fn metadata_map_mut(&mut self, field: &str) -> &mut Map<String, Value> {
        let md = self.metadata_mut();
        ensure_object(md.entry(field).or_insert_with(|| Value::Object(Map::new())))
    }

    /// A label's value, if present.
    pub fn label(&self, key: &str) -> Option<&str> {
        self.str_at(&["metadata", "labels", key])
    }

    /// An annotation's value, if present.
    pub fn annotation(&self, key: &str) -> Option<&str> {
        self.str_at(&["metadata", "annotations", key])
    }

    /// Whether this is a core-group `Namespace`.
    pub fn is_namespace(&self) -> bool {
        self.group().is_empty() && self.kind() == "Namespace"
    }

    /// Human label used in messages: `Deployment web (examples/web.yaml:3)`.
    pub fn describe(&self) -> String {
        format!("{} ({})", self.key(), self.origin)
    }
}

/// The manifest among `manifests` that defines the Namespace `name`, if any.
pub fn find_namespace<'m>(manifests: &'m [Manifest], name: &str) -> Option<&'m Manifest> {
    manifests
        .iter()
        .find(|m| m.is_namespace() && m.name() == name)
}

/// Splits `apps/v1` into `("apps", "v1")` and `v1` into `("", "v1")`.
pub fn split_api_version(api_version: &str) -> (&str, &str) {
    match api_version.split_once('/') {
        Some((g, v)) => (g, v),
        None => ("", api_version),
    }
}

/// Turns `v` into an object if it is not one (replacing any other value) and returns its map.
pub fn ensure_object(v: &mut Value) -> &mut Map<String, Value> {
    if !v.is_object() {
        *v = Value::Object(Map::new());
    }
    match v {
        Value::Object(m) => m,
        _ => unreachable!("just made an object"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn key_and_accessors_read_the_object() {
        let m = Manifest::new(
            Origin::new("a.yaml", 3),
            json!({"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"web","namespace":"prod"}}),
        );
        assert_eq!(m.group(), "apps");
        assert_eq!(m.version(), "v1");
        assert_eq!(m.key().to_string(), "Deployment prod/web");
        assert_eq!(m.describe(), "Deployment prod/web (a.yaml:3)");
    }

    #[test]
    fn a_namespace_is_found_by_core_group_kind_and_name() {
        let m = |api: &str, kind: &str, name: &str| {
            Manifest::new(
                Origin::new("a.yaml", 1),
                json!({"apiVersion": api, "kind": kind, "metadata": {"name": name}}),
            )
        };
        let set = [
            m("example.com/v1", "Namespace", "shop"),
            m("v1", "ConfigMap", "shop"),
            m("v1", "Namespace", "other"),
            m("v1", "Namespace", "shop"),
        ];
        assert!(!set[0].is_namespace() && !set[1].is_namespace() && set[2].is_namespace());
        assert!(std::ptr::eq(find_namespace(&set, "shop").unwrap(), &set[3]));
        assert!(find_namespace(&set, "missing").is_none());
    }

    #[test]
    fn core_group_is_empty() {
        assert_eq!(split_api_version("v1"), ("", "v1"));
    }
}
