//! The plain result data of planning, applying, diffing and pruning.

use std::collections::BTreeMap;
use std::fmt;

use serde::Serialize;

use super::ObjectRef;

/// What applying did to one object.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum Action {
    /// The object did not exist and was created.
    Created,
    /// The object existed and changed.
    Configured,
    /// The object existed and nothing changed.
    Unchanged,
    /// The object was deleted and created again (`--recreate-on-immutable`).
    Recreated,
    /// The object was deleted by `--prune`.
    Pruned,
    /// The object would be changed (dry-run / diff).
    WouldChange,
    /// The object was not applied (interrupted or an earlier wave failed).
    Skipped,
    /// The API server rejected the object.
    Failed,
    /// The request was sent but the connection failed before the answer, and the retry budget
    /// ran out: the object may or may not be applied. A rerun converges.
    Unknown,
}

impl Action {
    /// The word outputs print: `created`, `would change`, `rejected`, ...
    pub fn word(self) -> &'static str {
        match self {
            Action::Created => "created",
            Action::Configured => "configured",
            Action::Unchanged => "unchanged",
            Action::Recreated => "recreated",
            Action::Pruned => "pruned",
            Action::WouldChange => "would change",
            Action::Skipped => "skipped",
            Action::Failed => "rejected",
            Action::Unknown => "unknown (in flight)",
        }
    }

    /// Whether the object exists in the cluster as the manifests want it.
    pub fn is_applied(self) -> bool {
        matches!(
            self,
            Action::Created | Action::Configured | Action::Unchanged | Action::Recreated
        )
    }
}

/// What kind of refusal it was; callers match on this.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "type", rename_all = "camelCase")]
pub enum RejectionKind {
    /// The server does not serve this apiVersion/kind and no CRD in the set defines it.
    UnknownKind,
    /// A field is invalid (422), other than an immutable one.
    Invalid,
    /// The change touches fields that cannot change after creation.
    Immutable {
        /// The fields, as the server names them (`spec.selector`).
        fields: Vec<String>,
    },
    /// Other field managers own fields this apply sets to different values.
    Conflict {
        /// (field, manager) pairs.
        fields: Vec<(String, String)>,
    },
    /// The credentials lack permission (403).
    Forbidden,
    /// The cluster's admission control refused it: a ValidatingAdmissionPolicy, an admission
    /// webhook (Gatekeeper, Azure Policy, Kyverno, ...) or Pod Security admission.
    Denied {
        /// Which one: `ValidatingAdmissionPolicy require-team`, `admission webhook …`.
        by: String,
    },
    /// The object's namespace does not exist.
    NamespaceMissing {
        /// The namespace.
        namespace: String,
    },
    /// Anything else the server refused.
    Other,
}

impl RejectionKind {
    /// A short CamelCase reason for tables and titles: `Invalid`, `Conflict`, ...
    pub fn short(&self) -> &'static str {
        match self {
            RejectionKind::UnknownKind => "UnknownKind",
            RejectionKind::Invalid => "Invalid",
            RejectionKind::Immutable { .. } => "Immutable",
            RejectionKind::Conflict { .. } => "Conflict",
            RejectionKind::Forbidden => "Forbidden",
            RejectionKind::Denied { .. } => "Denied",
            RejectionKind::NamespaceMissing { .. } => "NamespaceMissing",
            RejectionKind::Other => "Rejected",
        }
    }
}

/// One refused object: which, from where, why, and what to do. Kept structured from the API's
/// answer to every output.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Rejection {
    /// The object and its file:line.
    pub object: ObjectRef,
    /// The kind of refusal.
    pub kind: RejectionKind,
    /// The API's reason and message.
    pub reason: String,
    /// What to do about it; empty when kpush has no advice.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub advice: String,
}

impl fmt::Display for Rejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.object.location() {
            Some(at) => write!(f, "{at}: {}: {}", self.object.label(), self.reason)?,
            None => write!(f, "{}: {}", self.object.label(), self.reason)?,
        }
        if !self.advice.is_empty() {
            write!(f, "\n  fix: {}", self.advice)?;
        }
        Ok(())
    }
}

/// A member of the ApplySet that is no longer in the manifests.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PruneCandidate {
    /// The object (found in the cluster: no origin).
    pub object: ObjectRef,
    /// Kept although no longer in the manifests: a Namespace or CRD without the explicit flag.
    pub kept: bool,
}

/// A live object that running a chart's Helm hooks would delete (shown by `kpush diff`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HookDeletion {
    /// The hook (its template's file and line).
    pub object: ObjectRef,
    /// The `helm.sh/hook-delete-policy` that deletes it: `before-hook-creation`,
    /// `hook-succeeded` or `hook-failed`.
    pub policy: String,
    /// Why kpush refuses to delete it (the apply would stop before changing anything).
    pub refused: Option<String>,
}

/// How a Secret key would change (values are never shown).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum KeyChange {
    /// The key is new.
    Added,
    /// The key's value changes.
    Changed,
    /// The key goes away.
    Removed,
}

/// What would happen to one object.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum DiffKind {
    /// It does not exist and would be created.
    Create,
    /// It exists and would change.
    Update,
    /// Nothing would change.
    Unchanged,
    /// It cannot be dry-run yet (its CRD or namespace is created by this set); it would be created.
    Unverified,
}

/// The difference for one object.
#[derive(Debug, Clone)]
pub struct ObjectDiff {
    /// The object and its file:line.
    pub object: ObjectRef,
    /// Create, update, unchanged.
    pub kind: DiffKind,
    /// A unified diff of the YAML (Secret values removed), empty when unchanged.
    pub text: String,
    /// For Secrets: key → how it changes.
    pub secret_keys: BTreeMap<String, KeyChange>,
    /// What the diff could not check, when something: a custom resource whose CRD changes in
    /// the same set, shown against the cluster's current schema or as written.
    pub note: Option<String>,
}
