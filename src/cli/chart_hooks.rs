//! Running a chart's Helm hooks around `kpush apply`'s own apply and tracking.

use kube::Client;

use super::apply_cmd::{track_targets, unreachable_advice};
use super::interrupt::interrupted;
use crate::apply::hooks as run;
use crate::apply::{self, ApplyError, ApplyFailure, ApplyOptions, Interrupt};
use crate::event::Sink;
use crate::exit::{self, ExitError};
use crate::plan::Plan;
use crate::plan::hooks::{self, HookGroup};
use crate::track::{self, ObjectState, TrackOptions, TrackOutcome};

/// Drops Helm hook objects from `manifests` (for diff and status), saying how many.
pub(super) fn leave_out_hooks(manifests: &mut Vec<crate::Manifest>, sink: &dyn Sink) {
    let before = manifests.len();
    manifests.retain(|m| hooks::hook_of(m).is_none());
    let left_out = before - manifests.len();
    if left_out > 0 {
        sink.event(&crate::event::Event::Info {
            message: format!(
                "left out {left_out} Helm hook object(s): hooks run only during kpush apply"
            ),
        });
    }
}

/// Why running hooks stopped the deploy.
enum HookStop {
    /// Applying a hook failed.
    Apply(ApplyFailure),
    /// A hook failed or did not finish in time (its diagnosis was reported while tracking).
    Failed(TrackOutcome),
    /// Deleting a hook object failed.
    Delete(String),
}

/// What running hooks needs from `kpush apply`.
pub(super) struct Hooks<'a> {
    pub client: &'a Client,
    pub apply: &'a ApplyOptions,
    pub track: TrackOptions,
    pub sink: &'a dyn Sink,
    pub interrupt: &'a Interrupt,
}

impl Hooks<'_> {
    /// Splits off the plan's hooks, runs the pre-install (or pre-upgrade) ones, and returns the
    /// release's plan and the hooks to run once it is ready.
    pub async fn run_pre(&self, plan: Plan) -> Result<(Plan, Vec<HookGroup>), ExitError> {
        if !hooks::has_hooks(&plan) {
            return Ok((plan, Vec::new()));
        }
        let release = run::release_state(self.client, &plan)
            .await
            .map_err(|e| ExitError::new(exit::APPLY_REJECTED, e))?;
        let phases = hooks::split(plan, release);
        run::report_not_run(&phases, release, self.sink);
        self.run(phases.pre, "pre").await?;
        Ok((phases.main, phases.post))
    }

    /// Runs the post-install (or post-upgrade) hooks.
    pub async fn run_post(&self, groups: Vec<HookGroup>) -> Result<(), ExitError> {
        self.run(groups, "post").await
    }

    async fn run(&self, groups: Vec<HookGroup>, when: &str) -> Result<(), ExitError> {
        if groups.is_empty() {
            return Ok(());
        }
        let stop = self.run_groups(groups).await;
        let after = if when == "pre" {
            "; the release's objects were not applied"
        } else {
            "; the release's objects are applied and ready, the later hooks did not run"
        };
        match stop {
            Ok(()) => Ok(()),
            Err(HookStop::Apply(failure)) => {
                let code = exit::of_apply_error(&failure.error);
                let message = match &failure.error {
                    ApplyError::Unreachable(m) => unreachable_advice(m, "the cluster"),
                    other => other.to_string(),
                };
                Err(ExitError::new(
                    code,
                    anyhow::anyhow!("a {when}-deploy hook could not be applied: {message}{after}"),
                ))
            }
            Err(HookStop::Failed(tracked)) => {
                let failed: Vec<String> = tracked
                    .objects
                    .iter()
                    .filter(|o| o.state != ObjectState::Ready && o.state != ObjectState::Skipped)
                    .map(|o| {
                        let at = o
                            .object
                            .origin
                            .as_ref()
                            .map(|origin| format!(" ({origin})"))
                            .unwrap_or_default();
                        format!("{} {}{at}", o.object.key.kind, o.object.key.name)
                    })
                    .collect();
                Err(ExitError::new(
                    exit::of_run_state(tracked.state),
                    anyhow::anyhow!(
                        "{when}-deploy hook {} did not succeed{after}",
                        failed.join(", ")
                    ),
                ))
            }
            Err(HookStop::Delete(message)) => Err(ExitError::new(
                exit::APPLY_REJECTED,
                anyhow::anyhow!(message),
            )),
        }
    }

    /// Each group in order: delete previous objects (before-hook-creation), apply, track to
    /// completion, delete as the policy says; stops at the first group that did not succeed.
    async fn run_groups(&self, groups: Vec<HookGroup>) -> Result<(), HookStop> {
        let apply_opts = ApplyOptions {
            prune: false,
            ..self.apply.clone()
        };
        for group in groups {
            let names: Vec<String> = group
                .plan
                .objects
                .iter()
                .map(|o| o.manifest.key().to_string())
                .collect();
            self.sink.event(&crate::event::Event::Info {
                message: format!(
                    "running hooks of weight {}: {}",
                    group.weight,
                    names.join(", ")
                ),
            });
            run::delete_before_creation(self.client, &group, self.sink)
                .await
                .map_err(HookStop::Delete)?;
            let outcome = apply::apply(
                self.client,
                group.plan.clone(),
                &apply_opts,
                self.sink,
                self.interrupt,
            )
            .await
            .map_err(HookStop::Apply)?;
            let tracked = track::track(
                self.client,
                track_targets(&outcome),
                &self.track,
                self.sink,
                interrupted(),
            )
            .await;
            let succeeded: Vec<Option<bool>> = group
                .plan
                .objects
                .iter()
                .map(|o| {
                    let state = tracked
                        .objects
                        .iter()
                        .find(|t| {
                            t.object.key.name == o.manifest.name()
                                && t.object.key.kind == o.manifest.kind()
                        })
                        .map(|t| t.state);
                    match state {
                        Some(ObjectState::Ready) => Some(true),
                        Some(ObjectState::Failed) => Some(false),
                        _ => None,
                    }
                })
                .collect();
            run::delete_after(self.client, &group, &succeeded, self.sink)
                .await
                .map_err(HookStop::Delete)?;
            if !tracked.is_success() {
                return Err(HookStop::Failed(tracked));
            }
        }
        Ok(())
    }
}
