//! The short loop of one deploy to one cluster: plan → prune check → take over → hooks →
//! apply (and prune) → track → post hooks. Releases ([`super::release`]) and Fleet
//! ([`super::fleet`]) wrap it.

use crate::apply::{self, ApplyError, ApplyOptions, ApplyOutcome, Interrupt};
use crate::event::Sink;
use crate::plan::{self, permissions};
use crate::track;

use super::error::{self, DeployError, Verdict};
use super::explain::{applied_before, explain, plan_failed, unreachable_advice};
use super::prune_check::{check_prune, rendered};
use super::tracking::track_targets;

/// Everything one deploy to one cluster needs besides the manifests: apply and rollback share
/// it.
#[derive(Clone)]
pub struct Deployer<'a> {
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
    /// Cancellation (the command line sets it on Ctrl-C and SIGTERM).
    pub interrupt: Interrupt,
    /// Take over objects last applied by kubectl or Helm (`--no-adopt` turns it off).
    pub adopt: bool,
}

/// What one deploy did: its verdict (or error), and what applying did when it got that far.
pub struct Deployed {
    /// The verdict, or the error that stopped it.
    pub result: Result<Verdict, DeployError>,
    /// Per object, when applying ran.
    pub outcome: Option<ApplyOutcome>,
}

impl Deployer<'_> {
    /// The settings that decide which permissions this deploy needs.
    pub fn permission_settings(&self) -> permissions::Settings {
        permission_settings(
            self.wait.as_ref(),
            self.plan.applyset.clone(),
            &self.apply,
            self.plan.recreate_on_immutable,
        )
    }

    /// Refuses, before anything changes, a prune the guard does not allow: an empty render
    /// (`--allow-empty`) or more of the release than `--prune-limit`. Returns what it read,
    /// for the prune after applying (`None` without prune or a release).
    pub async fn check_prune(
        &self,
        plan: &plan::Plan,
        rendered: usize,
    ) -> Result<Option<apply::prune::Preview>, DeployError> {
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
    pub async fn deploy(&self, manifests: Vec<crate::Manifest>) -> Deployed {
        self.deploy_with_timeout(manifests, None).await
    }

    /// [`Deployer::deploy`], tracking with `timeout` instead of `--timeout` when given.
    pub async fn deploy_with_timeout(
        &self,
        manifests: Vec<crate::Manifest>,
        timeout: Option<std::time::Duration>,
    ) -> Deployed {
        let server = self.server;
        let rendered = rendered(&manifests);
        // Preflight runs after kpush took over objects other tools applied (adoption::take_over).
        let mut opts = self.plan.clone();
        opts.preflight = false;
        // Planning and the prune check change nothing: a cancellation stops them at once.
        let checked = super::cancel::unless_cancelled(&self.interrupt, async {
            let plan = plan::plan(self.client, manifests, opts, self.reporter)
                .await
                .map_err(|e| plan_failed(&e, server, Some("nothing was applied")))?;
            let preview = self.check_prune(&plan, rendered).await?;
            Ok((plan, preview))
        })
        .await;
        let (plan, preview) = match checked {
            Ok(c) if !self.interrupt.is_set() => c,
            Ok(_) => {
                return Deployed {
                    result: Err(super::cancel::before_changes()),
                    outcome: None,
                };
            }
            Err(e) => {
                return Deployed {
                    result: Err(e),
                    outcome: None,
                };
            }
        };
        let failed = |result: DeployError| Deployed {
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
        let hooks = super::hooks::Hooks {
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
                    result: Err(DeployError::new(
                        error::of_apply_error(&failure.error),
                        anyhow::anyhow!(message),
                    )),
                    outcome: Some(failure.outcome),
                };
            }
        };
        let Some(mut wait) = self.wait.clone() else {
            return Deployed {
                result: hooks.run_post(post_hooks).await.map(|()| Verdict::Success),
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
            self.interrupt.cancelled(),
        )
        .await;
        let result = match tracked.is_success() {
            true => hooks.run_post(post_hooks).await,
            false => Ok(()),
        };
        Deployed {
            result: result.map(|()| Verdict::of_run_state(tracked.state)),
            outcome: Some(outcome),
        }
    }
}

/// The settings that decide which permissions a deploy needs: `wait` (tracking on the cluster
/// applied to; `None` through a fleet or with `--wait=false`), its release, prune and
/// recreation. `kpush apply`'s access check and `kpush rbac` both ask this one function.
pub fn permission_settings(
    wait: Option<&track::TrackOptions>,
    release: Option<plan::ApplySet>,
    apply: &ApplyOptions,
    recreate_on_immutable: bool,
) -> permissions::Settings {
    permissions::Settings {
        wait: wait.is_some(),
        logs: wait.is_some_and(|w| w.log_lines > 0),
        release,
        prune: apply.prune,
        prune_namespaces_and_crds: apply.prune_namespaces_and_crds,
        recreate_on_immutable,
        beside: Vec::new(),
    }
}
