//! `kpush drift NAME`: where the live objects differ from the release's last succeeded
//! revision (no repository needed); exit 0 none, 1 drift (with the differences, Secret values
//! never shown).

use clap::Args;

use super::args::{ClusterArgs, FieldManagerArgs, ReleaseRef, TargetsArgs, VerboseArgs};
use super::targets;
use crate::deploy::DeployResult;
use crate::deploy::targets_file::Target;
use crate::event::{Outcome, Sink};
use crate::exit::{self, ExitError};
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

    #[command(flatten)]
    field_manager: FieldManagerArgs,

    #[command(flatten)]
    verbose: VerboseArgs,
}

pub(super) async fn run(args: DriftArgs, ci: CiMode, env: &super::Env) -> Result<i32, ExitError> {
    let settings = OutputSettings {
        command: "drift",
        ci,
        progress: Progress::Plain,
        json: false,
        verbose: args.verbose.verbose,
    };
    let reporter = Reporter::new(&settings, env);
    let one = async |t: Option<&Target>, sink: &dyn Sink| {
        let (cluster, release) = match t {
            Some(t) => (t.cluster_args(&args.cluster), t.release_ref(&args.release)),
            None => (args.cluster.clone(), args.release.clone()),
        };
        let target = t.map(|t| t.name.as_str());
        run_with(&args, &cluster, &release, sink, target, env).await
    };
    // Drift on one target does not stop the next: only errors do.
    let stops = |outcome| outcome > Outcome::Differences;
    let result = targets::run_or_once(&args.targets, None, &reporter, &reporter, env, stops, one)
        .await
        .map(exit::of_outcome)
        .map_err(ExitError::from);
    reporter.finish(&result)?;
    result
}

async fn run_with(
    args: &DriftArgs,
    cluster: &ClusterArgs,
    release: &ReleaseRef,
    reporter: &dyn Sink,
    target: Option<&str>,
    env: &super::Env,
) -> DeployResult {
    let cluster = cluster.settings(&super::lookup(env));
    let found = crate::deploy::drift::drift(
        &cluster,
        &release.name,
        release.namespace.as_deref(),
        &args.field_manager.field_manager,
        reporter,
    )
    .await?;
    super::diff::print_diff(&found.diffs, &found.pruned, target)
}
