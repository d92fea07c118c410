//! kustomize `replacements`: copy a value from one object's field into fields of others.

use std::borrow::BorrowMut;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::error::PatchError;
use super::selector::Selector;

/// One entry of `replacements` (an entry given by `path:` is read by the loader first).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Replacement {
    /// Where the value comes from.
    #[serde(default)]
    pub source: Option<ReplacementSource>,
    /// A literal value instead of a source.
    #[serde(default)]
    pub source_value: Option<String>,
    /// Where the value goes.
    #[serde(default)]
    pub targets: Vec<ReplacementTarget>,
}

/// The object and field a replacement reads.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct ReplacementSource {
    /// API group (exact; empty matches any).
    pub group: String,
    /// API version (exact; empty matches any).
    pub version: String,
    /// Kind (exact; empty matches any).
    pub kind: String,
    /// Name (exact, current or previous; empty matches any).
    pub name: String,
    /// Namespace (exact; empty matches any).
    pub namespace: String,
    /// Dotted field path; `metadata.name` when empty.
    pub field_path: String,
    /// Splitting of the value.
    pub options: Option<FieldOptions>,
}

/// The objects and fields a replacement writes.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct ReplacementTarget {
    /// Objects to change.
    pub select: Option<Selector>,
    /// Objects among them to leave alone.
    pub reject: Vec<Selector>,
    /// Dotted field paths; `metadata.name` when empty.
    pub field_paths: Vec<String>,
    /// Splitting and creation.
    pub options: Option<FieldOptions>,
}

/// `options` of a replacement source or target.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct FieldOptions {
    /// Split the field's value by this string.
    pub delimiter: String,
    /// Which part of the split to read or write (target: below 0 prefixes, past the end appends).
    pub index: i64,
    /// Declared by kustomize but not implemented there; refused when set.
    pub encoding: String,
    /// Create a missing target field.
    pub create: bool,
}

/// Applies the replacements in order to `objects` (in place), as kustomize's replacement filter.
pub fn apply_replacements<T: BorrowMut<Value>>(
    objects: &mut [T],
    replacements: &[Replacement],
) -> Result<(), PatchError> {
    let _ = (objects, replacements);
    todo!()
}
