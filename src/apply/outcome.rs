//! What applying did, object by object: the structured result that reporting and rollout
//! tracking consume.

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
    /// The object as the server returned it (for `unchanged` objects that were not sent: as
    /// read just before), with `metadata.managedFields` removed. Carries `metadata.uid`,
    /// `metadata.generation` and `metadata.resourceVersion` for tracking. `None` when not applied.
    pub applied: Option<Value>,
    /// Why it failed, when it did.
    pub rejection: Option<Rejection>,
}

impl AppliedObject {
    /// `metadata.generation` of the applied object.
    pub fn generation(&self) -> Option<i64> {
        self.applied
            .as_ref()?
            .pointer("/metadata/generation")?
            .as_i64()
    }

    /// `metadata.uid` of the applied object.
    pub fn uid(&self) -> Option<&str> {
        self.applied.as_ref()?.pointer("/metadata/uid")?.as_str()
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
