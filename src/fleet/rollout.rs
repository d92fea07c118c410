//! Following a placement's rollout on the member clusters from the hub, to a verdict or
//! kpush's timeout (Fleet itself never fails a rollout that stalls).

use std::collections::BTreeMap;
use std::future::Future;
use std::time::{Duration, Instant};

use kube::api::{Api, DynamicObject, ListParams};
use serde_json::Value;

use super::Placement;
use super::api::{self, FleetApi};
use super::status::{self, MemberState, PlacementState};
use crate::event::{
    Event, Explanation, ObjectOutcome, ObjectRef, ObjectState, ObjectStatus, Readiness,
    RolloutState, RunState, Sink, TrackOutcome,
};

/// How to follow a placement.
#[derive(Debug, Clone)]
pub struct FleetTrackOptions {
    /// Bound on the whole wait (`--timeout`).
    pub timeout: Duration,
    /// How often a status line is emitted.
    pub status_interval: Duration,
    /// How often the hub is asked.
    pub poll: Duration,
}

impl Default for FleetTrackOptions {
    fn default() -> Self {
        Self {
            timeout: Duration::from_secs(300),
            status_interval: Duration::from_secs(5),
            poll: Duration::from_secs(1),
        }
    }
}

/// The resource snapshot a deploy must see rolled out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Expect {
    /// Whatever snapshot is newest (nothing the placement selects changed).
    Current,
    /// A snapshot newer than this index (`None`: the placement is new, any snapshot).
    NewerThan(Option<String>),
}

/// What the placement stood at before a deploy: its newest snapshot and the objects it then
/// selected.
#[derive(Debug, Clone, Default)]
pub struct Before {
    /// The newest snapshot's index (`None`: no placement or no snapshot yet).
    pub index: Option<String>,
    /// `status.selectedResources` (`None`: the placement did not exist).
    pub selected: Option<Vec<Value>>,
}

/// Reads [`Before`] for `placement`.
pub async fn before_deploy(client: &kube::Client, placement: &Placement) -> Before {
    let fleet = FleetApi::new(client, placement);
    let selected = match fleet.placements.get_opt(&placement.name).await {
        Ok(Some(crp)) => Some(
            api::json(crp)["status"]["selectedResources"]
                .as_array()
                .cloned()
                .unwrap_or_default(),
        ),
        _ => None,
    };
    Before {
        index: latest_snapshot(client, placement).await,
        selected,
    }
}

/// The index of the newest resource snapshot of `placement` (before applying, to know what
/// "new" means afterwards).
pub async fn latest_snapshot(client: &kube::Client, placement: &Placement) -> Option<String> {
    let fleet = FleetApi::new(client, placement);
    snapshots(&fleet.snapshots, &placement.name)
        .await
        .ok()
        .and_then(|s| status::latest_index(&s))
}

async fn snapshots(api: &Api<DynamicObject>, placement: &str) -> kube::Result<Vec<Value>> {
    let params = ListParams::default().labels(&format!("{}={placement}", api::PARENT_LABEL));
    Ok(api
        .list(&params)
        .await?
        .items
        .into_iter()
        .map(api::json)
        .collect())
}

/// The placement itself, as outputs name it.
pub fn placement_ref(placement: &Placement) -> ObjectRef {
    ObjectRef::new(
        crate::manifest::ObjectKey {
            group: super::placement::GROUP.into(),
            kind: super::placement::CRP_KIND.into(),
            namespace: None,
            name: placement.name.clone(),
        },
        Some(placement.origin.clone()),
    )
}

/// Follows `placement` until every selected member rolled out the expected snapshot, one
/// failed, `opts.timeout` ran out, or `cancel` completes. Emits the tracking events, one tracked
/// object per member cluster (`ObjectRef::member`), inside the caller's track stage.
pub async fn track<C>(
    client: &kube::Client,
    placement: &Placement,
    expect: &Expect,
    opts: &FleetTrackOptions,
    sink: &dyn Sink,
    cancel: C,
) -> TrackOutcome
where
    C: Future<Output = ()>,
{
    let started = Instant::now();
    let fleet = FleetApi::new(client, placement);
    let whole = placement_ref(placement);
    let mut follow = Follow::new(whole, opts, started);
    let (run, last) = {
        tokio::pin!(cancel);
        loop {
            let (state, last) = follow.poll(&fleet, placement, expect, sink).await;
            if let Some(state) = state {
                break (state, last);
            }
            if started.elapsed() >= opts.timeout {
                break (RunState::TimedOut, last);
            }
            tokio::select! {
                () = &mut cancel => break (RunState::Interrupted, last),
                () = tokio::time::sleep(opts.poll) => {}
            }
        }
    };
    let outcome = follow.finish(run, last, sink);
    sink.event(&Event::TrackFinished {
        outcome: outcome.clone(),
    });
    outcome
}

/// What tracking knows between polls.
struct Follow<'a> {
    whole: ObjectRef,
    opts: &'a FleetTrackOptions,
    started: Instant,
    /// Per member: its last state and failures, in the order Fleet listed them.
    members: Option<BTreeMap<String, (usize, MemberState, RolloutState)>>,
    waiting: Option<String>,
    last_status: Instant,
}

/// The last state of the placement as a whole, for the verdict.
enum Last {
    Waiting(String),
    Unschedulable(String, String),
    Unreadable(String),
    Members,
}

impl<'a> Follow<'a> {
    fn new(whole: ObjectRef, opts: &'a FleetTrackOptions, started: Instant) -> Self {
        Self {
            whole,
            opts,
            started,
            members: None,
            waiting: None,
            last_status: started,
        }
    }

    /// One look at the hub; `Some(state)` when a verdict is reached.
    async fn poll(
        &mut self,
        fleet: &FleetApi,
        placement: &Placement,
        expect: &Expect,
        sink: &dyn Sink,
    ) -> (Option<RunState>, Last) {
        let crp = match fleet.placements.get(&placement.name).await {
            Ok(o) => api::json(o),
            Err(e) => return (None, Last::Unreadable(e.to_string())),
        };
        let latest = match snapshots(&fleet.snapshots, &placement.name).await {
            Ok(s) => status::latest_index(&s),
            Err(e) => return (None, Last::Unreadable(e.to_string())),
        };
        let latest = match expect {
            Expect::NewerThan(old) if latest.as_ref() == old.as_ref() => None,
            _ => latest,
        };
        match status::evaluate(&crp, latest.as_deref()) {
            PlacementState::Waiting(message) => {
                if self.waiting.as_ref() != Some(&message) && self.members.is_none() {
                    sink.event(&Event::Info {
                        message: format!("{}: {message}", self.whole.label()),
                    });
                    self.waiting = Some(message.clone());
                }
                (None, Last::Waiting(message))
            }
            PlacementState::Unschedulable { reason, message } => {
                (Some(RunState::Failed), Last::Unschedulable(reason, message))
            }
            PlacementState::Members(members) => {
                if members.is_empty() {
                    return (
                        Some(RunState::Failed),
                        Last::Unschedulable(
                            "NoMemberSelected".into(),
                            "the placement selects no member cluster: check its policy (cluster names, labels) and that the members joined the fleet".into(),
                        ),
                    );
                }
                self.update(members, sink);
                (self.verdict(), Last::Members)
            }
        }
    }

    fn member_ref(&self, cluster: &str) -> ObjectRef {
        self.whole.clone().on_member(cluster)
    }

    fn update(&mut self, members: Vec<MemberState>, sink: &dyn Sink) {
        let elapsed = self.started.elapsed();
        if self.members.is_none() {
            sink.event(&Event::TrackStarted {
                objects: members
                    .iter()
                    .map(|m| self.member_ref(&m.cluster))
                    .collect(),
                timeout: self.opts.timeout,
            });
        }
        let known = self.members.get_or_insert_with(BTreeMap::new);
        for (order, m) in members.into_iter().enumerate() {
            let state = RolloutState::of(&m.readiness, false);
            let changed = known
                .get(&m.cluster)
                .is_none_or(|(_, _, before)| *before != state);
            let object = self.whole.clone().on_member(&m.cluster);
            if changed {
                sink.event(&Event::Progress {
                    object,
                    state: state.clone(),
                    elapsed,
                });
            }
            known.insert(m.cluster.clone(), (order, m, state));
        }
        if self.last_status.elapsed() >= self.opts.status_interval {
            self.last_status = Instant::now();
            sink.event(&Event::TrackStatus {
                elapsed,
                objects: self
                    .ordered()
                    .into_iter()
                    .map(|(m, state)| ObjectStatus {
                        object: self.member_ref(&m.cluster),
                        state: state.clone(),
                        ready: None,
                        desired: None,
                    })
                    .collect(),
            });
        }
    }

    fn ordered(&self) -> Vec<(&MemberState, &RolloutState)> {
        let mut all: Vec<_> = self
            .members
            .iter()
            .flat_map(|m| m.values())
            .map(|(order, m, s)| (*order, m, s))
            .collect();
        all.sort_by_key(|(order, m, _)| (*order, m.cluster.clone()));
        all.into_iter().map(|(_, m, s)| (m, s)).collect()
    }

    fn verdict(&self) -> Option<RunState> {
        let all = self.ordered();
        if all
            .iter()
            .any(|(_, s)| matches!(s, RolloutState::Failed { .. }))
        {
            return Some(RunState::Failed);
        }
        all.iter()
            .all(|(_, s)| s.is_done())
            .then_some(RunState::Ready)
    }

    fn finish(&self, run: RunState, last: Last, sink: &dyn Sink) -> TrackOutcome {
        let elapsed = self.started.elapsed();
        let timeout = self.opts.timeout;
        let mut objects = Vec::new();
        if self.members.is_none() || !matches!(last, Last::Members) {
            let (state, readiness, explanation) = match (&last, run) {
                (Last::Unschedulable(reason, message), _) => (
                    ObjectState::Failed,
                    Readiness::failed(reason, message),
                    Some(explain(reason, message, Vec::new(), Some(unschedulable_hint(reason)))),
                ),
                (Last::Waiting(m) | Last::Unreadable(m), RunState::TimedOut) => (
                    ObjectState::TimedOut,
                    Readiness::in_progress(m),
                    Some(explain(
                        "Timeout",
                        &format!("the placement did not roll out within {}: {m}", crate::event::format_duration(timeout)),
                        Vec::new(),
                        Some("check the hub agent (kubectl get clusterresourceplacement -o yaml on the hub) and that the member clusters joined".into()),
                    )),
                ),
                (Last::Waiting(m) | Last::Unreadable(m), _) => {
                    (ObjectState::Pending, Readiness::in_progress(m), None)
                }
                (Last::Members, _) => (ObjectState::Pending, Readiness::in_progress(""), None),
            };
            if let Some(e) = &explanation {
                sink.event(&Event::RolloutFailed {
                    object: self.whole.clone(),
                    state,
                    elapsed,
                    explanation: e.clone(),
                });
            }
            objects.push(ObjectOutcome {
                object: self.whole.clone(),
                state,
                readiness,
                duration: elapsed,
                explanation,
            });
        }
        for (m, rollout) in self.ordered() {
            let object = self.member_ref(&m.cluster);
            let (state, explanation) = match rollout {
                RolloutState::Ready => (ObjectState::Ready, None),
                RolloutState::Skipped => (ObjectState::Skipped, None),
                RolloutState::Failed { reason, message } => (
                    ObjectState::Failed,
                    Some(explain(
                        reason,
                        message,
                        m.failed.clone(),
                        Some(format!(
                            "fix the objects named for member cluster {}; Fleet retries applying them",
                            m.cluster
                        )),
                    )),
                ),
                RolloutState::InProgress { message } if run == RunState::TimedOut => (
                    ObjectState::TimedOut,
                    Some(explain(
                        "Timeout",
                        &format!(
                            "not rolled out on member cluster {} within {}: {message}",
                            m.cluster,
                            crate::event::format_duration(timeout)
                        ),
                        m.failed.clone(),
                        Some(format!(
                            "Fleet does not fail a rollout that stalls: look at the objects named on member cluster {} (kubectl describe there), or raise --timeout",
                            m.cluster
                        )),
                    )),
                ),
                RolloutState::InProgress { .. } => (ObjectState::Pending, None),
            };
            if let Some(e) = &explanation {
                sink.event(&Event::RolloutFailed {
                    object: object.clone(),
                    state,
                    elapsed,
                    explanation: e.clone(),
                });
            }
            objects.push(ObjectOutcome {
                object,
                state,
                readiness: m.readiness.clone(),
                duration: elapsed,
                explanation,
            });
        }
        TrackOutcome {
            state: run,
            elapsed,
            objects,
        }
    }
}

/// What to do about a placement Fleet cannot schedule.
pub(super) fn unschedulable_hint(reason: &str) -> String {
    if reason.contains("ResourceSelector") {
        "change the placement's resourceSelectors: Fleet never places namespaces whose names start with kube- or fleet- (nor fleet-system), and each selected object must exist on the hub".into()
    } else {
        "change the placement's policy, or join (or label) the member clusters it asks for".into()
    }
}

fn explain(
    reason: &str,
    message: &str,
    events: Vec<crate::event::EventLine>,
    hint: Option<String>,
) -> Explanation {
    Explanation {
        reason: reason.to_string(),
        message: message.to_string(),
        pod: None,
        container: None,
        restart_count: None,
        events,
        logs: None,
        hint,
    }
}
