//! `kpush apply`: render, plan, apply (and prune), report.

use clap::Args;

use super::ManifestArgs;
use super::cluster_args::{self, ClusterArgs};
use super::fleet_args::FleetArgs;
use super::interrupt::interrupted;
use super::plan_args::PlanArgs;
use super::release_args::{ReleaseArgs, ReleaseSettings};
use super::release_run::{self, Source};
use super::status_cmd::Output;
use super::targets_file::Target;
use super::targets_run::{self, Renders, TargetsArgs};
use super::track_args::TrackArgs;
use crate::apply::{self, ApplyError, ApplyOptions, ApplyOutcome, Interrupt};
use crate::event::{ObjectRef, Sink};
use crate::exit::{self, ExitError};
use crate::plan::{self, PlanError, permissions};
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
    targets: TargetsArgs,

    #[command(flatten)]
    plan: PlanArgs,

    /// Skip the server-side dry-run of every object before applying (faster; a rejection can
    /// then leave earlier objects applied).
    #[arg(long, env = "KPUSH_NO_PREFLIGHT")]
    no_preflight: bool,

    /// Skip the access check: before changing anything, kpush asks the API server
    /// (SelfSubjectAccessReview) whether it may make every request the apply needs, and stops
    /// naming each missing permission. Turn it off only where the authorizer answers those
    /// reviews unreliably (see docs/rbac.md).
    #[arg(long, env = "KPUSH_NO_RBAC_CHECK")]
    no_rbac_check: bool,

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

    #[command(flatten)]
    fleet: FleetArgs,

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

/// The exit error of a failed plan: its exit code and [`explain`]'s message, followed by
/// `then` when given ("nothing was applied").
pub(super) fn plan_failed(e: &PlanError, server: &str, then: Option<&str>) -> ExitError {
    let message = explain(e, server);
    let message = match then {
        Some(then) => format!("{message}; {then}"),
        None => message,
    };
    ExitError::new(exit::of_plan_error(e), anyhow::anyhow!(message))
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

pub(super) fn unreachable_advice(m: &str, server: &str) -> String {
    format!(
        "cannot reach the API server at {server}: {m}; check that the cluster is running, the \
         kubeconfig's server address and --context, and your network (VPN, firewall, private cluster)"
    )
}

/// A failed check after the first wave, followed by what that wave applied ("applied before
/// this check: CustomResourceDefinition gadgets.example.com (configured); nothing else was
/// applied").
fn applied_before(message: String, outcome: &ApplyOutcome) -> String {
    use crate::event::Action;
    let changed: Vec<String> = outcome
        .objects
        .iter()
        .filter(|o| {
            matches!(
                o.action,
                Action::Created | Action::Configured | Action::Recreated | Action::Unknown
            )
        })
        .map(|o| format!("{} ({})", o.object.key, o.action.word()))
        .collect();
    const SHOWN: usize = 10;
    let more = match changed.len() > SHOWN {
        true => format!(" and {} more", changed.len() - SHOWN),
        false => String::new(),
    };
    match changed.is_empty() {
        true => format!("{message}; nothing was changed"),
        false => format!(
            "{message}; applied before this check: {}{more}; nothing else was applied",
            changed[..changed.len().min(SHOWN)].join(", ")
        ),
    }
}

/// One tracking target per applied object (unchanged ones too: a broken rollout stays broken).
pub(super) fn track_targets(outcome: &ApplyOutcome) -> Vec<TrackTarget> {
    outcome
        .objects
        .iter()
        .filter(|o| o.is_applied())
        .filter_map(|o| {
            let t = o.target.as_ref()?;
            let mut key = o.object.key.clone();
            key.namespace = t.namespace.clone();
            Some(
                TrackTarget::from_parts(
                    ObjectRef::new(key, o.object.origin.clone()),
                    t.resource.clone(),
                    t.namespace.clone(),
                    is_custom_group(&t.resource.group) && t.has_status,
                    o.generation(),
                )
                .written_at(o.written_at()),
            )
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
    let result = match &args.targets.targets {
        Some(file) => {
            let renders = Renders::default();
            let each = async |t: &Target, sink: &dyn Sink| {
                let (cluster, manifests) = t.args(&args.cluster, &args.manifests);
                run_with(&args, &cluster, &manifests, sink, &renders).await
            };
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
            let renders = Renders::default();
            run_with(&args, &args.cluster, &args.manifests, &reporter, &renders).await
        }
    };
    reporter.finish(&result)?;
    result
}

/// Whether a target's exit code stops a sequential multi-cluster apply.
fn stops(code: i32) -> bool {
    code != exit::SUCCESS
}

async fn run_with(
    args: &ApplyArgs,
    cluster: &ClusterArgs,
    manifest_args: &ManifestArgs,
    reporter: &dyn Sink,
    renders: &Renders,
) -> Result<i32, ExitError> {
    let started = std::time::Instant::now();
    let bad = |e: String| ExitError::new(exit::BAD_INPUT, anyhow::anyhow!(e));
    let prune = args.plan.prune().map_err(bad)?;
    let (mut manifests, client, server) = renders
        .render_connected(manifest_args, cluster, reporter, args.plan.release_name())
        .await?;
    let namespace = manifest_args
        .namespace
        .clone()
        .unwrap_or_else(|| client.default_namespace().to_string());
    args.plan.add_namespace(&mut manifests, &namespace);
    let mut opts = args.plan.to_options(&namespace);
    let retry = cluster.retry_policy(Some(started + args.wait.timeout));
    opts.retry = retry;
    opts.preflight = !args.no_preflight;
    opts.recreate_on_immutable = args.recreate_on_immutable;
    let through_fleet = args.fleet.through_fleet(cluster.azure.fleet.as_deref());
    let deploy = Deploy {
        client: &client,
        server: &server,
        reporter,
        plan: opts,
        apply: ApplyOptions {
            prune,
            prune_namespaces_and_crds: args.plan.prune_namespaces_and_crds,
            prune_guard: args.plan.guard.guard(),
            ..Default::default()
        },
        // Tracking re-establishes its watches within the same run-wide budget. Through a
        // fleet, workloads run on the members: the hub's copies are never tracked.
        wait: (args.wait_for_rollout && !through_fleet).then(|| track::TrackOptions {
            retry,
            watch_deadline: args.wait.watch_deadline_within(cluster.request_timeout),
            ..args.wait.to_options()
        }),
        interrupt: Interrupt::on_signals(),
        adopt: !args.plan.no_adopt,
    };
    // A fleet deploy's placement is settled (generated) first, so the access check covers it
    // and what following it asks of the hub.
    let fleet = match through_fleet {
        true => Some(super::fleet_run::prepare(
            &mut manifests,
            &args.fleet,
            &namespace,
            args.wait_for_rollout,
            args.plan.release_name().is_some(),
        )?),
        false => None,
    };
    if !args.no_rbac_check {
        let beside = fleet.as_ref().map(|f| super::rbac_check::Beside {
            permissions: f.permissions.clone(),
            fleet: true,
            fleet_id: cluster.fleet_id(),
        });
        super::rbac_check::check(&deploy, &manifests, &namespace, beside.unwrap_or_default())
            .await?;
    }
    if let Some(fleet) = fleet {
        let wait = args
            .wait_for_rollout
            .then(|| crate::fleet::FleetTrackOptions {
                timeout: args.wait.timeout,
                ..Default::default()
            });
        return super::fleet_run::deploy(&deploy, manifests, &fleet.placement, &args.fleet, wait)
            .await;
    }
    match args.plan.release_name() {
        Some(name) => {
            let release = crate::release::Release::new(name, &namespace).map_err(bad)?;
            let settings = ReleaseSettings {
                allow_other_namespaces: manifest_args.allow_other_namespaces,
                ..args.release.settings()
            };
            release_run::deploy(&deploy, &release, &settings, Source::Manifests(manifests)).await
        }
        None => deploy.deploy(manifests).await.result,
    }
}

/// Everything one deploy needs besides the manifests: apply and rollback share it.
#[derive(Clone)]
pub(super) struct Deploy<'a> {
    /// The cluster.
    pub client: &'a kube::Client,
    /// Its address, for advice.
    pub server: &'a str,
    /// Where events go: the run's reporter, or one target's scope of it.
    pub reporter: &'a dyn Sink,
    /// Plan settings (ApplySet included).
    pub plan: plan::PlanOptions,
    /// Apply settings.
    pub apply: ApplyOptions,
    /// Tracking settings; `None` with `--wait=false`.
    pub wait: Option<track::TrackOptions>,
    /// Ctrl-C and SIGTERM.
    pub interrupt: Interrupt,
    /// Take over objects last applied by kubectl or Helm (`--no-adopt` turns it off).
    pub adopt: bool,
}

/// What one deploy did: its exit code (or error), and what applying did when it got that far.
pub(super) struct Deployed {
    /// The exit code, or the error to print.
    pub result: Result<i32, ExitError>,
    /// Per object, when applying ran.
    pub outcome: Option<ApplyOutcome>,
}

impl Deploy<'_> {
    /// The settings that decide which permissions this deploy needs.
    pub(super) fn permission_settings(&self) -> permissions::Settings {
        permissions::Settings {
            wait: self.wait.is_some(),
            logs: self.wait.as_ref().is_some_and(|w| w.log_lines > 0),
            release: self.plan.applyset.clone(),
            prune: self.apply.prune,
            prune_namespaces_and_crds: self.apply.prune_namespaces_and_crds,
            recreate_on_immutable: self.plan.recreate_on_immutable,
            beside: Vec::new(),
        }
    }

    /// Refuses, before anything changes, a prune the guard does not allow: an empty render
    /// (`--allow-empty`) or more of the release than `--prune-limit`. Returns what it read,
    /// for the prune after applying (`None` without prune or a release).
    pub(super) async fn check_prune(
        &self,
        plan: &plan::Plan,
        rendered: usize,
    ) -> Result<Option<apply::prune::Preview>, ExitError> {
        if !self.apply.prune {
            return Ok(None);
        }
        check_prune(
            self.client,
            plan,
            rendered,
            &self.apply.prune_guard,
            self.apply.prune_namespaces_and_crds,
        )
        .await
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
        let server = self.server;
        let rendered = rendered(&manifests);
        // Preflight runs after kpush took over objects other tools applied (adoption::take_over).
        let mut opts = self.plan.clone();
        opts.preflight = false;
        let plan = match plan::plan(self.client, manifests, opts, self.reporter).await {
            Ok(p) => p,
            Err(e) => {
                return Deployed {
                    result: Err(plan_failed(&e, server, Some("nothing was applied"))),
                    outcome: None,
                };
            }
        };
        let preview = match self.check_prune(&plan, rendered).await {
            Ok(preview) => preview,
            Err(e) => {
                return Deployed {
                    result: Err(e),
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
        let failed = |result: ExitError| Deployed {
            result: Err(result),
            outcome: None,
        };
        let plan = match super::adoption::take_over(
            self.client,
            plan,
            self.plan.preflight,
            self.adopt,
            server,
            self.reporter,
        )
        .await
        {
            Ok(plan) => plan,
            Err(e) => return failed(e),
        };
        // The prune reuses what the check read, unless a chart's hooks run in between (a hook
        // is applied as its own plan, which records its kinds in the parent and may change the
        // release's objects): then the apply reads the parent and lists the members again.
        let preview = preview.filter(|_| !crate::plan::hooks::has_hooks(&plan));
        // A chart's hooks: pre-install/upgrade ones run now, post ones after the release is ready.
        let hooks = super::chart_hooks::Hooks {
            client: self.client,
            apply: &self.apply,
            track: self.wait.clone().unwrap_or_default(),
            sink: self.reporter,
            interrupt: &self.interrupt,
        };
        let (plan, post_hooks) = match hooks.run_pre(plan).await {
            Ok(phases) => phases,
            Err(e) => return failed(e),
        };
        let outcome = match apply::apply_previewed(
            self.client,
            plan,
            &self.apply,
            self.reporter,
            &self.interrupt,
            preview,
        )
        .await
        {
            Ok(outcome) => outcome,
            Err(failure) => {
                let message = match &failure.error {
                    ApplyError::Plan(e) => applied_before(explain(e, server), &failure.outcome),
                    ApplyError::Unreachable(m) => unreachable_advice(m, server),
                    other => other.to_string(),
                };
                return Deployed {
                    result: Err(ExitError::new(
                        exit::of_apply_error(&failure.error),
                        anyhow::anyhow!(message),
                    )),
                    outcome: Some(failure.outcome),
                };
            }
        };
        let Some(mut wait) = self.wait.clone() else {
            return Deployed {
                result: hooks.run_post(post_hooks).await.map(|()| exit::SUCCESS),
                outcome: Some(outcome),
            };
        };
        if let Some(t) = timeout {
            wait.timeout = t;
        }
        let tracked = track::track(
            self.client,
            track_targets(&outcome),
            &wait,
            self.reporter,
            interrupted(),
        )
        .await;
        let result = match tracked.is_success() {
            true => hooks.run_post(post_hooks).await,
            false => Ok(()),
        };
        Deployed {
            result: result.map(|()| exit::of_run_state(tracked.state)),
            outcome: Some(outcome),
        }
    }
}

/// How many of `manifests` the render produced: not the objects flags add, whose origin is
/// the flag (the Namespace of `--create-namespace`, a fleet's generated `--placement`).
pub(super) fn rendered(manifests: &[crate::Manifest]) -> usize {
    manifests
        .iter()
        .filter(|m| !m.origin.file.starts_with("--"))
        .count()
}

/// Lists what a prune after `plan` would delete and checks it against `guard`; returns what
/// it read, the candidates among it (`None` without an ApplySet). Nothing is changed.
pub(super) async fn check_prune(
    client: &kube::Client,
    plan: &plan::Plan,
    rendered: usize,
    guard: &apply::PruneGuard,
    prune_definitions: bool,
) -> Result<Option<apply::prune::Preview>, ExitError> {
    let preview = apply::prune::preview(client, plan, prune_definitions)
        .await
        .map_err(|e| {
            let error = match e {
                apply::prune::PruneError::NotOurs(m) => ApplyError::ApplySet(m),
                apply::prune::PruneError::Request(f) => match f {
                    crate::cluster::Failure::Unreachable(m)
                    | crate::cluster::Failure::InFlight(m) => ApplyError::Unreachable(m),
                    crate::cluster::Failure::Unauthorized(m) => ApplyError::Unauthorized(m),
                    f @ crate::cluster::Failure::Transient { .. } => {
                        ApplyError::Unreachable(f.message())
                    }
                    other => ApplyError::ApplySet(format!(
                        "cannot list the release's members to check the prune: {}",
                        other.message()
                    )),
                },
            };
            ExitError::new(
                exit::of_apply_error(&error),
                anyhow::anyhow!("{error}; nothing was applied"),
            )
        })?;
    let (Some(preview), Some(set)) = (preview, plan.options.applyset.as_ref()) else {
        return Ok(None);
    };
    let members = &preview.members;
    guard
        .check(&set.name, rendered, members.count, &members.candidates)
        .map_err(|r| ExitError::new(exit::of_prune_refusal(&r), r))?;
    Ok(Some(preview))
}
