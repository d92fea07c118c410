//! kpush's exit codes, in one place, and the mapping from errors to them.

/// Everything worked (for `diff`: no differences).
pub const SUCCESS: i32 = 0;
/// `kpush diff` found differences.
pub const DIFFERENCES: i32 = 1;
/// The manifests or flags are invalid; nothing was changed in the cluster (a prune the guard
/// refused — an empty render, more than `--prune-limit` — is one).
pub const BAD_INPUT: i32 = 2;
/// The API server rejected objects (preflight or apply: invalid, conflict, forbidden, immutable).
pub const APPLY_REJECTED: i32 = 3;
/// The rollout failed (a workload is certainly broken).
pub const ROLLOUT_FAILED: i32 = 4;
/// The rollout did not finish within `--timeout` or made no progress.
pub const TIMED_OUT: i32 = 5;
/// The cluster could not be reached, or kpush could not authenticate to it.
pub const CLUSTER_UNREACHABLE: i32 = 6;
/// The rollout failed or timed out, and `--rollback-on-failure` restored the last succeeded
/// revision.
pub const ROLLED_BACK: i32 = 7;
/// Another deploy of the same release held its lock for the whole `--lock-timeout`, or took it
/// over while this one ran (kpush then stopped before pruning or recording).
pub const LOCKED: i32 = 8;
/// Interrupted by Ctrl-C or SIGTERM.
pub const INTERRUPTED: i32 = 130;
/// An unexpected internal error (a bug: please report it).
pub const INTERNAL: i32 = 70;

/// An error that knows which exit code it deserves; used at the binary's edge.
#[derive(Debug)]
pub struct ExitError {
    /// The process exit code.
    pub code: i32,
    /// The error to print.
    pub error: anyhow::Error,
}

impl ExitError {
    /// Wraps an error with its exit code.
    pub fn new(code: i32, error: impl Into<anyhow::Error>) -> Self {
        Self {
            code,
            error: error.into(),
        }
    }
}

impl std::fmt::Display for ExitError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:#}", self.error)
    }
}

impl std::error::Error for ExitError {}

/// The exit code of an outcome: the one mapping from how a run ended to the process's code.
pub fn of_outcome(outcome: crate::event::Outcome) -> i32 {
    use crate::event::Outcome;
    match outcome {
        Outcome::Success => SUCCESS,
        Outcome::Differences => DIFFERENCES,
        Outcome::InvalidInput => BAD_INPUT,
        Outcome::Rejected => APPLY_REJECTED,
        Outcome::RolloutFailed => ROLLOUT_FAILED,
        Outcome::TimedOut => TIMED_OUT,
        Outcome::Unreachable => CLUSTER_UNREACHABLE,
        Outcome::RolledBack => ROLLED_BACK,
        Outcome::Locked => LOCKED,
        Outcome::Internal => INTERNAL,
        Outcome::Interrupted => INTERRUPTED,
    }
}

/// A deploy's result as the process's: its exit code, or the error with its code.
pub fn from_deploy(result: crate::deploy::DeployResult) -> Result<i32, ExitError> {
    result
        .map(|v| of_outcome(v.outcome()))
        .map_err(ExitError::from)
}

impl From<crate::deploy::DeployError> for ExitError {
    fn from(e: crate::deploy::DeployError) -> Self {
        ExitError::new(of_outcome(e.outcome), e.error)
    }
}

/// The result name for an exit code: the values of the `result` output in CI.
pub fn result_name(code: i32, command: &str) -> &'static str {
    match code {
        SUCCESS if command == "diff" || command == "drift" => "no-differences",
        SUCCESS => "success",
        DIFFERENCES => "differences",
        BAD_INPUT => "invalid-input",
        APPLY_REJECTED => "rejected",
        ROLLOUT_FAILED => "rollout-failed",
        TIMED_OUT => "timed-out",
        CLUSTER_UNREACHABLE => "cluster-unreachable",
        ROLLED_BACK => "rolled-back",
        LOCKED => "locked",
        INTERRUPTED => "interrupted",
        _ => "internal-error",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::RunState;

    #[test]
    fn result_names_follow_exit_codes() {
        assert_eq!(result_name(0, "apply"), "success");
        assert_eq!(result_name(0, "diff"), "no-differences");
        assert_eq!(result_name(1, "diff"), "differences");
        assert_eq!(result_name(2, "apply"), "invalid-input");
        assert_eq!(result_name(99, "apply"), "internal-error");
    }

    #[test]
    fn exit_codes_follow_the_run_state() {
        let code = |s| of_outcome(crate::deploy::Verdict::of_run_state(s).outcome());
        assert_eq!(code(RunState::Ready), SUCCESS);
        assert_eq!(code(RunState::Failed), ROLLOUT_FAILED);
        assert_eq!(code(RunState::TimedOut), TIMED_OUT);
        assert_eq!(code(RunState::Interrupted), INTERRUPTED);
        assert_eq!(code(RunState::Unreachable), CLUSTER_UNREACHABLE);
    }
}
