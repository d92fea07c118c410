//! What applying a chart's hooks needs beyond applying objects: install or upgrade, hooks not
//! run, and deleting hook objects as their `helm.sh/hook-delete-policy` says. The CLI runs each
//! group (apply, track to completion, delete) in order.

use std::time::{Duration, Instant};

use kube::Client;

use super::prune;
use crate::cluster::{self, Failure};
use crate::event::{Event, ObjectRef, Sink};
use crate::plan::hooks::{HookGroup, Phases, Release};
use crate::plan::{Live, Plan};

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

/// Deletes the hooks of `group` whose policy asks for it after they ran: `succeeded[i]` says
/// how `group.plan.objects[i]` ended (`None`: no verdict, kept).
pub async fn delete_after(
    client: &Client,
    group: &HookGroup,
    succeeded: &[Option<bool>],
    sink: &dyn Sink,
) -> Result<(), String> {
    for ((o, hook), ok) in group.plan.objects.iter().zip(&group.hooks).zip(succeeded) {
        let delete = match ok {
            Some(true) => hook.delete.succeeded,
            Some(false) => hook.delete.failed,
            None => false,
        };
        if let Some(target) = o.target.as_ref().filter(|_| delete) {
            cluster::delete(
                client,
                group.plan.options.retry,
                target,
                o.manifest.name(),
                None,
            )
            .await
            .map_err(|f| delete_failed(o, &f))?;
            sink.event(&Event::Info {
                message: format!(
                    "deleted hook {} (helm.sh/hook-delete-policy)",
                    o.manifest.key()
                ),
            });
        }
    }
    Ok(())
}

/// Deletes the hooks' previous objects whose policy says `before-hook-creation`, and waits until
/// they are gone.
pub async fn delete_before_creation(
    client: &Client,
    group: &HookGroup,
    sink: &dyn Sink,
) -> Result<(), String> {
    let retry = group.plan.options.retry;
    for (o, hook) in group.plan.objects.iter().zip(&group.hooks) {
        let Some(target) = o.target.as_ref().filter(|_| hook.delete.before_creation) else {
            continue;
        };
        let name = o.manifest.name();
        if !cluster::delete(client, retry, target, name, None)
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
                return Err(format!(
                    "{}: hook {} was deleted before creating it again \
                     (helm.sh/hook-delete-policy: before-hook-creation) but is still present \
                     after {}s; a finalizer may hold it",
                    o.manifest.origin,
                    o.manifest.key(),
                    DELETE_TIMEOUT.as_secs()
                ));
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        sink.event(&Event::Info {
            message: format!("deleted the previous hook {}", o.manifest.key()),
        });
    }
    Ok(())
}

fn delete_failed(o: &crate::plan::PlannedObject, f: &Failure) -> String {
    format!(
        "{}: cannot delete hook {}: {}",
        o.manifest.origin,
        o.manifest.key(),
        f.message()
    )
}
