//! What a CustomResourceDefinition's schema declares, read from its JSON: whether a field is
//! declared (to tell a CRD in the same set from a misspelling), and which fields a new
//! version of a CRD makes required (a change that breaks objects already stored).

use kube::core::ApiResource;
use serde_json::Value;

use crate::cluster::{Failure, RetryPolicy, Target};
use crate::manifest::ObjectKey;

/// The `openAPIV3Schema` of `version` in a CRD (or the CRD-wide `spec.validation` of old ones).
pub fn version_schema<'a>(crd: &'a Value, version: &str) -> Option<&'a Value> {
    let spec = crd.get("spec")?;
    spec.get("versions")
        .and_then(Value::as_array)
        .and_then(|vs| vs.iter().find(|v| v["name"] == version))
        .and_then(|v| v.pointer("/schema/openAPIV3Schema"))
        .or_else(|| spec.pointer("/validation/openAPIV3Schema"))
}

/// The steps of a field path as the API server prints it (`.spec.rules[0].port`,
/// `.spec.items[name="a"].b`): property names, and `None` for a list item.
fn steps(path: &str) -> Vec<Option<String>> {
    let mut out = Vec::new();
    let mut name = String::new();
    let mut depth = 0usize;
    let mut quoted = false;
    for c in path.chars() {
        match c {
            '"' if depth > 0 => quoted = !quoted,
            '[' if !quoted => {
                if depth == 0 && !name.is_empty() {
                    out.push(Some(std::mem::take(&mut name)));
                }
                depth += 1;
            }
            ']' if !quoted && depth > 0 => {
                depth -= 1;
                if depth == 0 {
                    out.push(None);
                }
            }
            '.' if depth == 0 && !name.is_empty() => out.push(Some(std::mem::take(&mut name))),
            '.' if depth == 0 => {}
            _ if depth == 0 => name.push(c),
            _ => {}
        }
    }
    if !name.is_empty() {
        out.push(Some(name));
    }
    out
}

/// Whether `schema` declares the field at `path` (`.spec.b`): every step is a declared
/// property, a list item, or under a map or `x-kubernetes-preserve-unknown-fields`.
pub fn declares(schema: &Value, path: &str) -> bool {
    let mut at = schema;
    for step in steps(path) {
        if at["x-kubernetes-preserve-unknown-fields"] == true {
            return true;
        }
        let next = match &step {
            None => at.get("items"),
            Some(name) => at
                .get("properties")
                .and_then(|p| p.get(name))
                .or_else(|| at.get("additionalProperties").filter(|a| a.is_object())),
        };
        match next {
            Some(n) => at = n,
            None => return false,
        }
    }
    true
}

/// A field a CRD's new version makes required that its live version did not.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewlyRequired {
    /// The CRD version (`v1`).
    pub version: String,
    /// Property names from the object's root to the field (`["spec", "size"]`); parents are
    /// objects (requirements inside lists and maps are not followed).
    pub path: Vec<String>,
}

impl NewlyRequired {
    /// `spec.size`.
    pub fn dotted(&self) -> String {
        self.path.join(".")
    }

    /// Whether `object` (a stored custom resource) lacks the field while its parent is present
    /// (a required field of an absent optional parent is not required).
    pub fn is_missing_in(&self, object: &Value) -> bool {
        let Some((field, parents)) = self.path.split_last() else {
            return false;
        };
        let mut at = object;
        for p in parents {
            match at.get(p) {
                Some(v) if v.is_object() => at = v,
                _ => return false,
            }
        }
        at.get(field).is_none_or(Value::is_null)
    }
}

/// Fields required by `new`'s schema, in versions both CRDs have, that `old`'s schema of the
/// same version did not require (or did not have).
pub fn newly_required(old: &Value, new: &Value) -> Vec<NewlyRequired> {
    let mut out = Vec::new();
    let versions = new
        .pointer("/spec/versions")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    for v in versions {
        let Some(name) = v["name"].as_str() else {
            continue;
        };
        let (Some(before), Some(after)) = (version_schema(old, name), version_schema(new, name))
        else {
            continue;
        };
        walk(name, before, after, &mut Vec::new(), &mut out);
    }
    out
}

fn required(schema: &Value) -> Vec<&str> {
    schema["required"]
        .as_array()
        .map(|r| r.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default()
}

fn walk(
    version: &str,
    before: &Value,
    after: &Value,
    path: &mut Vec<String>,
    out: &mut Vec<NewlyRequired>,
) {
    let was = required(before);
    for field in required(after) {
        if !was.contains(&field) {
            let mut p = path.clone();
            p.push(field.to_string());
            out.push(NewlyRequired {
                version: version.to_string(),
                path: p,
            });
        }
    }
    let Some(props) = after.get("properties").and_then(Value::as_object) else {
        return;
    };
    for (name, sub) in props {
        if sub["type"] != "object" && sub.get("properties").is_none() {
            continue;
        }
        let old_sub = before
            .get("properties")
            .and_then(|p| p.get(name))
            .unwrap_or(&Value::Null);
        path.push(name.clone());
        walk(version, old_sub, sub, path, out);
        path.pop();
    }
}

/// The fields declared beside the last step of `path` (its parent's properties), sorted.
pub fn siblings(schema: &Value, path: &str) -> Vec<String> {
    let mut steps = steps(path);
    steps.pop();
    let mut at = schema;
    for step in steps {
        let next = match &step {
            None => at.get("items"),
            Some(name) => at.get("properties").and_then(|p| p.get(name)),
        };
        match next {
            Some(n) => at = n,
            None => return Vec::new(),
        }
    }
    let mut names: Vec<String> = at
        .get("properties")
        .and_then(Value::as_object)
        .map(|p| p.keys().cloned().collect())
        .unwrap_or_default();
    names.sort();
    names
}

/// Every custom resource of the live CRD `crd`, read in `version`; `None` when the cluster
/// does not serve that version.
pub async fn stored_objects(
    client: &kube::Client,
    retry: RetryPolicy,
    crd: &Value,
    version: &str,
) -> Result<Option<Vec<Value>>, Failure> {
    let spec = &crd["spec"];
    let served = spec["versions"].as_array().is_some_and(|vs| {
        vs.iter()
            .any(|v| v["name"] == version && v["served"] == true)
    });
    let (Some(group), Some(kind), Some(plural)) = (
        spec["group"].as_str(),
        spec.pointer("/names/kind").and_then(Value::as_str),
        spec.pointer("/names/plural").and_then(Value::as_str),
    ) else {
        return Ok(None);
    };
    if !served {
        return Ok(None);
    }
    let target = Target {
        resource: ApiResource {
            group: group.to_string(),
            version: version.to_string(),
            api_version: format!("{group}/{version}"),
            kind: kind.to_string(),
            plural: plural.to_string(),
        },
        namespace: None,
        has_status: false,
    };
    crate::cluster::list(client, retry, &target, None)
        .await
        .map(Some)
}

/// The key of a stored custom resource of CRD `crd`.
pub fn key_of(crd: &Value, object: &Value) -> ObjectKey {
    ObjectKey {
        group: crd
            .pointer("/spec/group")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string(),
        kind: crd
            .pointer("/spec/names/kind")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string(),
        namespace: object
            .pointer("/metadata/namespace")
            .and_then(Value::as_str)
            .map(str::to_string),
        name: name_of(object),
    }
}

/// `namespace/name` (or `name`) of a stored object.
pub fn name_of(object: &Value) -> String {
    let name = object
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or("");
    match object
        .pointer("/metadata/namespace")
        .and_then(Value::as_str)
    {
        Some(ns) => format!("{ns}/{name}"),
        None => name.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn crd(spec_props: Value, required: Value) -> Value {
        json!({"spec": {"versions": [{"name": "v1", "schema": {"openAPIV3Schema": {
            "type": "object",
            "properties": {"spec": {"type": "object", "properties": spec_props, "required": required}}
        }}}]}})
    }

    #[test]
    fn a_declared_field_is_found_through_objects_lists_and_maps() {
        let c = json!({"spec": {"versions": [{"name": "v1", "schema": {"openAPIV3Schema": {
            "type": "object",
            "properties": {"spec": {"type": "object", "properties": {
                "a": {"type": "string"},
                "rules": {"type": "array", "items": {"type": "object", "properties": {"port": {"type": "integer"}}}},
                "labels": {"type": "object", "additionalProperties": {"type": "string"}},
                "raw": {"type": "object", "x-kubernetes-preserve-unknown-fields": true}
            }}}
        }}}]}});
        let s = version_schema(&c, "v1").unwrap();
        assert!(declares(s, ".spec.a"));
        assert!(declares(s, ".spec.rules[0].port"));
        assert!(declares(s, ".spec.rules[name=\"x.y\"].port"));
        assert!(declares(s, ".spec.labels.anything"));
        assert!(declares(s, ".spec.raw.deep.er"));
        assert!(!declares(s, ".spec.b"));
        assert!(!declares(s, ".spec.rules[0].host"));
        assert!(version_schema(&c, "v2").is_none());
    }

    #[test]
    fn a_field_made_required_is_found_and_checked_against_stored_objects() {
        let old = crd(json!({"a": {"type": "string"}}), json!([]));
        let new = crd(
            json!({"a": {"type": "string"}, "size": {"type": "integer"}}),
            json!(["size"]),
        );
        let found = newly_required(&old, &new);
        assert_eq!(
            found,
            vec![NewlyRequired {
                version: "v1".into(),
                path: vec!["spec".into(), "size".into()]
            }]
        );
        assert_eq!(found[0].dotted(), "spec.size");
        assert!(found[0].is_missing_in(&json!({"spec": {"a": "x"}})));
        assert!(!found[0].is_missing_in(&json!({"spec": {"size": 3}})));
        assert!(!found[0].is_missing_in(&json!({"metadata": {}})));
        assert!(newly_required(&new, &new).is_empty());
    }
}
