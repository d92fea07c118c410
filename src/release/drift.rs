//! Drift: where the live objects differ from a release's last succeeded revision.
//!
//! The revision's manifests are planned like a `diff` (server-side dry-run, answers kept) and
//! each planned object is compared with what is live by a [`Compare`] function — today
//! [`crate::plan::diff::object_diff`], the comparison `kpush diff` uses, so drift follows any
//! improvement of it.

use crate::plan::diff::{DiffKind, ObjectDiff};
use crate::plan::{Plan, PlannedObject};

/// Compares one planned object (dry-run answer kept) with its live state.
pub type Compare = fn(&PlannedObject) -> ObjectDiff;

/// The objects of `plan` that drifted: changed by hand, or deleted.
pub fn drifted(plan: &Plan, compare: Compare) -> Vec<ObjectDiff> {
    plan.objects
        .iter()
        .map(compare)
        .filter(|d| d.kind != DiffKind::Unchanged)
        .collect()
}
