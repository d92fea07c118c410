//! Field specs: which fields of which kinds a transform touches, and walking an object to them.
//!
//! The defaults are kustomize v5.7.1's own (`fieldspecs.yaml`, copied from
//! `api/internal/konfig/builtinpluginconsts`), parsed once on first use.

use std::sync::OnceLock;

use serde::Deserialize;
use serde_json::{Map, Value};

use super::resource::Gvk;

/// One field spec: the kinds it applies to, a `/`-separated path, and whether to create it.
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct FieldSpec {
    #[serde(default)]
    pub group: String,
    #[serde(default)]
    pub version: String,
    #[serde(default)]
    pub kind: String,
    pub path: String,
    #[serde(default)]
    pub create: bool,
}

impl FieldSpec {
    /// The spec's kind selector.
    pub fn gvk(&self) -> Gvk {
        Gvk {
            group: self.group.clone(),
            version: self.version.clone(),
            kind: self.kind.clone(),
        }
    }
}

/// A kind whose name other objects refer to, and the fields holding those references.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NameBackReference {
    #[serde(default)]
    pub group: String,
    #[serde(default)]
    pub version: String,
    pub kind: String,
    pub field_specs: Vec<FieldSpec>,
}

/// kustomize's default transformer configuration.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Defaults {
    pub common_labels: Vec<FieldSpec>,
    pub template_labels: Vec<FieldSpec>,
    pub common_annotations: Vec<FieldSpec>,
    pub namespace: Vec<FieldSpec>,
    pub var_reference: Vec<FieldSpec>,
    pub name_reference: Vec<NameBackReference>,
    pub images: Vec<FieldSpec>,
    pub replicas: Vec<FieldSpec>,
}

/// The default field specs (parsed once).
pub fn defaults() -> &'static Defaults {
    static D: OnceLock<Defaults> = OnceLock::new();
    D.get_or_init(|| {
        // The embedded file is part of the binary and covered by a unit test.
        serde_saphyr::from_str(include_str!("fieldspecs.yaml"))
            .unwrap_or_else(|e| panic!("built-in fieldspecs.yaml is invalid: {e}"))
    })
}

/// What to create at the end of a path that does not exist yet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Leaf {
    /// Nothing: the transform never creates fields (kustomize's filters without a create kind).
    Never,
    /// A scalar (set by the setter).
    Scalar,
    /// A mapping (labels, annotations).
    Map,
}

/// Splits a field-spec path at `/` (a `\/` is a literal slash).
pub fn split_path(path: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut chars = path.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' if chars.peek() == Some(&'/') => {
                cur.push('/');
                chars.next();
            }
            '/' => out.push(std::mem::take(&mut cur)),
            _ => cur.push(c),
        }
    }
    out.push(cur);
    out.retain(|s| !s.is_empty());
    out
}

/// Walks `node` along `path` and calls `set` on every field found (through lists), creating
/// missing fields when `create` (never through `[]` list segments), as kustomize's
/// `api/filters/fieldspec` does; returns an error when the path runs into a scalar.
pub fn walk(
    node: &mut Value,
    path: &[String],
    create: bool,
    leaf: Leaf,
    set: &mut dyn FnMut(&mut Value) -> Result<(), String>,
) -> Result<(), String> {
    let Some((first, rest)) = path.split_first() else {
        return set(node);
    };
    match node {
        Value::Null => Ok(()),
        Value::Array(items) => {
            for item in items {
                walk(item, path, create, leaf, set)?;
            }
            Ok(())
        }
        Value::Object(map) => {
            let (field, is_seq) = match first.strip_suffix("[]") {
                Some(f) => (f, true),
                None => (first.as_str(), false),
            };
            let can_create = create && leaf != Leaf::Never && !is_seq;
            let fresh = || {
                if rest.is_empty() && leaf == Leaf::Scalar {
                    Value::String(String::new())
                } else {
                    Value::Object(Map::new())
                }
            };
            match map.get_mut(field) {
                None if !can_create => return Ok(()),
                None => {
                    map.insert(field.to_string(), fresh());
                }
                Some(v) if v.is_null() && can_create => *v = fresh(),
                Some(_) => {}
            }
            match map.get_mut(field) {
                Some(child) => walk(child, rest, create, leaf, set),
                None => Ok(()),
            }
        }
        _ => Err(format!(
            "expected a mapping or a list at `{first}`, found a plain value"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn embedded_defaults_parse() {
        let d = defaults();
        assert!(d.name_reference.iter().any(|b| b.kind == "ConfigMap"));
        assert!(d.common_labels.len() > 20);
    }

    #[test]
    fn walk_goes_through_lists_and_creates() {
        let mut v = json!({"spec":{"containers":[{"image":"a"},{"image":"b"}]}});
        let mut seen = Vec::new();
        walk(
            &mut v,
            &split_path("spec/containers[]/image"),
            false,
            Leaf::Scalar,
            &mut |n| {
                seen.push(n.as_str().unwrap_or("").to_string());
                Ok(())
            },
        )
        .unwrap();
        assert_eq!(seen, ["a", "b"]);
        let mut v = json!({});
        walk(&mut v, &split_path("a/b"), true, Leaf::Map, &mut |n| {
            n.as_object_mut().unwrap().insert("k".into(), json!("v"));
            Ok(())
        })
        .unwrap();
        assert_eq!(v, json!({"a":{"b":{"k":"v"}}}));
    }
}
