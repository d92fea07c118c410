//! Kustomize's patch engine on `serde_json::Value` objects: strategic merge patches with
//! Kubernetes' merge keys, RFC 6902 JSON patches, target selectors, kustomize field paths,
//! `replacements` and the deprecated `vars`.
//!
//! Everything here is pure: it takes objects and returns them changed or a [`PatchError`]
//! saying what failed and where inside the patch; the kustomization loader adds file:line.
//! Semantics and error messages follow kustomize (sigs.k8s.io/kustomize, Apache-2.0); ported
//! test cases name their source test.

pub mod apply;
pub mod error;
pub mod fieldpath;
pub mod json6902;
pub mod labels;
pub mod refvar;
pub mod replacement;
pub mod schema;
pub mod selector;
pub mod strategic;

pub use apply::{
    PatchContent, PatchOptions, PatchOutcome, apply_patch, apply_patch_with, parse_patch,
};
pub use error::PatchError;
pub use fieldpath::{FieldPath, FieldSpec};
pub use json6902::{json6902, parse_patch_document};
pub use labels::LabelSelector;
pub use refvar::{Var, VarFieldRef, VarTarget, bind_vars, resolve_vars, substitute_vars};
pub use replacement::{
    FieldOptions, Replacement, ReplacementSource, ReplacementTarget, apply_replacements,
};
pub use schema::{OpenApiSchema, is_cluster_scoped};
pub use selector::{ResId, Selector, SelectorMatcher, res_ids, store_previous_id};
pub use strategic::{strategic_merge, strategic_merge_with};

use serde_json::Value;

/// Prefix of the annotations this module and kustomize use to carry state between steps
/// (previous names, var bindings); every rendered object must be stripped of them.
pub const INTERNAL_ANNOTATION_PREFIX: &str = "internal.config.kubernetes.io/";

/// Build annotations of older kustomize and kyaml versions, removed as well.
const LEGACY_BUILD_ANNOTATIONS: &[&str] = &[
    "config.kubernetes.io/path",
    "config.kubernetes.io/index",
    "config.k8s.io/id",
];

/// kustomize's `RemoveBuildAnnotations`, run on every object at the end of a build: removes
/// the internal annotations, writes the remaining annotation values as strings (as kustomize
/// rewrites them), and drops `metadata.annotations` when only internal ones were there.
pub fn strip_internal_annotations(obj: &mut Value) {
    let Some(meta) = obj.get_mut("metadata").and_then(Value::as_object_mut) else {
        return;
    };
    let Some(annotations) = meta.get_mut("annotations").and_then(Value::as_object_mut) else {
        return;
    };
    if annotations.is_empty() {
        return;
    }
    annotations.retain(|k, _| {
        !k.starts_with(INTERNAL_ANNOTATION_PREFIX)
            && !LEGACY_BUILD_ANNOTATIONS.contains(&k.as_str())
    });
    for v in annotations.values_mut() {
        let text = match v {
            Value::String(_) => continue,
            Value::Number(n) => n.to_string(),
            Value::Bool(b) => b.to_string(),
            _ => String::new(),
        };
        *v = Value::String(text);
    }
    if annotations.is_empty() {
        meta.shift_remove("annotations");
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn stripping_removes_build_annotations_and_writes_values_as_strings() {
        let mut o = json!({"metadata": {"name": "a", "annotations": {
            "internal.config.kubernetes.io/previousNames": "x", "config.kubernetes.io/index": "0",
            "n": 1.25, "b": true, "s": "s"}}});
        strip_internal_annotations(&mut o);
        assert_eq!(
            o["metadata"]["annotations"],
            json!({"n": "1.25", "b": "true", "s": "s"})
        );
        let mut o = json!({"metadata": {"annotations": {"internal.config.kubernetes.io/x": "1"}}});
        strip_internal_annotations(&mut o);
        assert_eq!(o, json!({"metadata": {}}));
        let mut o = json!({"metadata": {"annotations": {}}});
        strip_internal_annotations(&mut o);
        assert_eq!(o, json!({"metadata": {"annotations": {}}}));
    }
}
