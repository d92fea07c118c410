//! The patch engine never panics, whatever objects, patches, field paths and selectors it is
//! given: each call returns a value or an error.

use kpush::render::patch::{
    FieldPath, LabelSelector, Replacement, apply_replacements, json6902, parse_patch,
    strategic_merge,
};
use proptest::prelude::*;
use serde_json::{Value, json};

/// Keys that steer the merge: merge keys, directives, fields with a schema.
const KEYS: &[&str] = &[
    "name",
    "image",
    "containers",
    "ports",
    "containerPort",
    "protocol",
    "env",
    "value",
    "$patch",
    "$retainKeys",
    "$setElementOrder/containers",
    "$deleteFromPrimitiveList/args",
    "args",
    "finalizers",
    "spec",
    "template",
    "metadata",
    "volumes",
    "a",
];

fn leaf() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        (0i64..100).prop_map(|n| json!(n)),
        prop::sample::select(vec!["delete", "replace", "merge", "x", "", "TCP", "a"])
            .prop_map(|s| json!(s)),
    ]
}

fn value() -> impl Strategy<Value = Value> {
    leaf().prop_recursive(5, 64, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
            prop::collection::vec((prop::sample::select(KEYS), inner), 0..6).prop_map(|kv| {
                Value::Object(kv.into_iter().map(|(k, v)| (k.to_string(), v)).collect())
            }),
        ]
    })
}

fn deployment(spec: Value) -> Value {
    json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d"},
           "spec": {"template": {"spec": spec}}})
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1500, .. ProptestConfig::default() })]

    #[test]
    fn strategic_merge_never_panics(target in value(), patch in value()) {
        let mut t = deployment(target);
        let _ = strategic_merge(&mut t, &deployment(patch.clone()));
        let mut t2 = t.clone();
        let _ = strategic_merge(&mut t2, &patch);
    }

    #[test]
    fn json_patches_never_panic(target in value(), ops in value()) {
        let mut t = target;
        let _ = json6902(&mut t, &ops);
    }

    #[test]
    fn field_paths_never_panic(
        obj in value(),
        parts in prop::collection::vec(
            prop::sample::select(vec!["a", "name", "0", "3", "-", "*", "[name=a]", "[=x]",
                                      "[a.b=c]", "[(=x]", "spec", "[0]", "x\\", ""]),
            0..6),
    ) {
        let text = parts.join(".");
        if let Ok(path) = FieldPath::parse(&text) {
            let _ = path.lookup(&obj);
            let _ = path.get(&obj);
            let mut o = obj.clone();
            let _ = path.visit_mut(&mut o, Some(&Value::Null), &mut |v| { *v = json!("x"); Ok(()) });
        }
        if let Ok(path) = FieldPath::parse_fieldspec(&parts.join("/")) {
            let mut o = obj.clone();
            let _ = path.visit_mut(&mut o, Some(&json!({})), &mut |_| Ok(()));
        }
    }

    #[test]
    fn selectors_and_patch_text_never_panic(text in "[a-z=!,() <>|\\[\\]{}:\\-\\n$.0-9]{0,40}") {
        let _ = LabelSelector::parse(&text);
        let _ = parse_patch(&text);
    }

    #[test]
    fn replacements_never_panic(objs in prop::collection::vec(value(), 0..3), delim in "[:.]?", index in -2i64..4) {
        let r: Replacement = serde_json::from_value(json!({
            "source": {"fieldPath": "a.name", "options": {"delimiter": delim, "index": index}},
            "targets": [{"select": {}, "fieldPaths": ["a.[name=a].value", "spec.0"],
                         "options": {"create": true, "delimiter": delim, "index": index}}]
        })).unwrap();
        let mut objs = objs;
        let _ = apply_replacements(&mut objs, &[r]);
    }
}
