//! `kpush drift NAME`: where the live objects differ from the release's last succeeded
//! revision (no repository needed); exit 0 none, 1 drift (with the differences, Secret values
//! never shown).

use std::collections::HashSet;

use clap::Args;

use super::apply_cmd::{connect, plan_failed};
use super::cluster_args::ClusterArgs;
use super::release_args::ReleaseRef;
use super::release_run::{note, skipped, store_error};
use super::targets_file::Target;
use super::targets_run::{self, TargetsArgs};
use crate::apply::prune;
use crate::event::{ReleaseNote, Sink};
use crate::exit::{self, ExitError};
use crate::plan::{self, PlanOptions, diff::object_diff};
use crate::release::{Store, drift};
use crate::report::{CiMode, OutputSettings, Progress, Reporter};

/// Flags of `kpush drift`.
#[derive(Debug, Args)]
pub struct DriftArgs {
    #[command(flatten)]
    release: ReleaseRef,

    #[command(flatten)]
    cluster: ClusterArgs,

    #[command(flatten)]
    targets: TargetsArgs,

    /// The field manager the release was applied with.
    #[arg(
        long,
        value_name = "NAME",
        env = "KPUSH_FIELD_MANAGER",
        default_value = "kpush"
    )]
    field_manager: String,

    /// Print what kpush is doing on standard error.
    #[arg(short, long, env = "KPUSH_VERBOSE")]
    verbose: bool,
}

pub(super) async fn run(args: DriftArgs, ci: CiMode) -> Result<i32, ExitError> {
    let settings = OutputSettings {
        command: "drift",
        ci,
        progress: Progress::Plain,
        json: false,
        verbose: args.verbose,
    };
    let reporter = Reporter::new(&settings, &super::process_env());
    let result = match &args.targets.targets {
        Some(file) => {
            let each = async |t: &Target, sink: &dyn Sink| {
                let cluster = t.cluster_args(&args.cluster);
                let release = t.release_ref(&args.release);
                run_with(&args, &cluster, &release, sink, Some(&t.name)).await
            };
            // Drift on one target does not stop the next: only errors do.
            let stops = |code| code > exit::DIFFERENCES;
            targets_run::run(file, &args.targets, None, &reporter, stops, each).await
        }
        None => run_with(&args, &args.cluster, &args.release, &reporter, None).await,
    };
    reporter.finish(&result)?;
    result
}

async fn run_with(
    args: &DriftArgs,
    cluster: &ClusterArgs,
    release: &ReleaseRef,
    reporter: &dyn Sink,
    target: Option<&str>,
) -> Result<i32, ExitError> {
    let (client, server) = connect(cluster).await?;
    let release = release.release(client.default_namespace())?;
    let history = Store::new(&client, &release)
        .history()
        .await
        .map_err(store_error)?;
    skipped(reporter, &history.unreadable);
    let Some(revision) = history.last_succeeded() else {
        return Err(ExitError::new(
            exit::BAD_INPUT,
            anyhow::anyhow!(
                "release {} in namespace {} has no succeeded revision to compare with{}",
                release.name,
                release.namespace,
                if history.revisions.is_empty() {
                    " (no revisions at all; `kpush list -A` shows the releases)".to_string()
                } else {
                    "; `kpush history` shows its revisions".to_string()
                }
            ),
        ));
    };
    note(
        reporter,
        ReleaseNote::Comparing {
            release: release.name.clone(),
            revision: revision.revision,
            commit: revision.run.commit.clone(),
        },
    );
    let set = release.applyset();
    let opts = PlanOptions {
        field_manager: args.field_manager.clone(),
        // A dry run only: take every field back, so a hand edit shows as a difference
        // instead of a conflict.
        force_conflicts: true,
        applyset: Some(set.clone()),
        keep_dry_run: true,
        // Objects another release took are compared too (the plan warns about them).
        take_over_from_releases: true,
        ..Default::default()
    };
    let retry = opts.retry;
    let manifests = revision.manifests();
    let rendered = super::apply_cmd::rendered(&manifests);
    let plan = plan::plan(&client, manifests, opts, reporter)
        .await
        .map_err(|e| plan_failed(&e, &server, None))?;
    let diffs = drift::drifted(&plan, object_diff);
    let parent = prune::read_parent(&client, retry, &set)
        .await
        .map_err(|e| ExitError::new(exit::APPLY_REJECTED, e))?;
    let (kinds, nss) = prune::recorded(parent.as_ref());
    let keep: HashSet<_> = plan.objects.iter().map(|o| o.manifest.key()).collect();
    // As `kpush apply` prunes by default: namespaces and CRDs are shown kept.
    let members = prune::members(&client, retry, &set, &kinds, &nss, &keep, false)
        .await
        .map_err(|f| {
            ExitError::new(
                exit::CLUSTER_UNREACHABLE,
                anyhow::anyhow!("cannot list the release's objects: {f}"),
            )
        })?;
    // The verdict a re-apply of the revision (`kpush rollback`) would get with the default
    // guard: shown, as drift changes nothing.
    if let Err(refusal) = crate::apply::PruneGuard::default().check(
        &set.name,
        rendered,
        members.count,
        &members.candidates,
    ) {
        reporter.event(&crate::event::Event::Warning {
            object: None,
            message: format!(
                "re-applying revision {} (kpush rollback --to {}) would be refused: {refusal}",
                revision.revision, revision.revision
            ),
        });
    }
    super::diff_cmd::print_diff(&diffs, &members.candidates, target)
}
