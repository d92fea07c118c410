//! `kpush apply`: render, plan, apply (and prune), report.

use clap::Args;

use super::args::{
    ClusterArgs, FleetArgs, ManifestArgs, OutputArgs, PlanArgs, ReleaseArgs, TargetsArgs,
    TrackArgs, VerboseArgs, WaitFlag,
};
use super::targets;
use super::{Env, lookup};
use crate::deploy::targets_file::Target;
use crate::deploy::{
    self, ClusterSettings, DeployError, DeploySettings, FleetSettings, Interrupt, Renders,
};
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
    targets: TargetsArgs,

    #[command(flatten)]
    plan: PlanArgs,

    /// Skip the server-side dry-run of every object before applying (faster; a rejection can
    /// then leave earlier objects applied).
    #[arg(long, env = "KPUSH_NO_PREFLIGHT")]
    no_preflight: bool,

    /// Skip the access check: before changing anything, kpush asks the API server
    /// (SelfSubjectAccessReview) whether it may make every request the apply needs, and stops
    /// naming each missing permission. Turn it off only where the authorizer answers those
    /// reviews unreliably (see docs/rbac.md).
    #[arg(long, env = "KPUSH_NO_RBAC_CHECK")]
    no_rbac_check: bool,

    /// When a change touches an immutable field (a Deployment selector, a Job template), delete
    /// the object, wait until it is gone, and create it again.
    #[arg(long, env = "KPUSH_RECREATE_ON_IMMUTABLE")]
    recreate_on_immutable: bool,

    #[command(flatten)]
    wait: TrackArgs,

    #[command(flatten)]
    release: ReleaseArgs,

    #[command(flatten)]
    fleet: FleetArgs,

    #[command(flatten)]
    verbose: VerboseArgs,

    #[command(flatten)]
    wait_flag: WaitFlag,

    #[command(flatten)]
    out: OutputArgs,
}

impl ApplyArgs {
    /// The settings of a deploy with `cluster` and `manifests` (the command line's, or one
    /// target's on top of them), converted once: invalid input for flags that do not convert.
    pub(super) fn settings(
        &self,
        cluster: &ClusterArgs,
        manifests: &ManifestArgs,
        env: &Env,
    ) -> Result<(DeploySettings, ClusterSettings), DeployError> {
        let base = super::settings::deploy(
            manifests,
            &self.plan,
            |name| self.release.settings(name, env),
            env,
        )?;
        let through_fleet = self.fleet.through_fleet(cluster.azure.fleet.as_deref());
        let settings = DeploySettings {
            preflight: !self.no_preflight,
            access_check: !self.no_rbac_check,
            recreate_on_immutable: self.recreate_on_immutable,
            wait: self
                .wait_flag
                .wait_for_rollout
                .then(|| crate::track::TrackOptions {
                    watch_deadline: self.wait.watch_deadline_within(cluster.request_timeout),
                    ..self.wait.to_options()
                }),
            timeout: self.wait.timeout,
            fleet: through_fleet.then(|| FleetSettings {
                placement: self.fleet.placement.clone(),
                update_strategy: self.fleet.update_strategy.clone(),
            }),
            ..base
        };
        Ok((settings, cluster.settings(&lookup(env))))
    }
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
        let (settings, cluster) = args.settings(cluster, manifests, env)?;
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
