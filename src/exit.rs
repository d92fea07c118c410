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

/// The exit code of a tracking run that ended in `state`.
pub fn of_run_state(state: crate::event::RunState) -> i32 {
    use crate::event::RunState;
    match state {
        RunState::Ready => SUCCESS,
        RunState::Failed => ROLLOUT_FAILED,
        RunState::TimedOut => TIMED_OUT,
        RunState::Interrupted => INTERRUPTED,
        RunState::Unreachable => CLUSTER_UNREACHABLE,
    }
}

/// The exit code for a planning error.
pub fn of_plan_error(e: &crate::plan::PlanError) -> i32 {
    use crate::plan::PlanError;
    match e {
        PlanError::Unreachable(_) | PlanError::Unauthorized(_) | PlanError::Other(_) => {
            CLUSTER_UNREACHABLE
        }
        PlanError::UnknownKinds(_) | PlanError::Rejected(_) | PlanError::OtherRelease(_) => {
            APPLY_REJECTED
        }
        PlanError::ApplySet(_) | PlanError::SameObjectTwice(_) => BAD_INPUT,
    }
}

/// The exit code for an error that stopped applying.
pub fn of_apply_error(e: &crate::apply::ApplyError) -> i32 {
    use crate::apply::ApplyError;
    match e {
        ApplyError::Plan(p) => of_plan_error(p),
        ApplyError::Unreachable(_) | ApplyError::Unauthorized(_) | ApplyError::Request(_) => {
            CLUSTER_UNREACHABLE
        }
        ApplyError::Rejected(_)
        | ApplyError::CrdNotEstablished { .. }
        | ApplyError::ApplySet(_) => APPLY_REJECTED,
        ApplyError::PruneRefused(_) => BAD_INPUT,
        ApplyError::Interrupted => INTERRUPTED,
        ApplyError::NotHeld(_) => LOCKED,
    }
}

/// The exit code of a prune the guard refused (`--allow-empty`, `--prune-limit`): the
/// manifests are not what the release may become without saying so; nothing was changed.
pub fn of_prune_refusal(_: &crate::apply::PruneRefusal) -> i32 {
    BAD_INPUT
}

/// The exit code when no client could be built: 2 for flags and kubeconfig files, 6 when the
/// cluster cannot be reached or signed in to.
pub fn of_connect_error(e: &crate::auth::ConnectError) -> i32 {
    use crate::auth::ConnectError;
    match e {
        ConnectError::Client(_) | ConnectError::Aks { .. } => CLUSTER_UNREACHABLE,
        ConnectError::Kubeconfig { .. } | ConnectError::InCluster(_) | ConnectError::Flags(_) => {
            BAD_INPUT
        }
    }
}

/// The exit code when a release's records could not be read or written.
pub fn of_store_error(e: &crate::release::StoreError) -> i32 {
    use crate::release::StoreError;
    match e {
        StoreError::TooLarge { .. } => BAD_INPUT,
        StoreError::Request { failure, .. } => of_request_failure(failure),
    }
}

/// The exit code when a release's deploy lock could not be taken.
pub fn of_lock_error(e: &crate::release::lock::LockError) -> i32 {
    use crate::release::lock::LockError;
    match e {
        LockError::Timeout { .. } => LOCKED,
        LockError::Interrupted(_) => INTERRUPTED,
        LockError::Request { failure, .. } => of_request_failure(failure),
    }
}

/// A request the server answered with a refusal (forbidden, invalid) is 3; no answer is 6.
fn of_request_failure(f: &crate::cluster::Failure) -> i32 {
    match f {
        crate::cluster::Failure::Status(_) => APPLY_REJECTED,
        _ => CLUSTER_UNREACHABLE,
    }
}

/// The exit code when manifests could not be resolved for tracking (`kpush status`): a kind
/// the cluster does not serve is 3, as from `kpush apply`.
pub fn of_target_error(e: &crate::track::TargetError) -> i32 {
    use crate::track::TargetError;
    match e {
        TargetError::Discovery(_) => CLUSTER_UNREACHABLE,
        TargetError::UnknownKind { .. } => APPLY_REJECTED,
    }
}

/// The exit code of a multi-cluster run (`--targets`): the highest of its targets' codes
/// (130 interrupted, 70 internal, 8 locked, 7 rolled back, 6 unreachable, 5 timed out,
/// 4 rollout failed, 3 rejected, 2 invalid input, 1 differences, 0 success).
pub fn worst(codes: impl IntoIterator<Item = i32>) -> i32 {
    codes.into_iter().max().unwrap_or(SUCCESS)
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
        assert_eq!(of_run_state(RunState::Ready), SUCCESS);
        assert_eq!(of_run_state(RunState::Failed), ROLLOUT_FAILED);
        assert_eq!(of_run_state(RunState::TimedOut), TIMED_OUT);
        assert_eq!(of_run_state(RunState::Interrupted), INTERRUPTED);
        assert_eq!(of_run_state(RunState::Unreachable), CLUSTER_UNREACHABLE);
    }
}
