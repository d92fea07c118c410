//! `kpush rollback NAME [--to N]`: re-apply a recorded revision through the same engine as
//! `apply` (preflight, waves, prune against that revision's objects, tracking), recorded as a
//! new revision.

use clap::Args;

use super::apply_cmd::{Deploy, connect};
use super::cluster_args::ClusterArgs;
use super::release_args::{RecordArgs, ReleaseRef};
use super::release_run::{self, Source};
use super::status_cmd::Output;
use super::targets_file::Target;
use super::targets_run::{self, TargetsArgs};
use super::track_args::TrackArgs;
use crate::apply::{ApplyOptions, Interrupt};
use crate::event::Sink;
use crate::exit::{self, ExitError};
use crate::plan::PlanOptions;
use crate::report::{CiMode, OutputSettings, Progress, Reporter};
use crate::track;

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

    /// Server-side apply field manager.
    #[arg(
        long,
        value_name = "NAME",
        env = "KPUSH_FIELD_MANAGER",
        default_value = "kpush"
    )]
    field_manager: String,

    /// Allow the restored revision to hold objects in namespaces other than the release's (as
    /// `apply --allow-other-namespaces`).
    #[arg(long, env = "KPUSH_ALLOW_OTHER_NAMESPACES")]
    allow_other_namespaces: bool,

    /// Take ownership of fields that other field managers set to other values.
    #[arg(long, env = "KPUSH_FORCE_CONFLICTS")]
    force_conflicts: bool,

    /// Wait until every restored object is ready; `--wait=false` returns once applied.
    #[arg(
        long = "wait",
        env = "KPUSH_WAIT",
        value_name = "BOOL",
        default_value_t = true,
        num_args = 0..=1,
        require_equals = true,
        default_missing_value = "true",
        action = clap::ArgAction::Set
    )]
    wait_for_rollout: bool,

    #[command(flatten)]
    wait: TrackArgs,

    #[command(flatten)]
    record: RecordArgs,

    #[command(flatten)]
    guard: super::plan_args::PruneGuardArgs,

    /// Restore objects that meanwhile belong to another release (see `kpush apply`).
    #[arg(long, env = "KPUSH_TAKE_OVER_FROM_RELEASES")]
    take_over_from_releases: bool,

    /// Print what kpush is doing on standard error.
    #[arg(short, long, env = "KPUSH_VERBOSE")]
    verbose: bool,

    /// Skip the access check of the restored revision's permissions (see docs/rbac.md).
    #[arg(long, env = "KPUSH_NO_RBAC_CHECK")]
    no_rbac_check: bool,

    /// `text`, or `json` (one document on standard output, as for `apply`).
    #[arg(
        short = 'o',
        long,
        value_enum,
        default_value = "text",
        env = "KPUSH_OUTPUT"
    )]
    output: Output,

    /// Progress display while waiting.
    #[arg(long, value_enum, env = "KPUSH_PROGRESS", default_value = "auto")]
    progress: Progress,
}

pub(super) async fn run(args: RollbackArgs, ci: CiMode) -> Result<i32, ExitError> {
    let settings = OutputSettings {
        command: "rollback",
        ci,
        progress: args.progress,
        json: args.output == Output::Json,
        verbose: args.verbose,
    };
    let reporter = Reporter::new(&settings, &super::process_env());
    let result = match &args.targets.targets {
        Some(file) => {
            let each = async |t: &Target, sink: &dyn Sink| {
                let cluster = t.cluster_args(&args.cluster);
                run_with(&args, &cluster, &t.release_ref(&args.release), sink).await
            };
            let stops = |code| code != exit::SUCCESS;
            targets_run::run(file, &args.targets, None, &reporter, stops, each).await
        }
        None => run_with(&args, &args.cluster, &args.release, &reporter).await,
    };
    reporter.finish(&result)?;
    result
}

async fn run_with(
    args: &RollbackArgs,
    cluster: &ClusterArgs,
    release: &ReleaseRef,
    reporter: &dyn Sink,
) -> Result<i32, ExitError> {
    let started = std::time::Instant::now();
    let (client, server) = connect(cluster).await?;
    let release = release.release(client.default_namespace())?;
    // One retry budget for the whole run, shared by apply and tracking, as for `apply`.
    let retry = cluster.retry_policy(Some(started + args.wait.timeout));
    let deploy = Deploy {
        client: &client,
        server: &server,
        reporter,
        plan: PlanOptions {
            field_manager: args.field_manager.clone(),
            force_conflicts: args.force_conflicts,
            applyset: Some(release.applyset()),
            retry,
            take_over_from_releases: args.take_over_from_releases,
            ..Default::default()
        },
        apply: ApplyOptions {
            prune: true,
            prune_guard: args.guard.guard(),
            ..Default::default()
        },
        wait: args.wait_for_rollout.then(|| track::TrackOptions {
            retry,
            watch_deadline: args.wait.watch_deadline_within(cluster.request_timeout),
            ..args.wait.to_options()
        }),
        interrupt: Interrupt::on_signals(),
        adopt: true,
    };
    if !args.no_rbac_check {
        check_access(&deploy, &release, args.to).await?;
    }
    let settings = super::release_args::ReleaseSettings {
        allow_other_namespaces: args.allow_other_namespaces,
        ..args.record.settings()
    };
    release_run::deploy(&deploy, &release, &settings, Source::Revision(args.to)).await
}

/// The access check for the revision `to` would restore, before its lock is taken. A history
/// that cannot be read is left to the rollback itself, which reports it.
async fn check_access(
    d: &Deploy<'_>,
    release: &crate::release::Release,
    to: Option<u32>,
) -> Result<(), ExitError> {
    let Ok(history) = crate::release::Store::new(d.client, release)
        .history()
        .await
    else {
        return Ok(());
    };
    let revision = release_run::pick(&history, to, &release.name)?;
    super::rbac_check::check(
        d,
        &revision.manifests(),
        &release.namespace,
        Default::default(),
    )
    .await
}
