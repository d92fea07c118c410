//! Azure Kubernetes Fleet Manager (KubeFleet): deploying through a fleet's hub cluster.
//!
//! Beside the stages: the CLI wraps the manifests in a ClusterResourcePlacement
//! ([`placement::wrap`]), applies them to the hub through the ordinary pipeline (the hub runs no
//! workloads, so kpush does not track them there), then follows the placement's rollout on each
//! member cluster from its status ([`rollout::track`]), starting and following a staged update
//! run first when the placement's strategy is `External` ([`staged`]). It emits the tracking
//! events with one tracked object per member cluster (`ObjectRef::member`). See docs/fleet.md.

pub mod access;
mod api;
pub mod placement;
pub mod rollout;
pub mod staged;
pub mod status;

use std::future::Future;
use std::time::Instant;

pub use placement::{Placement, PlacementSpec, wrap};
pub use rollout::{Before, Expect, FleetTrackOptions, before_deploy, latest_snapshot};

use crate::event::{
    Event, Explanation, ObjectOutcome, ObjectRef, ObjectState, Readiness, RunState, Sink, Stage,
    TrackOutcome,
};

/// What can go wrong before anything is applied.
#[derive(Debug, thiserror::Error)]
pub enum FleetError {
    /// The manifests and `--placement` do not say (or say twice) where to deploy.
    #[error("{0}")]
    Placement(String),
}

/// Follows a deploy through `placement`: for an `External` strategy, first a staged update run
/// (with `strategy`) for the newest snapshot; then the rollout on every member.
pub async fn follow<C>(
    client: &kube::Client,
    placement: &Placement,
    expect: &Expect,
    strategy: Option<&str>,
    opts: &FleetTrackOptions,
    sink: &dyn Sink,
    cancel: C,
) -> TrackOutcome
where
    C: Future<Output = ()>,
{
    sink.event(&Event::StageStarted {
        stage: Stage::Track,
    });
    let outcome = follow_in_stage(client, placement, expect, strategy, opts, sink, cancel).await;
    sink.event(&Event::StageFinished {
        stage: Stage::Track,
        elapsed: outcome.elapsed,
    });
    outcome
}

async fn follow_in_stage<C>(
    client: &kube::Client,
    placement: &Placement,
    expect: &Expect,
    strategy: Option<&str>,
    opts: &FleetTrackOptions,
    sink: &dyn Sink,
    cancel: C,
) -> TrackOutcome
where
    C: Future<Output = ()>,
{
    let started = Instant::now();
    let verdicts = Verdicts {
        placement,
        timeout: opts.timeout,
        started,
        sink,
    };
    tokio::pin!(cancel);
    if placement.external {
        let Some(strategy) = strategy else {
            return verdicts.failed("NoUpdateStrategy",
                "the placement's rollout strategy is External, so it rolls out only through a staged update run, and no strategy was named",
                Some(
                    "pass --update-strategy NAME (a ClusterStagedUpdateStrategy on the hub)".into(),
                ));
        };
        let index = match wait_for_snapshot(client, placement, expect, opts, started, &mut cancel)
            .await
        {
            Snapshot::Taken(index) => index,
            Snapshot::Unschedulable { reason, message } => {
                return verdicts.failed(
                    &reason,
                    &message,
                    Some(rollout::unschedulable_hint(&reason)),
                );
            }
            Snapshot::NotYet => {
                return verdicts.timed_out(None, "waiting for Fleet to snapshot the new resources");
            }
            Snapshot::Interrupted => {
                return verdicts.interrupted();
            }
        };
        let deadline = started + opts.timeout;
        let end = staged::start_and_follow(
            client,
            placement,
            &index,
            strategy,
            deadline,
            sink,
            &mut cancel,
        )
        .await;
        match end {
            Ok(staged::RunEnd::Succeeded) => {}
            Ok(staged::RunEnd::Failed {
                run,
                reason,
                message,
            }) => {
                return verdicts.failed(
                    &reason,
                    &format!("ClusterStagedUpdateRun {run} failed: {message}"),
                    None,
                );
            }
            Ok(staged::RunEnd::TimedOut { run, waiting }) => {
                return verdicts.timed_out(Some(&run), &waiting);
            }
            Ok(staged::RunEnd::Interrupted) => {
                return verdicts.interrupted();
            }
            Err(e) => {
                return verdicts.failed("StagedUpdateRunRefused",
                    &format!("the hub refused the staged update run: {e}"),
                    Some("check that the hub serves ClusterStagedUpdateRun (placement.kubernetes-fleet.io/v1beta1) and that the identity may create it".into()));
            }
        }
    }
    let remaining = FleetTrackOptions {
        timeout: opts.timeout.saturating_sub(started.elapsed()),
        ..opts.clone()
    };
    let mut outcome = rollout::track(client, placement, expect, &remaining, sink, cancel).await;
    outcome.elapsed = started.elapsed();
    outcome
}

/// What waiting for the snapshot of the new resources came to.
enum Snapshot {
    /// Fleet took it: its index.
    Taken(String),
    /// Fleet cannot place the placement at all (its selectors, its policy).
    Unschedulable { reason: String, message: String },
    /// The timeout ran out first.
    NotYet,
    /// Interrupted.
    Interrupted,
}

/// The index of the snapshot to roll out, once Fleet took it.
async fn wait_for_snapshot<C>(
    client: &kube::Client,
    placement: &Placement,
    expect: &Expect,
    opts: &FleetTrackOptions,
    started: Instant,
    cancel: &mut std::pin::Pin<&mut C>,
) -> Snapshot
where
    C: Future<Output = ()>,
{
    let fleet = api::FleetApi::new(client, placement);
    loop {
        // A staged update run needs both the new resource snapshot and a fully scheduled
        // policy snapshot: started earlier, Fleet fails it ("policy snapshot … not fully
        // scheduled yet").
        let crp = fleet
            .placements
            .get(&placement.name)
            .await
            .ok()
            .map(api::json);
        let scheduled = crp.as_ref().is_some_and(status::is_scheduled);
        let latest = latest_snapshot(client, placement).await;
        match (expect, latest) {
            (Expect::NewerThan(old), Some(latest))
                if scheduled && old.as_ref() != Some(&latest) =>
            {
                return Snapshot::Taken(latest);
            }
            (Expect::Current, Some(latest)) if scheduled => return Snapshot::Taken(latest),
            _ => {}
        }
        if let Some(crp) = &crp
            && let status::PlacementState::Unschedulable { reason, message } =
                status::evaluate(crp, None)
        {
            return Snapshot::Unschedulable { reason, message };
        }
        if started.elapsed() >= opts.timeout {
            return Snapshot::NotYet;
        }
        tokio::select! {
            () = cancel.as_mut() => return Snapshot::Interrupted,
            () = tokio::time::sleep(opts.poll) => {}
        }
    }
}

/// Verdicts on the placement as a whole (before any member is followed).
struct Verdicts<'a> {
    placement: &'a Placement,
    timeout: std::time::Duration,
    started: Instant,
    sink: &'a dyn Sink,
}

impl Verdicts<'_> {
    fn failed(&self, reason: &str, message: &str, hint: Option<String>) -> TrackOutcome {
        self.verdict(
            RunState::Failed,
            ObjectState::Failed,
            Readiness::failed(reason, message),
            explanation(reason, message, hint),
        )
    }

    /// `run`: the staged update run waited for, if one was started.
    fn timed_out(&self, run: Option<&str>, waiting: &str) -> TrackOutcome {
        let within = crate::event::format_duration(self.timeout);
        let message = match run {
            None => format!("the placement did not roll out within {within}: {waiting}"),
            Some(run) => {
                format!("ClusterStagedUpdateRun {run} did not finish within {within}: {waiting}")
            }
        };
        let hint = match run {
            None => "check the hub agent (the placement's status on the hub), or raise --timeout",
            Some(_) => {
                "approve waiting stages on the hub (ClusterApprovalRequest), or raise --timeout"
            }
        };
        self.verdict(
            RunState::TimedOut,
            ObjectState::TimedOut,
            Readiness::in_progress(waiting),
            explanation("Timeout", &message, Some(hint.into())),
        )
    }

    fn interrupted(&self) -> TrackOutcome {
        TrackOutcome {
            state: RunState::Interrupted,
            elapsed: self.started.elapsed(),
            objects: Vec::new(),
        }
    }

    fn verdict(
        &self,
        run: RunState,
        state: ObjectState,
        readiness: Readiness,
        explanation: Explanation,
    ) -> TrackOutcome {
        let object: ObjectRef = rollout::placement_ref(self.placement);
        let elapsed = self.started.elapsed();
        self.sink.event(&Event::TrackStarted {
            objects: vec![object.clone()],
            timeout: self.timeout,
        });
        self.sink.event(&Event::RolloutFailed {
            object: object.clone(),
            state,
            elapsed,
            explanation: explanation.clone(),
        });
        let outcome = TrackOutcome {
            state: run,
            elapsed,
            objects: vec![ObjectOutcome {
                object,
                state,
                readiness,
                duration: elapsed,
                explanation: Some(explanation),
            }],
        };
        self.sink.event(&Event::TrackFinished {
            outcome: outcome.clone(),
        });
        outcome
    }
}

fn explanation(reason: &str, message: &str, hint: Option<String>) -> Explanation {
    Explanation {
        reason: reason.to_string(),
        message: message.to_string(),
        pod: None,
        container: None,
        restart_count: None,
        events: Vec::new(),
        logs: None,
        hint,
    }
}
