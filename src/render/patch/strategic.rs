//! Strategic merge patches as kustomize applies them, with the merge keys and strategies of
//! the Kubernetes schema ([`super::schema`]).

use serde_json::Value;

use super::error::PatchError;

/// Merges `patch` into `target` with strategic merge semantics: maps merge recursively, `null`
/// deletes a key, lists of known kinds merge by their merge key (containers by `name`, ports by
/// `containerPort`+`protocol`, ...), other lists and lists of custom resources are replaced, and
/// the directives `$patch: delete|replace|merge`, `$setElementOrder/<field>`, `$retainKeys` and
/// `$deleteFromPrimitiveList/<field>` apply. The schema is chosen by `target`'s apiVersion and
/// kind. A patch that deletes the whole object (`$patch: delete` at the top) leaves
/// `Value::Null` in `target`: the caller drops the object.
pub fn strategic_merge(target: &mut Value, patch: &Value) -> Result<(), PatchError> {
    todo!("{target}{patch}")
}
