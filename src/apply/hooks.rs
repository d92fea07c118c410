//! Running a chart's hooks: each group of equal weight is applied, tracked to completion, and
//! deleted as its `helm.sh/hook-delete-policy` says; a failed hook stops the deploy.

use std::future::Future;
use std::time::{Duration, Instant};

use kube::Client;

use super::{ApplyFailure, ApplyOptions, Interrupt, apply, prune};
use crate::cluster::{self, Failure};
use crate::plan::hooks::{HookGroup, Phases, Release};
use crate::plan::{Live, Plan};
use crate::render::{Problem, ProblemKind};
use crate::report::{Event, Reporter};
use crate::track::{self, ObjectState, TrackOptions, TrackOutcome};

/// How long kpush waits for an old hook object to be gone before creating it again.
const DELETE_TIMEOUT: Duration = Duration::from_secs(60);

/// Why running hooks stopped the deploy.
#[derive(Debug)]
pub enum HookStop {
    /// Applying a hook failed.
    Apply(ApplyFailure),
    /// A hook failed or did not finish in time (its diagnosis was reported while tracking).
    Failed(TrackOutcome),
    /// Deleting an earlier hook object failed.
    Delete(String),
}

/// Install when the release's ApplySet parent does not exist and none of its objects do;
/// upgrade otherwise.
pub async fn release_state(client: &Client, plan: &Plan) -> Result<Release, prune::PruneError> {
    if let Some(set) = &plan.options.applyset
        && prune::read_parent(client, plan.options.retry, set)
            .await?
            .is_some()
    {
        return Ok(Release::Upgrade);
    }
    let any_live = plan.objects.iter().any(|o| {
        crate::plan::hooks::hook_of(&o.manifest).is_none() && matches!(o.live, Live::Present(_))
    });
    Ok(if any_live {
        Release::Upgrade
    } else {
        Release::Install
    })
}

/// Reports, once each, the hooks this deploy does not run.
pub fn report_not_run(phases: &Phases, release: Release, reporter: &dyn Reporter) {
    for n in &phases.not_run {
        let events: Vec<&str> = n.events.iter().map(|e| e.name()).collect();
        reporter.event(&Event::Problem {
            problem: Problem::warning(
                ProblemKind::Chart,
                &n.manifest.origin,
                format!(
                    "{} is a {} hook and was not run: kpush runs only {} hooks",
                    n.manifest.key(),
                    events.join(", "),
                    match release {
                        Release::Install => "pre-install and post-install",
                        Release::Upgrade => "pre-upgrade and post-upgrade",
                    }
                ),
            ),
        });
    }
}

/// Runs hook groups in order; `cancel` makes the future that stops tracking (Ctrl-C).
pub async fn run_groups<C, F>(
    client: &Client,
    groups: Vec<HookGroup>,
    apply_opts: &ApplyOptions,
    track_opts: &TrackOptions,
    reporter: &dyn Reporter,
    interrupt: &Interrupt,
    cancel: F,
) -> Result<(), HookStop>
where
    F: Fn() -> C,
    C: Future<Output = ()>,
{
    let apply_opts = ApplyOptions {
        prune: false,
        ..apply_opts.clone()
    };
    for group in groups {
        let names: Vec<String> = group
            .plan
            .objects
            .iter()
            .map(|o| o.manifest.key().to_string())
            .collect();
        reporter.event(&Event::Info {
            message: format!(
                "running hooks of weight {}: {}",
                group.weight,
                names.join(", ")
            ),
        });
        delete_before_creation(client, &group, reporter).await?;
        let outcome = apply(client, group.plan.clone(), &apply_opts, reporter, interrupt)
            .await
            .map_err(HookStop::Apply)?;
        let tracked = track::track(
            client,
            track::targets::of_applied(&outcome),
            track_opts,
            reporter,
            cancel(),
        )
        .await;
        for (o, hook) in group.plan.objects.iter().zip(&group.hooks) {
            let state = tracked
                .objects
                .iter()
                .find(|t| t.object.name == o.manifest.name() && t.object.kind == o.manifest.kind())
                .map(|t| t.state);
            let delete = match state {
                Some(ObjectState::Ready) => hook.delete.succeeded,
                Some(ObjectState::Failed) => hook.delete.failed,
                _ => false,
            };
            if delete && let Some(target) = &o.target {
                cluster::delete(client, group.plan.options.retry, target, o.manifest.name())
                    .await
                    .map_err(|f| delete_failed(o, &f))?;
                reporter.event(&Event::Info {
                    message: format!(
                        "deleted hook {} (helm.sh/hook-delete-policy)",
                        o.manifest.key()
                    ),
                });
            }
        }
        if !tracked.is_success() {
            return Err(HookStop::Failed(tracked));
        }
    }
    Ok(())
}

/// Deletes the hooks' previous objects whose policy says `before-hook-creation`, and waits until
/// they are gone.
async fn delete_before_creation(
    client: &Client,
    group: &HookGroup,
    reporter: &dyn Reporter,
) -> Result<(), HookStop> {
    let retry = group.plan.options.retry;
    for (o, hook) in group.plan.objects.iter().zip(&group.hooks) {
        let Some(target) = o.target.as_ref().filter(|_| hook.delete.before_creation) else {
            continue;
        };
        let name = o.manifest.name();
        if !cluster::delete(client, retry, target, name)
            .await
            .map_err(|f| delete_failed(o, &f))?
        {
            continue;
        }
        let started = Instant::now();
        while cluster::get(client, retry, target, name)
            .await
            .map_err(|f| delete_failed(o, &f))?
            .is_some()
        {
            if started.elapsed() > DELETE_TIMEOUT {
                return Err(HookStop::Delete(format!(
                    "{}: hook {} was deleted before creating it again \
                     (helm.sh/hook-delete-policy: before-hook-creation) but is still present \
                     after {}s; a finalizer may hold it",
                    o.manifest.origin,
                    o.manifest.key(),
                    DELETE_TIMEOUT.as_secs()
                )));
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        reporter.event(&Event::Info {
            message: format!("deleted the previous hook {}", o.manifest.key()),
        });
    }
    Ok(())
}

fn delete_failed(o: &crate::plan::PlannedObject, f: &Failure) -> HookStop {
    HookStop::Delete(format!(
        "{}: cannot delete hook {}: {}",
        o.manifest.origin,
        o.manifest.key(),
        f.message()
    ))
}
