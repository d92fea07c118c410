//! RFC 6902 JSON patches (`patchesJson6902`, and `patches` whose content is a list of
//! operations), applied with the `json-patch` crate as kustomize applies them with
//! evanphx/json-patch (api/filters/patchjson6902).

use json_patch::PatchOperation;
use serde_json::Value;

use super::error::PatchError;

/// Applies a list of RFC 6902 operations to `target`; on error `target` is unchanged.
pub fn json6902(target: &mut Value, ops: &Value) -> Result<(), PatchError> {
    let ops = parse_operations(ops)?;
    json_patch::patch(target, &ops).map_err(|e| {
        let (op, path) = ops
            .get(e.operation)
            .map(describe)
            .unwrap_or_else(|| (String::new(), e.path.to_string()));
        PatchError::Json6902 {
            index: e.operation,
            op,
            path,
            message: e.kind.to_string(),
        }
    })
}

/// Checks a list of operations without applying it (so a bad patch is reported even when
/// its target matches nothing).
pub fn parse_operations(ops: &Value) -> Result<Vec<PatchOperation>, PatchError> {
    let Some(items) = ops.as_array() else {
        return Err(PatchError::InvalidJson6902 {
            message: format!(
                "expected a list of operations (`- op: add` ...), found {}",
                kind(ops)
            ),
        });
    };
    items
        .iter()
        .enumerate()
        .map(|(i, item)| {
            serde_json::from_value::<PatchOperation>(item.clone()).map_err(|e| {
                PatchError::InvalidJson6902 {
                    message: format!("operation {i}: {e}"),
                }
            })
        })
        .collect()
}

fn describe(op: &PatchOperation) -> (String, String) {
    let (name, path) = match op {
        PatchOperation::Add(o) => ("add", o.path.to_string()),
        PatchOperation::Remove(o) => ("remove", o.path.to_string()),
        PatchOperation::Replace(o) => ("replace", o.path.to_string()),
        PatchOperation::Move(o) => ("move", o.path.to_string()),
        PatchOperation::Copy(o) => ("copy", o.path.to_string()),
        PatchOperation::Test(o) => ("test", o.path.to_string()),
    };
    (name.to_string(), path)
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "nothing",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "a map",
    }
}

/// Parser options for patch text: the same limits as plain manifests (depth, size), for
/// `documents` documents at most.
pub(crate) fn yaml_options(documents: usize) -> serde_saphyr::Options {
    let mut opts = serde_saphyr::Options::default();
    opts.budget = Some(crate::render::documents::yaml_budget(documents));
    // Comments are skipped, never kept (see `documents::yaml_options`).
    opts.emit_comments = false;
    opts.with_snippet = false;
    opts
}

/// Parses a patch document written in YAML or JSON (one document). Like kustomize, text
/// starting with `[` is read as JSON, anything else as YAML.
pub fn parse_patch_document(text: &str) -> Result<Value, PatchError> {
    if text.trim_start().starts_with('[')
        && let Ok(v) = serde_json::from_str::<Value>(text)
    {
        return Ok(v);
    }
    let opts = yaml_options(1);
    serde_saphyr::from_str_with_options::<Value>(text, opts).map_err(|e| PatchError::Parse {
        message: e.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn deployment() -> Value {
        json!({
            "apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "web"},
            "spec": {"replicas": 1, "template": {"spec": {"containers": [
                {"name": "nginx", "image": "nginx"}
            ]}}}
        })
    }

    // After kustomize api/filters/patchjson6902/patchjson6902_test.go: YAML and JSON patches.
    #[test]
    fn yaml_and_json_patches_apply_alike() {
        let yaml = parse_patch_document(
            "- op: replace\n  path: /spec/replicas\n  value: 3\n\
             - op: add\n  path: /spec/template/spec/containers/-\n  value: {name: sidecar, image: envoy}\n",
        )
        .unwrap();
        let json = parse_patch_document(
            r#"[{"op": "replace", "path": "/spec/replicas", "value": 3},
                {"op": "add", "path": "/spec/template/spec/containers/-",
                 "value": {"name": "sidecar", "image": "envoy"}}]"#,
        )
        .unwrap();
        let mut a = deployment();
        let mut b = deployment();
        json6902(&mut a, &yaml).unwrap();
        json6902(&mut b, &json).unwrap();
        assert_eq!(a, b);
        assert_eq!(a["spec"]["replicas"], json!(3));
        assert_eq!(
            a["spec"]["template"]["spec"]["containers"][1]["name"],
            json!("sidecar")
        );
    }

    #[test]
    fn remove_move_copy_and_test_work() {
        let mut d = deployment();
        let ops = json!([
            {"op": "test", "path": "/metadata/name", "value": "web"},
            {"op": "copy", "from": "/metadata/name", "path": "/metadata/labels"},
            {"op": "move", "from": "/metadata/labels", "path": "/spec/name"},
            {"op": "remove", "path": "/spec/replicas"}
        ]);
        json6902(&mut d, &ops).unwrap();
        assert_eq!(d["spec"]["name"], json!("web"));
        assert!(d["spec"].get("replicas").is_none());
        assert!(d["metadata"].get("labels").is_none());
    }

    #[test]
    fn a_failing_operation_names_its_index_and_path_and_changes_nothing() {
        let mut d = deployment();
        let before = d.clone();
        let ops = json!([
            {"op": "replace", "path": "/spec/replicas", "value": 5},
            {"op": "remove", "path": "/spec/missing"}
        ]);
        let err = json6902(&mut d, &ops).unwrap_err();
        match &err {
            PatchError::Json6902 {
                index, op, path, ..
            } => {
                assert_eq!(
                    (*index, op.as_str(), path.as_str()),
                    (1, "remove", "/spec/missing")
                );
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(d, before);
        let err = json6902(
            &mut d,
            &json!([{"op": "test", "path": "/spec/replicas", "value": 9}]),
        )
        .unwrap_err();
        assert!(
            err.to_string()
                .contains("operation 0 (`test` at `/spec/replicas`)"),
            "{err}"
        );
    }

    #[test]
    fn malformed_operations_are_refused_before_applying() {
        let err = json6902(&mut deployment(), &json!({"op": "add"})).unwrap_err();
        assert!(
            err.to_string().contains("expected a list of operations"),
            "{err}"
        );
        let err = json6902(
            &mut deployment(),
            &json!([{"op": "add", "path": "/a", "value": 1}, {"op": "frobnicate", "path": "/a"}]),
        )
        .unwrap_err();
        assert!(err.to_string().contains("operation 1"), "{err}");
        let err = parse_patch_document("- op: [unclosed").unwrap_err();
        assert!(matches!(err, PatchError::Parse { .. }), "{err}");
    }
}
