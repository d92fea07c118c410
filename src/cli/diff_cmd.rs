//! `kpush diff`: what `kpush apply` would change, as unified diffs; exit 0 (none), 1 (some).

use std::collections::HashSet;
use std::io::Write;

use clap::Args;

use super::ManifestArgs;
use super::apply_cmd::{connect, explain};
use super::cluster_args::ClusterArgs;
use super::plan_args::PlanArgs;
use crate::apply::prune;
use crate::exit::{self, ExitError};
use crate::plan::{self, diff::object_diff};
use crate::report::{self, CiMode, OutputSettings, Progress, Reporter};

/// Flags of `kpush diff`.
#[derive(Debug, Args)]
pub struct DiffArgs {
    #[command(flatten)]
    manifests: ManifestArgs,

    #[command(flatten)]
    cluster: ClusterArgs,

    #[command(flatten)]
    plan: PlanArgs,

    /// Print what kpush is doing on standard error.
    #[arg(short, long, env = "KPUSH_VERBOSE")]
    verbose: bool,
}

pub(super) async fn run(args: DiffArgs, ci: CiMode) -> Result<i32, ExitError> {
    let settings = OutputSettings {
        command: "diff",
        ci,
        progress: Progress::Plain,
        json: false,
        verbose: args.verbose,
    };
    let reporter = Reporter::new(&settings, &super::process_env());
    let result = run_with(args, &reporter).await;
    reporter.finish(&result)?;
    result
}

async fn run_with(args: DiffArgs, reporter: &Reporter) -> Result<i32, ExitError> {
    let mut manifests = args.manifests.render(reporter)?;
    let (client, server) = connect(&args.cluster).await?;
    let namespace = args
        .manifests
        .namespace
        .clone()
        .unwrap_or_else(|| client.default_namespace().to_string());
    args.plan.add_namespace(&mut manifests, &namespace);
    let mut opts = args.plan.to_options(&namespace);
    opts.keep_dry_run = true;
    let retry = opts.retry;
    let plan = plan::plan(&client, manifests, opts, reporter)
        .await
        .map_err(|e| {
            ExitError::new(
                exit::of_plan_error(&e),
                anyhow::anyhow!(explain(&e, &server)),
            )
        })?;
    let diffs: Vec<_> = plan.objects.iter().map(object_diff).collect();
    let mut pruned = Vec::new();
    if let Some(set) = plan.options.applyset.as_ref().filter(|_| args.plan.prune) {
        let parent = prune::read_parent(&client, retry, set)
            .await
            .map_err(|e| ExitError::new(exit::APPLY_REJECTED, e))?;
        let (kinds, nss) = prune::recorded(parent.as_ref());
        let keep: HashSet<_> = plan.objects.iter().map(|o| o.manifest.key()).collect();
        pruned = prune::candidates(
            &client,
            retry,
            set,
            &kinds,
            &nss,
            &keep,
            args.plan.prune_namespaces_and_crds,
        )
        .await
        .map_err(|f| {
            ExitError::new(
                exit::CLUSTER_UNREACHABLE,
                anyhow::anyhow!("cannot list ApplySet members: {f}"),
            )
        })?;
    }
    let color = {
        use is_terminal::IsTerminal;
        std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none()
    };
    let pruned: Vec<_> = pruned.iter().map(|p| p.candidate()).collect();
    // The differences are the command's data: standard output.
    let text = report::diff::render(&diffs, &pruned, color);
    let mut out = std::io::stdout().lock();
    out.write_all(text.as_bytes())
        .and_then(|_| out.flush())
        .map_err(|e| ExitError::new(exit::INTERNAL, e))?;
    Ok(if report::diff::has_differences(&diffs, &pruned) {
        exit::DIFFERENCES
    } else {
        exit::SUCCESS
    })
}
