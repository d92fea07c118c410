//! Field specs: which fields of which kinds a transform touches, and walking an object to them.
//!
//! The defaults are kustomize v5.7.1's own (`fieldspecs.yaml`, copied from
//! `api/internal/konfig/builtinpluginconsts`), parsed once on first use.

use std::sync::OnceLock;

use serde::Deserialize;
use serde_json::{Map, Value};

use super::resource::Gvk;

/// One field spec: the kinds it applies to, a `/`-separated path, and whether to create it.
#[derive(Debug, Clone, Deserialize, Default, PartialEq, Eq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
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
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NameBackReference {
    #[serde(default)]
    pub group: String,
    #[serde(default)]
    pub version: String,
    pub kind: String,
    #[serde(default)]
    pub field_specs: Vec<FieldSpec>,
}

/// A transformer configuration: kustomize's defaults, plus what `configurations` files add.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default, deny_unknown_fields)]
pub struct Config {
    pub name_prefix: Vec<FieldSpec>,
    pub name_suffix: Vec<FieldSpec>,
    pub common_labels: Vec<FieldSpec>,
    /// Extra fields for every `labels` entry.
    pub labels: Vec<FieldSpec>,
    pub template_labels: Vec<FieldSpec>,
    pub common_annotations: Vec<FieldSpec>,
    pub namespace: Vec<FieldSpec>,
    pub var_reference: Vec<FieldSpec>,
    pub name_reference: Vec<NameBackReference>,
    pub images: Vec<FieldSpec>,
    pub replicas: Vec<FieldSpec>,
}

fn merge_specs(into: &mut Vec<FieldSpec>, from: &[FieldSpec]) {
    for f in from {
        let same = |g: &FieldSpec| {
            g.group == f.group && g.version == f.version && g.kind == f.kind && g.path == f.path
        };
        match into.iter_mut().find(|g| same(g)) {
            Some(g) => g.create |= f.create,
            None => into.push(f.clone()),
        }
    }
}

impl Config {
    /// Adds `other`'s field specs (kustomize's `TransformerConfig.Merge`).
    pub fn merge(&mut self, other: &Config) {
        merge_specs(&mut self.name_prefix, &other.name_prefix);
        merge_specs(&mut self.name_suffix, &other.name_suffix);
        merge_specs(&mut self.common_labels, &other.common_labels);
        merge_specs(&mut self.labels, &other.labels);
        merge_specs(&mut self.template_labels, &other.template_labels);
        merge_specs(&mut self.common_annotations, &other.common_annotations);
        merge_specs(&mut self.namespace, &other.namespace);
        merge_specs(&mut self.var_reference, &other.var_reference);
        merge_specs(&mut self.images, &other.images);
        merge_specs(&mut self.replicas, &other.replicas);
        for b in &other.name_reference {
            match self
                .name_reference
                .iter_mut()
                .find(|a| a.group == b.group && a.version == b.version && a.kind == b.kind)
            {
                Some(a) => merge_specs(&mut a.field_specs, &b.field_specs),
                None => self.name_reference.push(b.clone()),
            }
        }
    }

    /// Parses a `configurations` file.
    pub fn parse(text: &str) -> Result<Config, String> {
        serde_saphyr::from_str_with_options(text, super::super::documents::yaml_options())
            .map_err(|e| e.to_string().lines().next().unwrap_or_default().to_string())
    }
}

/// The default field specs (parsed once).
pub fn defaults() -> &'static Config {
    static D: OnceLock<Config> = OnceLock::new();
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
