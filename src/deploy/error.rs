//! A deploy's typed result: the [`Verdict`] of a deploy that ran to its end, or the
//! [`DeployError`] that stopped it, each classified by an [`Outcome`] (exit codes, release
//! statuses, target states and result names all derive from it, in `exit` and `report`).

use crate::event::{Outcome, RunState};

/// How a deploy that ran to its end ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Everything applied is ready (without waiting: applied; `diff`/`drift`: no differences).
    Success,
    /// `diff` or `drift` found differences.
    Differences,
    /// A rollout certainly failed.
    RolloutFailed,
    /// A rollout did not finish in time.
    TimedOut,
    /// Cancelled while tracking.
    Interrupted,
    /// The cluster was lost while tracking: the rollout's outcome is unknown.
    Unknown,
}

impl Verdict {
    /// The verdict of a tracking run that ended in `state`.
    pub fn of_run_state(state: RunState) -> Self {
        match state {
            RunState::Ready => Verdict::Success,
            RunState::Failed => Verdict::RolloutFailed,
            RunState::TimedOut => Verdict::TimedOut,
            RunState::Interrupted => Verdict::Interrupted,
            RunState::Unreachable => Verdict::Unknown,
        }
    }

    /// Its outcome.
    pub fn outcome(self) -> Outcome {
        match self {
            Verdict::Success => Outcome::Success,
            Verdict::Differences => Outcome::Differences,
            Verdict::RolloutFailed => Outcome::RolloutFailed,
            Verdict::TimedOut => Outcome::TimedOut,
            Verdict::Interrupted => Outcome::Interrupted,
            Verdict::Unknown => Outcome::Unreachable,
        }
    }

    /// Whether the deploy succeeded.
    pub fn is_success(self) -> bool {
        self == Verdict::Success
    }
}

/// What stopped a deploy, classified.
#[derive(Debug)]
pub struct DeployError {
    /// How the run ends because of it.
    pub outcome: Outcome,
    /// What happened, to which object, and what to do next.
    pub error: anyhow::Error,
}

impl DeployError {
    /// Wraps `error` with its classification.
    pub fn new(outcome: Outcome, error: impl Into<anyhow::Error>) -> Self {
        Self {
            outcome,
            error: error.into(),
        }
    }

    /// Invalid manifests, flags or input (nothing was changed).
    pub fn invalid(message: impl std::fmt::Display) -> Self {
        Self::new(Outcome::InvalidInput, anyhow::anyhow!("{message}"))
    }
}

impl std::fmt::Display for DeployError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:#}", self.error)
    }
}

impl std::error::Error for DeployError {}

/// A deploy's result.
pub type DeployResult = Result<Verdict, DeployError>;

/// The outcome of a result.
pub fn outcome_of(result: &DeployResult) -> Outcome {
    match result {
        Ok(v) => v.outcome(),
        Err(e) => e.outcome,
    }
}

/// The outcome of a planning error.
pub fn of_plan_error(e: &crate::plan::PlanError) -> Outcome {
    use crate::plan::PlanError;
    match e {
        PlanError::Unreachable(_) | PlanError::Unauthorized(_) | PlanError::Other(_) => {
            Outcome::Unreachable
        }
        PlanError::UnknownKinds(_) | PlanError::Rejected(_) | PlanError::OtherRelease(_) => {
            Outcome::Rejected
        }
        PlanError::ApplySet(_) | PlanError::SameObjectTwice(_) => Outcome::InvalidInput,
    }
}

/// The outcome of an error that stopped applying.
pub fn of_apply_error(e: &crate::apply::ApplyError) -> Outcome {
    use crate::apply::ApplyError;
    match e {
        ApplyError::Plan(p) => of_plan_error(p),
        ApplyError::Unreachable(_) | ApplyError::Unauthorized(_) | ApplyError::Request(_) => {
            Outcome::Unreachable
        }
        ApplyError::Rejected(_)
        | ApplyError::CrdNotEstablished { .. }
        | ApplyError::ApplySet(_) => Outcome::Rejected,
        ApplyError::PruneRefused(_) => Outcome::InvalidInput,
        ApplyError::Interrupted => Outcome::Interrupted,
        ApplyError::NotHeld(_) => Outcome::Locked,
    }
}

/// A prune the guard refused (`--allow-empty`, `--prune-limit`): the manifests are not what
/// the release may become without saying so; nothing was changed.
pub fn of_prune_refusal(_: &crate::apply::PruneRefusal) -> Outcome {
    Outcome::InvalidInput
}

/// No client could be built: invalid input for flags and kubeconfig files, unreachable when
/// the cluster cannot be reached or signed in to.
pub fn of_connect_error(e: &crate::auth::ConnectError) -> Outcome {
    use crate::auth::ConnectError;
    match e {
        ConnectError::Client(_) | ConnectError::Aks { .. } => Outcome::Unreachable,
        ConnectError::Kubeconfig { .. } | ConnectError::InCluster(_) | ConnectError::Flags(_) => {
            Outcome::InvalidInput
        }
    }
}

/// A release's records could not be read or written.
pub fn of_store_error(e: &crate::release::StoreError) -> Outcome {
    use crate::release::StoreError;
    match e {
        StoreError::TooLarge { .. } => Outcome::InvalidInput,
        StoreError::Request { failure, .. } => of_request_failure(failure),
    }
}

/// A release's deploy lock could not be taken.
pub fn of_lock_error(e: &crate::release::lock::LockError) -> Outcome {
    use crate::release::lock::LockError;
    match e {
        LockError::Timeout { .. } => Outcome::Locked,
        LockError::Interrupted(_) => Outcome::Interrupted,
        LockError::Request { failure, .. } => of_request_failure(failure),
    }
}

/// A request the server answered with a refusal (forbidden, invalid) is rejected; no answer is
/// unreachable.
fn of_request_failure(f: &crate::cluster::Failure) -> Outcome {
    match f {
        crate::cluster::Failure::Status(_) => Outcome::Rejected,
        _ => Outcome::Unreachable,
    }
}

/// Manifests could not be resolved for tracking (`kpush status`): a kind the cluster does not
/// serve is rejected, as from `kpush apply`.
pub fn of_target_error(e: &crate::track::TargetError) -> Outcome {
    use crate::track::TargetError;
    match e {
        TargetError::Discovery(_) => Outcome::Unreachable,
        TargetError::UnknownKind { .. } => Outcome::Rejected,
    }
}

impl From<crate::release::StoreError> for DeployError {
    fn from(e: crate::release::StoreError) -> Self {
        DeployError::new(of_store_error(&e), e)
    }
}

impl From<crate::release::lock::LockError> for DeployError {
    fn from(e: crate::release::lock::LockError) -> Self {
        DeployError::new(of_lock_error(&e), e)
    }
}
