//! Preflight: a server-side dry-run of every object before anything is changed, so that all
//! rejections are found at once and none is half-applied.

use futures::stream::{self, StreamExt};
use kube::Client;
use serde_json::Value;

use super::compare::{Fingerprint, resource_version};
use super::live::Live;
use super::rejection::{AdviceContext, Rejection, RejectionKind, diagnose};
use super::{PlanOptions, PlannedObject};
use crate::cluster::{self, Failure};

/// What the dry-run says applying will do.
#[derive(Debug, Clone, PartialEq)]
pub enum Preflight {
    /// Not checked (`--no-preflight`).
    NotRun,
    /// Checked later, at the start of its wave: its kind or namespace is created by this set.
    Deferred(String),
    /// It will be created.
    Create,
    /// It exists and will change.
    Update,
    /// It exists and nothing but run annotations would change: kpush does not send it.
    Unchanged,
    /// It exists and changes an immutable field; `--recreate-on-immutable` was given.
    Recreate {
        /// The immutable fields, as the server names them.
        fields: Vec<String>,
    },
}

/// The outcome for one object: its new state, the dry-run answer (if kept), or a rejection.
pub(super) enum Checked {
    Passed(Preflight, Option<Value>, Option<String>),
    Rejected(Rejection),
}

/// Dry-runs the objects at `indices` (in parallel); updates their preflight state and returns
/// the rejections. Unreachable or unauthenticated servers abort with the failure.
pub(super) async fn run(
    client: &Client,
    opts: &PlanOptions,
    objects: &mut [PlannedObject],
    indices: &[usize],
    namespaces_in_set: &std::collections::HashSet<String>,
) -> Result<Vec<Rejection>, Failure> {
    let ctx = AdviceContext {
        field_manager: &opts.field_manager,
    };
    let shared: &[PlannedObject] = objects;
    let results: Vec<(usize, Result<Checked, Failure>)> = stream::iter(indices.iter().copied())
        .map(|i| {
            let o = &shared[i];
            async move {
                let Some(target) = &o.target else {
                    return (i, Ok(Checked::Passed(o.preflight.clone(), None, None)));
                };
                let dry_run = |force| {
                    cluster::dry_run_apply(
                        client,
                        opts.retry,
                        target,
                        o.manifest.name(),
                        &o.manifest.object,
                        &opts.field_manager,
                        force,
                    )
                };
                let mut answer = dry_run(opts.force_conflicts).await;
                let tools = tools_to_adopt(o, opts);
                // Conflicts only with deploy tools that the apply will take over from are not
                // conflicts: dry-run as their new owner.
                if let Err(f) = &answer
                    && !tools.is_empty()
                    && conflicts_only_with(o, f, &tools, ctx)
                {
                    answer = dry_run(true).await;
                }
                let mut checked = check(o, answer, opts, ctx, namespaces_in_set);
                // Only `diff` shows the answer: drop it here, not after every object's came.
                if !opts.keep_dry_run
                    && let Ok(Checked::Passed(_, dry, _)) = &mut checked
                {
                    *dry = None;
                }
                (i, checked)
            }
        })
        .buffer_unordered(opts.concurrency.max(1))
        .collect()
        .await;
    let mut rejections = Vec::new();
    for (i, r) in results {
        match r? {
            Checked::Passed(state, dry, rv) => {
                let o = &mut objects[i];
                o.preflight = state;
                if rv.is_some() {
                    o.live_resource_version = rv;
                }
                if opts.keep_dry_run {
                    o.dry_run = dry;
                }
            }
            Checked::Rejected(r) => rejections.push(r),
        }
    }
    rejections.sort_by(|a, b| a.object.origin.cmp(&b.object.origin));
    Ok(rejections)
}

/// Deploy-tool managers whose ownership of `o` the apply will take over (none with `--no-adopt`).
fn tools_to_adopt(o: &PlannedObject, opts: &PlanOptions) -> Vec<String> {
    match &o.live {
        Live::Present(live) if opts.adopt => {
            super::ownership::tool_managers_of(live, &opts.field_manager)
        }
        _ => Vec::new(),
    }
}

/// Whether `f` is a field-manager conflict in which every other owner is one of `tools`.
fn conflicts_only_with(
    o: &PlannedObject,
    f: &Failure,
    tools: &[String],
    ctx: AdviceContext<'_>,
) -> bool {
    match diagnose(&o.manifest.key(), &o.manifest.origin, f, ctx).kind {
        RejectionKind::Conflict { fields } => {
            !fields.is_empty() && fields.iter().all(|(_, m)| tools.contains(m))
        }
        _ => false,
    }
}

/// Whether applying will take `o` over from another tool (so it must be sent, even if its
/// content would not change).
fn will_adopt(o: &PlannedObject, opts: &PlanOptions) -> bool {
    match &o.live {
        Live::Present(live) if opts.adopt => {
            super::ownership::adoption_patch(live, &opts.field_manager).is_some()
        }
        _ => false,
    }
}

fn check(
    o: &PlannedObject,
    answer: Result<Value, Failure>,
    opts: &PlanOptions,
    ctx: AdviceContext<'_>,
    namespaces_in_set: &std::collections::HashSet<String>,
) -> Result<Checked, Failure> {
    match answer {
        Ok(dry) => {
            let rv = resource_version(&dry).map(str::to_string);
            let state = match &o.live {
                Live::Absent => Preflight::Create,
                Live::Present(_) if will_adopt(o, opts) => Preflight::Update,
                Live::Present(_)
                    if o.live_fingerprint == Some(Fingerprint::of(&dry, &opts.field_manager)) =>
                {
                    Preflight::Unchanged
                }
                Live::Present(_) => Preflight::Update,
                Live::Unknown if rv.is_some() => Preflight::Update,
                Live::Unknown => Preflight::Create,
            };
            Ok(Checked::Passed(state, Some(dry), rv))
        }
        // A dry run stores nothing: one in flight when the connection failed is just unanswered.
        Err(
            f @ (Failure::Unreachable(_)
            | Failure::InFlight(_)
            | Failure::Transient { .. }
            | Failure::Unauthorized(_)),
        ) => Err(f),
        Err(f) => {
            let r = diagnose(&o.manifest.key(), &o.manifest.origin, &f, ctx);
            match &r.kind {
                RejectionKind::NamespaceMissing { namespace }
                    if namespaces_in_set.contains(namespace) =>
                {
                    Ok(Checked::Passed(
                        Preflight::Deferred(format!(
                            "namespace {namespace} is created by this apply"
                        )),
                        None,
                        None,
                    ))
                }
                RejectionKind::Immutable { fields } if opts.recreate_on_immutable => {
                    Ok(Checked::Passed(
                        Preflight::Recreate {
                            fields: fields.clone(),
                        },
                        None,
                        None,
                    ))
                }
                _ => Ok(Checked::Rejected(r)),
            }
        }
    }
}
