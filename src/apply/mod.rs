//! Stage 3, apply: execute a [`Plan`] wave by wave with server-side apply, then prune.
//!
//! Objects within a wave go in parallel (bounded by `--concurrency`). A wave that has a
//! rejection stops the run before the next wave. After the Namespaces-and-CRDs wave, kpush waits
//! for the CRDs to be Established, then dry-runs what waited for them (custom resources against
//! the new schemas) before any later wave is applied. Ctrl-C / SIGTERM stop new requests; those in flight finish and
//! the rest are reported as skipped.

pub mod adopt;
pub mod crds;
pub mod hooks;
pub mod interrupt;
pub mod outcome;
pub mod parent;
pub mod prune;
pub mod prune_guard;
pub mod ssa;

use std::collections::HashSet;
use std::time::{Duration, Instant};

use futures::stream::{self, StreamExt};
use kube::Client;
use thiserror::Error;

pub use interrupt::Interrupt;
pub use outcome::{Applied, AppliedObject, ApplyOutcome, PrunedObject};
pub use prune_guard::{PruneGuard, PruneLimit, PruneRefusal};

use crate::event::{Action, Event, Rejection, Sink, Stage};
use crate::plan::{Plan, PlanError, Wave};
use parent::ParentRecord;

/// Asked just before pruning: `Err(message)` stops the run before anything is deleted (a
/// release's deploy lock that another deploy took over).
#[derive(Clone)]
pub struct BeforePrune(
    std::sync::Arc<
        dyn Fn() -> futures::future::BoxFuture<'static, Result<(), String>> + Send + Sync,
    >,
);

impl BeforePrune {
    /// A guard asking `check`.
    pub fn new(
        check: impl Fn() -> futures::future::BoxFuture<'static, Result<(), String>>
        + Send
        + Sync
        + 'static,
    ) -> Self {
        Self(std::sync::Arc::new(check))
    }

    async fn check(&self) -> Result<(), String> {
        (self.0)().await
    }
}

impl std::fmt::Debug for BeforePrune {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("BeforePrune")
    }
}

/// Settings for applying beyond those in the plan.
#[derive(Debug, Clone)]
pub struct ApplyOptions {
    /// Delete members of the ApplySet that are no longer in the manifests.
    pub prune: bool,
    /// Also prune Namespaces and CRDs (which delete everything in or of them).
    pub prune_namespaces_and_crds: bool,
    /// How long to wait for CRDs to be Established.
    pub crd_timeout: Duration,
    /// When a prune is refused (`--allow-empty`, `--prune-limit`); checked by the caller
    /// before anything changes ([`prune::preview`]).
    pub prune_guard: PruneGuard,
    /// Asked before pruning (and before recording the ApplySet's final member list).
    pub before_prune: Option<BeforePrune>,
}

impl Default for ApplyOptions {
    fn default() -> Self {
        Self {
            prune: false,
            prune_namespaces_and_crds: false,
            crd_timeout: Duration::from_secs(60),
            prune_guard: PruneGuard::default(),
            before_prune: None,
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
    /// The prune would delete more than the run allows (`--allow-empty`, `--prune-limit`).
    #[error(transparent)]
    PruneRefused(Box<PruneRefusal>),
    /// An unexpected answer from the API server.
    #[error("unexpected answer from the API server: {0}")]
    Request(String),
    /// Ctrl-C or SIGTERM.
    #[error("interrupted: stopped after the requests in flight")]
    Interrupted,
    /// The run may no longer change the release (its deploy lock was taken over); nothing was
    /// pruned.
    #[error("{0}; nothing was pruned")]
    NotHeld(String),
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
            ssa::Fatal::Unreachable(m) | ssa::Fatal::InFlight { message: m, .. } => {
                ApplyError::Unreachable(m)
            }
            ssa::Fatal::Unauthorized(m) => ApplyError::Unauthorized(m),
        }
    }
}

/// Applies the plan; on a stop, returns what was done so far with the reason.
///
/// Three steps joined by one short loop: record the ApplySet parent, apply each wave (waiting
/// for CRDs after the first), then prune.
pub async fn apply(
    client: &Client,
    plan: Plan,
    opts: &ApplyOptions,
    sink: &dyn Sink,
    interrupt: &Interrupt,
) -> Result<ApplyOutcome, ApplyFailure> {
    apply_previewed(client, plan, opts, sink, interrupt, None).await
}

/// [`apply`], taking what [`prune::preview`] read of `plan`'s ApplySet before anything changed
/// (under the release's lock) instead of reading the parent and listing the members again: the
/// prune deletes the candidates listed then. Nothing but this run changed the release since
/// (the lock), the apply only adds or keeps members, and each delete carries the uid listed, so
/// an object replaced meanwhile is not deleted; a guard check before applying thus costs no
/// round trip a release deploy did not make before.
pub async fn apply_previewed(
    client: &Client,
    plan: Plan,
    opts: &ApplyOptions,
    sink: &dyn Sink,
    interrupt: &Interrupt,
    preview: Option<prune::Preview>,
) -> Result<ApplyOutcome, ApplyFailure> {
    let started = Instant::now();
    sink.event(&Event::StageStarted {
        stage: Stage::Apply,
    });
    let mut run = Run {
        client,
        plan,
        sink,
        interrupt,
        outcome: ApplyOutcome::default(),
        done: HashSet::new(),
    };
    match run.all(opts, preview).await {
        Ok(()) => {
            sink.event(&Event::StageFinished {
                stage: Stage::Apply,
                elapsed: started.elapsed(),
            });
            Ok(run.outcome)
        }
        Err(error) => Err(run.stop(error)),
    }
}

/// One apply run: the plan and what has been done with it so far.
struct Run<'a> {
    client: &'a Client,
    plan: Plan,
    sink: &'a dyn Sink,
    interrupt: &'a Interrupt,
    outcome: ApplyOutcome,
    /// Indices of planned objects already reported.
    done: HashSet<usize>,
}

impl Run<'_> {
    async fn all(
        &mut self,
        opts: &ApplyOptions,
        preview: Option<prune::Preview>,
    ) -> Result<(), ApplyError> {
        let (mut parent, listed) = match preview {
            Some(p) => (
                ParentRecord::recorded(&self.plan, p.recorded, p.parent),
                Some(p.members),
            ),
            None => (ParentRecord::read(self.client, &self.plan).await?, None),
        };
        for wave in Wave::ALL {
            if self.plan.wave_indices(wave).is_empty() {
                continue;
            }
            parent.record_before(self.client, Some(wave)).await?;
            self.apply_wave(wave).await?;
            if wave == Wave::Foundation {
                crds::wait_established(
                    self.client,
                    &self.plan,
                    &self.outcome,
                    opts.crd_timeout,
                    self.sink,
                )
                .await?;
                // Custom resources of the CRDs just applied are checked against the new
                // schemas (and objects in new namespaces) before any later wave starts.
                let checked = self.plan.check_after_crds(self.client, self.sink).await;
                self.refused(checked)?;
            }
        }
        if opts.prune && parent.set().is_some() {
            if let Some(guard) = &opts.before_prune {
                guard.check().await.map_err(ApplyError::NotHeld)?;
            }
            self.prune(
                &parent,
                opts.prune_namespaces_and_crds,
                &opts.prune_guard,
                listed,
            )
            .await
        } else {
            parent.record_before(self.client, None).await
        }
    }

    /// Applies one wave in parallel; stops on a rejection, a fatal failure or an interrupt.
    async fn apply_wave(&mut self, wave: Wave) -> Result<(), ApplyError> {
        if self.interrupt.is_set() {
            return Err(ApplyError::Interrupted);
        }
        let prepared = self.plan.prepare_wave(self.client, wave, self.sink).await;
        self.refused(prepared)?;
        let indices = self.plan.wave_indices(wave);
        self.sink.event(&Event::Info {
            message: format!("applying {} ({} objects)", wave.name(), indices.len()),
        });
        let mut results = self.send(&indices).await;
        // Where several API servers serve the cluster (AKS), the one answering a PATCH may not
        // have seen a CRD applied earlier in this run yet, though the one that answered the
        // dry-run had: send again, for a bounded time, what is refused only for a field the
        // new CRD declares.
        let started = Instant::now();
        let mut pause = Duration::from_millis(50);
        loop {
            let stale: Vec<usize> = results
                .iter()
                .filter_map(|(i, r)| match r {
                    Ok(a)
                        if a.rejection
                            .as_ref()
                            .is_some_and(|r| self.plan.schema_pending(r)) =>
                    {
                        Some(*i)
                    }
                    _ => None,
                })
                .collect();
            if stale.is_empty() || started.elapsed() > crate::plan::SCHEMA_SETTLE {
                break;
            }
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(Duration::from_secs(1));
            let again = self.send(&stale).await;
            results.retain(|(i, _)| !stale.contains(i));
            results.extend(again);
        }
        results.sort_by_key(|(i, _)| *i);
        let mut error = None;
        let mut rejections = Vec::new();
        for (i, r) in results {
            match r {
                Ok(a) if a.action == Action::Skipped => {}
                Ok(a) => {
                    report(self.sink, &a);
                    rejections.extend(a.rejection.clone());
                    self.done.insert(i);
                    self.outcome.objects.push(a);
                }
                Err(ssa::Fatal::InFlight { message, object }) => {
                    report(self.sink, &object);
                    self.done.insert(i);
                    self.outcome.objects.push(*object);
                    error = Some(ApplyError::Unreachable(message));
                }
                Err(f) => error = Some(f.into()),
            }
        }
        if let Some(e) = error {
            return Err(e);
        }
        if !rejections.is_empty() {
            rejections.sort_by(|a: &Rejection, b| a.object.origin.cmp(&b.object.origin));
            return Err(ApplyError::Rejected(rejections));
        }
        if self.interrupt.is_set() {
            return Err(ApplyError::Interrupted);
        }
        Ok(())
    }

    /// Server-side applies the objects at `indices`, in parallel.
    async fn send(&self, indices: &[usize]) -> Vec<(usize, Result<AppliedObject, ssa::Fatal>)> {
        let (client, plan, interrupt) = (self.client, &self.plan, self.interrupt);
        stream::iter(indices.iter().copied())
            .map(|i| {
                let o = &plan.objects[i];
                async move {
                    if interrupt.is_set() {
                        return (i, Ok(skipped(o)));
                    }
                    (i, ssa::apply_one(client, &plan.options, o).await)
                }
            })
            .buffer_unordered(plan.options.concurrency.max(1))
            .collect()
            .await
    }

    /// Records the objects a check before a wave rejected as failed (they were reported
    /// rejected already), so the stop does not report them skipped too.
    fn refused(&mut self, checked: Result<(), PlanError>) -> Result<(), ApplyError> {
        let Err(e) = checked else { return Ok(()) };
        for r in e.rejections() {
            let found = self.plan.objects.iter().position(|o| {
                o.manifest.key() == r.object.key
                    && r.object.origin.as_ref() == Some(&o.manifest.origin)
            });
            if let Some(i) = found
                && self.done.insert(i)
            {
                let mut failed = skipped(&self.plan.objects[i]);
                failed.action = Action::Failed;
                failed.rejection = Some(r.clone());
                self.outcome.objects.push(failed);
            }
        }
        Err(e.into())
    }

    /// Deletes the members no longer in the manifests (those `listed` before applying, when
    /// given; otherwise listed now), then records exactly the current set.
    async fn prune(
        &mut self,
        parent: &ParentRecord,
        everything: bool,
        guard: &PruneGuard,
        listed: Option<prune::Members>,
    ) -> Result<(), ApplyError> {
        let Some(set) = parent.set() else {
            return Ok(());
        };
        let retry = self.plan.options.retry;
        let keep: HashSet<_> = self
            .outcome
            .objects
            .iter()
            .map(|o| o.object.key.clone())
            .collect();
        let (kinds, namespaces) = parent.union();
        let members = match listed {
            Some(mut members) => {
                members.candidates.retain(|c| !keep.contains(&c.key));
                members
            }
            None => prune::members_known(
                self.client,
                retry,
                set,
                kinds,
                namespaces,
                &keep,
                everything,
                self.plan.server_apis(),
            )
            .await
            .map_err(|f| ApplyError::ApplySet(format!("cannot list members to prune: {f}")))?,
        };
        // The caller checked the guard before anything changed; this holds `--prune-limit`
        // should the release have changed meanwhile (or a caller have skipped that check);
        // with members listed by that check, it checks the same figures again.
        // The empty-render rule stays the caller's: only it knows what the render produced
        // (a chart's hooks, for one, are not in this plan).
        let limit_only = PruneGuard {
            allow_empty: true,
            ..*guard
        };
        limit_only
            .check(
                &set.name,
                self.plan.objects.len(),
                members.count,
                &members.candidates,
            )
            .map_err(|r| ApplyError::PruneRefused(Box::new(r)))?;
        let pruned = members.candidates;
        prune::delete_all(self.client, retry, self.plan.options.concurrency, &pruned)
            .await
            .map_err(|f| ApplyError::ApplySet(format!("pruning failed: {f}")))?;
        for p in &pruned {
            let c = p.candidate();
            if p.kept {
                self.sink.event(&Event::Warning {
                    message: format!(
                        "not pruned: {} is no longer in the manifests; pass \
                         --prune-namespaces-and-crds to delete it (and everything in it)",
                        c.object.label()
                    ),
                    object: Some(c.object),
                });
            } else {
                self.sink.event(&Event::Object {
                    object: c.object,
                    action: Action::Pruned,
                });
            }
        }
        let kept: Vec<_> = pruned.iter().filter(|p| p.kept).map(|p| &p.key).collect();
        self.outcome.pruned = pruned.clone();
        parent.record_final(self.client, &kept).await
    }

    /// Marks everything not done as skipped, reports it, and wraps the outcome with the error.
    fn stop(mut self, error: ApplyError) -> ApplyFailure {
        for (i, o) in self.plan.objects.iter().enumerate() {
            if !self.done.contains(&i) {
                let s = skipped(o);
                report(self.sink, &s);
                self.outcome.objects.push(s);
            }
        }
        ApplyFailure {
            outcome: self.outcome,
            error,
        }
    }
}

/// Tells the sink what happened to one object: a rejection, or its action.
fn report(sink: &dyn Sink, o: &AppliedObject) {
    match &o.rejection {
        Some(r) => sink.event(&Event::Rejected {
            rejection: r.clone(),
        }),
        None => {
            sink.event(&Event::Object {
                object: o.object.clone(),
                action: o.action,
            });
            if let Some(note) = o.adopted.as_ref().and_then(adopt::Adopted::describe) {
                sink.event(&Event::Info {
                    message: format!("{}: {note}", o.object.label()),
                });
            }
        }
    }
}

fn skipped(o: &crate::plan::PlannedObject) -> AppliedObject {
    AppliedObject {
        object: crate::event::ObjectRef::new(o.manifest.key(), Some(o.manifest.origin.clone())),
        wave: o.wave,
        action: Action::Skipped,
        target: o.target.clone(),
        applied: None,
        rejection: None,
        adopted: None,
    }
}
