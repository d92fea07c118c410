//! `kpush apply`: render, plan, apply (and prune), report.

use std::time::Instant;

use clap::Args;

use super::ManifestArgs;
use super::cluster_args::{self, ClusterArgs};
use super::plan_args::PlanArgs;
use super::run_report::RunReporters;
use crate::apply::{self, ApplyError, ApplyOptions, ApplyOutcome, Interrupt};
use crate::exit::{self, ExitError};
use crate::plan::{self, PlanError};
use crate::report::{Action, CiMode, Event, Reporter, TerminalReporter};

/// Flags of `kpush apply`.
#[derive(Debug, Args)]
pub struct ApplyArgs {
    #[command(flatten)]
    manifests: ManifestArgs,

    #[command(flatten)]
    cluster: ClusterArgs,

    #[command(flatten)]
    plan: PlanArgs,

    /// Skip the server-side dry-run of every object before applying (faster; a rejection can
    /// then leave earlier objects applied).
    #[arg(long, env = "KPUSH_NO_PREFLIGHT")]
    no_preflight: bool,

    /// When a change touches an immutable field (a Deployment selector, a Job template), delete
    /// the object, wait until it is gone, and create it again.
    #[arg(long, env = "KPUSH_RECREATE_ON_IMMUTABLE")]
    recreate_on_immutable: bool,

    /// Print what kpush is doing (discovery, waves, timings) on standard error.
    #[arg(short, long, env = "KPUSH_VERBOSE")]
    verbose: bool,
}

/// Renders the manifests, reporting warnings (and, in CI, the errors); exit code 2 on errors.
pub(super) fn render(
    args: &ManifestArgs,
    reporter: &RunReporters,
) -> Result<Vec<crate::Manifest>, ExitError> {
    let opts = args
        .to_options(super::process_env())
        .map_err(|e| ExitError::new(exit::BAD_INPUT, anyhow::anyhow!(e)))?;
    let rendered = crate::render::render(&opts, &mut std::io::stdin().lock()).map_err(|e| {
        reporter.stopping_problems(&e.problems);
        ExitError::new(exit::BAD_INPUT, e)
    })?;
    for w in rendered.warnings {
        reporter.event(&Event::Problem { problem: w });
    }
    reporter.set_images(crate::render::images::images(&rendered.manifests));
    Ok(rendered.manifests)
}

/// Connects; exit code 2 for unusable flags or kubeconfig, 6 when no client can be built.
pub(super) async fn connect(args: &ClusterArgs) -> Result<(kube::Client, String), ExitError> {
    cluster_args::connect_to(args)
        .await
        .map_err(|e| ExitError::new(e.exit_code(), e))
}

/// The error with advice for unreachable and unauthenticated servers.
pub(super) fn explain(e: &PlanError, server: &str) -> String {
    match e {
        PlanError::Unreachable(m) => unreachable_advice(m, server),
        PlanError::Unauthorized(m) => format!(
            "the API server at {server} did not accept the credentials: {m}; check the kubeconfig's \
             user (token expired? exec plugin logged in?) and --context"
        ),
        other => other.to_string(),
    }
}

fn unreachable_advice(m: &str, server: &str) -> String {
    format!(
        "cannot reach the API server at {server}: {m}; check that the cluster is running, the \
         kubeconfig's server address and --context, and your network (VPN, firewall, private cluster)"
    )
}

/// The exit code for a planning error.
pub(super) fn plan_exit_code(e: &PlanError) -> i32 {
    match e {
        PlanError::Unreachable(_) | PlanError::Unauthorized(_) | PlanError::Other(_) => {
            exit::CLUSTER_UNREACHABLE
        }
        PlanError::UnknownKinds(_) | PlanError::Rejected(_) => exit::APPLY_REJECTED,
        PlanError::ApplySet(_) => exit::BAD_INPUT,
    }
}

fn apply_exit_code(e: &ApplyError) -> i32 {
    match e {
        ApplyError::Plan(p) => plan_exit_code(p),
        ApplyError::Unreachable(_) | ApplyError::Unauthorized(_) | ApplyError::Request(_) => {
            exit::CLUSTER_UNREACHABLE
        }
        ApplyError::Rejected(_)
        | ApplyError::CrdNotEstablished { .. }
        | ApplyError::ApplySet(_) => exit::APPLY_REJECTED,
        ApplyError::Interrupted => exit::INTERRUPTED,
    }
}

/// `3 objects: 1 created, 1 configured, 1 unchanged`.
fn summary(outcome: &ApplyOutcome) -> String {
    let parts: Vec<String> = [
        Action::Created,
        Action::Configured,
        Action::Unchanged,
        Action::Recreated,
        Action::Failed,
        Action::Skipped,
    ]
    .into_iter()
    .filter_map(|a| {
        let n = outcome.count(a);
        (n > 0).then(|| format!("{n} {}", crate::report::terminal::verb(a)))
    })
    .collect();
    let pruned = outcome.pruned.iter().filter(|p| !p.kept).count();
    let mut s = format!("{} objects: {}", outcome.objects.len(), parts.join(", "));
    if pruned > 0 {
        s.push_str(&format!("; {pruned} pruned"));
    }
    s
}

pub(super) async fn run(args: ApplyArgs, ci: CiMode) -> Result<i32, ExitError> {
    let reporter = RunReporters::new("apply", TerminalReporter::stdio(args.verbose), ci);
    let result = run_with(args, &reporter).await;
    reporter.finish(&result);
    result
}

async fn run_with(args: ApplyArgs, reporter: &RunReporters) -> Result<i32, ExitError> {
    let started = Instant::now();
    let manifests = render(&args.manifests, reporter)?;
    let (client, server) = connect(&args.cluster).await?;
    let namespace = args
        .manifests
        .namespace
        .clone()
        .unwrap_or_else(|| client.default_namespace().to_string());
    let mut opts = args.plan.to_options(&namespace);
    opts.preflight = !args.no_preflight;
    opts.recreate_on_immutable = args.recreate_on_immutable;
    let interrupt = Interrupt::on_signals();
    let plan = plan::plan(&client, manifests, opts, reporter)
        .await
        .map_err(|e| {
            let code = plan_exit_code(&e);
            ExitError::new(
                code,
                anyhow::anyhow!("{}; nothing was applied", explain(&e, &server)),
            )
        })?;
    if interrupt.is_set() {
        return Err(ExitError::new(
            exit::INTERRUPTED,
            anyhow::anyhow!("interrupted before applying anything; nothing was changed"),
        ));
    }
    let apply_opts = ApplyOptions {
        prune: args.plan.prune,
        prune_namespaces_and_crds: args.plan.prune_namespaces_and_crds,
        ..Default::default()
    };
    match apply::apply(&client, plan, &apply_opts, reporter, &interrupt).await {
        Ok(outcome) => {
            println!(
                "{} in {:.2}s",
                summary(&outcome),
                started.elapsed().as_secs_f64()
            );
            Ok(exit::SUCCESS)
        }
        Err(failure) => {
            eprintln!("{}", summary(&failure.outcome));
            let code = apply_exit_code(&failure.error);
            let message = match &failure.error {
                ApplyError::Plan(e) => explain(e, &server),
                ApplyError::Unreachable(m) => unreachable_advice(m, &server),
                other => other.to_string(),
            };
            Err(ExitError::new(code, anyhow::anyhow!(message)))
        }
    }
}
