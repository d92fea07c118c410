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

pub use apply::{PatchContent, PatchOptions, PatchOutcome, apply_patch, parse_patch};
pub use error::PatchError;
pub use fieldpath::{FieldPath, FieldSpec};
pub use json6902::{json6902, parse_patch_document};
pub use labels::LabelSelector;
pub use refvar::{Var, VarFieldRef, VarTarget, bind_vars, resolve_vars, substitute_vars};
pub use replacement::{
    FieldOptions, Replacement, ReplacementSource, ReplacementTarget, apply_replacements,
};
pub use schema::is_cluster_scoped;
pub use selector::{ResId, Selector, SelectorMatcher, res_ids, store_previous_id};
pub use strategic::strategic_merge;

use serde_json::Value;

/// Prefix of the annotations this module and kustomize use to carry state between steps
/// (previous names, var bindings); every rendered object must be stripped of them.
pub const INTERNAL_ANNOTATION_PREFIX: &str = "internal.config.kubernetes.io/";

/// Removes the internal annotations (and `metadata.annotations` if only they were there).
pub fn strip_internal_annotations(obj: &mut Value) {
    let Some(meta) = obj.get_mut("metadata").and_then(Value::as_object_mut) else {
        return;
    };
    let Some(annotations) = meta.get_mut("annotations").and_then(Value::as_object_mut) else {
        return;
    };
    let before = annotations.len();
    annotations.retain(|k, _| !k.starts_with(INTERNAL_ANNOTATION_PREFIX));
    if annotations.is_empty() && before > 0 {
        meta.remove("annotations");
    }
}
