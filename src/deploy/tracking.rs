//! What tracking follows after applying: one target per applied object.

use crate::apply::ApplyOutcome;
use crate::event::ObjectRef;
use crate::track::{TrackTarget, targets::is_custom_group};

/// One tracking target per applied object (unchanged ones too: a broken rollout stays broken).
pub fn track_targets(outcome: &ApplyOutcome) -> Vec<TrackTarget> {
    outcome
        .objects
        .iter()
        .filter(|o| o.is_applied())
        .filter_map(|o| {
            let t = o.target.as_ref()?;
            let mut key = o.object.key.clone();
            key.namespace = t.namespace.clone();
            Some(
                TrackTarget::from_parts(
                    ObjectRef::new(key, o.object.origin.clone()),
                    t.resource.clone(),
                    t.namespace.clone(),
                    is_custom_group(&t.resource.group) && t.has_status,
                    o.generation(),
                )
                .written_at(o.written_at()),
            )
        })
        .collect()
}
