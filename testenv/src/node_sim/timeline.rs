//! What a container looks like at a given moment: a pure function of its plan and the time.
//!
//! A container's life is a sequence of segments (pulling, running, terminated, backing off, ...).
//! Each segment starts with the events the kubelet records at that moment. Times are offsets
//! from the moment the simulated kubelet took the pod; the same plan and time always give the
//! same answer, so the kubelet loop only samples it and the tests need no cluster.

use std::time::Duration;

const MS: Duration = Duration::from_millis(1);

/// How long pulling an image that is not present takes.
pub const PULL: Duration = Duration::from_millis(150);
/// From "image ready" to "container running".
pub const CREATE: Duration = Duration::from_millis(50);
/// How long a crashing container shows as Terminated before CrashLoopBackOff.
const TERMINATED_SHOWN: Duration = Duration::from_millis(100);
/// How long after an image pull error the kubelet shows ImagePullBackOff.
const PULL_BACKOFF_AFTER: Duration = Duration::from_millis(2000);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RestartPolicy {
    Always,
    OnFailure,
    Never,
}

impl RestartPolicy {
    pub fn parse(s: Option<&str>) -> RestartPolicy {
        match s {
            Some("Never") => RestartPolicy::Never,
            Some("OnFailure") => RestartPolicy::OnFailure,
            _ => RestartPolicy::Always,
        }
    }

    fn restarts_after(self, code: i32) -> bool {
        match self {
            RestartPolicy::Always => true,
            RestartPolicy::OnFailure => code != 0,
            RestartPolicy::Never => false,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ContainerKind {
    Init,
    Main,
}

/// Identity of a pod, for messages that name it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PodIdent {
    pub namespace: String,
    pub name: String,
    pub uid: String,
}

/// How the container gets started.
#[derive(Debug, Clone, PartialEq)]
pub enum Startup {
    /// The image is pulled (or present) and the container is created.
    Ok,
    /// Pulling fails with the runtime's error (`error`, as the CRI client returns it):
    /// ErrImagePull (or the kubelet's reason for it), then ImagePullBackOff, retried.
    PullFails { error: String },
    /// `imagePullPolicy: Never` and the image is not on the node.
    NeverPull,
    /// The image is not a valid reference: InvalidImageName.
    InvalidImage { message: String },
    /// The container's configuration cannot be built: CreateContainerConfigError.
    ConfigError { message: String },
}

/// What the container's process does once started.
#[derive(Debug, Clone, PartialEq)]
pub enum Run {
    /// Keeps running; Ready after `ready_after` (never when `None`), with failing readiness
    /// probes reported as `Unhealthy` events when `unhealthy`.
    Serve {
        ready_after: Option<Duration>,
        unhealthy: bool,
    },
    /// Exits with `code` after running for `after`.
    Exit {
        after: Duration,
        code: i32,
        reason: String,
    },
}

/// Everything the timeline needs to know about one container.
#[derive(Debug, Clone, PartialEq)]
pub struct ContainerPlan {
    pub name: String,
    pub image: String,
    pub kind: ContainerKind,
    /// The image must be pulled the first time (not already on the node).
    pub needs_pull: bool,
    pub startup: Startup,
    pub run: Run,
}

impl ContainerPlan {
    pub fn field_path(&self) -> String {
        match self.kind {
            ContainerKind::Init => format!("spec.initContainers{{{}}}", self.name),
            ContainerKind::Main => format!("spec.containers{{{}}}", self.name),
        }
    }
}

/// How a container run ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Termination {
    pub code: i32,
    pub reason: String,
    pub started: Duration,
    pub finished: Duration,
    /// Which run (0 for the first container instance).
    pub run: u32,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum State {
    Waiting {
        reason: String,
        message: Option<String>,
    },
    Running {
        since: Duration,
        run: u32,
    },
    Terminated(Termination),
}

impl State {
    fn waiting(reason: &str, message: Option<String>) -> State {
        State::Waiting {
            reason: reason.to_string(),
            message,
        }
    }
}

/// A container's status at one moment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContainerView {
    pub state: State,
    pub last: Option<Termination>,
    pub restarts: u32,
    pub ready: bool,
    /// The image has been pulled, so the runtime knows its digest.
    pub pulled: bool,
    /// Exited for good: `(exit code, when)`.
    pub finished: Option<(i32, Duration)>,
    /// When this view (or the event list) changes next; `None` when never.
    pub next_change: Option<Duration>,
}

/// An event the kubelet records about the pod.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimEvent {
    pub at: Duration,
    pub warning: bool,
    pub reason: String,
    pub message: String,
    pub field_path: Option<String>,
}

/// Retry cadence: `fast_count` repetitions `fast` apart, then every `slow`.
#[derive(Debug, Clone, Copy)]
pub struct Schedule {
    pub fast: Duration,
    pub fast_count: u32,
    pub slow: Duration,
}

impl Schedule {
    /// Offset of the k-th occurrence from the first.
    pub fn nth(&self, k: u32) -> Duration {
        if k <= self.fast_count {
            self.fast * k
        } else {
            self.fast * self.fast_count + self.slow * (k - self.fast_count)
        }
    }

    /// Time between the k-th and the next occurrence.
    pub fn interval(&self, k: u32) -> Duration {
        if k < self.fast_count {
            self.fast
        } else {
            self.slow
        }
    }
}

/// Image pulls and config errors are retried like this.
pub const RETRY: Schedule = Schedule {
    fast: Duration::from_secs(10),
    fast_count: 6,
    slow: Duration::from_secs(60),
};
/// Failing readiness probes are reported like this.
const PROBE: Schedule = Schedule {
    fast: Duration::from_secs(1),
    fast_count: 10,
    slow: Duration::from_secs(10),
};
/// Crashed containers are restarted after this back-off (from the start of CrashLoopBackOff):
/// with a 500 ms run and 100 ms shown as Terminated, one restart a second, later one per 10 s.
const CRASH_BACKOFF: Schedule = Schedule {
    fast: Duration::from_millis(400),
    fast_count: 10,
    slow: Duration::from_secs(10),
};

#[derive(Debug, Clone)]
struct Segment {
    start: Duration,
    state: State,
    last: Option<Termination>,
    restarts: u32,
    ready: bool,
    pulled: bool,
    finished: Option<(i32, Duration)>,
    events: Vec<SimEvent>,
}

/// Collects segments until one starts after `now`.
struct Segments<'a> {
    plan: &'a ContainerPlan,
    now: Duration,
    list: Vec<Segment>,
}

impl Segments<'_> {
    /// Adds a segment; `None` once the segment lies in the future (stop generating).
    fn push(&mut self, seg: Segment) -> Option<()> {
        let future = seg.start > self.now;
        self.list.push(seg);
        if future { None } else { Some(()) }
    }

    fn event(&self, at: Duration, warning: bool, reason: &str, message: String) -> SimEvent {
        SimEvent {
            at,
            warning,
            reason: reason.to_string(),
            message,
            field_path: Some(self.plan.field_path()),
        }
    }
}

fn seg(start: Duration, state: State) -> Segment {
    Segment {
        start,
        state,
        last: None,
        restarts: 0,
        ready: false,
        pulled: false,
        finished: None,
        events: Vec::new(),
    }
}

/// The container at `now`, with every event recorded up to `now`.
///
/// `start` is when the container may start (after the init containers); `None` shows it waiting
/// with `pending_reason`.
pub fn container_at(
    plan: &ContainerPlan,
    policy: RestartPolicy,
    pod: &PodIdent,
    start: Option<Duration>,
    now: Duration,
    pending_reason: &str,
) -> (ContainerView, Vec<SimEvent>) {
    let Some(start) = start else {
        let view = ContainerView {
            state: State::waiting(pending_reason, None),
            last: None,
            restarts: 0,
            ready: false,
            pulled: false,
            finished: None,
            next_change: None,
        };
        return (view, Vec::new());
    };
    let policy = match plan.kind {
        // Init containers are only ever restarted after failing.
        ContainerKind::Init if policy == RestartPolicy::Always => RestartPolicy::OnFailure,
        _ => policy,
    };
    let mut segs = Segments {
        plan,
        now,
        list: Vec::new(),
    };
    match &plan.startup {
        Startup::Ok => runs(&mut segs, policy, pod, start),
        Startup::PullFails { error } => pull_failures(&mut segs, start, error),
        Startup::NeverPull => repeated_failure(
            &mut segs,
            start,
            Failure {
                reason: "ErrImageNeverPull",
                message: format!(
                    "Container image \"{}\" is not present with pull policy of Never",
                    plan.image
                ),
                detail_events: &["ErrImageNeverPull"],
                after_pull: false,
            },
        ),
        Startup::InvalidImage { message } => repeated_failure(
            &mut segs,
            start,
            Failure {
                reason: "InvalidImageName",
                message: message.clone(),
                detail_events: &["InspectFailed"],
                after_pull: false,
            },
        ),
        Startup::ConfigError { message } => repeated_failure(
            &mut segs,
            start,
            Failure {
                reason: "CreateContainerConfigError",
                message: message.clone(),
                detail_events: &[],
                after_pull: true,
            },
        ),
    };
    summarize(segs.list, now)
}

fn summarize(list: Vec<Segment>, now: Duration) -> (ContainerView, Vec<SimEvent>) {
    let mut events = Vec::new();
    let mut current: Option<Segment> = None;
    let mut next_change = None;
    for seg in list {
        if seg.start > now {
            next_change = Some(seg.start);
            break;
        }
        events.extend(seg.events.iter().cloned());
        current = Some(seg);
    }
    let view = match current {
        Some(seg) => ContainerView {
            state: seg.state,
            last: seg.last,
            restarts: seg.restarts,
            ready: seg.ready,
            pulled: seg.pulled,
            finished: seg.finished,
            next_change,
        },
        None => ContainerView {
            state: State::waiting("ContainerCreating", None),
            last: None,
            restarts: 0,
            ready: false,
            pulled: false,
            finished: None,
            next_change,
        },
    };
    (view, events)
}

mod runs;
mod startup_failures;

use runs::runs;
use startup_failures::{Failure, pull_failures, repeated_failure};

#[cfg(test)]
mod tests;
