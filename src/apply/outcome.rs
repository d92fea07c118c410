//! What applying did, object by object: the structured result that reporting and rollout
//! tracking consume.

use k8s_openapi::jiff::Timestamp;
use serde_json::Value;

use crate::cluster::Target;
use crate::event::{Action, ObjectRef, PruneCandidate, Rejection};
use crate::manifest::ObjectKey;
use crate::plan::Wave;

/// One object after applying.
#[derive(Debug, Clone)]
pub struct AppliedObject {
    /// The object and where it was written.
    pub object: ObjectRef,
    /// The wave it went in.
    pub wave: Wave,
    /// Created, configured, unchanged, recreated, skipped or failed.
    pub action: Action,
    /// Where it lives in the API (resource and namespace), for watching it.
    pub target: Option<Target>,
    /// What tracking needs of the object as the server returned it (for `unchanged` objects
    /// that were not sent: as read just before). `None` when not applied.
    pub applied: Option<Applied>,
    /// Why it failed, when it did.
    pub rejection: Option<Rejection>,
    /// What kpush took over from other deploy tools before applying it ([`super::adopt`]).
    pub adopted: Option<super::adopt::Adopted>,
}

/// The identity and generation of an object as the server returned it.
///
/// Only these are kept, not the whole answer: with thousands of objects, the answers would be
/// most of kpush's memory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Applied {
    /// `metadata.uid`.
    pub uid: Option<String>,
    /// `metadata.generation`.
    pub generation: Option<i64>,
    /// When the object was last written, by the server's clock: the newest
    /// `metadata.managedFields[].time` (seconds). Events older than this are about earlier
    /// rollouts.
    pub written_at: Option<Timestamp>,
}

impl Applied {
    /// The uid, generation and last write of `object`.
    pub fn of(object: &Value) -> Self {
        Self {
            written_at: object
                .pointer("/metadata/managedFields")
                .and_then(Value::as_array)
                .and_then(|entries| {
                    entries
                        .iter()
                        .filter_map(|e| e.get("time")?.as_str()?.parse::<Timestamp>().ok())
                        .max()
                }),
            uid: object
                .pointer("/metadata/uid")
                .and_then(Value::as_str)
                .map(str::to_string),
            generation: object
                .pointer("/metadata/generation")
                .and_then(Value::as_i64),
        }
    }
}

impl AppliedObject {
    /// When the applied object was last written (server clock), if known.
    pub fn written_at(&self) -> Option<Timestamp> {
        self.applied.as_ref()?.written_at
    }

    /// `metadata.generation` of the applied object.
    pub fn generation(&self) -> Option<i64> {
        self.applied.as_ref()?.generation
    }

    /// `metadata.uid` of the applied object.
    pub fn uid(&self) -> Option<&str> {
        self.applied.as_ref()?.uid.as_deref()
    }

    /// Whether the object exists in the cluster as the manifests want it.
    pub fn is_applied(&self) -> bool {
        self.action.is_applied()
    }
}

/// One object deleted by `--prune` (or that would be, for `diff`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PrunedObject {
    /// Identity.
    pub key: ObjectKey,
    /// Where it lived.
    pub target: Target,
    /// Kept although no longer in the manifests: a Namespace or CRD without the explicit flag.
    pub kept: bool,
    /// The uid it had when listed; the delete carries it as a precondition, so an object
    /// deleted and created again by someone else meanwhile is not deleted.
    pub uid: Option<String>,
}

impl PrunedObject {
    /// The object as outputs show it.
    pub fn candidate(&self) -> PruneCandidate {
        PruneCandidate {
            object: ObjectRef::new(self.key.clone(), None),
            kept: self.kept,
        }
    }
}

/// Everything applying did.
#[derive(Debug, Clone, Default)]
pub struct ApplyOutcome {
    /// Every planned object, in apply order.
    pub objects: Vec<AppliedObject>,
    /// Objects pruned (or kept, see [`PrunedObject::kept`]).
    pub pruned: Vec<PrunedObject>,
}

impl ApplyOutcome {
    /// How many objects ended with `action`.
    pub fn count(&self, action: Action) -> usize {
        self.objects.iter().filter(|o| o.action == action).count()
    }
}
