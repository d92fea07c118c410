//! `kpush diff`: what `kpush apply` would change, as unified diffs; exit 0 (none), 1 (some).

use std::io::Write;

use clap::Args;

use super::ManifestArgs;
use super::apply_cmd::plan_failed;
use super::cluster_args::ClusterArgs;
use super::plan_args::PlanArgs;
use super::targets_file::Target;
use super::targets_run::{self, Renders, TargetsArgs};
use crate::apply;
use crate::event::Sink;
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
    targets: TargetsArgs,

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
    let renders = Renders::default();
    let result = match &args.targets.targets {
        Some(file) => {
            let each = async |t: &Target, sink: &dyn Sink| {
                let (cluster, manifests) = t.args(&args.cluster, &args.manifests);
                run_with(&args, &cluster, &manifests, sink, &renders, Some(&t.name)).await
            };
            // Differences on one target do not stop the next: only errors do.
            let stops = |code| code > exit::DIFFERENCES;
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
        None => {
            run_with(
                &args,
                &args.cluster,
                &args.manifests,
                &reporter,
                &renders,
                None,
            )
            .await
        }
    };
    reporter.finish(&result)?;
    result
}

async fn run_with(
    args: &DiffArgs,
    cluster: &ClusterArgs,
    manifest_args: &ManifestArgs,
    reporter: &dyn Sink,
    renders: &Renders,
    target: Option<&str>,
) -> Result<i32, ExitError> {
    let (mut manifests, client, server) = renders
        .render_connected(manifest_args, cluster, reporter, args.plan.release_name())
        .await?;
    // As apply counts them: hooks included.
    let rendered = super::apply_cmd::rendered(&manifests);
    // A chart's hooks run only during apply (and may be deleted after): not compared, but the
    // live objects running them would delete are shown.
    let hook_manifests = super::chart_hooks::take_hooks(&mut manifests, reporter);
    let namespace = manifest_args
        .namespace
        .clone()
        .unwrap_or_else(|| client.default_namespace().to_string());
    args.plan.add_namespace(&mut manifests, &namespace);
    let prune = args
        .plan
        .prune()
        .map_err(|e| ExitError::new(exit::BAD_INPUT, anyhow::anyhow!(e)))?;
    let mut opts = args.plan.to_options(&namespace);
    opts.retry = cluster.retry_policy(None);
    opts.keep_dry_run = true;
    let hook_opts = plan::PlanOptions {
        preflight: false,
        keep_dry_run: false,
        ..opts.clone()
    };
    // The set's CRDs, so that hooks of the kinds they define are planned as in the apply.
    let crds: Vec<_> = manifests
        .iter()
        .filter(|m| m.group() == "apiextensions.k8s.io" && m.kind() == "CustomResourceDefinition")
        .cloned()
        .collect();
    let plan = plan::plan(&client, manifests, opts, reporter)
        .await
        .map_err(|e| plan_failed(&e, &server, None))?;
    let hooks =
        super::chart_hooks::deletions(&client, &plan, hook_manifests, crds, hook_opts, reporter)
            .await
            .map_err(|e| match e {
                super::chart_hooks::HookPlanError::Plan(e) => plan_failed(&e, &server, None),
                super::chart_hooks::HookPlanError::Other(e) => e,
            })?;
    let diffs: Vec<_> = plan.objects.iter().map(object_diff).collect();
    if !prune {
        return print_diff_with_hooks(&diffs, &[], &hooks, target);
    }
    // What apply would prune, and whether apply would refuse it: the diff is printed either
    // way, then the same refusal as apply's (exit 2).
    let unchecked = apply::PruneGuard {
        allow_empty: true,
        limit: apply::PruneLimit::Percent(100),
    };
    let members = super::apply_cmd::check_prune(
        &client,
        &plan,
        rendered,
        &unchecked,
        args.plan.prune_namespaces_and_crds,
    )
    .await?
    .map(|p| p.members)
    .unwrap_or_default();
    let code = print_diff_with_hooks(&diffs, &members.candidates, &hooks, target)?;
    if let Some(set) = &plan.options.applyset {
        args.plan
            .guard
            .guard()
            .check(&set.name, rendered, members.count, &members.candidates)
            .map_err(|r| ExitError::new(exit::of_prune_refusal(&r), r))?;
    }
    Ok(code)
}

/// Prints `diffs` and the objects a prune would delete (`pruned`) on standard output, the
/// command's data (coloured on a terminal unless NO_COLOR), headed by the target's name in a
/// multi-cluster run; exit 1 when there is any difference, else 0.
pub(super) fn print_diff(
    diffs: &[crate::event::ObjectDiff],
    pruned: &[crate::apply::PrunedObject],
    target: Option<&str>,
) -> Result<i32, ExitError> {
    print_diff_with_hooks(diffs, pruned, &[], target)
}

/// [`print_diff`], followed by the live objects a chart's hooks would delete (`hooks`); a hook
/// deletion kpush would refuse counts as a difference.
fn print_diff_with_hooks(
    diffs: &[crate::event::ObjectDiff],
    pruned: &[crate::apply::PrunedObject],
    hooks: &[crate::event::HookDeletion],
    target: Option<&str>,
) -> Result<i32, ExitError> {
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
        .map_err(|e| ExitError::new(exit::INTERNAL, e))?;
    let refused = hooks.iter().any(|h| h.refused.is_some());
    Ok(
        if report::diff::has_differences(diffs, &pruned) || refused {
            exit::DIFFERENCES
        } else {
            exit::SUCCESS
        },
    )
}
