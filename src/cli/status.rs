//! `kpush status`: wait for already-applied manifests to be ready, changing nothing.

use clap::Args;

use super::args::{ClusterArgs, ManifestArgs, OutputArgs, TargetsArgs, TrackArgs};
use super::targets;
use crate::deploy::targets_file::Target;
use crate::deploy::{DeployResult, Interrupt, Renders};
use crate::event::{Outcome, Sink};
use crate::exit::{self, ExitError};
use crate::report::{CiMode, OutputSettings, Reporter};

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

    #[command(flatten)]
    out: OutputArgs,
}

pub(super) async fn run(args: StatusArgs, ci: CiMode, env: &super::Env) -> Result<i32, ExitError> {
    let settings = OutputSettings {
        command: "status",
        ci,
        progress: args.out.progress(),
        json: args.out.json(),
        verbose: false,
    };
    let reporter = Reporter::new(&settings, env);
    let renders = Renders::default();
    let interrupt = Interrupt::on_signals();
    let one = async |t: Option<&Target>, sink: &dyn Sink| {
        let (cluster, manifests) = match t {
            Some(t) => t.args(&args.cluster, &args.manifests),
            None => (args.cluster.clone(), args.manifests.clone()),
        };
        run_with(&args, &cluster, &manifests, sink, &renders, env, &interrupt).await
    };
    let stops = |outcome| outcome != Outcome::Success;
    let manifests = Some((&args.manifests, &renders));
    let result = targets::run_or_once(
        &args.targets,
        manifests,
        &reporter,
        &reporter,
        env,
        stops,
        one,
    )
    .await
    .map(exit::of_outcome)
    .map_err(ExitError::from);
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
    let render = super::settings::render(manifests, Some(&cluster.azure), env)?;
    let wait = super::settings::tracking(&args.wait, cluster);
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
