//! How a run (or one target of it) ended, in the words every reporter and exit code derive from.

/// How a command ended. Ordered by precedence: of several targets, the greatest is the run's
/// (interrupted over internal over locked … over success).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub enum Outcome {
    /// Everything worked (for `diff` and `drift`: no differences).
    Success,
    /// `diff` or `drift` found differences.
    Differences,
    /// Invalid manifests, flags or input; nothing was changed (a refused prune is one).
    InvalidInput,
    /// The API server refused objects or requests (invalid, conflict, forbidden, immutable).
    Rejected,
    /// A rollout certainly failed.
    RolloutFailed,
    /// A rollout did not finish in time or made no progress.
    TimedOut,
    /// The cluster could not be reached or signed in to (or was lost: the outcome is unknown).
    Unreachable,
    /// A rollout failed and the last succeeded revision was restored.
    RolledBack,
    /// Another deploy of the release held its lock, or took it over.
    Locked,
    /// An unexpected internal error.
    Internal,
    /// Ctrl-C, SIGTERM, or a library caller's cancellation.
    Interrupted,
}

impl Outcome {
    /// The state a target that ended so is shown with.
    pub fn target_state(self) -> super::TargetState {
        use super::TargetState;
        match self {
            Outcome::Success => TargetState::Succeeded,
            Outcome::Differences => TargetState::Differences,
            Outcome::Unreachable => TargetState::Unreachable,
            _ => TargetState::Failed,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_worst_of_several_outcomes_follows_precedence() {
        let worst = |o: &[Outcome]| o.iter().copied().max();
        assert_eq!(
            worst(&[
                Outcome::Success,
                Outcome::RolloutFailed,
                Outcome::Differences
            ]),
            Some(Outcome::RolloutFailed)
        );
        assert_eq!(
            worst(&[Outcome::Unreachable, Outcome::RolloutFailed]),
            Some(Outcome::Unreachable)
        );
        assert_eq!(
            worst(&[Outcome::Interrupted, Outcome::Internal]),
            Some(Outcome::Interrupted)
        );
    }
}
