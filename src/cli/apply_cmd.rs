//! `kpush apply`: render, plan, apply (and prune), report.

use std::time::Instant;

use clap::Args;

use super::ManifestArgs;
use super::cluster_args::{self, ClusterArgs};
use super::interrupt::interrupted;
use super::plan_args::PlanArgs;
use super::release_args::ReleaseArgs;
use super::release_run::{self, Source};
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

    #[command(flatten)]
    release: ReleaseArgs,

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
    let json_output = args.output == Output::Json;
    let mut sinks: Vec<&dyn Reporter> = vec![run];
    if json_output {
        sinks.push(json);
    }
    let reporter = Fanout::new(sinks);
    let mut manifests = args.manifests.render(&reporter)?;
    run.set_images(crate::render::images::images(&manifests));
    let bad = |e: String| ExitError::new(exit::BAD_INPUT, anyhow::anyhow!(e));
    let prune = args.plan.prune().map_err(bad)?;
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
    let deploy = Deploy {
        client: &client,
        server: &server,
        run,
        json: json_output.then_some(json),
        progress: args.progress,
        plan: opts,
        apply: ApplyOptions {
            prune,
            prune_namespaces_and_crds: args.plan.prune_namespaces_and_crds,
            ..Default::default()
        },
        wait: args.wait_for_rollout.then(|| args.wait.to_options()),
        interrupt: Interrupt::on_signals(),
    };
    match args.plan.release_name() {
        Some(name) => {
            let release = crate::release::Release::new(name, &namespace).map_err(bad)?;
            let settings = args.release.settings();
            release_run::deploy(&deploy, &release, &settings, Source::Manifests(manifests)).await
        }
        None => deploy.deploy(manifests).await.result,
    }
}

/// Everything one deploy needs besides the manifests: apply and rollback share it.
pub(super) struct Deploy<'a> {
    /// The cluster.
    pub client: &'a kube::Client,
    /// Its address, for advice.
    pub server: &'a str,
    /// The run's reporters.
    pub run: &'a RunReporters,
    /// The JSON result, with `-o json`.
    pub json: Option<&'a JsonResult>,
    /// Progress display while tracking.
    pub progress: Progress,
    /// Plan settings (ApplySet included).
    pub plan: plan::PlanOptions,
    /// Apply settings.
    pub apply: ApplyOptions,
    /// Tracking settings; `None` with `--wait=false`.
    pub wait: Option<track::TrackOptions>,
    /// Ctrl-C and SIGTERM.
    pub interrupt: Interrupt,
}

/// What one deploy did: its exit code (or error), and what applying did when it got that far.
pub(super) struct Deployed {
    /// The exit code, or the error to print.
    pub result: Result<i32, ExitError>,
    /// Per object, when applying ran.
    pub outcome: Option<ApplyOutcome>,
}

impl Deploy<'_> {
    fn reporter(&self) -> Fanout<'_> {
        let mut sinks: Vec<&dyn Reporter> = vec![self.run];
        if let Some(json) = self.json {
            sinks.push(json);
        }
        Fanout::new(sinks)
    }

    /// Plans, applies (and prunes), then tracks `manifests`.
    pub(super) async fn deploy(&self, manifests: Vec<crate::Manifest>) -> Deployed {
        self.deploy_with_timeout(manifests, None).await
    }

    /// [`Deploy::deploy`], tracking with `timeout` instead of `--timeout` when given.
    pub(super) async fn deploy_with_timeout(
        &self,
        manifests: Vec<crate::Manifest>,
        timeout: Option<std::time::Duration>,
    ) -> Deployed {
        let started = Instant::now();
        let reporter = self.reporter();
        let server = self.server;
        let plan = match plan::plan(self.client, manifests, self.plan.clone(), &reporter).await {
            Ok(p) => p,
            Err(e) => {
                return Deployed {
                    result: Err(ExitError::new(
                        plan_exit_code(&e),
                        anyhow::anyhow!("{}; nothing was applied", explain(&e, server)),
                    )),
                    outcome: None,
                };
            }
        };
        if self.interrupt.is_set() {
            return Deployed {
                result: Err(ExitError::new(
                    exit::INTERRUPTED,
                    anyhow::anyhow!("interrupted before applying anything; nothing was changed"),
                )),
                outcome: None,
            };
        }
        match apply::apply(self.client, plan, &self.apply, &reporter, &self.interrupt).await {
            Ok(outcome) => {
                let line = format!(
                    "{} in {:.2}s",
                    summary(&outcome),
                    started.elapsed().as_secs_f64()
                );
                if self.json.is_some() {
                    eprintln!("{line}");
                } else {
                    println!("{line}");
                }
                let Some(mut wait) = self.wait.clone() else {
                    return Deployed {
                        result: Ok(exit::SUCCESS),
                        outcome: Some(outcome),
                    };
                };
                if let Some(t) = timeout {
                    wait.timeout = t;
                }
                let human = human_reporter(self.progress);
                // The CI reporter prints rollout lines itself (and annotates failures).
                let mut sinks: Vec<&dyn Reporter> = vec![self.run];
                if !self.run.in_ci() {
                    sinks.push(human.as_ref());
                }
                if let Some(json) = self.json {
                    sinks.push(json);
                }
                let tracked = track::track(
                    self.client,
                    track_targets(&outcome),
                    &wait,
                    &Fanout::new(sinks),
                    interrupted(),
                )
                .await;
                Deployed {
                    result: Ok(tracked.exit_code()),
                    outcome: Some(outcome),
                }
            }
            Err(failure) => {
                eprintln!("{}", summary(&failure.outcome));
                let code = apply_exit_code(&failure.error);
                let message = match &failure.error {
                    ApplyError::Plan(e) => explain(e, server),
                    ApplyError::Unreachable(m) => unreachable_advice(m, server),
                    other => other.to_string(),
                };
                Deployed {
                    result: Err(ExitError::new(code, anyhow::anyhow!(message))),
                    outcome: Some(failure.outcome),
                }
            }
        }
    }
}
