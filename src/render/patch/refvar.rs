//! The deprecated kustomize `vars`: `$(NAME)` in the fields kustomize's varreference
//! configuration lists, replaced by a field of a named object.

use std::borrow::{Borrow, BorrowMut};
use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::error::PatchError;
use super::fieldpath::FieldSpec;

/// Internal annotation naming the vars bound to an object (comma separated); removed by
/// [`super::strip_internal_annotations`].
pub const REF_VAR_NAMES: &str = "internal.config.kubernetes.io/refVarNames";

/// One entry of `vars`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Var {
    /// The name used as `$(NAME)`.
    pub name: String,
    /// The object the value comes from (by its name before prefixes and suffixes).
    pub objref: VarTarget,
    /// The field; `metadata.name` when empty.
    pub fieldref: VarFieldRef,
}

/// `objref` of a var.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct VarTarget {
    /// `group/version` or `version`; overrides `group` and `version` when given.
    pub api_version: String,
    /// API group.
    pub group: String,
    /// API version.
    pub version: String,
    /// Kind.
    pub kind: String,
    /// Name.
    pub name: String,
    /// Namespace.
    pub namespace: String,
}

/// `fieldref` of a var.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct VarFieldRef {
    /// Dotted field path (`spec.ports[0].port` style accepted too).
    pub field_path: String,
}

/// Binds each var to the one object its `objref` names (by current or previous id), as
/// kustomize does when a kustomization declares it: the binding is an internal annotation
/// ([`REF_VAR_NAMES`]) that survives later renames; no match leaves the var unbound, more than
/// one is an error.
pub fn bind_vars<T: BorrowMut<Value>>(objects: &mut [T], vars: &[Var]) -> Result<(), PatchError> {
    let _ = (objects, vars);
    todo!()
}

/// Reads each var's value from the object bound to it (after all transforms), refusing
/// duplicate names and unbound vars with kustomize's messages.
pub fn resolve_vars<T: Borrow<Value>>(
    objects: &[T],
    vars: &[Var],
) -> Result<BTreeMap<String, Value>, PatchError> {
    let _ = (objects, vars);
    todo!()
}

/// Replaces `$(NAME)` in the fields of kustomize's built-in varreference configuration plus
/// `extra` field specs (from `configurations`); returns the names of vars never used.
pub fn substitute_vars<T: BorrowMut<Value>>(
    objects: &mut [T],
    values: &BTreeMap<String, Value>,
    extra: &[FieldSpec],
) -> Result<Vec<String>, PatchError> {
    let _ = (objects, values, extra);
    todo!()
}
