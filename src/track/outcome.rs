//! What tracking found: one [`ObjectOutcome`] per object and the run's [`TrackOutcome`].

use std::time::Duration;

use serde::Serialize;

use super::readiness::Readiness;
use crate::exit;
use crate::report::ObjectRef;

/// How tracking one object ended.
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
}

impl ObjectState {
    /// The word reporters show: `ready`, `skipped`, `failed`, `timed out`, `pending`.
    pub fn word(self) -> &'static str {
        match self {
            ObjectState::Ready => "ready",
            ObjectState::Skipped => "skipped",
            ObjectState::Failed => "failed",
            ObjectState::TimedOut => "timed out",
            ObjectState::Pending => "pending",
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
    #[serde(serialize_with = "millis")]
    pub duration: Duration,
    /// Why it failed or what it was still waiting for (failed and timed-out objects only).
    pub explanation: Option<Explanation>,
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

/// How the whole run ended.
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
}

/// The result of [`crate::track::track`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TrackOutcome {
    /// How the run ended.
    pub state: RunState,
    /// How long tracking took.
    #[serde(serialize_with = "millis")]
    pub elapsed: Duration,
    /// One outcome per tracked object, in the order the targets were given.
    pub objects: Vec<ObjectOutcome>,
}

impl TrackOutcome {
    /// The process exit code this outcome deserves (see [`crate::exit`]).
    pub fn exit_code(&self) -> i32 {
        match self.state {
            RunState::Ready => exit::SUCCESS,
            RunState::Failed => exit::ROLLOUT_FAILED,
            RunState::TimedOut => exit::TIMED_OUT,
            RunState::Interrupted => exit::INTERRUPTED,
        }
    }

    /// True when every object is ready or skipped.
    pub fn is_success(&self) -> bool {
        self.state == RunState::Ready
    }

    /// The objects that failed or timed out.
    pub fn unsuccessful(&self) -> impl Iterator<Item = &ObjectOutcome> {
        self.objects
            .iter()
            .filter(|o| matches!(o.state, ObjectState::Failed | ObjectState::TimedOut))
    }
}

fn millis<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_u64(u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_codes_follow_the_run_state() {
        let outcome = |state| TrackOutcome {
            state,
            elapsed: Duration::ZERO,
            objects: vec![],
        };
        assert_eq!(outcome(RunState::Ready).exit_code(), exit::SUCCESS);
        assert_eq!(outcome(RunState::Failed).exit_code(), exit::ROLLOUT_FAILED);
        assert_eq!(outcome(RunState::TimedOut).exit_code(), exit::TIMED_OUT);
        assert_eq!(
            outcome(RunState::Interrupted).exit_code(),
            exit::INTERRUPTED
        );
    }
}
