//! The event vocabulary: what the stages tell the outside world, below every stage.
//!
//! Stages (`plan`, `apply`, `track`) emit [`Event`]s into a [`Sink`] and never print; `report`
//! reads them and decides how they look. Neither imports the other: both import this module.
//! States and verdicts are enums, and results are plain data ([`apply`], [`rollout`]).

pub mod apply;
pub mod object;
pub mod outcome;
pub mod permission;
pub mod release;
pub mod rollout;
pub mod target;
pub mod time;

use std::sync::Mutex;
use std::time::Duration;

pub use apply::{
    Action, DiffKind, HookDeletion, KeyChange, ObjectDiff, PruneCandidate, Rejection, RejectionKind,
};
pub use object::ObjectRef;
pub use outcome::Outcome;
pub use permission::{Need, Permission};
pub use release::ReleaseNote;
pub use rollout::{
    EventLine, Explanation, Logs, ObjectOutcome, ObjectState, ObjectStatus, Readiness,
    RolloutState, RunState, TrackOutcome,
};
pub use target::{TargetResult, TargetState};
pub use time::format_duration;

use crate::render::problem::Problem;

/// The pipeline's stages, for grouping output (`::group::` in GitHub Actions, for example).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
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

impl Stage {
    /// `render`, `plan`, `apply`, `track`.
    pub fn name(self) -> &'static str {
        match self {
            Stage::Render => "render",
            Stage::Plan => "plan",
            Stage::Apply => "apply",
            Stage::Track => "track",
        }
    }
}

/// Something that happened; reporters render these.
#[derive(Debug, Clone)]
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
        elapsed: Duration,
    },
    /// A manifest problem: a warning that did not stop the run, or an error that did.
    Problem {
        /// The problem, with file and line.
        problem: Problem,
    },
    /// Rendering finished: how many objects, and the container images they deploy.
    Rendered {
        /// Number of objects.
        objects: usize,
        /// Container images, sorted, without duplicates.
        images: Vec<String>,
    },
    /// An object was applied, pruned or skipped.
    Object {
        /// The object.
        object: ObjectRef,
        /// What happened.
        action: Action,
    },
    /// The API server refused an object (preflight or apply).
    Rejected {
        /// Which object, why, and what to do.
        rejection: Rejection,
    },
    /// Something the user should know that is not a failure (an object kept from pruning).
    Warning {
        /// The object concerned, if any.
        object: Option<ObjectRef>,
        /// What and what to do.
        message: String,
    },
    /// The access check found that the deploying identity lacks a permission the apply needs
    /// (an optional one is a warning; a required one stops the run before any change).
    PermissionMissing {
        /// The verb, resource, namespace and why.
        permission: Permission,
    },
    /// Something about the release being deployed (lock, revisions, rollback); always shown.
    Release {
        /// What.
        note: ReleaseNote,
    },
    /// A note on what kpush is doing (discovery, waves); shown when verbose and in CI logs.
    Info {
        /// The line.
        message: String,
    },
    /// Tracking began: the objects that will be waited for, in order.
    TrackStarted {
        /// The objects.
        objects: Vec<ObjectRef>,
        /// The bound on the whole wait.
        timeout: Duration,
    },
    /// A tracked object's state changed.
    Progress {
        /// The object.
        object: ObjectRef,
        /// Its new state.
        state: RolloutState,
        /// Time since tracking began.
        elapsed: Duration,
    },
    /// Every few seconds while tracking: where each tracked object stands.
    TrackStatus {
        /// Time since tracking began.
        elapsed: Duration,
        /// Every tracked object, in order.
        objects: Vec<ObjectStatus>,
    },
    /// An object failed or timed out: the failing pod and container, reason, events and logs.
    RolloutFailed {
        /// The object.
        object: ObjectRef,
        /// `Failed` or `TimedOut`.
        state: ObjectState,
        /// Time from the start of tracking to the verdict.
        elapsed: Duration,
        /// What went wrong, with evidence.
        explanation: Explanation,
    },
    /// Tracking ended; the outcome of every object.
    TrackFinished {
        /// The outcome.
        outcome: TrackOutcome,
    },
    /// A target of a multi-cluster run (`--targets`) began.
    TargetStarted {
        /// Its name in the targets file.
        name: String,
        /// The cluster, in words (`AKS cluster aks-weu (...)`, `kubeconfig ./kc, context neu`).
        cluster: String,
        /// Whether it runs alone (targets one after another): its events then never interleave
        /// with another target's.
        alone: bool,
    },
    /// An event of one target of a multi-cluster run: every stage event of that target
    /// arrives wrapped in this, so one reporter can group and label them.
    Scoped {
        /// The target's name.
        target: String,
        /// The event.
        event: Box<Event>,
    },
    /// A target of a multi-cluster run ended, or was never started.
    TargetFinished {
        /// Its result.
        result: TargetResult,
    },
}

/// A sink that wraps every event in [`Event::Scoped`] for one target, then hands it on.
pub struct ScopedSink<'a> {
    /// The target's name.
    pub target: String,
    /// Where the wrapped events go.
    pub inner: &'a dyn Sink,
}

impl Sink for ScopedSink<'_> {
    fn event(&self, event: &Event) {
        self.inner.event(&Event::Scoped {
            target: self.target.clone(),
            event: Box::new(event.clone()),
        });
    }

    fn mask(&self, secret: &str) {
        self.inner.mask(secret);
    }
}

/// Where stages send events. Implementations must be cheap and never fail the run.
pub trait Sink: Send + Sync {
    /// Handles one event.
    fn event(&self, event: &Event);

    /// A secret (token, password) that is about to be printed or may appear in output from
    /// now on: CI reporters tell the CI system to hide it. Call it before the value is printed.
    fn mask(&self, _secret: &str) {}
}

/// A sink that discards everything (for library use and tests).
#[derive(Debug, Default, Clone, Copy)]
pub struct NullSink;

impl Sink for NullSink {
    fn event(&self, _event: &Event) {}
}

/// A sink that records events, for tests.
#[derive(Debug, Default)]
pub struct RecordingSink {
    events: Mutex<Vec<Event>>,
}

impl RecordingSink {
    /// The events seen so far.
    pub fn events(&self) -> Vec<Event> {
        self.events.lock().map(|e| e.clone()).unwrap_or_default()
    }
}

impl Sink for RecordingSink {
    fn event(&self, event: &Event) {
        if let Ok(mut e) = self.events.lock() {
            e.push(event.clone());
        }
    }
}
