//! Stage 3, apply: execute a [`Plan`] wave by wave with server-side apply, then prune.
//!
//! Objects within a wave go in parallel (bounded by `--concurrency`). A wave that has a
//! rejection stops the run before the next wave. After the Namespaces-and-CRDs wave, kpush waits
//! for the CRDs to be Established. Ctrl-C / SIGTERM stop new requests; those in flight finish and
//! the rest are reported as skipped.

pub mod adopt;
pub mod crds;
pub mod interrupt;
pub mod outcome;
pub mod prune;
pub mod ssa;

use std::collections::HashSet;
use std::time::{Duration, Instant};

use futures::stream::{self, StreamExt};
use kube::Client;
use thiserror::Error;

pub use interrupt::Interrupt;
pub use outcome::{AppliedObject, ApplyOutcome, PrunedObject};

use crate::plan::{Plan, PlanError, Rejection, Wave};
use crate::report::{Action, Event, ObjectRef, Reporter, Stage};

/// Settings for applying beyond those in the plan.
#[derive(Debug, Clone)]
pub struct ApplyOptions {
    /// Delete members of the ApplySet that are no longer in the manifests.
    pub prune: bool,
    /// Also prune Namespaces and CRDs (which delete everything in or of them).
    pub prune_namespaces_and_crds: bool,
    /// How long to wait for CRDs to be Established.
    pub crd_timeout: Duration,
}

impl Default for ApplyOptions {
    fn default() -> Self {
        Self {
            prune: false,
            prune_namespaces_and_crds: false,
            crd_timeout: Duration::from_secs(60),
        }
    }
}

/// Why applying stopped.
#[derive(Debug, Error)]
pub enum ApplyError {
    /// Checking a deferred wave failed (its preflight rejected objects, or kinds stayed unknown).
    #[error(transparent)]
    Plan(#[from] PlanError),
    /// The API server rejected objects while applying.
    #[error("the API server rejected {} object(s)", .0.len())]
    Rejected(Vec<Rejection>),
    /// The API server could not be reached.
    #[error("cannot reach the API server: {0}")]
    Unreachable(String),
    /// The API server refused kpush's credentials.
    #[error("cannot authenticate to the API server: {0}")]
    Unauthorized(String),
    /// A CRD did not become Established in time.
    #[error("CustomResourceDefinition {name} was not Established after {}s: {message}", .timeout.as_secs())]
    CrdNotEstablished {
        /// The CRD.
        name: String,
        /// How long kpush waited.
        timeout: Duration,
        /// Its conditions, as last seen.
        message: String,
    },
    /// The ApplySet parent could not be read, written, or is not ours; or pruning failed.
    #[error("applyset: {0}")]
    ApplySet(String),
    /// An unexpected answer from the API server.
    #[error("unexpected answer from the API server: {0}")]
    Request(String),
    /// Ctrl-C or SIGTERM.
    #[error("interrupted: stopped after the requests in flight")]
    Interrupted,
}

/// A stop, with everything done before it.
#[derive(Debug)]
pub struct ApplyFailure {
    /// What was applied (and skipped) before the stop.
    pub outcome: ApplyOutcome,
    /// Why it stopped.
    pub error: ApplyError,
}

impl From<ssa::Fatal> for ApplyError {
    fn from(f: ssa::Fatal) -> Self {
        match f {
            ssa::Fatal::Unreachable(m) => ApplyError::Unreachable(m),
            ssa::Fatal::Unauthorized(m) => ApplyError::Unauthorized(m),
        }
    }
}

fn report_object(reporter: &dyn Reporter, o: &AppliedObject) {
    let message = o
        .rejection
        .as_ref()
        .map(|r| {
            if r.advice.is_empty() {
                r.reason.clone()
            } else {
                format!("{}\n  fix: {}", r.reason, r.advice)
            }
        })
        .or_else(|| o.adopted.as_ref().and_then(adopt::Adopted::describe));
    reporter.event(&Event::Object {
        object: ObjectRef::new(&o.key, Some(&o.origin)),
        action: o.action,
        message,
    });
}

/// Applies the plan; on a stop, returns what was done so far with the reason.
pub async fn apply(
    client: &Client,
    mut plan: Plan,
    opts: &ApplyOptions,
    reporter: &dyn Reporter,
    interrupt: &Interrupt,
) -> Result<ApplyOutcome, ApplyFailure> {
    let started = Instant::now();
    reporter.event(&Event::StageStarted {
        stage: Stage::Apply,
    });
    let mut outcome = ApplyOutcome::default();
    let mut done: HashSet<usize> = HashSet::new();
    let set = plan.options.applyset.clone();
    let retry = plan.options.retry;
    let manager = plan.options.field_manager.clone();
    let (new_kinds, new_nss) = plan.group_kinds_and_namespaces();

    // Record the union of old and new members in the parent before changing anything.
    let mut parent_written = false;
    let mut recorded = Default::default();
    if let Some(set) = &set {
        match prune::read_parent(client, retry, set).await {
            Ok(parent) => recorded = prune::recorded(parent.as_ref()),
            Err(e) => {
                return Err(stop(
                    &plan,
                    &done,
                    outcome,
                    reporter,
                    ApplyError::ApplySet(e.to_string()),
                ));
            }
        }
    }
    let (old_kinds, old_nss): (
        std::collections::BTreeSet<String>,
        std::collections::BTreeSet<String>,
    ) = recorded;
    let union_kinds = old_kinds.union(&new_kinds).cloned().collect();
    let union_nss = old_nss.union(&new_nss).cloned().collect();

    let mut error = None;
    for wave in Wave::ALL {
        let indices = plan.wave_indices(wave);
        if indices.is_empty() {
            continue;
        }
        if let Some(set) = &set
            && !parent_written
        {
            match prune::write_parent(client, retry, &manager, set, &union_kinds, &union_nss).await
            {
                Ok(()) => parent_written = true,
                // Its namespace may be created by this wave: try again after it.
                Err(f) if f.is_not_found() && wave == Wave::Foundation => {}
                Err(f) => {
                    error = Some(ApplyError::ApplySet(format!(
                        "cannot write the parent Secret {}/{}: {f}",
                        set.namespace, set.name
                    )));
                    break;
                }
            }
        }
        if interrupt.is_set() {
            error = Some(ApplyError::Interrupted);
            break;
        }
        if let Err(e) = plan.prepare_wave(client, wave, reporter).await {
            error = Some(e.into());
            break;
        }
        reporter.event(&Event::Info {
            message: format!("applying {} ({} objects)", wave.name(), indices.len()),
        });
        let results: Vec<(usize, Result<AppliedObject, ssa::Fatal>)> =
            stream::iter(indices.iter().copied())
                .map(|i| {
                    let o = &plan.objects[i];
                    let opts = &plan.options;
                    async move {
                        if interrupt.is_set() {
                            return (i, Ok(skipped(o)));
                        }
                        (i, ssa::apply_one(client, opts, o).await)
                    }
                })
                .buffer_unordered(plan.options.concurrency.max(1))
                .collect()
                .await;
        let mut rejections = Vec::new();
        let mut applied: Vec<(usize, AppliedObject)> = Vec::new();
        for (i, r) in results {
            match r {
                Ok(a) => {
                    if let Some(rej) = &a.rejection {
                        rejections.push(rej.clone());
                    }
                    applied.push((i, a));
                }
                Err(f) => error = Some(f.into()),
            }
        }
        applied.sort_by_key(|(i, _)| *i);
        for (i, a) in applied {
            if a.action != Action::Skipped {
                report_object(reporter, &a);
                done.insert(i);
                outcome.objects.push(a);
            }
        }
        if error.is_some() {
            break;
        }
        if !rejections.is_empty() {
            rejections.sort_by(|a, b| a.origin.cmp(&b.origin));
            error = Some(ApplyError::Rejected(rejections));
            break;
        }
        if interrupt.is_set() {
            error = Some(ApplyError::Interrupted);
            break;
        }
        if wave == Wave::Foundation
            && let Err(e) =
                crds::wait_established(client, &plan, &outcome, opts.crd_timeout, reporter).await
        {
            error = Some(e);
            break;
        }
    }
    if let Some(e) = error {
        return Err(stop(&plan, &done, outcome, reporter, e));
    }

    if let Some(set) = &set
        && opts.prune
    {
        let keep: HashSet<_> = outcome.objects.iter().map(|o| o.key.clone()).collect();
        let pruned = match prune::candidates(
            client,
            retry,
            set,
            &union_kinds,
            &union_nss,
            &keep,
            opts.prune_namespaces_and_crds,
        )
        .await
        {
            Ok(p) => p,
            Err(f) => {
                return Err(stop(
                    &plan,
                    &done,
                    outcome,
                    reporter,
                    ApplyError::ApplySet(format!("cannot list members to prune: {f}")),
                ));
            }
        };
        if let Err(f) = prune::delete_all(client, retry, plan.options.concurrency, &pruned).await {
            return Err(stop(
                &plan,
                &done,
                outcome,
                reporter,
                ApplyError::ApplySet(format!("pruning failed: {f}")),
            ));
        }
        let mut final_kinds = new_kinds.clone();
        let mut final_nss = new_nss.clone();
        for p in &pruned {
            let object = ObjectRef::new(&p.key, None);
            if p.kept {
                final_kinds.insert(crate::plan::applyset::group_kind(&p.key.group, &p.key.kind));
                if let Some(ns) = &p.key.namespace {
                    final_nss.insert(ns.clone());
                }
                reporter.event(&Event::Info {
                    message: format!(
                        "not pruned: {} is no longer in the manifests; pass --prune-namespaces-and-crds to delete it (and everything in it)",
                        object.display_name()
                    ),
                });
            } else {
                reporter.event(&Event::Object {
                    object,
                    action: Action::Pruned,
                    message: None,
                });
            }
        }
        outcome.pruned = pruned;
        if let Err(f) =
            prune::write_parent(client, retry, &manager, set, &final_kinds, &final_nss).await
        {
            return Err(stop(
                &plan,
                &done,
                outcome,
                reporter,
                ApplyError::ApplySet(format!("cannot update the parent Secret: {f}")),
            ));
        }
    } else if let Some(set) = &set
        && !parent_written
        && let Err(f) =
            prune::write_parent(client, retry, &manager, set, &union_kinds, &union_nss).await
    {
        return Err(stop(
            &plan,
            &done,
            outcome,
            reporter,
            ApplyError::ApplySet(format!("cannot write the parent Secret: {f}")),
        ));
    }

    reporter.event(&Event::StageFinished {
        stage: Stage::Apply,
        elapsed: started.elapsed(),
    });
    Ok(outcome)
}

fn skipped(o: &crate::plan::PlannedObject) -> AppliedObject {
    AppliedObject {
        key: o.manifest.key(),
        origin: o.manifest.origin.clone(),
        wave: o.wave,
        action: Action::Skipped,
        target: o.target.clone(),
        object: None,
        rejection: None,
        adopted: None,
    }
}

/// Marks everything not done as skipped, reports it, and wraps the outcome with the error.
fn stop(
    plan: &Plan,
    done: &HashSet<usize>,
    mut outcome: ApplyOutcome,
    reporter: &dyn Reporter,
    error: ApplyError,
) -> ApplyFailure {
    for (i, o) in plan.objects.iter().enumerate() {
        if !done.contains(&i) {
            let s = skipped(o);
            report_object(reporter, &s);
            outcome.objects.push(s);
        }
    }
    ApplyFailure { outcome, error }
}
