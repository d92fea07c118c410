//! `kpush status`: wait for already-applied manifests to be ready, changing nothing.

use clap::{Args, ValueEnum};

use super::ManifestArgs;
use super::cluster_args::ClusterArgs;
use super::interrupt::interrupted;
use super::targets_file::Target;
use super::targets_run::{self, Renders, TargetsArgs};
use super::track_args::TrackArgs;
use crate::event::Sink;
use crate::exit::{self, ExitError};
use crate::report::{CiMode, OutputSettings, Progress, Reporter};
use crate::track;

/// Flags of `kpush status`.
#[derive(Debug, Args)]
pub struct StatusArgs {
    #[command(flatten)]
    manifests: ManifestArgs,

    #[command(flatten)]
    cluster: ClusterArgs,

    #[command(flatten)]
    targets: TargetsArgs,

    #[command(flatten)]
    wait: TrackArgs,

    /// Helm release name for charts given as PATH (`.Release.Name`); defaults to the chart's name.
    #[arg(long, value_name = "NAME", env = "KPUSH_RELEASE")]
    release: Option<String>,

    /// Result format on standard output: `text` prints nothing there (progress and summary go
    /// to standard error); `json` prints one JSON document describing the run.
    #[arg(short = 'o', long, value_enum, default_value = "text")]
    output: Output,

    /// Progress display on standard error: live rows on a terminal, or plain lines for logs.
    #[arg(long, value_enum, env = "KPUSH_PROGRESS", default_value = "auto")]
    progress: Progress,
}

/// Result formats of `kpush status` and `kpush apply`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Output {
    /// Human output on standard error only.
    Text,
    /// A JSON document on standard output (see docs/rollouts.md).
    Json,
}

pub(super) async fn run(args: StatusArgs, ci: CiMode) -> Result<i32, ExitError> {
    let settings = OutputSettings {
        command: "status",
        ci,
        progress: args.progress,
        json: args.output == Output::Json,
        verbose: false,
    };
    let reporter = Reporter::new(&settings, &super::process_env());
    let renders = Renders::default();
    let result = match &args.targets.targets {
        Some(file) => {
            let each = async |t: &Target, sink: &dyn Sink| {
                let (cluster, manifests) = t.args(&args.cluster, &args.manifests);
                run_with(&args, &cluster, &manifests, sink, &renders).await
            };
            let stops = |code| code != exit::SUCCESS;
            targets_run::run(
                file,
                &args.targets,
                Some((&args.manifests, &renders)),
                &reporter,
                stops,
                each,
            )
            .await
        }
        None => run_with(&args, &args.cluster, &args.manifests, &reporter, &renders).await,
    };
    reporter.finish(&result)?;
    result
}

async fn run_with(
    args: &StatusArgs,
    cluster: &ClusterArgs,
    manifest_args: &ManifestArgs,
    reporter: &dyn Sink,
    renders: &Renders,
) -> Result<i32, ExitError> {
    let (mut manifests, client, _) = renders
        .render_connected(manifest_args, cluster, reporter, args.release.as_deref())
        .await?;
    // A chart's hooks run only during apply (and may be deleted after): not compared or tracked.
    super::chart_hooks::leave_out_hooks(&mut manifests, reporter);
    // Kinds are resolved with the plan's discovery catalogue, as for apply.
    let targets = track::resolve(&client, &manifests)
        .await
        .map_err(|e| ExitError::new(exit::of_target_error(&e), e))?;
    let opts = track::TrackOptions {
        retry: cluster.retry_policy(Some(std::time::Instant::now() + args.wait.timeout)),
        watch_deadline: args.wait.watch_deadline_within(cluster.request_timeout),
        ..args.wait.to_options()
    };
    let outcome = track::track(&client, targets, &opts, reporter, interrupted()).await;
    Ok(exit::of_run_state(outcome.state))
}
