//! Deciding whether an apply would change an object, ignoring what the server manages and
//! kpush's own CI run annotations.
//!
//! The `kpush.dev/*` run annotations (commit, run URL, ...) differ on every CI run. If they alone
//! counted, every re-apply would rewrite every object and report it "configured". kpush treats an
//! object whose only difference is those annotations as **unchanged** and does not send it: the
//! annotations keep naming the run that last changed the object, which is what one wants to know
//! when reading them.

use std::hash::{DefaultHasher, Hash, Hasher};

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

/// What decides whether applying would leave a live object as it is, reduced to 128 bits: its
/// content apart from server fields, `status` and run annotations, and the fields `manager`
/// owns through Apply. Two objects with the same fingerprint (the live one, and the server's
/// dry-run or apply answer) are the same desired state.
///
/// Keeping this instead of the whole live object until the apply's verdict is what lets a
/// re-apply of thousands of changed objects hold only their metadata (issue 16). Map keys are
/// hashed in sorted order, so key order never matters, as it does not for [`Value`] equality.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fingerprint(u64, u64);

impl Fingerprint {
    /// The fingerprint of `obj` (a live object, a dry-run or an apply answer) for `manager`.
    pub fn of(obj: &Value, manager: &str) -> Self {
        // Two independent SipHash streams (distinct leading tags) make a 128-bit digest: a
        // collision would make a changed object read as unchanged.
        let mut hashers = [DefaultHasher::new(), DefaultHasher::new()];
        for (tag, h) in hashers.iter_mut().enumerate() {
            h.write_usize(tag);
            hash_desired(obj, h);
            match applied_fields(obj, manager) {
                Some(fields) => {
                    h.write_u8(1);
                    hash_value(fields, h);
                }
                None => h.write_u8(0),
            }
        }
        let [a, b] = hashers;
        Self(a.finish(), b.finish())
    }
}

/// Hashes `obj` as [`strip_server_fields`] and [`strip_run_annotations`] would leave it,
/// without copying it.
fn hash_desired(obj: &Value, h: &mut DefaultHasher) {
    let Value::Object(top) = obj else {
        return hash_value(obj, h);
    };
    hash_entries(
        top,
        |k, _| k != "status",
        h,
        |k, v, h| match (k, v) {
            ("metadata", Value::Object(md)) => hash_metadata(md, h),
            _ => hash_value(v, h),
        },
    );
}

fn hash_metadata(md: &serde_json::Map<String, Value>, h: &mut DefaultHasher) {
    let is_run = |k: &str, _: &Value| !k.starts_with(RUN_ANNOTATION_PREFIX);
    let counts = |k: &str, v: &Value| match (k, v) {
        (k, _) if SERVER_METADATA.contains(&k) => false,
        // An annotations map left empty is removed.
        ("annotations", Value::Object(a)) => a.iter().any(|(k, v)| is_run(k, v)),
        _ => true,
    };
    hash_entries(md, counts, h, |k, v, h| match (k, v) {
        ("annotations", Value::Object(a)) => hash_entries(a, is_run, h, |_, v, h| hash_value(v, h)),
        _ => hash_value(v, h),
    });
}

/// Hashes the entries of `m` that `counts`, in key order, each value with `value` (an entry
/// that does not count leaves no trace, as if removed).
fn hash_entries(
    m: &serde_json::Map<String, Value>,
    counts: impl Fn(&str, &Value) -> bool,
    h: &mut DefaultHasher,
    value: impl Fn(&str, &Value, &mut DefaultHasher),
) {
    let mut entries: Vec<(&String, &Value)> = m.iter().filter(|(k, v)| counts(k, v)).collect();
    entries.sort_unstable_by_key(|(k, _)| *k);
    h.write_u8(5);
    h.write_usize(entries.len());
    for (k, v) in entries {
        k.hash(h);
        value(k, v, h);
    }
}

fn hash_value(v: &Value, h: &mut DefaultHasher) {
    match v {
        Value::Null => h.write_u8(0),
        Value::Bool(b) => {
            h.write_u8(1);
            b.hash(h);
        }
        Value::Number(n) => {
            h.write_u8(2);
            // Display tells 1 from 1.0, as equality does.
            n.to_string().hash(h);
        }
        Value::String(s) => {
            h.write_u8(3);
            s.hash(h);
        }
        Value::Array(items) => {
            h.write_u8(4);
            h.write_usize(items.len());
            for i in items {
                hash_value(i, h);
            }
        }
        Value::Object(m) => hash_entries(m, |_, _| true, h, |_, v, h| hash_value(v, h)),
    }
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

    fn same_desired_state(live: &Value, dry_run: &Value, manager: &str) -> bool {
        Fingerprint::of(live, manager) == Fingerprint::of(dry_run, manager)
    }

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

    #[test]
    fn the_fingerprint_ignores_key_order_status_and_emptied_annotations() {
        let a = json!({"kind":"ConfigMap","metadata":{"name":"c","uid":"1",
            "annotations":{"kpush.dev/run":"1"}},"data":{"a":"1","b":"2"},"status":{"x":1}});
        let b = json!({"data":{"b":"2","a":"1"},"metadata":{"annotations":{},"name":"c","uid":"2"},
            "kind":"ConfigMap"});
        let c = json!({"data":{"b":"2","a":"1"},"metadata":{"name":"c"},"kind":"ConfigMap"});
        assert_eq!(Fingerprint::of(&a, "kpush"), Fingerprint::of(&b, "kpush"));
        assert_eq!(Fingerprint::of(&b, "kpush"), Fingerprint::of(&c, "kpush"));
    }

    #[test]
    fn the_fingerprint_tells_apart_what_equality_tells_apart() {
        let base = json!({"kind":"ConfigMap","metadata":{"name":"c","annotations":{"team":"a"}},
            "data":{"a":"xb"}});
        let variants = [
            json!({"kind":"ConfigMap","metadata":{"name":"c","annotations":{"team":"b"}},"data":{"a":"xb"}}),
            json!({"kind":"ConfigMap","metadata":{"name":"c"},"data":{"a":"xb"}}),
            json!({"kind":"ConfigMap","metadata":{"name":"c","annotations":{"team":"a"}},"data":{"ax":"b"}}),
            json!({"kind":"ConfigMap","metadata":{"name":"c","annotations":{"team":"a"}},"data":{"a":["xb"]}}),
            json!({"kind":"ConfigMap","metadata":{"name":"c","annotations":{"team":"a"}},"data":{"a":1}}),
            json!({"kind":"ConfigMap","metadata":{"name":"c","annotations":{"team":"a"}},"data":{"a":1.0}}),
            json!({"kind":"ConfigMap","metadata":{"name":"c","annotations":{"team":"a"}},"data":{"a":null}}),
            json!({"kind":"ConfigMap","metadata":{"name":"c","annotations":{"team":"a"}},"data":{}}),
        ];
        let mut seen = vec![Fingerprint::of(&base, "kpush")];
        for v in &variants {
            let f = Fingerprint::of(v, "kpush");
            assert!(!seen.contains(&f), "{v} hashes like an earlier variant");
            seen.push(f);
        }
    }
}
