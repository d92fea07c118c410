//! Applying one object: one server-side apply PATCH (or none, when preflight showed nothing
//! would change), the created/configured/unchanged verdict, and delete-and-create for
//! immutable fields when asked.

use std::time::{Duration, Instant};

use kube::Client;
use serde_json::Value;

use super::outcome::{Applied, AppliedObject};
use crate::cluster::{self, Failure};
use crate::event::{Action, ObjectRef};
use crate::plan::compare::{Fingerprint, resource_version};
use crate::plan::rejection::{AdviceContext, Rejection, RejectionKind, diagnose};
use crate::plan::{Live, PlanOptions, PlannedObject, Preflight};

/// How long `--recreate-on-immutable` waits for the old object to disappear.
pub const DELETE_TIMEOUT: Duration = Duration::from_secs(120);

/// A failure that must stop everything (no point sending more requests).
#[derive(Debug)]
pub enum Fatal {
    /// The server cannot be reached.
    Unreachable(String),
    /// The server refuses the credentials.
    Unauthorized(String),
    /// The connection failed with this object's apply in flight: it may or may not be
    /// applied (`object.action` is [`Action::Unknown`]).
    InFlight {
        /// What failed.
        message: String,
        /// The object, reported as unknown.
        object: Box<AppliedObject>,
    },
}

/// Applies one planned object.
pub async fn apply_one(
    client: &Client,
    opts: &PlanOptions,
    o: &PlannedObject,
) -> Result<AppliedObject, Fatal> {
    let mut out = AppliedObject {
        object: ObjectRef::new(o.manifest.key(), Some(o.manifest.origin.clone())),
        wave: o.wave,
        action: Action::Skipped,
        target: o.target.clone(),
        applied: None,
        rejection: None,
        adopted: None,
    };
    let Some(target) = &o.target else {
        return Ok(out);
    };
    if o.preflight == Preflight::Unchanged
        && let Live::Present(live) = &o.live
    {
        out.action = first_created(opts, o, Action::Unchanged);
        out.applied = Some(Applied::of(live));
        return Ok(out);
    }
    let name = o.manifest.name();
    let mut recreate = matches!(o.preflight, Preflight::Recreate { .. });
    if !recreate
        && opts.adopt
        && let Live::Present(live) = &o.live
        && crate::plan::ownership::adoption_patch(live, &opts.field_manager).is_some()
    {
        match super::adopt::adopt(client, opts.retry, target, name, &opts.field_manager).await {
            Ok(adopted) => out.adopted = Some(adopted),
            Err(f) => {
                out.action = Action::Failed;
                out.rejection = Some(rejection(o, f, opts)?);
                return Ok(out);
            }
        }
    }
    if !recreate {
        match cluster::server_apply(
            client,
            opts.retry,
            target,
            name,
            &o.manifest.object,
            &opts.field_manager,
            opts.force_conflicts,
        )
        .await
        {
            Ok(applied) => {
                out.action = first_created(opts, o, verdict(o, &applied, &opts.field_manager));
                out.applied = Some(Applied::of(&applied));
                return Ok(out);
            }
            Err(Failure::InFlight(message)) => {
                out.action = Action::Unknown;
                return Err(Fatal::InFlight {
                    message,
                    object: Box::new(out),
                });
            }
            Err(f) => {
                let r = rejection(o, f, opts)?;
                if matches!(r.kind, RejectionKind::Immutable { .. }) && opts.recreate_on_immutable {
                    recreate = true;
                } else {
                    out.action = Action::Failed;
                    out.rejection = Some(r);
                    return Ok(out);
                }
            }
        }
    }
    debug_assert!(recreate);
    match recreate_one(client, opts, o).await {
        Ok(applied) => {
            out.action = Action::Recreated;
            out.applied = Some(Applied::of(&applied));
        }
        Err(r) => {
            out.action = Action::Failed;
            out.rejection = Some(r?);
        }
    }
    Ok(out)
}

/// Created, configured or unchanged, from what was known before and what the server returned.
fn verdict(o: &PlannedObject, applied: &Value, manager: &str) -> Action {
    let before = o.live_resource_version.as_deref();
    match (&o.live, &o.preflight) {
        (Live::Absent, _) | (_, Preflight::Create) => Action::Created,
        _ if before.is_some() && before == resource_version(applied) => Action::Unchanged,
        // Without preflight the run annotations were sent: a change in them alone still reads
        // as unchanged.
        (Live::Present(_), _) if o.live_fingerprint == Some(Fingerprint::of(applied, manager)) => {
            Action::Unchanged
        }
        _ => Action::Configured,
    }
}

/// `created` for an object this run created before planning ([`PlanOptions::created_first`]).
fn first_created(opts: &PlanOptions, o: &PlannedObject, action: Action) -> Action {
    match action {
        Action::Configured | Action::Unchanged
            if opts.created_first.contains(&o.manifest.key()) =>
        {
            Action::Created
        }
        other => other,
    }
}

fn rejection(o: &PlannedObject, f: Failure, opts: &PlanOptions) -> Result<Rejection, Fatal> {
    match f {
        Failure::Unreachable(m) | Failure::InFlight(m) => Err(Fatal::Unreachable(m)),
        // Still 429/5xx when the retry budget ran out: the server is unavailable, not refusing.
        f @ Failure::Transient { .. } => Err(Fatal::Unreachable(f.message())),
        Failure::Unauthorized(m) => Err(Fatal::Unauthorized(m)),
        other => Ok(diagnose(
            &o.manifest.key(),
            &o.manifest.origin,
            &other,
            AdviceContext {
                field_manager: &opts.field_manager,
            },
        )),
    }
}

/// Deletes the object, waits until it is gone, and applies it again.
async fn recreate_one(
    client: &Client,
    opts: &PlanOptions,
    o: &PlannedObject,
) -> Result<Value, Result<Rejection, Fatal>> {
    let target = o
        .target
        .as_ref()
        .ok_or_else(|| Ok(other_rejection(o, "no API resource resolved")))?;
    let name = o.manifest.name();
    let fail = |f: Failure| rejection(o, f, opts);
    cluster::delete(client, opts.retry, target, name, None)
        .await
        .map_err(fail)?;
    let started = Instant::now();
    while cluster::get(client, opts.retry, target, name)
        .await
        .map_err(fail)?
        .is_some()
    {
        if started.elapsed() > DELETE_TIMEOUT {
            return Err(Ok(other_rejection(
                o,
                &format!(
                    "deleted for recreation but still present after {}s (a finalizer may hold it); \
                     it was not created again",
                    DELETE_TIMEOUT.as_secs()
                ),
            )));
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    cluster::server_apply(
        client,
        opts.retry,
        target,
        name,
        &o.manifest.object,
        &opts.field_manager,
        opts.force_conflicts,
    )
    .await
    .map_err(fail)
}

fn other_rejection(o: &PlannedObject, reason: &str) -> Rejection {
    Rejection {
        object: ObjectRef::new(o.manifest.key(), Some(o.manifest.origin.clone())),
        kind: RejectionKind::Other,
        reason: reason.to_string(),
        advice: String::new(),
    }
}
