//! `kpush apply`: render, plan, apply (and prune), report.

use clap::Args;

use super::args::{
    ClusterArgs, FleetArgs, ManifestArgs, OutputArgs, PlanArgs, ReleaseArgs, TargetsArgs,
    TrackArgs, VerboseArgs, WaitFlag,
};
use super::targets;
use crate::deploy::targets_file::Target;
use crate::deploy::{self, Interrupt, Renders};
use crate::event::{Outcome, Sink};
use crate::exit::{self, ExitError};
use crate::report::{CiMode, OutputSettings, Reporter};

/// Flags of `kpush apply`.
#[derive(Debug, Args)]
pub struct ApplyArgs {
    #[command(flatten)]
    pub(super) manifests: ManifestArgs,

    #[command(flatten)]
    pub(super) cluster: ClusterArgs,

    #[command(flatten)]
    pub(super) targets: TargetsArgs,

    #[command(flatten)]
    pub(super) plan: PlanArgs,

    /// Skip the server-side dry-run of every object before applying (faster; a rejection can
    /// then leave earlier objects applied).
    #[arg(long, env = "KPUSH_NO_PREFLIGHT")]
    pub(super) no_preflight: bool,

    /// Skip the access check: before changing anything, kpush asks the API server
    /// (SelfSubjectAccessReview) whether it may make every request the apply needs, and stops
    /// naming each missing permission. Turn it off only where the authorizer answers those
    /// reviews unreliably (see docs/rbac.md).
    #[arg(long, env = "KPUSH_NO_RBAC_CHECK")]
    pub(super) no_rbac_check: bool,

    /// When a change touches an immutable field (a Deployment selector, a Job template), delete
    /// the object, wait until it is gone, and create it again.
    #[arg(long, env = "KPUSH_RECREATE_ON_IMMUTABLE")]
    pub(super) recreate_on_immutable: bool,

    #[command(flatten)]
    pub(super) wait: TrackArgs,

    #[command(flatten)]
    pub(super) release: ReleaseArgs,

    #[command(flatten)]
    pub(super) fleet: FleetArgs,

    #[command(flatten)]
    pub(super) verbose: VerboseArgs,

    #[command(flatten)]
    pub(super) wait_flag: WaitFlag,

    #[command(flatten)]
    pub(super) out: OutputArgs,
}

pub(super) async fn run(args: ApplyArgs, ci: CiMode, env: &super::Env) -> Result<i32, ExitError> {
    let settings = OutputSettings {
        command: "apply",
        ci,
        progress: args.out.progress(),
        json: args.out.json(),
        verbose: args.verbose.verbose,
    };
    let reporter = Reporter::new(&settings, env);
    let interrupt = Interrupt::on_signals();
    let renders = Renders::default();
    let one = async |cluster: &ClusterArgs, manifests: &ManifestArgs, sink: &dyn Sink| {
        let (settings, cluster) = super::settings::apply(&args, cluster, manifests, env)?;
        deploy::apply(&settings, &cluster, sink, &renders, &interrupt).await
    };
    let result = match &args.targets.targets {
        Some(file) => {
            let each = async |t: &Target, sink: &dyn Sink| {
                let (cluster, manifests) = t.args(&args.cluster, &args.manifests);
                one(&cluster, &manifests, sink).await
            };
            targets::run(
                file,
                &args.targets,
                Some((&args.manifests, &renders)),
                &reporter,
                env,
                stops,
                each,
            )
            .await
        }
        None => exit::from_deploy(one(&args.cluster, &args.manifests, &reporter).await),
    };
    reporter.finish(&result)?;
    result
}

/// Whether a target's outcome stops a sequential multi-cluster apply.
fn stops(outcome: Outcome) -> bool {
    outcome != Outcome::Success
}
