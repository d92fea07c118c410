//! Deciding whether an apply would change an object, ignoring what the server manages and
//! kpush's own CI run annotations.
//!
//! The `kpush.dev/*` run annotations (commit, run URL, ...) differ on every CI run. If they alone
//! counted, every re-apply would rewrite every object and report it "configured". kpush treats an
//! object whose only difference is those annotations as **unchanged** and does not send it: the
//! annotations keep naming the run that last changed the object, which is what one wants to know
//! when reading them.

use serde_json::Value;

use crate::render::metadata::RUN_ANNOTATION_PREFIX;

/// Metadata fields the server sets; they say nothing about the desired state.
const SERVER_METADATA: &[&str] = &[
    "resourceVersion",
    "generation",
    "uid",
    "creationTimestamp",
    "selfLink",
    "managedFields",
];

/// Removes server-managed metadata and `status` (in place).
pub fn strip_server_fields(obj: &mut Value) {
    if let Some(Value::Object(md)) = obj.get_mut("metadata") {
        for f in SERVER_METADATA {
            md.remove(*f);
        }
    }
    if let Value::Object(m) = obj {
        m.remove("status");
    }
}

/// Removes the `kpush.dev/*` run annotations (in place), and the annotations map if it empties.
pub fn strip_run_annotations(obj: &mut Value) {
    if let Some(Value::Object(md)) = obj.get_mut("metadata") {
        let now_empty = match md.get_mut("annotations") {
            Some(Value::Object(a)) => {
                a.retain(|k, _| !k.starts_with(RUN_ANNOTATION_PREFIX));
                a.is_empty()
            }
            _ => false,
        };
        if now_empty {
            md.remove("annotations");
        }
    }
}

/// The fields `manager` owns through Apply, as the server records them.
fn applied_fields<'a>(obj: &'a Value, manager: &str) -> Option<&'a Value> {
    obj.pointer("/metadata/managedFields")?
        .as_array()?
        .iter()
        .find(|e| {
            e["manager"].as_str() == Some(manager) && e["operation"].as_str() == Some("Apply")
        })
        .map(|e| &e["fieldsV1"])
}

/// Whether applying would leave `live` as it is, given the server's dry-run answer: same
/// content apart from server fields and run annotations, and same fields owned by `manager`.
pub fn same_desired_state(live: &Value, dry_run: &Value, manager: &str) -> bool {
    if applied_fields(live, manager) != applied_fields(dry_run, manager) {
        return false;
    }
    let mut a = live.clone();
    let mut b = dry_run.clone();
    for o in [&mut a, &mut b] {
        strip_server_fields(o);
        strip_run_annotations(o);
    }
    a == b
}

/// `metadata.resourceVersion`, if set.
pub fn resource_version(obj: &Value) -> Option<&str> {
    obj.pointer("/metadata/resourceVersion")
        .and_then(Value::as_str)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn obj(image: &str, commit: &str, rv: &str, fields: Value) -> Value {
        json!({"apiVersion":"apps/v1","kind":"Deployment",
            "metadata":{"name":"web","resourceVersion":rv,"generation":1,
                "annotations":{"kpush.dev/commit":commit},
                "managedFields":[{"manager":"kpush","operation":"Apply","time":"t","fieldsV1":fields}]},
            "spec":{"template":{"spec":{"containers":[{"image":image}]}}},
            "status":{"replicas":1}})
    }

    #[test]
    fn run_annotations_and_server_fields_alone_do_not_count_as_a_change() {
        let live = obj("web:1", "abc", "5", json!({"f:spec":{}}));
        let dry = obj("web:1", "def", "5", json!({"f:spec":{}}));
        assert!(same_desired_state(&live, &dry, "kpush"));
    }

    #[test]
    fn a_changed_image_or_ownership_counts() {
        let live = obj("web:1", "abc", "5", json!({"f:spec":{}}));
        assert!(!same_desired_state(
            &live,
            &obj("web:2", "abc", "5", json!({"f:spec":{}})),
            "kpush"
        ));
        assert!(!same_desired_state(
            &live,
            &obj("web:1", "abc", "5", json!({"f:spec":{"f:replicas":{}}})),
            "kpush"
        ));
    }
}
