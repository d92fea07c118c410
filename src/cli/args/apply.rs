//! The flags of `kpush apply`.

use clap::Args;

use super::{
    ClusterArgs, DeploymentArgs, FleetArgs, ManifestArgs, OutputArgs, PlanArgs, ReleaseArgs,
    TargetsArgs, TrackArgs, VerboseArgs, WaitFlag,
};

/// Flags of `kpush apply`.
#[derive(Debug, Args)]
pub struct ApplyArgs {
    #[command(flatten)]
    pub manifests: ManifestArgs,

    #[command(flatten)]
    pub cluster: ClusterArgs,

    #[command(flatten)]
    pub targets: TargetsArgs,

    #[command(flatten)]
    pub plan: PlanArgs,

    /// Skip the server-side dry-run of every object before applying (faster; a rejection can
    /// then leave earlier objects applied).
    #[arg(long, env = "KPUSH_NO_PREFLIGHT")]
    pub no_preflight: bool,

    /// Skip the access check: before changing anything, kpush asks the API server
    /// (SelfSubjectAccessReview) whether it may make every request the apply needs, and stops
    /// naming each missing permission. Turn it off only where the authorizer answers those
    /// reviews unreliably (see docs/rbac.md).
    #[arg(long, env = "KPUSH_NO_RBAC_CHECK")]
    pub no_rbac_check: bool,

    /// When a change touches an immutable field (a Deployment selector, a Job template), delete
    /// the object, wait until it is gone, and create it again.
    #[arg(long, env = "KPUSH_RECREATE_ON_IMMUTABLE")]
    pub recreate_on_immutable: bool,

    #[command(flatten)]
    pub wait: TrackArgs,

    #[command(flatten)]
    pub release: ReleaseArgs,

    #[command(flatten)]
    pub fleet: FleetArgs,

    #[command(flatten)]
    pub deployment: DeploymentArgs,

    #[command(flatten)]
    pub verbose: VerboseArgs,

    #[command(flatten)]
    pub wait_flag: WaitFlag,

    #[command(flatten)]
    pub out: OutputArgs,
}
