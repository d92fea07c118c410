//! `kpush status`: wait for already-applied manifests to be ready, changing nothing.

use clap::{Args, ValueEnum};

use super::ManifestArgs;
use super::cluster_args::ClusterArgs;
use super::targets_run::{self, TargetsArgs};
use super::track_args::TrackArgs;
use crate::deploy::targets_file::Target;
use crate::deploy::{DeployError, DeployResult, Interrupt, Renders};
use crate::event::{Outcome, Sink};
use crate::exit::{self, ExitError};
use crate::report::{CiMode, OutputSettings, Progress, Reporter};

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
    let env = super::process_env();
    let reporter = Reporter::new(&settings, &env);
    let renders = Renders::default();
    let interrupt = Interrupt::on_signals();
    let result = match &args.targets.targets {
        Some(file) => {
            let each = async |t: &Target, sink: &dyn Sink| {
                let (cluster, manifests) = t.args(&args.cluster, &args.manifests);
                run_with(
                    &args, &cluster, &manifests, sink, &renders, &env, &interrupt,
                )
                .await
            };
            let stops = |outcome| outcome != Outcome::Success;
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
        None => exit::from_deploy(
            run_with(
                &args,
                &args.cluster,
                &args.manifests,
                &reporter,
                &renders,
                &env,
                &interrupt,
            )
            .await,
        ),
    };
    reporter.finish(&result)?;
    result
}

async fn run_with(
    args: &StatusArgs,
    cluster: &ClusterArgs,
    manifests: &ManifestArgs,
    reporter: &dyn Sink,
    renders: &Renders,
    env: &super::Env,
    interrupt: &Interrupt,
) -> DeployResult {
    let render = manifests
        .to_options(env.clone())
        .map_err(DeployError::invalid)?;
    let wait = crate::track::TrackOptions {
        watch_deadline: args.wait.watch_deadline_within(cluster.request_timeout),
        ..args.wait.to_options()
    };
    let cluster = cluster.settings(&super::lookup(env));
    crate::deploy::status::status(
        &render,
        args.release.as_deref(),
        &wait,
        &cluster,
        reporter,
        renders,
        interrupt,
    )
    .await
}
