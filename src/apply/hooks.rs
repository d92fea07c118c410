//! What applying a chart's hooks needs beyond applying objects: install or upgrade, hooks not
//! run, and deleting hook objects as their `helm.sh/hook-delete-policy` says. The CLI runs each
//! group (apply, track to completion, delete) in order.

use std::time::{Duration, Instant};

use kube::Client;

use super::prune;
use crate::cluster::{self, Failure};
use crate::event::{Event, ObjectRef, Sink};
use crate::plan::hooks::{self, Hook, Phases, Release};
use crate::plan::{Live, Plan, PlanOptions, PlannedObject};

/// How long kpush waits for an old hook object to be gone before creating it again.
const DELETE_TIMEOUT: Duration = Duration::from_secs(60);

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
pub fn report_not_run(phases: &Phases, release: Release, sink: &dyn Sink) {
    for n in &phases.not_run {
        let events: Vec<&str> = n.events.iter().map(|e| e.name()).collect();
        sink.event(&Event::Warning {
            object: Some(ObjectRef::new(
                n.manifest.key(),
                Some(n.manifest.origin.clone()),
            )),
            message: format!(
                "{} ({}) is a {} hook and was not run: kpush runs only {} hooks",
                n.manifest.key(),
                n.manifest.origin,
                events.join(", "),
                match release {
                    Release::Install => "pre-install and post-install",
                    Release::Upgrade => "pre-upgrade and post-upgrade",
                }
            ),
        });
    }
}

/// Which `helm.sh/hook-delete-policy` a deletion follows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum When {
    /// `before-hook-creation`: before the hook is applied (again).
    BeforeCreation,
    /// `hook-succeeded`: once every hook of the phase succeeded (or, when one failed, those
    /// that succeeded before it), in reverse order, as Helm.
    Succeeded,
    /// `hook-failed`: the hook that failed.
    Failed,
}

impl When {
    fn policy(self) -> &'static str {
        match self {
            When::BeforeCreation => "before-hook-creation",
            When::Succeeded => "hook-succeeded",
            When::Failed => "hook-failed",
        }
    }

    fn applies(self, hook: &Hook) -> bool {
        match self {
            When::BeforeCreation => hook.delete.before_creation,
            When::Succeeded => hook.delete.succeeded,
            When::Failed => hook.delete.failed,
        }
    }
}

/// Deletes the live objects of `hooks` whose policy says so `when`, each only if the release
/// owns it ([`hooks::may_delete`], checked on the object as it is now, and the delete made
/// conditional on its uid), and waits until each is gone (as Helm). CRDs are never deleted.
pub async fn delete_by_policy(
    client: &Client,
    options: &PlanOptions,
    hooks: &[(&PlannedObject, &Hook)],
    when: When,
    sink: &dyn Sink,
) -> Result<(), String> {
    for (o, hook) in hooks {
        if !when.applies(hook) || o.manifest.kind() == "CustomResourceDefinition" {
            continue;
        }
        let Some(target) = o.target.as_ref() else {
            continue;
        };
        if delete_owned(client, options, o, target, when).await? {
            sink.event(&Event::Info {
                message: format!(
                    "deleted hook {} (helm.sh/hook-delete-policy: {})",
                    o.manifest.key(),
                    when.policy()
                ),
            });
        }
    }
    Ok(())
}

/// Deletes `o`'s live object if the release owns it; `false` when there was none.
async fn delete_owned(
    client: &Client,
    options: &PlanOptions,
    o: &PlannedObject,
    target: &cluster::Target,
    when: When,
) -> Result<bool, String> {
    let retry = options.retry;
    let name = o.manifest.name();
    let Some(live) = cluster::get(client, retry, target, name)
        .await
        .map_err(|f| delete_failed(o, &f))?
    else {
        return Ok(false);
    };
    let owner = o
        .manifest
        .annotation(hooks::HOOK_RUN_ANNOTATION)
        .unwrap_or("-");
    hooks::may_delete(&live, owner, &options.field_manager)
        .map_err(|reason| hooks::refusal(&o.manifest, when.policy(), &reason))?;
    let uid = live.pointer("/metadata/uid").and_then(|u| u.as_str());
    if !cluster::delete(client, retry, target, name, uid)
        .await
        .map_err(|f| delete_failed(o, &f))?
    {
        return Ok(false);
    }
    let started = Instant::now();
    while cluster::get(client, retry, target, name)
        .await
        .map_err(|f| delete_failed(o, &f))?
        .is_some_and(|now| now.pointer("/metadata/uid").and_then(|u| u.as_str()) == uid)
    {
        if started.elapsed() > DELETE_TIMEOUT {
            return Err(format!(
                "{}: hook {} was deleted (helm.sh/hook-delete-policy: {}) but is still present \
                 after {}s; a finalizer may hold it",
                o.manifest.origin,
                o.manifest.key(),
                when.policy(),
                DELETE_TIMEOUT.as_secs()
            ));
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    Ok(true)
}

fn delete_failed(o: &PlannedObject, f: &Failure) -> String {
    format!(
        "{}: cannot delete hook {}: {}",
        o.manifest.origin,
        o.manifest.key(),
        f.message()
    )
}
