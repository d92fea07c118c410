//! `kpush diff`: what `kpush apply` would change, as unified diffs; exit 0 (none), 1 (some).

use std::io::Write;

use clap::Args;

use super::args::{ClusterArgs, ManifestArgs, PlanArgs, TargetsArgs, VerboseArgs};
use super::targets;
use super::{Env, lookup};
use crate::deploy::targets_file::Target;
use crate::deploy::{self, DeployError, DeployResult, Renders, Verdict};
use crate::event::{Outcome, Sink};
use crate::exit::{self, ExitError};
use crate::report::{self, CiMode, OutputSettings, Progress, Reporter};

/// Flags of `kpush diff`.
#[derive(Debug, Args)]
pub struct DiffArgs {
    #[command(flatten)]
    manifests: ManifestArgs,

    #[command(flatten)]
    cluster: ClusterArgs,

    #[command(flatten)]
    targets: TargetsArgs,

    #[command(flatten)]
    plan: PlanArgs,

    #[command(flatten)]
    verbose: VerboseArgs,
}

pub(super) async fn run(args: DiffArgs, ci: CiMode, env: &super::Env) -> Result<i32, ExitError> {
    let settings = OutputSettings {
        command: "diff",
        ci,
        progress: Progress::Plain,
        json: false,
        verbose: args.verbose.verbose,
    };
    let reporter = Reporter::new(&settings, env);
    let renders = Renders::default();
    let one = async |t: Option<&Target>, sink: &dyn Sink| {
        let (cluster, manifests) = match t {
            Some(t) => t.args(&args.cluster, &args.manifests),
            None => (args.cluster.clone(), args.manifests.clone()),
        };
        let target = t.map(|t| t.name.as_str());
        run_with(&args, &cluster, &manifests, sink, &renders, target, env).await
    };
    // Differences on one target do not stop the next: only errors do.
    let stops = |outcome| outcome > Outcome::Differences;
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
    args: &DiffArgs,
    cluster: &ClusterArgs,
    manifests: &ManifestArgs,
    reporter: &dyn Sink,
    renders: &Renders,
    target: Option<&str>,
    env: &Env,
) -> DeployResult {
    let settings = super::settings::deploy(
        manifests,
        &cluster.azure,
        &args.plan,
        |name: &str| crate::deploy::ReleaseSettings::new(name),
        env,
    )?;
    let cluster = cluster.settings(&lookup(env));
    let found = deploy::diff::diff(&settings, &cluster, reporter, renders).await?;
    // The diff is printed either way, then the same refusal as apply's (exit 2).
    let verdict = print_diff_with_hooks(&found.diffs, &found.pruned, &found.hooks, target)?;
    match found.refused {
        Some(e) => Err(e),
        None => Ok(verdict),
    }
}

/// Prints `diffs` and the objects a prune would delete (`pruned`) on standard output, the
/// command's data (coloured on a terminal unless NO_COLOR), headed by the target's name in a
/// multi-cluster run; exit 1 when there is any difference, else 0.
pub(super) fn print_diff(
    diffs: &[crate::event::ObjectDiff],
    pruned: &[crate::apply::PrunedObject],
    target: Option<&str>,
) -> DeployResult {
    print_diff_with_hooks(diffs, pruned, &[], target)
}

/// [`print_diff`], followed by the live objects a chart's hooks would delete (`hooks`); a hook
/// deletion kpush would refuse counts as a difference.
fn print_diff_with_hooks(
    diffs: &[crate::event::ObjectDiff],
    pruned: &[crate::apply::PrunedObject],
    hooks: &[crate::event::HookDeletion],
    target: Option<&str>,
) -> DeployResult {
    use is_terminal::IsTerminal;
    let color = std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none();
    let pruned: Vec<_> = pruned.iter().map(|p| p.candidate()).collect();
    let mut text = report::diff::render(diffs, &pruned, color);
    text.push_str(&report::diff::render_hook_deletions(hooks, color));
    if let Some(name) = target {
        text = format!("# target {name}\n{text}");
    }
    if !std::io::stdout().is_terminal() {
        // A log reads it (CI runners parse their steps' output for commands): the manifests'
        // lines must not act as one.
        text = report::ci::untrusted::neutralise(&text);
    }
    let mut out = std::io::stdout().lock();
    out.write_all(text.as_bytes())
        .and_then(|_| out.flush())
        .map_err(|e| DeployError::new(Outcome::Internal, e))?;
    let refused = hooks.iter().any(|h| h.refused.is_some());
    Ok(
        if report::diff::has_differences(diffs, &pruned) || refused {
            Verdict::Differences
        } else {
            Verdict::Success
        },
    )
}
