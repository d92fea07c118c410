//! `kpush rollback NAME [--to N]`: re-apply a recorded revision through the same engine as
//! `apply` (preflight, waves, prune against that revision's objects, tracking), recorded as a
//! new revision.

use clap::Args;

use super::args::{
    ClusterArgs, FieldManagerArgs, OutputArgs, RecordArgs, ReleaseRef, TargetsArgs, TrackArgs,
    VerboseArgs, WaitFlag,
};
use super::targets;
use crate::deploy::rollback::RollbackSettings;
use crate::deploy::targets_file::Target;
use crate::deploy::{DeployResult, Interrupt, ReleaseSettings};
use crate::event::{Outcome, Sink};
use crate::exit::{self, ExitError};
use crate::report::{CiMode, OutputSettings, Reporter};

/// Flags of `kpush rollback`.
#[derive(Debug, Args)]
pub struct RollbackArgs {
    #[command(flatten)]
    release: ReleaseRef,

    /// The revision to restore (default: the newest succeeded revision before the newest one).
    #[arg(long, value_name = "N")]
    to: Option<u32>,

    #[command(flatten)]
    cluster: ClusterArgs,

    #[command(flatten)]
    targets: TargetsArgs,

    /// Allow the restored revision to hold objects in namespaces other than the release's (as
    /// `apply --allow-other-namespaces`).
    #[arg(long, env = "KPUSH_ALLOW_OTHER_NAMESPACES")]
    allow_other_namespaces: bool,

    /// Take ownership of fields that other field managers set to other values.
    #[arg(long, env = "KPUSH_FORCE_CONFLICTS")]
    force_conflicts: bool,

    #[command(flatten)]
    wait: TrackArgs,

    #[command(flatten)]
    record: RecordArgs,

    #[command(flatten)]
    guard: super::args::plan::PruneGuardArgs,

    /// Restore objects that meanwhile belong to another release (see `kpush apply`).
    #[arg(long, env = "KPUSH_TAKE_OVER_FROM_RELEASES")]
    take_over_from_releases: bool,

    /// Skip the access check of the restored revision's permissions (see docs/rbac.md).
    #[arg(long, env = "KPUSH_NO_RBAC_CHECK")]
    no_rbac_check: bool,

    #[command(flatten)]
    field_manager: FieldManagerArgs,

    #[command(flatten)]
    wait_flag: WaitFlag,

    #[command(flatten)]
    verbose: VerboseArgs,

    #[command(flatten)]
    out: OutputArgs,
}

pub(super) async fn run(
    args: RollbackArgs,
    ci: CiMode,
    env: &super::Env,
) -> Result<i32, ExitError> {
    let settings = OutputSettings {
        command: "rollback",
        ci,
        progress: args.out.progress(),
        json: args.out.json(),
        verbose: args.verbose.verbose,
    };
    let reporter = Reporter::new(&settings, env);
    let interrupt = Interrupt::on_signals();
    let one = async |t: Option<&Target>, sink: &dyn Sink| {
        let (cluster, release) = match t {
            Some(t) => (t.cluster_args(&args.cluster), t.release_ref(&args.release)),
            None => (args.cluster.clone(), args.release.clone()),
        };
        run_with(&args, &cluster, &release, sink, env, &interrupt).await
    };
    let stops = |outcome| outcome != Outcome::Success;
    let result = targets::run_or_once(&args.targets, None, &reporter, &reporter, env, stops, one)
        .await
        .map(exit::of_outcome)
        .map_err(ExitError::from);
    reporter.finish(&result)?;
    result
}

async fn run_with(
    args: &RollbackArgs,
    cluster: &ClusterArgs,
    release: &ReleaseRef,
    reporter: &dyn Sink,
    env: &super::Env,
    interrupt: &Interrupt,
) -> DeployResult {
    let settings = RollbackSettings {
        release: ReleaseSettings {
            allow_other_namespaces: args.allow_other_namespaces,
            ..args.record.settings(&release.name, env)
        },
        namespace: release.namespace.clone(),
        to: args.to,
        field_manager: args.field_manager.field_manager.clone(),
        force_conflicts: args.force_conflicts,
        take_over_from_releases: args.take_over_from_releases,
        prune_guard: args.guard.guard(),
        wait: args
            .wait_flag
            .wait_for_rollout
            .then(|| crate::track::TrackOptions {
                watch_deadline: args.wait.watch_deadline_within(cluster.request_timeout),
                ..args.wait.to_options()
            }),
        timeout: args.wait.timeout,
        access_check: !args.no_rbac_check,
    };
    let cluster = cluster.settings(&super::lookup(env));
    crate::deploy::rollback::rollback(&settings, &cluster, reporter, interrupt).await
}
