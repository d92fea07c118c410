//! `kpush apply`: render, plan, apply (and prune), report.

use std::time::Instant;

use clap::Args;

use super::ManifestArgs;
use super::cluster_args::{self, ClusterArgs};
use super::interrupt::interrupted;
use super::plan_args::PlanArgs;
use super::run_report::RunReporters;
use super::status_cmd::{Output, Progress, human_reporter};
use super::track_args::TrackArgs;
use crate::apply::{self, ApplyError, ApplyOptions, ApplyOutcome, Interrupt};
use crate::exit::{self, ExitError};
use crate::plan::{self, PlanError};
use crate::report::{Action, CiMode, Fanout, JsonResult, ObjectRef, Reporter, TerminalReporter};
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

    /// Progress display while waiting: live lines on a terminal, or plain lines for CI logs.
    #[arg(long, value_enum, env = "KPUSH_PROGRESS", default_value = "auto")]
    progress: Progress,
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

/// One tracking target per applied object (unchanged ones too: a broken rollout stays broken).
fn track_targets(outcome: &ApplyOutcome) -> Vec<TrackTarget> {
    outcome
        .objects
        .iter()
        .filter(|o| o.is_applied())
        .filter_map(|o| {
            let t = o.target.as_ref()?;
            let mut key = o.key.clone();
            key.namespace = t.namespace.clone();
            Some(TrackTarget::from_parts(
                ObjectRef::new(&key, Some(&o.origin)),
                t.resource.clone(),
                t.namespace.clone(),
                is_custom_group(&t.resource.group) && t.has_status,
                o.generation(),
            ))
        })
        .collect()
}

pub(super) async fn run(args: ApplyArgs, ci: CiMode) -> Result<i32, ExitError> {
    let json_output = args.output == Output::Json;
    let json = JsonResult::default();
    let terminal = if json_output {
        // Standard output carries only the JSON document.
        TerminalReporter::new(
            Box::new(std::io::stderr()),
            Box::new(std::io::stderr()),
            false,
            args.verbose,
        )
    } else {
        TerminalReporter::stdio(args.verbose)
    };
    // In GitHub Actions or Azure Pipelines the CI reporter takes the terminal's place.
    let run = RunReporters::new("apply", Box::new(terminal), ci);
    let code = run_with(&args, &json, &run).await;
    run.finish(&code);
    if json_output {
        let exit_code = match &code {
            Ok(c) => *c,
            Err(e) => e.code,
        };
        let mut out = std::io::stdout().lock();
        use std::io::Write;
        out.write_all(json.render(exit_code).as_bytes())
            .and_then(|_| out.flush())
            .map_err(|e| ExitError::new(exit::INTERNAL, e))?;
    }
    code
}

async fn run_with(
    args: &ApplyArgs,
    json: &JsonResult,
    run: &RunReporters,
) -> Result<i32, ExitError> {
    let started = Instant::now();
    let json_output = args.output == Output::Json;
    let mut sinks: Vec<&dyn Reporter> = vec![run];
    if json_output {
        sinks.push(json);
    }
    let reporter = Fanout::new(sinks);
    let mut manifests = args.manifests.render(&reporter)?;
    run.set_images(crate::render::images::images(&manifests));
    let (client, server) = connect(&args.cluster).await?;
    let namespace = args
        .manifests
        .namespace
        .clone()
        .unwrap_or_else(|| client.default_namespace().to_string());
    args.plan.add_namespace(&mut manifests, &namespace);
    let mut opts = args.plan.to_options(&namespace);
    opts.retry = args.cluster.retry_policy(Some(started + args.wait.timeout));
    opts.preflight = !args.no_preflight;
    opts.recreate_on_immutable = args.recreate_on_immutable;
    let interrupt = Interrupt::on_signals();
    let plan = plan::plan(&client, manifests, opts, &reporter)
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
    match apply::apply(&client, plan, &apply_opts, &reporter, &interrupt).await {
        Ok(outcome) => {
            let line = format!(
                "{} in {:.2}s",
                summary(&outcome),
                started.elapsed().as_secs_f64()
            );
            if json_output {
                eprintln!("{line}");
            } else {
                println!("{line}");
            }
            if !args.wait_for_rollout {
                return Ok(exit::SUCCESS);
            }
            let human = human_reporter(args.progress);
            // The CI reporter prints rollout lines itself (and annotates failures).
            let mut sinks: Vec<&dyn Reporter> = vec![run];
            if !run.in_ci() {
                sinks.push(human.as_ref());
            }
            if json_output {
                sinks.push(json);
            }
            let tracked = track::track(
                &client,
                track_targets(&outcome),
                &args.wait.to_options(),
                &Fanout::new(sinks),
                interrupted(),
            )
            .await;
            Ok(tracked.exit_code())
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
