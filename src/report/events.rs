//! What the engine tells the outside world. Stages never print: they emit [`Event`]s to a
//! [`Reporter`], and reporters (terminal, GitHub Actions, Azure DevOps, JSON) decide how they look.

use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;

use crate::manifest::{ObjectKey, Origin};
use crate::render::Problem;
use crate::track::{Explanation, ObjectState, ObjectStatus, TrackOutcome};

use super::outcome::RunSummary;

/// The pipeline's stages, for grouping output (`::group::` in GitHub Actions, for example).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Stage {
    /// Files → objects.
    Render,
    /// Discovery, ordering, preflight dry-run, diff.
    Plan,
    /// Server-side apply (and prune).
    Apply,
    /// Waiting for rollouts.
    Track,
}

/// What applying did to one object.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    /// The object did not exist and was created.
    Created,
    /// The object existed and changed.
    Configured,
    /// The object existed and nothing changed.
    Unchanged,
    /// The object was deleted and created again (`--recreate-on-immutable`).
    Recreated,
    /// The object was deleted by `--prune`.
    Pruned,
    /// The object would be changed (dry-run / diff).
    WouldChange,
    /// The object was not applied (interrupted or an earlier wave failed).
    Skipped,
    /// The API server rejected the object.
    Failed,
}

/// Identity plus origin of an object, as reporters need it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ObjectRef {
    /// Kind as written (e.g. `Deployment`).
    pub kind: String,
    /// API group (`""` for core).
    pub group: String,
    /// Namespace, if namespaced.
    pub namespace: Option<String>,
    /// Name.
    pub name: String,
    /// File and line it came from; `None` for objects found only in the cluster (pruned ones).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub file: Option<Arc<str>>,
    /// Line in `file`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line: Option<u32>,
    /// Overlay entries that changed the object (kustomize), as `field (file:line)`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub via: Vec<String>,
}

impl ObjectRef {
    /// Builds a reference from a key and an optional origin.
    pub fn new(key: &ObjectKey, origin: Option<&Origin>) -> Self {
        Self {
            kind: key.kind.clone(),
            group: key.group.clone(),
            namespace: key.namespace.clone(),
            name: key.name.clone(),
            file: origin.map(|o| o.file.clone()),
            line: origin.map(|o| o.line),
            via: origin
                .map(|o| o.via.iter().map(ToString::to_string).collect())
                .unwrap_or_default(),
        }
    }

    /// `Deployment shop/web`.
    pub fn display_name(&self) -> String {
        match &self.namespace {
            Some(ns) => format!("{} {ns}/{}", self.kind, self.name),
            None => format!("{} {}", self.kind, self.name),
        }
    }

    /// `file:line`, if known (just the file, or the flag, when the line is 0), followed by
    /// ` via field (file:line)` for each overlay entry that changed the object.
    pub fn location(&self) -> Option<String> {
        let file = self.file.as_deref()?;
        let mut s = match self.line? {
            0 => file.to_string(),
            line => format!("{file}:{line}"),
        };
        for v in &self.via {
            s.push_str(" via ");
            s.push_str(v);
        }
        Some(s)
    }
}

/// Something that happened; reporters render these.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "event", rename_all = "camelCase")]
pub enum Event {
    /// A stage began.
    StageStarted {
        /// Which.
        stage: Stage,
    },
    /// A stage ended.
    StageFinished {
        /// Which.
        stage: Stage,
        /// How long it took.
        #[serde(with = "duration_ms")]
        elapsed: Duration,
    },
    /// A manifest problem that did not stop the run (or the errors that did, before exiting).
    Problem {
        /// The problem, with file and line.
        problem: Problem,
    },
    /// An object was applied, pruned, skipped or rejected.
    Object {
        /// The object.
        object: ObjectRef,
        /// What happened.
        action: Action,
        /// Detail: a rejection's message, a diff summary.
        #[serde(skip_serializing_if = "Option::is_none")]
        message: Option<String>,
    },
    /// A tracked object's readiness changed (or a periodic progress note).
    Progress {
        /// The object.
        object: ObjectRef,
        /// `ready`, `inProgress` or `failed`.
        state: String,
        /// Human detail, e.g. "2 of 3 updated replicas are available".
        message: String,
        /// Time since tracking began.
        #[serde(with = "duration_ms")]
        elapsed: Duration,
    },
    /// A plain informational line (what was chosen, what is waited on).
    Info {
        /// The line.
        message: String,
    },
    /// Tracking began: the objects that will be waited for, in order.
    TrackStarted {
        /// The objects.
        objects: Vec<ObjectRef>,
        /// The bound on the whole wait.
        #[serde(with = "duration_ms")]
        timeout: Duration,
    },
    /// Every few seconds while tracking: where each tracked object stands.
    TrackStatus {
        /// Time since tracking began.
        #[serde(with = "duration_ms")]
        elapsed: Duration,
        /// Every tracked object, in order.
        objects: Vec<ObjectStatus>,
    },
    /// An object failed or timed out: the failing pod and container, reason, events and logs.
    RolloutFailed {
        /// The object.
        object: ObjectRef,
        /// `failed` or `timedOut`.
        state: ObjectState,
        /// Time from the start of tracking to the verdict.
        #[serde(with = "duration_ms")]
        elapsed: Duration,
        /// What went wrong, with evidence.
        explanation: Explanation,
    },
    /// Tracking ended; the outcome of every object.
    TrackFinished {
        /// The outcome.
        outcome: TrackOutcome,
    },
}

/// A sink for events. Implementations must be cheap and never fail the deploy.
pub trait Reporter: Send + Sync {
    /// Handles one event.
    fn event(&self, event: &Event);

    /// The run is over: called once, last, with its outcome (counts, rollouts, exit code).
    /// CI reporters write job summaries and step outputs here.
    fn finish(&self, _summary: &RunSummary) {}

    /// A secret-derived value (token, password) that may appear in output from now on:
    /// CI reporters tell the CI system to hide it (`::add-mask::`, `task.setsecret`).
    /// Call it before the value can be printed anywhere.
    fn mask(&self, _secret: &str) {}
}

/// A reporter that discards everything (for library use and tests).
#[derive(Debug, Default, Clone, Copy)]
pub struct NullReporter;

impl Reporter for NullReporter {
    fn event(&self, _event: &Event) {}
}

/// A reporter that records events, for tests.
#[derive(Debug, Default)]
pub struct RecordingReporter {
    events: std::sync::Mutex<Vec<Event>>,
}

impl RecordingReporter {
    /// The events seen so far.
    pub fn events(&self) -> Vec<Event> {
        self.events.lock().map(|e| e.clone()).unwrap_or_default()
    }
}

impl Reporter for RecordingReporter {
    fn event(&self, event: &Event) {
        if let Ok(mut e) = self.events.lock() {
            e.push(event.clone());
        }
    }
}

mod duration_ms {
    use std::time::Duration;

    pub fn serialize<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(d.as_millis() as u64)
    }
}
