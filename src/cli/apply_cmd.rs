//! `kpush apply`: render, plan, apply (and prune), report.

use clap::Args;

use super::ManifestArgs;
use super::cluster_args::{self, ClusterArgs};
use super::interrupt::interrupted;
use super::plan_args::PlanArgs;
use super::status_cmd::Output;
use super::track_args::TrackArgs;
use crate::apply::{self, ApplyError, ApplyOptions, ApplyOutcome, Interrupt};
use crate::event::ObjectRef;
use crate::exit::{self, ExitError};
use crate::plan::{self, PlanError};
use crate::report::{CiMode, OutputSettings, Progress, Reporter};
use crate::track::{self, TrackTarget, targets::is_custom_group};

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

    /// Wait until every applied object is ready, failing fast with the reason; `--wait=false`
    /// returns as soon as the objects are applied.
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

    /// Result format on standard output: `text` (one line per object), or `json` (one JSON
    /// document for the whole run; human output then goes to standard error).
    #[arg(
        short = 'o',
        long,
        value_enum,
        default_value = "text",
        env = "KPUSH_OUTPUT"
    )]
    output: Output,

    /// Progress display while waiting: live rows on a terminal, or plain lines for logs.
    #[arg(long, value_enum, env = "KPUSH_PROGRESS", default_value = "auto")]
    progress: Progress,
}

/// Connects; exit code 2 for unusable flags or kubeconfig, 6 when no client can be built.
pub(super) async fn connect(args: &ClusterArgs) -> Result<(kube::Client, String), ExitError> {
    cluster_args::connect_to(args)
        .await
        .map_err(|e| ExitError::new(exit::of_connect_error(&e), e))
}

/// The error with advice for unreachable and unauthenticated servers.
pub(super) fn explain(e: &PlanError, server: &str) -> String {
    match e {
        PlanError::Unreachable(m) => unreachable_advice(m, server),
        PlanError::Unauthorized(m) => format!(
            "the API server at {server} did not accept the credentials: {m}; with a kubeconfig, \
             check its user (token expired? exec plugin logged in?) and --context; with \
             --aks-cluster, check that the cluster uses Microsoft Entra ID integration and that \
             the identity's tenant (--tenant-id) is the cluster's"
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

/// One tracking target per applied object (unchanged ones too: a broken rollout stays broken).
fn track_targets(outcome: &ApplyOutcome) -> Vec<TrackTarget> {
    outcome
        .objects
        .iter()
        .filter(|o| o.is_applied())
        .filter_map(|o| {
            let t = o.target.as_ref()?;
            let mut key = o.object.key.clone();
            key.namespace = t.namespace.clone();
            Some(TrackTarget::from_parts(
                ObjectRef::new(key, o.object.origin.clone()),
                t.resource.clone(),
                t.namespace.clone(),
                is_custom_group(&t.resource.group) && t.has_status,
                o.generation(),
            ))
        })
        .collect()
}

pub(super) async fn run(args: ApplyArgs, ci: CiMode) -> Result<i32, ExitError> {
    let settings = OutputSettings {
        command: "apply",
        ci,
        progress: args.progress,
        json: args.output == Output::Json,
        verbose: args.verbose,
    };
    let reporter = Reporter::new(&settings, &super::process_env());
    let result = run_with(&args, &reporter).await;
    reporter.finish(&result)?;
    result
}

async fn run_with(args: &ApplyArgs, reporter: &Reporter) -> Result<i32, ExitError> {
    let mut manifests = args.manifests.render(reporter)?;
    let (client, server) = connect(&args.cluster).await?;
    let namespace = args
        .manifests
        .namespace
        .clone()
        .unwrap_or_else(|| client.default_namespace().to_string());
    args.plan.add_namespace(&mut manifests, &namespace);
    let mut opts = args.plan.to_options(&namespace);
    opts.preflight = !args.no_preflight;
    opts.recreate_on_immutable = args.recreate_on_immutable;
    let interrupt = Interrupt::on_signals();
    let plan = plan::plan(&client, manifests, opts, reporter)
        .await
        .map_err(|e| {
            ExitError::new(
                exit::of_plan_error(&e),
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
    let outcome = apply::apply(&client, plan, &apply_opts, reporter, &interrupt)
        .await
        .map_err(|failure| {
            let message = match &failure.error {
                ApplyError::Plan(e) => explain(e, &server),
                ApplyError::Unreachable(m) => unreachable_advice(m, &server),
                other => other.to_string(),
            };
            ExitError::new(
                exit::of_apply_error(&failure.error),
                anyhow::anyhow!(message),
            )
        })?;
    if !args.wait_for_rollout {
        return Ok(exit::SUCCESS);
    }
    let tracked = track::track(
        &client,
        track_targets(&outcome),
        &args.wait.to_options(),
        reporter,
        interrupted(),
    )
    .await;
    Ok(exit::of_run_state(tracked.state))
}
