//! Turning parsed documents into [`Manifest`]s: flattening `*List`s and checking each is an object.

use serde_json::Value;

use super::documents::Document;
use super::problem::{Problem, ProblemKind};
use crate::manifest::{Manifest, Origin};

/// Converts the documents of one file into manifests, collecting structural problems.
pub fn from_documents(
    file: &str,
    docs: Vec<Document>,
    out: &mut Vec<Manifest>,
    problems: &mut Vec<Problem>,
) {
    let file: std::sync::Arc<str> = file.into();
    for doc in docs {
        let origin = Origin::new(file.clone(), doc.line);
        flatten(doc.value, origin, &doc.item_lines, 0, out, problems);
    }
}

fn flatten(
    value: Value,
    origin: Origin,
    item_lines: &[u32],
    depth: usize,
    out: &mut Vec<Manifest>,
    problems: &mut Vec<Problem>,
) {
    let Value::Object(mut map) = value else {
        problems.push(Problem::error(
            ProblemKind::Structure,
            &origin,
            format!(
                "this document is {}, not a Kubernetes object (a mapping with apiVersion, kind and metadata)",
                describe_value(&value)
            ),
        ));
        return;
    };
    let is_list = map
        .get("kind")
        .and_then(Value::as_str)
        .is_some_and(|k| k.ends_with("List"))
        && map.get("items").is_some_and(Value::is_array);
    if is_list && depth < 2 {
        if let Some(Value::Array(items)) = map.remove("items") {
            for (i, item) in items.into_iter().enumerate() {
                let line = item_lines.get(i).copied().unwrap_or(origin.line);
                flatten(
                    item,
                    Origin::new(origin.file.clone(), line),
                    &[],
                    depth + 1,
                    out,
                    problems,
                );
            }
        }
        return;
    }
    let value = Value::Object(map);
    let mut missing = Vec::new();
    for (field, ok) in [
        (
            "apiVersion",
            value
                .get("apiVersion")
                .and_then(Value::as_str)
                .is_some_and(|s| !s.is_empty()),
        ),
        (
            "kind",
            value
                .get("kind")
                .and_then(Value::as_str)
                .is_some_and(|s| !s.is_empty()),
        ),
    ] {
        if !ok {
            missing.push(field);
        }
    }
    let metadata = value.get("metadata");
    let name = metadata.and_then(|m| m.get("name")).and_then(Value::as_str);
    let generate_name = metadata.and_then(|m| m.get("generateName"));
    if metadata.is_some_and(|m| !m.is_object()) {
        problems.push(Problem::error(
            ProblemKind::Structure,
            &origin,
            "metadata must be a mapping",
        ));
        return;
    }
    if generate_name.is_some() && name.is_none_or(str::is_empty) {
        problems.push(Problem::error(
            ProblemKind::Structure,
            &origin,
            "metadata.generateName is not supported: a deploy tool must be idempotent, and every \
             run would create a new object. Give the object a fixed metadata.name",
        ));
        return;
    }
    if name.is_none_or(str::is_empty) {
        missing.push("metadata.name");
    }
    if !missing.is_empty() {
        let what = describe_object(&value);
        problems.push(Problem::error(
            ProblemKind::Structure,
            &origin,
            format!("{what} is missing {}", missing.join(", ")),
        ));
        return;
    }
    for field in ["labels", "annotations"] {
        if let Some(m) = metadata.and_then(|m| m.get(field)) {
            let bad = match m {
                Value::Object(map) => map
                    .iter()
                    .find(|(_, v)| !v.is_string())
                    .map(|(k, _)| k.clone()),
                Value::Null => None,
                _ => Some(String::new()),
            };
            if let Some(k) = bad {
                let msg = if k.is_empty() {
                    format!("metadata.{field} must be a mapping of strings")
                } else {
                    format!(
                        "metadata.{field}.{k} must be a string; quote the value (YAML reads true, 1 or yes as other types)"
                    )
                };
                problems.push(Problem::error(ProblemKind::Structure, &origin, msg));
                return;
            }
        }
    }
    out.push(Manifest::new(origin, value));
}

fn describe_value(v: &Value) -> &'static str {
    match v {
        Value::Null => "empty",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a plain string",
        Value::Array(_) => "a list",
        Value::Object(_) => "a mapping",
    }
}

fn describe_object(v: &Value) -> String {
    let kind = v
        .get("kind")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty());
    let name = v
        .get("metadata")
        .and_then(|m| m.get("name"))
        .and_then(Value::as_str);
    match (kind, name) {
        (Some(k), Some(n)) => format!("{k} {n}"),
        (Some(k), None) => format!("this {k}"),
        _ => "this object".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn run(v: Value) -> (Vec<Manifest>, Vec<Problem>) {
        let mut out = Vec::new();
        let mut p = Vec::new();
        from_documents(
            "f.yaml",
            vec![Document {
                value: v,
                line: 5,
                item_lines: vec![7, 9],
            }],
            &mut out,
            &mut p,
        );
        (out, p)
    }

    #[test]
    fn lists_are_flattened_with_item_lines() {
        let (out, p) = run(json!({"apiVersion":"v1","kind":"List","items":[
            {"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"a"}},
            {"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"b"}}]}));
        assert!(p.is_empty());
        assert_eq!(out[1].origin.to_string(), "f.yaml:9");
    }

    #[test]
    fn missing_fields_are_named() {
        let (_, p) = run(json!({"kind":"ConfigMap","metadata":{}}));
        assert_eq!(
            p[0].message,
            "this ConfigMap is missing apiVersion, metadata.name"
        );
    }

    #[test]
    fn generate_name_is_refused() {
        let (_, p) = run(json!({"apiVersion":"v1","kind":"Pod","metadata":{"generateName":"x-"}}));
        assert!(p[0].message.contains("generateName"));
    }

    #[test]
    fn scalar_document_is_refused() {
        let (_, p) = run(json!("hello"));
        assert!(p[0].message.contains("a plain string"));
    }

    #[test]
    fn non_string_label_is_refused() {
        let (_, p) = run(
            json!({"apiVersion":"v1","kind":"Pod","metadata":{"name":"p","labels":{"on":true}}}),
        );
        assert!(p[0].message.contains("labels.on must be a string"));
    }
}
