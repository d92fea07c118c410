//! Where each tracked object stands while waiting, as reported every few seconds.

use serde::Serialize;

use super::readiness::{Readiness, Rule};
use crate::report::ObjectRef;

/// One object's state in a periodic [`crate::report::Event::TrackStatus`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ObjectStatus {
    /// The object.
    pub object: ObjectRef,
    /// `ready`, `skipped`, `inProgress` or `failed` (see [`state_name`]).
    pub state: String,
    /// What it is waiting for, or why it failed; empty when ready.
    pub message: String,
    /// Ready replicas (succeeded completions for Jobs), for kinds that have replicas.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ready: Option<i64>,
    /// Desired replicas (wanted completions for Jobs).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub desired: Option<i64>,
}

/// The state word of progress events: `ready`, `skipped` (`kpush.dev/wait: "false"`),
/// `inProgress` or `failed`.
pub fn state_name(readiness: &Readiness, rule: Option<Rule>) -> &'static str {
    match readiness {
        Readiness::Ready if rule == Some(Rule::Skipped) => "skipped",
        Readiness::Ready => "ready",
        Readiness::InProgress { .. } => "inProgress",
        Readiness::Failed { .. } => "failed",
    }
}
