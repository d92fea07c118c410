//! Running a chart's Helm hooks around `kpush apply`'s own apply and tracking.

use kube::Client;

use super::error::DeployError;
use super::explain::unreachable_advice;
use super::tracking::track_targets;
use crate::apply::hooks as run;
use crate::apply::hooks::When;
use crate::apply::{self, ApplyError, ApplyFailure, ApplyOptions, Interrupt};
use crate::event::Outcome;
use crate::event::Sink;
use crate::plan::hooks::{self, Hook, HookGroup, Phase};
use crate::plan::{Live, Plan, PlannedObject, preflight::Preflight};
use crate::track::{self, ObjectState, TrackOptions, TrackOutcome};

/// Drops Helm hook objects from `manifests` (for diff and status), saying how many.
pub fn leave_out_hooks(manifests: &mut Vec<crate::Manifest>, sink: &dyn Sink) {
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

/// Takes a chart's Helm hook objects out of `manifests` (for diff), saying how many.
pub fn take_hooks(manifests: &mut Vec<crate::Manifest>, sink: &dyn Sink) -> Vec<crate::Manifest> {
    let (hooks, rest): (Vec<_>, Vec<_>) = std::mem::take(manifests)
        .into_iter()
        .partition(|m| hooks::hook_of(m).is_some());
    *manifests = rest;
    for m in manifests.iter().filter(|m| hooks::is_ignored_hook(m)) {
        sink.event(&crate::event::Event::Warning {
            object: Some(crate::event::ObjectRef::new(
                m.key(),
                Some(m.origin.clone()),
            )),
            message: ignored_message(m),
        });
    }
    if !hooks.is_empty() {
        sink.event(&crate::event::Event::Info {
            message: format!(
                "left out {} Helm hook object(s) from the comparison: hooks run only during \
                 kpush apply (the objects they would delete are listed)",
                hooks.len()
            ),
        });
    }
    hooks
}

/// Why the hooks of a diff could not be planned.
pub enum HookPlanError {
    /// Planning (discovery, reading live objects) failed.
    Plan(crate::plan::PlanError),
    /// Anything else, classified.
    Other(DeployError),
}

/// The live objects that `kpush apply` running `hook_manifests` beside `main` (the release's
/// plan; `crds` are its CustomResourceDefinitions) would delete, refused ones included, for
/// `kpush diff`.
pub async fn deletions(
    client: &Client,
    main: &Plan,
    mut hook_manifests: Vec<crate::Manifest>,
    crds: Vec<crate::Manifest>,
    options: crate::plan::PlanOptions,
    sink: &dyn Sink,
) -> Result<Vec<crate::event::HookDeletion>, HookPlanError> {
    if hook_manifests.is_empty() {
        return Ok(Vec::new());
    }
    // Planned beside the hooks (never deleted: only hooks are), so their kinds resolve.
    hook_manifests.extend(crds);
    let release = run::release_state(client, main)
        .await
        .map_err(|e| HookPlanError::Other(DeployError::new(Outcome::Rejected, e)))?;
    let plan = crate::plan::plan(client, hook_manifests, options, sink)
        .await
        .map_err(HookPlanError::Plan)?;
    let phases = hooks::split(plan, release).map_err(|refused| {
        HookPlanError::Other(DeployError::new(
            Outcome::InvalidInput,
            anyhow::anyhow!("{}", refused.join("\n")),
        ))
    })?;
    Ok(hooks::deletions(&phases)
        .into_iter()
        .map(|d| crate::event::HookDeletion {
            object: crate::event::ObjectRef::new(
                d.object.manifest.key(),
                Some(d.object.manifest.origin.clone()),
            ),
            policy: d.policy.to_string(),
            refused: d.refused,
        })
        .collect())
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
pub struct Hooks<'a> {
    pub client: &'a Client,
    pub apply: &'a ApplyOptions,
    pub track: TrackOptions,
    pub sink: &'a dyn Sink,
    pub interrupt: &'a Interrupt,
}

impl Hooks<'_> {
    /// Splits off the plan's hooks, runs the pre-install (or pre-upgrade) ones, and returns the
    /// release's plan and the hooks to run once it is ready. Refuses, before anything is
    /// applied, hooks of kinds kpush does not run as hooks and hooks whose deletion would
    /// delete an object the release does not own.
    pub async fn run_pre(&self, plan: Plan) -> Result<(Plan, Option<Phase>), DeployError> {
        warn_ignored(&plan, self.sink);
        // Checked on every deploy: a marker applied today would let a hook delete it tomorrow.
        let forged: Vec<String> = plan
            .objects
            .iter()
            .filter_map(|o| hooks::forged_marker(&o.manifest))
            .collect();
        if !forged.is_empty() {
            return Err(DeployError::new(
                Outcome::InvalidInput,
                anyhow::anyhow!("{}; nothing was applied", forged.join("\n")),
            ));
        }
        if !hooks::has_hooks(&plan) {
            return Ok((plan, None));
        }
        let release = run::release_state(self.client, &plan)
            .await
            .map_err(|e| DeployError::new(Outcome::Rejected, e))?;
        let phases = hooks::split(plan, release).map_err(|refused| {
            DeployError::new(
                Outcome::InvalidInput,
                anyhow::anyhow!("{}; nothing was applied", refused.join("\n")),
            )
        })?;
        let refused: Vec<String> = hooks::deletions(&phases)
            .into_iter()
            .filter_map(|d| {
                d.refused
                    .map(|reason| hooks::refusal(&d.object.manifest, d.policy, &reason))
            })
            .collect();
        if !refused.is_empty() {
            return Err(DeployError::new(
                Outcome::Rejected,
                anyhow::anyhow!("{}; nothing was applied", refused.join("\n")),
            ));
        }
        run::report_not_run(&phases, release, self.sink);
        self.run(phases.pre, "pre").await?;
        Ok((phases.main, Some(phases.post)))
    }

    /// Runs the post-install (or post-upgrade) hooks.
    pub async fn run_post(&self, phase: Option<Phase>) -> Result<(), DeployError> {
        match phase {
            Some(phase) => self.run(phase, "post").await,
            None => Ok(()),
        }
    }

    async fn run(&self, phase: Phase, when: &str) -> Result<(), DeployError> {
        if phase.is_empty() {
            return Ok(());
        }
        let stop = self.run_phase(phase).await;
        let after = if when == "pre" {
            "; the release's objects were not applied"
        } else {
            "; the release's objects are applied and ready, the later hooks did not run"
        };
        match stop {
            Ok(()) => Ok(()),
            Err(HookStop::Apply(failure)) => {
                let code = super::error::of_apply_error(&failure.error);
                let message = match &failure.error {
                    ApplyError::Unreachable(m) => unreachable_advice(m, "the cluster"),
                    other => other.to_string(),
                };
                Err(DeployError::new(
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
                Err(DeployError::new(
                    super::Verdict::of_run_state(tracked.state).outcome(),
                    anyhow::anyhow!(
                        "{when}-deploy hook {} did not succeed{after}",
                        failed.join(", ")
                    ),
                ))
            }
            Err(HookStop::Delete(message)) => Err(DeployError::new(
                Outcome::Rejected,
                anyhow::anyhow!(message),
            )),
        }
    }

    /// Helm's `execHook` for one event: each group in weight order deletes its previous
    /// objects (before-hook-creation), is applied and tracked to completion; once every group
    /// succeeded, hooks are deleted by `hook-succeeded` in reverse order. When a group fails,
    /// its failed hooks are deleted by `hook-failed`, the hooks that succeeded before by
    /// `hook-succeeded`, and the phase stops.
    async fn run_phase(&self, phase: Phase) -> Result<(), HookStop> {
        let apply_opts = ApplyOptions {
            prune: false,
            ..self.apply.clone()
        };
        let options = match phase.groups.first() {
            Some(g) => g.plan.options.clone(),
            None => return Ok(()),
        };
        let mut succeeded: Vec<(PlannedObject, Hook)> = Vec::new();
        for mut group in phase.groups {
            let names: Vec<String> = group
                .plan
                .objects
                .iter()
                .map(|o| o.manifest.key().to_string())
                .collect();
            self.sink.event(&crate::event::Event::Info {
                message: format!(
                    "running {} hooks of weight {}: {}",
                    phase.event.name(),
                    group.weight,
                    names.join(", ")
                ),
            });
            run::delete_by_policy(
                self.client,
                &options,
                &pairs(&group),
                When::BeforeCreation,
                self.sink,
            )
            .await
            .map_err(HookStop::Delete)?;
            forget_deleted(&mut group);
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
                self.interrupt.cancelled(),
            )
            .await;
            let verdicts: Vec<Option<bool>> = group
                .plan
                .objects
                .iter()
                .map(|o| {
                    // The tracked object's key is the applied one: the manifest's, in the
                    // namespace it went to (as `tracking::track_targets` builds it).
                    let mut key = o.manifest.key();
                    if let Some(t) = &o.target {
                        key.namespace = t.namespace.clone();
                    }
                    let state = tracked
                        .objects
                        .iter()
                        .find(|t| t.object.key == key)
                        .map(|t| t.state);
                    match state {
                        Some(ObjectState::Ready) => Some(true),
                        Some(ObjectState::Failed) => Some(false),
                        _ => None,
                    }
                })
                .collect();
            let members = group.plan.objects.into_iter().zip(group.hooks);
            if tracked.is_success() {
                succeeded.extend(members);
                continue;
            }
            let mut failed = Vec::new();
            for ((o, h), verdict) in members.zip(verdicts) {
                match verdict {
                    Some(true) => succeeded.push((o, h)),
                    Some(false) => failed.push((o, h)),
                    None => {}
                }
            }
            let failed: Vec<_> = failed.iter().map(|(o, h)| (o, h)).collect();
            run::delete_by_policy(self.client, &options, &failed, When::Failed, self.sink)
                .await
                .map_err(HookStop::Delete)?;
            let done: Vec<_> = succeeded.iter().map(|(o, h)| (o, h)).collect();
            run::delete_by_policy(self.client, &options, &done, When::Succeeded, self.sink)
                .await
                .map_err(HookStop::Delete)?;
            return Err(HookStop::Failed(tracked));
        }
        let done: Vec<_> = succeeded.iter().rev().map(|(o, h)| (o, h)).collect();
        run::delete_by_policy(self.client, &options, &done, When::Succeeded, self.sink)
            .await
            .map_err(HookStop::Delete)
    }
}

/// The group's objects with their hook annotations.
fn pairs(group: &HookGroup) -> Vec<(&PlannedObject, &Hook)> {
    group.plan.objects.iter().zip(&group.hooks).collect()
}

/// After `before-hook-creation` deleted the group's previous objects, what planning read of
/// them no longer holds: each is created anew (never skipped as unchanged).
fn forget_deleted(group: &mut HookGroup) {
    for (o, h) in group.plan.objects.iter_mut().zip(&group.hooks) {
        if h.delete.before_creation && matches!(o.live, Live::Present(_)) {
            o.live = Live::Absent;
            o.live_resource_version = None;
            o.live_fingerprint = None;
            if o.preflight == Preflight::Unchanged {
                o.preflight = Preflight::Create;
            }
        }
    }
}

/// Warns once per object annotated `helm.sh/hook` outside a chart: applied as an ordinary
/// object, never run or deleted as a hook.
fn warn_ignored(plan: &Plan, sink: &dyn Sink) {
    for o in plan
        .objects
        .iter()
        .filter(|o| hooks::is_ignored_hook(&o.manifest))
    {
        sink.event(&crate::event::Event::Warning {
            object: Some(crate::event::ObjectRef::new(
                o.manifest.key(),
                Some(o.manifest.origin.clone()),
            )),
            message: ignored_message(&o.manifest),
        });
    }
}

/// The warning for a manifest annotated `helm.sh/hook` that is not from a chart.
pub fn ignored_message(m: &crate::Manifest) -> String {
    format!(
        "{} ({}) is annotated helm.sh/hook but is not from a Helm chart: kpush applies it as an \
         ordinary object (hooks run, and are deleted by their policy, only for charts)",
        m.key(),
        m.origin
    )
}
