//! The outcome of a run, handed to every output once at the end.
//!
//! [`Collector`] builds a [`RunSummary`] from the events the stages already emit, so stages
//! need not count anything themselves.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::Duration;

use serde::Serialize;

use super::explain;
use crate::event::time::serialize_millis;
use crate::event::{Action, Event, ObjectRef, ObjectState, RolloutState, TargetState};
use crate::exit;
use crate::render::problem::Severity;

/// How many objects ended in each [`Action`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Counts {
    /// Created.
    pub created: usize,
    /// Changed.
    pub configured: usize,
    /// Already as wanted.
    pub unchanged: usize,
    /// Deleted and created again.
    pub recreated: usize,
    /// Deleted by `--prune`.
    pub pruned: usize,
    /// Would change (diff / dry-run).
    pub would_change: usize,
    /// Not applied.
    pub skipped: usize,
    /// Rejected by the API server.
    pub failed: usize,
    /// Sent, but the connection failed before the answer (may or may not be applied).
    pub unknown: usize,
}

impl Counts {
    /// Counts one more object with `action`.
    pub fn add(&mut self, action: Action) {
        let n = match action {
            Action::Created => &mut self.created,
            Action::Configured => &mut self.configured,
            Action::Unchanged => &mut self.unchanged,
            Action::Recreated => &mut self.recreated,
            Action::Pruned => &mut self.pruned,
            Action::WouldChange => &mut self.would_change,
            Action::Skipped => &mut self.skipped,
            Action::Failed => &mut self.failed,
            Action::Unknown => &mut self.unknown,
        };
        *n += 1;
    }

    /// `(name, count)` pairs in a fixed order, for tables and outputs.
    pub fn pairs(&self) -> [(&'static str, usize); 9] {
        [
            ("created", self.created),
            ("configured", self.configured),
            ("unchanged", self.unchanged),
            ("recreated", self.recreated),
            ("pruned", self.pruned),
            ("would change", self.would_change),
            ("skipped", self.skipped),
            ("failed", self.failed),
            ("unknown", self.unknown),
        ]
    }

    /// Objects of the manifests (every count but pruned ones).
    pub fn objects(&self) -> usize {
        self.pairs()
            .iter()
            .filter(|(name, _)| *name != "pruned")
            .map(|(_, n)| n)
            .sum()
    }
}

impl std::ops::AddAssign for Counts {
    fn add_assign(&mut self, o: Counts) {
        self.created += o.created;
        self.configured += o.configured;
        self.unchanged += o.unchanged;
        self.recreated += o.recreated;
        self.pruned += o.pruned;
        self.would_change += o.would_change;
        self.skipped += o.skipped;
        self.failed += o.failed;
        self.unknown += o.unknown;
    }
}

/// One tracked object's rollout.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Workload {
    /// The object.
    pub object: ObjectRef,
    /// Its verdict (`Pending` while unfinished).
    pub state: ObjectState,
    /// Time from the start of tracking to the verdict.
    #[serde(rename = "durationMs", serialize_with = "serialize_millis")]
    pub duration: Duration,
    /// The short reason when not ready (`ErrImagePull`), or what it waited for.
    pub detail: String,
}

/// Why a run failed, in words a user can act on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Failure {
    /// The object concerned, when there is one (with its file and line).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub object: Option<ObjectRef>,
    /// What went wrong and what to do.
    pub message: String,
}

/// The outcome of one run of a command.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RunSummary {
    /// The command (`apply`, `diff`, `status`).
    pub command: String,
    /// The process exit code (see [`crate::exit`]).
    pub exit_code: i32,
    /// Objects per action.
    pub counts: Counts,
    /// Tracked objects, in the order they were first seen.
    pub workloads: Vec<Workload>,
    /// Container images deployed.
    pub images: Vec<String>,
    /// Explanations of what failed; empty on success.
    pub failures: Vec<Failure>,
    /// With `--release`: what happened to the release (lock, revisions, rollback), in order.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub release: Vec<String>,
    /// With `--targets`: each target's outcome, in the targets file's order (the counts and
    /// images above are then their sum and union; workloads and failures are per target).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub targets: Vec<TargetSummary>,
    /// The JSON report file, when one was written.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub report_path: Option<PathBuf>,
    /// Wall time of the whole run.
    #[serde(rename = "durationMs", serialize_with = "serialize_millis")]
    pub duration: Duration,
}

impl RunSummary {
    /// An empty summary for `command` ending with `exit_code`.
    pub fn new(command: impl Into<String>, exit_code: i32) -> Self {
        Self {
            command: command.into(),
            exit_code,
            counts: Counts::default(),
            workloads: Vec::new(),
            images: Vec::new(),
            failures: Vec::new(),
            release: Vec::new(),
            targets: Vec::new(),
            report_path: None,
            duration: Duration::ZERO,
        }
    }

    /// The machine-readable result (`success`, `rollout-failed`, ...), from the exit code.
    pub fn result(&self) -> &'static str {
        exit::result_name(self.exit_code, &self.command)
    }

    /// Whether the run counts as successful for a CI step (`diff` with differences does not).
    pub fn succeeded(&self) -> bool {
        self.exit_code == exit::SUCCESS
    }
}

/// The outcome of one target of a multi-cluster run (`--targets`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TargetSummary {
    /// Its name in the targets file.
    pub name: String,
    /// The cluster, in words.
    pub cluster: String,
    /// How it ended.
    pub state: TargetState,
    /// Its exit code.
    pub exit_code: i32,
    /// Why it failed or was not started.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// Objects per action.
    pub counts: Counts,
    /// Tracked objects.
    pub workloads: Vec<Workload>,
    /// Container images deployed.
    pub images: Vec<String>,
    /// Explanations of what failed.
    pub failures: Vec<Failure>,
    /// What happened to the release on this target.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub release: Vec<String>,
    /// Time the target took.
    #[serde(rename = "durationMs", serialize_with = "serialize_millis")]
    pub duration: Duration,
}

impl TargetSummary {
    /// Why the target failed or was not started, in one line: its error, or its first failure.
    pub fn detail(&self) -> Option<&str> {
        self.message
            .as_deref()
            .or(self.failures.first().map(|f| f.message.as_str()))
            .and_then(|m| m.lines().next())
    }

    /// Whether it ran at all.
    pub fn started(&self) -> bool {
        self.state != TargetState::NotStarted
    }
}

/// Gathers counts, rollouts, images and failures from events, to fill a [`RunSummary`].
#[derive(Debug, Default)]
pub struct Collector {
    state: Mutex<Collected>,
    targets: Mutex<Vec<TargetCollected>>,
}

#[derive(Debug)]
struct TargetCollected {
    name: String,
    cluster: String,
    collected: Collected,
    result: Option<crate::event::TargetResult>,
}

#[derive(Debug, Default)]
struct Collected {
    counts: Counts,
    index: BTreeMap<ObjectRef, usize>,
    workloads: Vec<Workload>,
    images: Vec<String>,
    failures: Vec<Failure>,
    release: Vec<String>,
}

impl Collected {
    fn upsert(&mut self, w: Workload) {
        match self.index.get(&w.object) {
            Some(&i) => self.workloads[i] = w,
            None => {
                self.index.insert(w.object.clone(), self.workloads.len());
                self.workloads.push(w);
            }
        }
    }
}

impl Collector {
    /// A summary of what was seen, for `command` ending with `exit_code`. Objects still
    /// pending are marked timed out when the exit code says so.
    pub fn summary(&self, command: &str, exit_code: i32) -> RunSummary {
        let mut s = RunSummary::new(command, exit_code);
        let Ok(c) = self.state.lock() else {
            return s;
        };
        s.counts = c.counts;
        s.failures = c.failures.clone();
        s.images = c.images.clone();
        s.release = c.release.clone();
        s.workloads = c.workloads.clone();
        timed_out(&mut s.workloads, exit_code);
        drop(c);
        if let Ok(targets) = self.targets.lock() {
            for t in targets.iter() {
                let (state, code, message, duration) = match &t.result {
                    Some(r) => (
                        r.state,
                        exit::of_outcome(r.outcome),
                        r.message.clone(),
                        r.elapsed,
                    ),
                    None => (TargetState::Failed, exit_code, None, Duration::ZERO),
                };
                let c = &t.collected;
                let mut workloads = c.workloads.clone();
                timed_out(&mut workloads, code);
                s.counts += c.counts;
                for i in &c.images {
                    if !s.images.contains(i) {
                        s.images.push(i.clone());
                    }
                }
                s.targets.push(TargetSummary {
                    name: t.name.clone(),
                    cluster: t.cluster.clone(),
                    state,
                    exit_code: code,
                    message,
                    counts: c.counts,
                    workloads,
                    images: c.images.clone(),
                    failures: c.failures.clone(),
                    release: c.release.clone(),
                    duration,
                });
            }
        }
        s.images.sort();
        s
    }

    /// Takes in one event.
    pub fn record(&self, event: &Event) {
        let target = |name: &str, targets: &mut Vec<TargetCollected>| -> usize {
            match targets.iter().position(|t| t.name == name) {
                Some(i) => i,
                None => {
                    targets.push(TargetCollected {
                        name: name.to_string(),
                        cluster: String::new(),
                        collected: Collected::default(),
                        result: None,
                    });
                    targets.len() - 1
                }
            }
        };
        match event {
            Event::TargetStarted { name, cluster, .. } => {
                if let Ok(mut targets) = self.targets.lock() {
                    let i = target(name, &mut targets);
                    targets[i].cluster = cluster.clone();
                }
            }
            Event::TargetFinished { result } => {
                if let Ok(mut targets) = self.targets.lock() {
                    let i = target(&result.name, &mut targets);
                    targets[i].result = Some(result.clone());
                }
            }
            Event::Scoped {
                target: name,
                event,
            } => {
                if let Ok(mut targets) = self.targets.lock() {
                    let i = target(name, &mut targets);
                    targets[i].collected.record(event);
                }
            }
            other => {
                if let Ok(mut c) = self.state.lock() {
                    c.record(other);
                }
            }
        }
    }
}

/// Objects still pending count as timed out when the run timed out.
fn timed_out(workloads: &mut [Workload], exit_code: i32) {
    for w in workloads {
        if w.state == ObjectState::Pending && exit_code == exit::TIMED_OUT {
            w.state = ObjectState::TimedOut;
        }
    }
}

impl Collected {
    /// Takes in one event.
    fn record(&mut self, event: &Event) {
        let c = self;
        match event {
            Event::Rendered { images, .. } => c.images = images.clone(),
            Event::Release { note } => c.release.push(note.text()),
            Event::PermissionMissing { permission } if !permission.optional() => {
                c.failures.push(Failure {
                    object: None,
                    message: permission.missing(),
                });
            }

            Event::Object { action, .. } => c.counts.add(*action),
            Event::Rejected { rejection } => {
                c.counts.add(Action::Failed);
                let mut message = rejection.reason.clone();
                if !rejection.advice.is_empty() {
                    message.push_str(&format!("\nfix: {}", rejection.advice));
                }
                c.failures.push(Failure {
                    object: Some(rejection.object.clone()),
                    message,
                });
            }
            Event::Progress {
                object,
                state,
                elapsed,
            } => {
                let (state, detail) = match state {
                    RolloutState::InProgress { message } => (ObjectState::Pending, message.clone()),
                    RolloutState::Ready => (ObjectState::Ready, String::new()),
                    RolloutState::Skipped => (ObjectState::Skipped, String::new()),
                    RolloutState::Failed { reason, .. } => (ObjectState::Failed, reason.clone()),
                };
                c.upsert(Workload {
                    object: object.clone(),
                    state,
                    duration: *elapsed,
                    detail,
                });
            }
            Event::RolloutFailed {
                object,
                state,
                elapsed,
                explanation,
            } => {
                c.failures.push(Failure {
                    object: Some(object.clone()),
                    message: format!(
                        "{}\n{}",
                        explain::failure_title(object, *state, *elapsed, &explanation.reason),
                        explain::explanation_body(explanation)
                    ),
                });
            }
            Event::TrackFinished { outcome } => {
                for o in &outcome.objects {
                    c.upsert(Workload {
                        object: o.object.clone(),
                        state: o.state,
                        duration: o.duration,
                        detail: o.short_reason(),
                    });
                }
            }
            Event::Problem { problem } if problem.severity == Severity::Error => {
                c.failures.push(Failure {
                    object: None,
                    message: problem.to_string(),
                });
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manifest::{ObjectKey, Origin};

    fn obj(name: &str) -> ObjectRef {
        ObjectRef::new(
            ObjectKey {
                group: "apps".into(),
                kind: "Deployment".into(),
                namespace: Some("shop".into()),
                name: name.into(),
            },
            Some(Origin::new("deploy/web.yaml", 1)),
        )
    }

    fn progress(name: &str, state: RolloutState, secs: u64) -> Event {
        Event::Progress {
            object: obj(name),
            state,
            elapsed: Duration::from_secs(secs),
        }
    }

    #[test]
    fn collector_counts_actions_and_keeps_the_last_state_per_object() {
        let c = Collector::default();
        for a in [Action::Created, Action::Created, Action::Pruned] {
            c.record(&Event::Object {
                object: obj("x"),
                action: a,
            });
        }
        let waiting = || RolloutState::InProgress {
            message: "1 of 3".into(),
        };
        c.record(&progress("web", waiting(), 1));
        c.record(&progress("api", waiting(), 1));
        c.record(&progress("web", RolloutState::Ready, 9));
        let s = c.summary("apply", exit::TIMED_OUT);
        assert_eq!((s.counts.created, s.counts.pruned), (2, 1));
        assert_eq!(s.workloads.len(), 2);
        assert_eq!(s.workloads[0].object.key.name, "web");
        assert_eq!(s.workloads[0].state, ObjectState::Ready);
        assert_eq!(s.workloads[0].duration, Duration::from_secs(9));
        assert_eq!(s.workloads[1].state, ObjectState::TimedOut);
        assert_eq!(s.result(), "timed-out");
    }
}
