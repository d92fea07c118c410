//! The tracking run: watches feed an in-memory copy of the cluster, every change re-judges the
//! objects still pending, and the run ends at the first certain failure, when all are ready,
//! at `--timeout`, or when the caller cancels.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::future::Future;
use std::time::Duration;

use futures::future::join_all;
use futures::stream::SelectAll;
use futures::{FutureExt, StreamExt};
use k8s_openapi::api::apps::v1::ReplicaSet;
use k8s_openapi::api::core::v1::{Event as CoreEvent, Pod};
use k8s_openapi::api::storage::v1::StorageClass;
use k8s_openapi::jiff::Timestamp;
use kube::Client;
use kube::api::{Api, DynamicObject};
use tokio::time::Instant;

use super::diagnose::DiagnoseOptions;
use super::evaluate::{Judgement, Neighbourhood, ObjectView, WATCH_LOST, judge};
use super::evidence::{Ending, explain};
use super::options::TrackOptions;
use super::pods::selector_of;
use super::readiness::{Readiness, ReadinessContext, Rule};
use super::store::Store;
use super::targets::{TrackTarget, WorkloadKind};
use super::watch::{self, Feed, Item, ObjectFeed, Source, Update};
use super::watch_stream::Patience;
use crate::event::{
    Event, ObjectOutcome, ObjectState, ObjectStatus, RolloutState, RunState, Sink, Stage,
    TrackOutcome, format_duration,
};

/// How patient each watch of a run is.
fn patience(opts: &TrackOptions) -> Patience {
    Patience {
        deadline: opts.watch_deadline,
        retry: opts.retry,
    }
}

/// How often pending objects are re-judged without news from the API server (graces and
/// no-progress deadlines pass without any watch event).
const REJUDGE_EVERY: Duration = Duration::from_secs(1);

/// Watch events come in bursts (150 pods starting): after a judgement that took `d`, the next
/// waits `d × JUDGE_SPACING` (judging then takes at most a tenth of the time), and never more
/// than [`JUDGE_AT_MOST_AFTER`]. A small run judges each change as it arrives; no tick stands
/// between the last object becoming ready and the verdict.
const JUDGE_SPACING: u32 = 9;

/// The longest wait between a change and its judgement, however costly judging is.
const JUDGE_AT_MOST_AFTER: Duration = Duration::from_millis(100);

/// Waits until every target is ready, one certainly fails, `opts.timeout` passes, or `cancel`
/// completes; reports progress to `reporter` and returns what happened to each object.
///
/// Never fails: watch errors are retried (and reported in the objects' messages), and a watch
/// the API server forbids fails only the objects that depend on it.
pub async fn track<C>(
    client: &Client,
    targets: Vec<TrackTarget>,
    opts: &TrackOptions,
    reporter: &dyn Sink,
    cancel: C,
) -> TrackOutcome
where
    C: Future<Output = ()>,
{
    reporter.event(&Event::StageStarted {
        stage: Stage::Track,
    });
    reporter.event(&Event::TrackStarted {
        objects: targets.iter().map(|t| t.object.clone()).collect(),
        timeout: opts.timeout,
    });
    let mut run = Run::new(client, targets, opts);
    let state = run.wait(reporter, cancel).await;
    run.report_recoveries(reporter, true);
    let outcome = run.finish(state, reporter).await;
    reporter.event(&Event::TrackFinished {
        outcome: outcome.clone(),
    });
    reporter.event(&Event::StageFinished {
        stage: Stage::Track,
        elapsed: outcome.elapsed,
    });
    outcome
}

/// Where one target stands.
#[derive(Debug)]
struct Tracker {
    judgement: Option<Judgement>,
    reported: Option<RolloutState>,
    last_change: Instant,
    end: Option<End>,
}

#[derive(Debug, Clone, Copy)]
struct End {
    state: ObjectState,
    after: Duration,
    ending: Option<Ending>,
}

enum Wake {
    Cancelled,
    Deadline,
    Update(Option<Box<Update>>),
    Tick,
    Status,
}

struct Run<'a> {
    client: &'a Client,
    opts: &'a TrackOptions,
    targets: Vec<TrackTarget>,
    trackers: Vec<Tracker>,
    started: Instant,
    feeds: Vec<ObjectFeed>,
    feed_of: Vec<usize>,
    objects: Vec<Store<DynamicObject>>,
    pods: BTreeMap<String, Store<Pod>>,
    replica_sets: BTreeMap<String, Store<ReplicaSet>>,
    events: BTreeMap<String, Store<CoreEvent>>,
    pod_feeds: BTreeSet<String>,
    classes: HashMap<String, Option<StorageClass>>,
    streams: SelectAll<Feed>,
    /// Watches re-established after a stall and not yet reported: one stall usually silences
    /// every watch of a connection at once, and is said in one line.
    recovered: Vec<(String, Duration)>,
    /// When the first of `recovered` came back.
    recovered_since: Option<Instant>,
}

/// How long stalled watches that come back are gathered into one line.
const RECOVERIES_GATHERED_FOR: Duration = Duration::from_secs(5);

impl<'a> Run<'a> {
    fn new(client: &'a Client, targets: Vec<TrackTarget>, opts: &'a TrackOptions) -> Self {
        let started = Instant::now();
        let (feeds, feed_of) = watch::plan_object_feeds(&targets);
        let patience = patience(opts);
        let mut streams = SelectAll::new();
        for (i, f) in feeds.iter().enumerate() {
            streams.push(watch::object_feed(client, i, f, patience));
        }
        let mut events = BTreeMap::new();
        for ns in targets
            .iter()
            .filter(|t| t.workload().is_some() || t.resource.kind == "PersistentVolumeClaim")
            .filter_map(|t| t.namespace().map(str::to_string))
            .collect::<BTreeSet<_>>()
        {
            streams.push(watch::event_feed(client, &ns, patience));
            events.insert(ns, Store::default());
        }
        let trackers = targets
            .iter()
            .map(|_| Tracker {
                judgement: None,
                reported: None,
                last_change: started,
                end: None,
            })
            .collect();
        Self {
            client,
            opts,
            objects: feeds
                .iter()
                .map(|_: &ObjectFeed| Store::default())
                .collect(),
            targets,
            trackers,
            started,
            feeds,
            feed_of,
            pods: BTreeMap::new(),
            replica_sets: BTreeMap::new(),
            events,
            pod_feeds: BTreeSet::new(),
            classes: HashMap::new(),
            streams,
            recovered: Vec::new(),
            recovered_since: None,
        }
    }

    async fn wait<C: Future<Output = ()>>(&mut self, reporter: &dyn Sink, cancel: C) -> RunState {
        if self.targets.is_empty() {
            return RunState::Ready;
        }
        let deadline = tokio::time::sleep(self.opts.timeout);
        tokio::pin!(deadline);
        tokio::pin!(cancel);
        let mut tick = tokio::time::interval(REJUDGE_EVERY);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let every = self.opts.status_interval.max(Duration::from_millis(100));
        let mut status = tokio::time::interval_at(self.started + every, every);
        status.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut next_judgement = Instant::now();
        let mut dirty = false;
        loop {
            let wake = tokio::select! {
                biased;
                () = &mut cancel => Wake::Cancelled,
                () = &mut deadline => Wake::Deadline,
                () = tokio::time::sleep_until(next_judgement), if dirty => Wake::Tick,
                u = self.streams.next() => Wake::Update(u.map(Box::new)),
                _ = tick.tick() => Wake::Tick,
                _ = status.tick() => Wake::Status,
            };
            match wake {
                Wake::Cancelled => return RunState::Interrupted,
                Wake::Deadline => return RunState::TimedOut,
                Wake::Update(Some(u)) => {
                    self.apply(*u);
                    // Take everything already waiting before judging, so a burst of events
                    // (a re-list, say) is judged once.
                    while let Some(Some(u)) = self.streams.next().now_or_never() {
                        self.apply(u);
                    }
                }
                Wake::Update(None) => {
                    // No watch left: only possible with no targets. Wait out the deadline.
                    tick.tick().await;
                }
                Wake::Tick => {}
                Wake::Status => reporter.event(&self.status_event()),
            }
            self.report_recoveries(reporter, false);
            if Instant::now() < next_judgement {
                dirty = true;
                continue;
            }
            dirty = false;
            self.start_pod_feeds();
            self.fetch_storage_classes().await;
            let judging = Instant::now();
            let verdict = self.judge_all(reporter);
            let cost = judging.elapsed();
            next_judgement = Instant::now() + (cost * JUDGE_SPACING).min(JUDGE_AT_MOST_AFTER);
            if let Some(state) = verdict {
                return state;
            }
        }
    }

    /// Says, in one line, which watches came back after a stall, once they have had
    /// [`RECOVERIES_GATHERED_FOR`] to come back together (or now, with `now`).
    fn report_recoveries(&mut self, reporter: &dyn Sink, now: bool) {
        let due = self
            .recovered_since
            .is_some_and(|t| now || t.elapsed() >= RECOVERIES_GATHERED_FOR);
        if !due || self.recovered.is_empty() {
            return;
        }
        self.recovered_since = None;
        let gathered = std::mem::take(&mut self.recovered);
        let silent = gathered.iter().map(|(_, d)| *d).max().unwrap_or_default();
        let mut seen = BTreeSet::new();
        let names: Vec<String> = gathered
            .into_iter()
            .map(|(n, _)| n)
            .filter(|n| seen.insert(n.clone()))
            .collect();
        let message = match names.as_slice() {
            [one] => format!(
                "the watch of {one} heard nothing for {}; re-established it and re-listed",
                format_duration(silent)
            ),
            [first @ .., last] => format!(
                "the watches of {} and {last} heard nothing for up to {}; re-established them \
                 and re-listed",
                first.join(", "),
                format_duration(silent)
            ),
            [] => return,
        };
        reporter.event(&Event::Info { message });
    }

    fn apply(&mut self, update: Update) {
        match (update.source, update.item) {
            (source, Ok(Item::Recovered(silent))) => {
                // Sent by the watch once its fresh list is in; said with the others that come
                // back within a few seconds ([`Run::report_recoveries`]).
                tracing::debug!(
                    "the watch of {} heard nothing for {}; re-established",
                    source.describe(&self.feeds),
                    format_duration(silent)
                );
                self.recovered_since.get_or_insert_with(Instant::now);
                self.recovered.push((source.describe(&self.feeds), silent));
            }
            (source, Ok(Item::GaveUp)) => {
                tracing::debug!(
                    "gave up the watch of {}: the retry budget is used up",
                    source.describe(&self.feeds)
                );
                match source {
                    Source::Object(i) => {
                        if let Some(s) = self.objects.get_mut(i) {
                            s.give_up()
                        }
                    }
                    Source::Pods(ns) => self.pods.entry(ns).or_default().give_up(),
                    Source::ReplicaSets(ns) => self.replica_sets.entry(ns).or_default().give_up(),
                    Source::Events(ns) => self.events.entry(ns).or_default().give_up(),
                }
            }
            (Source::Object(i), Ok(Item::Object(e))) => {
                if let Some(s) = self.objects.get_mut(i) {
                    s.apply(e)
                }
            }
            (Source::Pods(ns), Ok(Item::Pod(e))) => self.pods.entry(ns).or_default().apply(e),
            (Source::ReplicaSets(ns), Ok(Item::ReplicaSet(e))) => {
                self.replica_sets.entry(ns).or_default().apply(e)
            }
            (Source::Events(ns), Ok(Item::Event(e))) => self.events.entry(ns).or_default().apply(e),
            (Source::Object(i), Err(e)) => {
                tracing::debug!("watch of tracked objects failed (retrying): {e}");
                if let Some(s) = self.objects.get_mut(i) {
                    s.failed(e)
                }
            }
            (Source::Pods(ns), Err(e)) => {
                tracing::debug!("watch of pods in {ns} failed (retrying): {e}");
                self.pods.entry(ns).or_default().failed(e)
            }
            (Source::ReplicaSets(ns), Err(e)) => {
                tracing::debug!("watch of ReplicaSets in {ns} failed (retrying): {e}");
                self.replica_sets.entry(ns).or_default().failed(e)
            }
            (Source::Events(ns), Err(e)) => {
                tracing::debug!("watch of events in {ns} failed (retrying): {e}");
                self.events.entry(ns).or_default().failed(e)
            }
            (source, Ok(_)) => tracing::warn!("unexpected item from watch {source:?}"),
        }
    }

    /// Starts the pod (and ReplicaSet) watch of each namespace once a workload there has been
    /// seen: narrowed to its selector when it is the namespace's only workload.
    fn start_pod_feeds(&mut self) {
        for i in 0..self.targets.len() {
            let t = &self.targets[i];
            let (Some(kind), Some(ns)) = (t.workload(), t.namespace()) else {
                continue;
            };
            if kind == WorkloadKind::Pod || self.pod_feeds.contains(ns) {
                continue;
            }
            let Some(obj) = self.objects[self.feed_of[i]].get(Some(ns), t.name()) else {
                continue;
            };
            let workloads_here = self
                .targets
                .iter()
                .filter(|o| {
                    o.namespace() == Some(ns)
                        && o.workload().is_some_and(|k| k != WorkloadKind::Pod)
                })
                .count();
            let selector = if workloads_here == 1 {
                serde_json::to_value(obj).ok().and_then(|v| selector_of(&v))
            } else {
                None
            };
            let ns = ns.to_string();
            let patience = patience(self.opts);
            self.streams.push(watch::pod_feed(
                self.client,
                &ns,
                selector.as_deref(),
                patience,
            ));
            self.pods.entry(ns.clone()).or_default();
            if self.targets.iter().any(|o| {
                o.namespace() == Some(ns.as_str()) && o.workload() == Some(WorkloadKind::Deployment)
            }) {
                self.streams.push(watch::replica_set_feed(
                    self.client,
                    &ns,
                    selector.as_deref(),
                    patience,
                ));
                self.replica_sets.entry(ns.clone()).or_default();
            }
            self.pod_feeds.insert(ns);
        }
    }

    /// Reads the StorageClass of each tracked PersistentVolumeClaim once (binding mode decides
    /// whether the claim must be Bound before its pod exists).
    async fn fetch_storage_classes(&mut self) {
        let mut wanted = BTreeSet::new();
        for (i, t) in self.targets.iter().enumerate() {
            if t.resource.group.is_empty()
                && t.resource.kind == "PersistentVolumeClaim"
                && let Some(obj) = self.objects[self.feed_of[i]].get(t.namespace(), t.name())
                && let Some(class) = obj
                    .data
                    .pointer("/spec/storageClassName")
                    .and_then(|v| v.as_str())
                && !self.classes.contains_key(class)
            {
                wanted.insert(class.to_string());
            }
        }
        let api: Api<StorageClass> = Api::all(self.client.clone());
        for class in wanted {
            let found = tokio::time::timeout(Duration::from_secs(10), api.get_opt(&class))
                .await
                .ok()
                .and_then(Result::ok)
                .flatten();
            self.classes.insert(class, found);
        }
    }

    /// Judges every pending target; returns how the run ends, if it does now.
    fn judge_all(&mut self, reporter: &dyn Sink) -> Option<RunState> {
        let now = Instant::now();
        let diag = DiagnoseOptions {
            failure_threshold: self.opts.failure_threshold,
            unschedulable_grace: self.opts.unschedulable_grace,
            now: Timestamp::now(),
        };
        let mut failed = false;
        let mut lost = false;
        let mut stalled = false;
        for i in 0..self.targets.len() {
            if self.trackers[i].end.is_some() {
                continue;
            }
            let j = self.judge_one(i, &diag);
            let elapsed = now.duration_since(self.started);
            let tracker = &mut self.trackers[i];
            let state = RolloutState::of(&j.readiness, j.rule == Some(Rule::Skipped));
            let placeholder = j.rule.is_none() && j.readiness == Judgement::waiting().readiness;
            // A lost watch is no rollout state: the object's block at the end says it once.
            let lost_watch =
                matches!(&j.readiness, Readiness::Failed { reason, .. } if reason == WATCH_LOST);
            if !placeholder && !lost_watch && tracker.reported.as_ref() != Some(&state) {
                reporter.event(&Event::Progress {
                    object: self.targets[i].object.clone(),
                    state: state.clone(),
                    elapsed,
                });
                tracker.reported = Some(state);
            }
            if tracker
                .judgement
                .as_ref()
                .is_none_or(|old| old.fingerprint != j.fingerprint)
            {
                tracker.last_change = now;
            }
            match &j.readiness {
                Readiness::Ready => {
                    let state = if j.rule == Some(Rule::Skipped) {
                        ObjectState::Skipped
                    } else {
                        ObjectState::Ready
                    };
                    tracker.end = Some(End {
                        state,
                        after: elapsed,
                        ending: None,
                    });
                }
                Readiness::Failed { reason, .. } if reason == WATCH_LOST => {
                    tracker.end = Some(End {
                        state: ObjectState::Unknown,
                        after: elapsed,
                        ending: Some(Ending::Lost),
                    });
                    lost = true;
                }
                Readiness::Failed { .. } => {
                    tracker.end = Some(End {
                        state: ObjectState::Failed,
                        after: elapsed,
                        ending: Some(Ending::Failed),
                    });
                    failed = true;
                }
                Readiness::InProgress { .. } => {
                    let quiet = now.duration_since(tracker.last_change);
                    if quiet >= self.opts.no_progress_timeout {
                        tracker.end = Some(End {
                            state: ObjectState::TimedOut,
                            after: elapsed,
                            ending: Some(Ending::NoProgress(quiet)),
                        });
                        stalled = true;
                    }
                }
            }
            tracker.judgement = Some(j);
        }
        // A certain failure says more than a lost watch, which says more than a stall.
        if failed {
            Some(RunState::Failed)
        } else if lost {
            Some(RunState::Unreachable)
        } else if stalled {
            Some(RunState::TimedOut)
        } else if self.trackers.iter().all(|t| t.end.is_some()) {
            Some(RunState::Ready)
        } else {
            None
        }
    }

    fn judge_one(&self, i: usize, diag: &DiagnoseOptions) -> Judgement {
        let t = &self.targets[i];
        let store = &self.objects[self.feed_of[i]];
        let ns = t.namespace().unwrap_or("");
        // A watch given up: the object's own, or (for workloads) its namespace's pods or
        // ReplicaSets. Events only add detail.
        let workload = t.workload().is_some();
        let lost = if store.given_up() {
            Some((Source::Object(self.feed_of[i]), store.error()))
        } else if let Some(s) = self.pods.get(ns).filter(|s| workload && s.given_up()) {
            Some((Source::Pods(ns.to_string()), s.error()))
        } else {
            self.replica_sets
                .get(ns)
                .filter(|s| workload && s.given_up())
                .map(|s| (Source::ReplicaSets(ns.to_string()), s.error()))
        };
        let lost = lost.map(|(source, error)| (source.describe(&self.feeds), error));
        let view = match (&lost, store.get(t.namespace(), t.name())) {
            (Some((what, error)), _) => ObjectView::Lost(what, *error),
            (None, Some(obj)) => ObjectView::Present(obj),
            (None, None) if store.synced() => ObjectView::Missing,
            (None, None) => ObjectView::Waiting(store.error()),
        };
        let near = Neighbourhood {
            pods: self.pods.get(ns).filter(|s| s.synced()),
            replica_sets: self.replica_sets.get(ns).filter(|s| s.synced()),
            events: self.events.get(ns),
        };
        let class = match view {
            ObjectView::Present(obj) => obj
                .data
                .pointer("/spec/storageClassName")
                .and_then(|v| v.as_str())
                .and_then(|c| self.classes.get(c))
                .and_then(Option::as_ref),
            _ => None,
        };
        let ctx = ReadinessContext {
            storage_class: class,
            expects_status: t.expects_status,
        };
        judge(t, view, &near, &ctx, diag)
    }

    fn status_event(&self) -> Event {
        let elapsed = self.started.elapsed();
        let objects =
            self.targets
                .iter()
                .zip(&self.trackers)
                .map(|(t, tr)| {
                    let state = tr.reported.clone().unwrap_or_else(|| {
                        RolloutState::of(&Judgement::waiting().readiness, false)
                    });
                    let counts = tr.judgement.as_ref().and_then(|j| j.counts);
                    ObjectStatus {
                        object: t.object.clone(),
                        state,
                        ready: counts.map(|c| c.0),
                        desired: counts.map(|c| c.1),
                    }
                })
                .collect();
        Event::TrackStatus { elapsed, objects }
    }

    /// Settles every object's state, gathers evidence for the unsuccessful ones, and reports it.
    async fn finish(self, state: RunState, reporter: &dyn Sink) -> TrackOutcome {
        let elapsed = self.started.elapsed();
        let ends: Vec<End> = self
            .trackers
            .iter()
            .map(|tr| match (tr.end, state) {
                (Some(end), _) => end,
                (None, RunState::TimedOut) => End {
                    state: ObjectState::TimedOut,
                    after: elapsed,
                    ending: Some(Ending::Timeout(elapsed)),
                },
                (None, _) => End {
                    state: ObjectState::Pending,
                    after: elapsed,
                    ending: None,
                },
            })
            .collect();
        let unseen = Judgement::waiting();
        let explanations = join_all(self.targets.iter().zip(&self.trackers).zip(&ends).map(
            |((t, tr), end)| {
                let judgement = tr.judgement.as_ref().unwrap_or(&unseen);
                async move {
                    match end.ending {
                        Some(ending) => Some(
                            explain(
                                self.client,
                                t,
                                judgement,
                                ending,
                                self.opts.event_lines,
                                self.opts.log_lines,
                            )
                            .await,
                        ),
                        None => None,
                    }
                }
            },
        ))
        .await;
        let mut objects = Vec::with_capacity(self.targets.len());
        for (((t, tr), end), explanation) in self
            .targets
            .iter()
            .zip(&self.trackers)
            .zip(&ends)
            .zip(explanations)
        {
            let readiness = tr
                .judgement
                .as_ref()
                .map(|j| j.readiness.clone())
                .unwrap_or_else(|| unseen.readiness.clone());
            if let Some(explanation) = &explanation {
                reporter.event(&Event::RolloutFailed {
                    object: t.object.clone(),
                    state: end.state,
                    elapsed: end.after,
                    explanation: explanation.clone(),
                });
            }
            objects.push(ObjectOutcome {
                object: t.object.clone(),
                state: end.state,
                readiness,
                duration: end.after,
                explanation,
            });
        }
        TrackOutcome {
            state,
            elapsed,
            objects,
        }
    }
}
