//! Many clusters in one run (`--targets FILE`): a target's start and end, and events scoped to it.

use std::time::Duration;

/// How one target of a multi-cluster run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub enum TargetState {
    /// The command succeeded on this target.
    Succeeded,
    /// `kpush diff` found differences on this target.
    Differences,
    /// The command failed on this target (rejected, rollout failed, timed out).
    Failed,
    /// The target's cluster could not be reached or signed in to.
    Unreachable,
    /// Never started: an earlier target failed (sequential runs stop at the first failure).
    NotStarted,
}

impl TargetState {
    /// `succeeded`, `differences`, `failed`, `unreachable`, `not started`.
    pub fn word(self) -> &'static str {
        match self {
            TargetState::Succeeded => "succeeded",
            TargetState::Differences => "differences",
            TargetState::Failed => "failed",
            TargetState::Unreachable => "unreachable",
            TargetState::NotStarted => "not started",
        }
    }
}

/// The end of one target: its state, its exit code and, when it failed, why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TargetResult {
    /// The target's name in the targets file.
    pub name: String,
    /// How it ended.
    pub state: TargetState,
    /// How a single-cluster run of the same command would have ended (its exit code derives
    /// from it).
    pub outcome: super::Outcome,
    /// Why it failed or was not started; `None` on success.
    pub message: Option<String>,
    /// Time from its start to its end.
    pub elapsed: Duration,
}
