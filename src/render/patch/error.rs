//! The one error type of the patch engine.

use thiserror::Error;

/// What failed in a patch, replacement or var, and where inside it; the caller adds file:line.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum PatchError {
    /// A strategic merge patch is malformed (bad directive, wrong shape) at `at` (a path like
    /// `spec.template.spec.containers[0]`).
    #[error("strategic merge patch at `{at}`: {message}")]
    StrategicMerge {
        /// Path inside the patch.
        at: String,
        /// What is wrong.
        message: String,
    },
    /// A JSON 6902 document is not a list of operations.
    #[error("invalid JSON patch: {message}")]
    InvalidJson6902 {
        /// What is wrong.
        message: String,
    },
    /// One JSON 6902 operation failed to apply.
    #[error("JSON patch operation {index} (`{op}` at `{path}`): {message}")]
    Json6902 {
        /// 0-based index of the operation in the patch.
        index: usize,
        /// The operation (`add`, `remove`, ...).
        op: String,
        /// Its JSON pointer.
        path: String,
        /// What failed.
        message: String,
    },
    /// A patch has no target it can apply to (`no matches for Id ...`, or a JSON 6902 patch
    /// without `target`).
    #[error("{message}")]
    Target {
        /// What is missing, worded as kustomize words it.
        message: String,
    },
    /// A patch document could not be parsed as YAML or JSON.
    #[error("cannot parse patch: {message}")]
    Parse {
        /// The parser's message.
        message: String,
    },
    /// A kustomize field path is malformed or cannot be followed.
    #[error("field path `{path}`: {message}")]
    FieldPath {
        /// The path as written.
        path: String,
        /// What is wrong.
        message: String,
    },
    /// A selector (regex, label or annotation selector) is invalid.
    #[error("invalid selector: {message}")]
    Selector {
        /// What is wrong.
        message: String,
    },
    /// A replacement failed (0-based index in `replacements`).
    #[error("replacement {index}: {message}")]
    Replacement {
        /// 0-based index of the replacement.
        index: usize,
        /// What failed, worded as kustomize words it.
        message: String,
    },
    /// A field a var reference names cannot be walked or holds a non-string list item.
    #[error("considering field '{field}' of object {object}: {message}")]
    VarReference {
        /// The field spec path.
        field: String,
        /// The object's id.
        object: String,
        /// What failed.
        message: String,
    },
    /// A var cannot be resolved.
    #[error("var `{name}`: {message}")]
    Var {
        /// The var's name.
        name: String,
        /// What failed.
        message: String,
    },
}
