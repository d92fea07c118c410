//! The outcome of a run, handed to every reporter once at the end ([`Reporter::finish`]).
//!
//! [`Collector`] builds most of a [`RunSummary`] from the events the engine already emits, so
//! stages need not count anything themselves.
//!
//! [`Reporter::finish`]: super::Reporter::finish

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::Duration;

use serde::Serialize;

use super::events::{Action, Event, ObjectRef, Reporter};
use super::rollout_text::explanation_block;
use crate::exit;
use crate::render::Severity;
use crate::track::outcome::ObjectState;
use crate::track::readiness::Readiness;

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
        };
        *n += 1;
    }

    /// `(name, count)` pairs in a fixed order, for tables and outputs.
    pub fn pairs(&self) -> [(&'static str, usize); 8] {
        [
            ("created", self.created),
            ("configured", self.configured),
            ("unchanged", self.unchanged),
            ("recreated", self.recreated),
            ("pruned", self.pruned),
            ("would change", self.would_change),
            ("skipped", self.skipped),
            ("failed", self.failed),
        ]
    }
}

/// How one workload's rollout ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum RolloutResult {
    /// Ready.
    Ready,
    /// Certainly broken.
    Failed,
    /// Still progressing when the timeout hit.
    TimedOut,
    /// Not finished when the run stopped for another reason (interrupted, another failure).
    Unfinished,
    /// Not waited for (`kpush.dev/wait: "false"`).
    Skipped,
}

impl RolloutResult {
    /// `ready`, `failed`, `timed out`, `unfinished`.
    pub fn label(self) -> &'static str {
        match self {
            RolloutResult::Ready => "ready",
            RolloutResult::Failed => "failed",
            RolloutResult::TimedOut => "timed out",
            RolloutResult::Unfinished => "unfinished",
            RolloutResult::Skipped => "not waited for",
        }
    }
}

/// One tracked workload's rollout.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Workload {
    /// The workload.
    pub object: ObjectRef,
    /// How it ended.
    pub result: RolloutResult,
    /// Time from the start of tracking to the result.
    #[serde(rename = "durationMs", serialize_with = "duration_ms")]
    pub duration: Duration,
    /// The last message (why it failed, or what it waited for).
    pub message: String,
}

/// Why a run failed, in words a user can act on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Failure {
    /// The object concerned, when there is one (with its file and line).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub object: Option<ObjectRef>,
    /// What went wrong and what to do.
    pub message: String,
    /// Whether `message` is a full rollout explanation (pod, events, logs).
    #[serde(skip)]
    pub explained: bool,
}

/// The outcome of one run of a command.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RunSummary {
    /// The command (`apply`, `diff`, `render`).
    pub command: String,
    /// The process exit code (see [`crate::exit`]).
    pub exit_code: i32,
    /// Objects per action.
    pub counts: Counts,
    /// Tracked workloads, in the order they were first seen.
    pub workloads: Vec<Workload>,
    /// Container images deployed.
    pub images: Vec<String>,
    /// Explanations of what failed; empty on success.
    pub failures: Vec<Failure>,
    /// The JSON report file, when one was written.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub report_path: Option<PathBuf>,
    /// Wall time of the whole run.
    #[serde(rename = "durationMs", serialize_with = "duration_ms")]
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
            report_path: None,
            duration: Duration::ZERO,
        }
    }

    /// The machine-readable result (`success`, `rollout-failed`, ...), from the exit code.
    pub fn result(&self) -> &'static str {
        result_name(self.exit_code, &self.command)
    }

    /// Whether the run counts as successful for a CI step (`diff` with differences does not).
    pub fn succeeded(&self) -> bool {
        self.exit_code == exit::SUCCESS
    }
}

/// The result name for an exit code: the values of the `result` output in CI.
pub fn result_name(code: i32, command: &str) -> &'static str {
    match code {
        exit::SUCCESS if command == "diff" => "no-differences",
        exit::SUCCESS => "success",
        exit::DIFFERENCES => "differences",
        exit::BAD_INPUT => "invalid-input",
        exit::APPLY_REJECTED => "rejected",
        exit::ROLLOUT_FAILED => "rollout-failed",
        exit::TIMED_OUT => "timed-out",
        exit::CLUSTER_UNREACHABLE => "cluster-unreachable",
        exit::INTERRUPTED => "interrupted",
        _ => "internal-error",
    }
}

/// A reporter that gathers counts, workloads and failures from events, to fill a [`RunSummary`].
#[derive(Debug, Default)]
pub struct Collector {
    state: Mutex<Collected>,
}

#[derive(Debug, Default)]
struct Collected {
    counts: Counts,
    workloads: BTreeMap<String, usize>,
    order: Vec<Workload>,
    failures: Vec<Failure>,
    /// Objects whose failure came with an explanation (`RolloutFailed`); their plainer
    /// `Progress` failures are then left out.
    explained: BTreeSet<String>,
}

impl Collected {
    fn upsert(&mut self, w: Workload) {
        let key = w.object.display_name();
        match self.workloads.get(&key) {
            Some(&i) => self.order[i] = w,
            None => {
                self.workloads.insert(key, self.order.len());
                self.order.push(w);
            }
        }
    }
}

impl Collector {
    /// A summary of what was seen, for `command` ending with `exit_code`. Workloads still in
    /// progress are marked timed out when the exit code says so, unfinished otherwise.
    pub fn summary(&self, command: &str, exit_code: i32) -> RunSummary {
        let mut s = RunSummary::new(command, exit_code);
        let Ok(c) = self.state.lock() else {
            return s;
        };
        s.counts = c.counts;
        s.failures = c
            .failures
            .iter()
            .filter(|f| match (&f.object, f.explained) {
                (Some(o), false) => !c.explained.contains(&o.display_name()),
                _ => true,
            })
            .cloned()
            .collect();
        s.workloads = c.order.clone();
        for w in &mut s.workloads {
            if w.result == RolloutResult::Unfinished && exit_code == exit::TIMED_OUT {
                w.result = RolloutResult::TimedOut;
            }
        }
        s
    }

    fn record(c: &mut Collected, event: &Event) {
        match event {
            Event::Object {
                object,
                action,
                message,
            } => {
                c.counts.add(*action);
                if *action == Action::Failed {
                    c.failures.push(Failure {
                        object: Some(object.clone()),
                        message: message
                            .clone()
                            .unwrap_or_else(|| "rejected by the API server".to_string()),
                        explained: false,
                    });
                }
            }
            Event::Progress {
                object,
                state,
                message,
                elapsed,
            } => {
                let result = match state.as_str() {
                    "ready" => RolloutResult::Ready,
                    "failed" => RolloutResult::Failed,
                    _ => RolloutResult::Unfinished,
                };
                c.upsert(Workload {
                    object: object.clone(),
                    result,
                    duration: *elapsed,
                    message: message.clone(),
                });
                if result == RolloutResult::Failed {
                    c.failures.push(Failure {
                        object: Some(object.clone()),
                        message: message.clone(),
                        explained: false,
                    });
                }
            }
            Event::RolloutFailed {
                object,
                state,
                elapsed,
                explanation,
            } => {
                c.explained.insert(object.display_name());
                c.failures.push(Failure {
                    object: Some(object.clone()),
                    message: explanation_block(object, *state, *elapsed, explanation),
                    explained: true,
                });
            }
            Event::TrackFinished { outcome } => {
                for o in &outcome.objects {
                    let (result, message) = match (&o.state, &o.readiness) {
                        (ObjectState::Ready, _) => (RolloutResult::Ready, "ready".to_string()),
                        (ObjectState::Skipped, _) => (RolloutResult::Skipped, String::new()),
                        (ObjectState::Failed, r) => (RolloutResult::Failed, readiness_text(r)),
                        (ObjectState::TimedOut, r) => (RolloutResult::TimedOut, readiness_text(r)),
                        (ObjectState::Pending, r) => (RolloutResult::Unfinished, readiness_text(r)),
                    };
                    let message = match &o.explanation {
                        Some(e) if result != RolloutResult::Ready => {
                            format!("{}: {}", e.reason, e.message)
                        }
                        _ => message,
                    };
                    c.upsert(Workload {
                        object: o.object.clone(),
                        result,
                        duration: o.duration,
                        message,
                    });
                }
            }
            Event::Problem { problem } if problem.severity == Severity::Error => {
                c.failures.push(Failure {
                    object: None,
                    message: problem.to_string(),
                    explained: false,
                });
            }
            _ => {}
        }
    }
}

impl Reporter for Collector {
    fn event(&self, event: &Event) {
        if let Ok(mut c) = self.state.lock() {
            Self::record(&mut c, event);
        }
    }
}

fn readiness_text(r: &Readiness) -> String {
    match r {
        Readiness::Ready => "ready".to_string(),
        Readiness::InProgress { message } => message.clone(),
        Readiness::Failed { reason, message } => format!("{reason}: {message}"),
    }
}

fn duration_ms<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_u64(d.as_millis() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn obj(name: &str) -> ObjectRef {
        ObjectRef {
            kind: "Deployment".into(),
            group: "apps".into(),
            namespace: Some("shop".into()),
            name: name.into(),
            file: Some("deploy/web.yaml".into()),
            line: Some(1),
            via: Vec::new(),
        }
    }

    fn progress(name: &str, state: &str, secs: u64) -> Event {
        Event::Progress {
            object: obj(name),
            state: state.into(),
            message: format!("{name} is {state}"),
            elapsed: Duration::from_secs(secs),
        }
    }

    #[test]
    fn collector_counts_actions_and_keeps_the_last_state_per_workload() {
        let c = Collector::default();
        for a in [Action::Created, Action::Created, Action::Pruned] {
            c.event(&Event::Object {
                object: obj("x"),
                action: a,
                message: None,
            });
        }
        c.event(&progress("web", "inProgress", 1));
        c.event(&progress("api", "inProgress", 1));
        c.event(&progress("web", "ready", 9));
        let s = c.summary("apply", exit::TIMED_OUT);
        assert_eq!((s.counts.created, s.counts.pruned), (2, 1));
        assert_eq!(s.workloads.len(), 2);
        assert_eq!(s.workloads[0].object.name, "web");
        assert_eq!(s.workloads[0].result, RolloutResult::Ready);
        assert_eq!(s.workloads[0].duration, Duration::from_secs(9));
        assert_eq!(s.workloads[1].result, RolloutResult::TimedOut);
        assert_eq!(s.result(), "timed-out");
    }

    #[test]
    fn rejected_objects_and_failed_rollouts_become_failures() {
        let c = Collector::default();
        c.event(&Event::Object {
            object: obj("bad"),
            action: Action::Failed,
            message: Some("spec.replicas: Invalid value".into()),
        });
        c.event(&progress("web", "failed", 3));
        let s = c.summary("apply", exit::ROLLOUT_FAILED);
        assert_eq!(s.failures.len(), 2);
        assert_eq!(s.failures[0].message, "spec.replicas: Invalid value");
        assert_eq!(s.result(), "rollout-failed");
    }

    #[test]
    fn result_names_follow_exit_codes() {
        assert_eq!(result_name(0, "apply"), "success");
        assert_eq!(result_name(0, "diff"), "no-differences");
        assert_eq!(result_name(1, "diff"), "differences");
        assert_eq!(result_name(2, "apply"), "invalid-input");
        assert_eq!(result_name(99, "apply"), "internal-error");
    }
}
