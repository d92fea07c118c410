//! The plain result data of tracking rollouts: readiness, progress states, verdicts and the
//! evidence behind a failure.

use std::time::Duration;

use serde::Serialize;

use super::ObjectRef;
use super::time::serialize_millis;

/// How far an object's rollout has come (what a readiness rule returns).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "state", rename_all = "camelCase")]
pub enum Readiness {
    /// The object has rolled out.
    Ready,
    /// Still rolling out; `message` says what it is waiting for.
    InProgress {
        /// What the object is waiting for, for example `1 of 3 updated replicas are available`.
        message: String,
    },
    /// The rollout cannot succeed without a change to the object or the cluster.
    Failed {
        /// Short CamelCase cause, for example `ProgressDeadlineExceeded`.
        reason: String,
        /// Human explanation, usually the controller's own message.
        message: String,
    },
}

impl Readiness {
    /// An in-progress readiness with `message`.
    pub fn in_progress(message: impl Into<String>) -> Self {
        Self::InProgress {
            message: message.into(),
        }
    }

    /// A failed readiness with `reason` and `message`.
    pub fn failed(reason: impl Into<String>, message: impl Into<String>) -> Self {
        Self::Failed {
            reason: reason.into(),
            message: message.into(),
        }
    }

    /// True when the object has rolled out.
    pub fn is_ready(&self) -> bool {
        matches!(self, Self::Ready)
    }

    /// True when the rollout has failed.
    pub fn is_failed(&self) -> bool {
        matches!(self, Self::Failed { .. })
    }

    /// The message (what it waits for, or why it failed); empty when ready.
    pub fn message(&self) -> &str {
        match self {
            Readiness::Ready => "",
            Readiness::InProgress { message } | Readiness::Failed { message, .. } => message,
        }
    }
}

/// Where a tracked object stands while tracking runs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "state", rename_all = "camelCase")]
pub enum RolloutState {
    /// Still rolling out.
    InProgress {
        /// What it is waiting for.
        message: String,
    },
    /// Rolled out.
    Ready,
    /// Not waited for (`kpush.dev/wait: "false"`).
    Skipped,
    /// Certainly failed.
    Failed {
        /// Short CamelCase cause (`ErrImagePull`).
        reason: String,
        /// The full message.
        message: String,
    },
}

impl RolloutState {
    /// The state of `readiness`; `skipped` when the object opted out of waiting.
    pub fn of(readiness: &Readiness, skipped: bool) -> Self {
        match readiness {
            Readiness::Ready if skipped => RolloutState::Skipped,
            Readiness::Ready => RolloutState::Ready,
            Readiness::InProgress { message } => RolloutState::InProgress {
                message: message.clone(),
            },
            Readiness::Failed { reason, message } => RolloutState::Failed {
                reason: reason.clone(),
                message: message.clone(),
            },
        }
    }

    /// Whether a verdict has been reached (ready, skipped or failed).
    pub fn is_final(&self) -> bool {
        !matches!(self, RolloutState::InProgress { .. })
    }

    /// Whether the state is ready or skipped.
    pub fn is_done(&self) -> bool {
        matches!(self, RolloutState::Ready | RolloutState::Skipped)
    }

    /// The word outputs print: `waiting`, `ready`, `skipped`, `failed`.
    pub fn word(&self) -> &'static str {
        match self {
            RolloutState::InProgress { .. } => "waiting",
            RolloutState::Ready => "ready",
            RolloutState::Skipped => "skipped",
            RolloutState::Failed { .. } => "failed",
        }
    }
}

/// One object's state in a periodic status report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ObjectStatus {
    /// The object.
    pub object: ObjectRef,
    /// Where it stands.
    pub state: RolloutState,
    /// Ready replicas (succeeded completions for Jobs), for kinds that have replicas.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ready: Option<i64>,
    /// Desired replicas (wanted completions for Jobs).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub desired: Option<i64>,
}

/// How tracking one object ended: its verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum ObjectState {
    /// The object rolled out.
    Ready,
    /// The object opted out of waiting (`kpush.dev/wait: "false"`).
    Skipped,
    /// The rollout certainly failed.
    Failed,
    /// `--timeout` ran out, or the object made no progress for `--no-progress-timeout`.
    TimedOut,
    /// Tracking stopped before a verdict (another object failed, or kpush was interrupted).
    Pending,
    /// kpush lost its watch of the object (the API server stayed unreachable): its rollout may
    /// have succeeded or failed.
    Unknown,
}

impl ObjectState {
    /// The word outputs print: `ready`, `skipped`, `failed`, `timed out`, `pending`, `unknown`.
    pub fn word(self) -> &'static str {
        match self {
            ObjectState::Ready => "ready",
            ObjectState::Skipped => "skipped",
            ObjectState::Failed => "failed",
            ObjectState::TimedOut => "timed out",
            ObjectState::Pending => "pending",
            ObjectState::Unknown => "unknown",
        }
    }
}

/// The result of tracking one object.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ObjectOutcome {
    /// The object and its file:line.
    pub object: ObjectRef,
    /// How tracking ended.
    pub state: ObjectState,
    /// The last readiness seen (with its message).
    pub readiness: Readiness,
    /// Time from the start of tracking to the verdict (or to the end of tracking).
    #[serde(serialize_with = "serialize_millis")]
    pub duration: Duration,
    /// Why it failed or what it was still waiting for (failed and timed-out objects only).
    pub explanation: Option<Explanation>,
}

impl ObjectOutcome {
    /// The short reason a table shows: `ErrImagePull`, `Timeout`; what it waited for when
    /// pending; empty when ready.
    pub fn short_reason(&self) -> String {
        match (&self.explanation, &self.readiness) {
            (Some(e), _) => e.reason.clone(),
            (None, Readiness::Failed { reason, .. }) => reason.clone(),
            (None, Readiness::InProgress { message }) if self.state != ObjectState::Ready => {
                message.clone()
            }
            _ => String::new(),
        }
    }
}

/// Why an object failed or timed out, with the evidence gathered from the cluster.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Explanation {
    /// Short CamelCase cause: `ImagePullBackOff`, `ProgressDeadlineExceeded`, `Timeout`, ...
    pub reason: String,
    /// One-line explanation.
    pub message: String,
    /// The failing (or not ready) pod, if a pod is to blame.
    pub pod: Option<String>,
    /// The failing container in `pod`.
    pub container: Option<String>,
    /// The container's restart count, when a container is to blame.
    pub restart_count: Option<i32>,
    /// The latest events of the object and of `pod`, oldest first.
    pub events: Vec<EventLine>,
    /// The failing container's last log lines, or why they could not be read.
    pub logs: Option<Logs>,
    /// What to do about it, when kpush knows.
    pub hint: Option<String>,
}

/// One core/v1 Event, as shown in an explanation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct EventLine {
    /// The object the event is about: `Pod web-7d9f-abcde`.
    pub object: String,
    /// `Normal` or `Warning`.
    #[serde(rename = "type")]
    pub type_: String,
    /// The event's reason, for example `Failed` or `BackOff`.
    pub reason: String,
    /// The event's message.
    pub message: String,
    /// How many times it happened.
    pub count: i32,
}

/// The failing container's logs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "state", rename_all = "camelCase")]
pub enum Logs {
    /// The last lines of the container's log.
    Lines {
        /// The container.
        container: String,
        /// True when these are the previous (crashed) instance's logs.
        previous: bool,
        /// The lines, oldest first.
        lines: Vec<String>,
    },
    /// The logs could not be read; `reason` is one line (forbidden, no kubelet, timeout).
    Unavailable {
        /// The container.
        container: String,
        /// Why not, in one line.
        reason: String,
    },
}

/// How the whole tracking run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum RunState {
    /// Every object is ready (or skipped).
    Ready,
    /// At least one rollout failed.
    Failed,
    /// `--timeout` ran out or an object stalled.
    TimedOut,
    /// Interrupted (Ctrl-C, SIGTERM, or the caller's cancellation).
    Interrupted,
    /// The API server stayed unreachable past `--retry-budget` while kpush watched: the
    /// rollouts it could no longer see have an unknown outcome.
    Unreachable,
}

/// The result of tracking.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TrackOutcome {
    /// How the run ended.
    pub state: RunState,
    /// How long tracking took.
    #[serde(serialize_with = "serialize_millis")]
    pub elapsed: Duration,
    /// One outcome per tracked object, in the order the targets were given.
    pub objects: Vec<ObjectOutcome>,
}

impl TrackOutcome {
    /// True when every object is ready or skipped.
    pub fn is_success(&self) -> bool {
        self.state == RunState::Ready
    }

    /// The objects that failed, timed out, or whose outcome is unknown.
    pub fn unsuccessful(&self) -> impl Iterator<Item = &ObjectOutcome> {
        self.objects.iter().filter(|o| {
            matches!(
                o.state,
                ObjectState::Failed | ObjectState::TimedOut | ObjectState::Unknown
            )
        })
    }
}
