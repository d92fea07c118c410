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
    /// Pulling fails: ErrImagePull, then ImagePullBackOff, retried.
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

/// Image pulls that fail: ErrImagePull, then ImagePullBackOff, retried on [`RETRY`].
fn pull_failures(segs: &mut Segments<'_>, start: Duration, error: &str) -> Option<()> {
    let image = segs.plan.image.clone();
    let backoff_message = format!("Back-off pulling image \"{image}\"");
    for k in 0.. {
        let cycle = start + RETRY.nth(k);
        let before = if k == 0 {
            State::waiting("ContainerCreating", None)
        } else {
            State::waiting("ImagePullBackOff", Some(backoff_message.clone()))
        };
        let mut s = seg(cycle, before);
        s.events.push(segs.event(
            cycle,
            false,
            "Pulling",
            format!("Pulling image \"{image}\""),
        ));
        segs.push(s)?;

        let at = cycle + PULL;
        let mut s = seg(at, State::waiting("ErrImagePull", Some(error.to_string())));
        s.events.push(segs.event(
            at,
            true,
            "Failed",
            format!("Failed to pull image \"{image}\": {error}"),
        ));
        s.events
            .push(segs.event(at, true, "Failed", "Error: ErrImagePull".into()));
        segs.push(s)?;

        let at = cycle + PULL + PULL_BACKOFF_AFTER;
        let mut s = seg(
            at,
            State::waiting("ImagePullBackOff", Some(backoff_message.clone())),
        );
        s.events
            .push(segs.event(at, false, "BackOff", backoff_message.clone()));
        s.events
            .push(segs.event(at, true, "Failed", "Error: ImagePullBackOff".into()));
        segs.push(s)?;
    }
    Some(())
}

/// How a failure before the container exists is reported.
struct Failure<'a> {
    /// The waiting reason (`InvalidImageName`, `CreateContainerConfigError`, ...).
    reason: &'a str,
    message: String,
    /// Warning events recorded with `message` before the `Failed` one.
    detail_events: &'a [&'a str],
    /// The image was pulled before the failure (config errors happen after the pull).
    after_pull: bool,
}

/// A failure before the container exists, reported again on every retry.
fn repeated_failure(segs: &mut Segments<'_>, start: Duration, failure: Failure<'_>) -> Option<()> {
    let image = segs.plan.image.clone();
    // Config errors show the message after "Error:"; image problems show the reason.
    let error = if failure.after_pull {
        failure.message.clone()
    } else {
        failure.reason.to_string()
    };
    let mut first = seg(start, State::waiting("ContainerCreating", None));
    first.pulled = failure.after_pull;
    segs.push(first)?;
    for k in 0.. {
        let at = start + 100 * MS + RETRY.nth(k);
        let mut s = seg(
            at,
            State::waiting(failure.reason, Some(failure.message.clone())),
        );
        s.pulled = failure.after_pull;
        if failure.after_pull {
            s.events.push(segs.event(
                at,
                false,
                "Pulled",
                format!("Container image \"{image}\" already present on machine"),
            ));
        }
        for detail in failure.detail_events {
            s.events
                .push(segs.event(at, true, detail, failure.message.clone()));
        }
        s.events
            .push(segs.event(at, true, "Failed", format!("Error: {error}")));
        segs.push(s)?;
    }
    Some(())
}

/// Successful starts, and the runs, exits and restarts that follow.
fn runs(
    segs: &mut Segments<'_>,
    policy: RestartPolicy,
    pod: &PodIdent,
    start: Duration,
) -> Option<()> {
    let plan = segs.plan;
    let image = plan.image.clone();
    let mut at = start;
    if plan.needs_pull {
        let mut s = seg(at, State::waiting("ContainerCreating", None));
        s.events
            .push(segs.event(at, false, "Pulling", format!("Pulling image \"{image}\"")));
        segs.push(s)?;
        at += PULL;
        let mut s = seg(at, State::waiting("ContainerCreating", None));
        s.pulled = true;
        s.events.push(segs.event(
            at,
            false,
            "Pulled",
            format!(
                "Successfully pulled image \"{image}\" in {}ms",
                PULL.as_millis()
            ),
        ));
        segs.push(s)?;
    } else {
        let mut s = seg(at, State::waiting("ContainerCreating", None));
        s.pulled = true;
        s.events.push(segs.event(
            at,
            false,
            "Pulled",
            format!("Container image \"{image}\" already present on machine"),
        ));
        segs.push(s)?;
    }
    at += CREATE;

    let mut last: Option<Termination> = None;
    for run in 0u32.. {
        let started = |segs: &Segments<'_>, s: &mut Segment| {
            s.pulled = true;
            s.restarts = run;
            s.last = last.clone();
            if run > 0 {
                s.events.push(segs.event(
                    s.start,
                    false,
                    "Pulled",
                    format!("Container image \"{image}\" already present on machine"),
                ));
            }
            s.events.push(segs.event(
                s.start,
                false,
                "Created",
                format!("Created container {}", plan.name),
            ));
            s.events.push(segs.event(
                s.start,
                false,
                "Started",
                format!("Started container {}", plan.name),
            ));
        };
        match &plan.run {
            Run::Serve {
                ready_after,
                unhealthy,
            } => {
                let mut s = seg(at, State::Running { since: at, run });
                started(segs, &mut s);
                s.ready = *ready_after == Some(Duration::ZERO);
                let base = s.clone();
                segs.push(s)?;
                if let Some(after) = ready_after.filter(|a| !a.is_zero()) {
                    let mut ready = base.clone();
                    ready.start = at + after;
                    ready.ready = true;
                    ready.events.clear();
                    segs.push(ready)?;
                } else if ready_after.is_none() && *unhealthy {
                    for k in 0.. {
                        let mut probe = base.clone();
                        probe.start = at + PROBE.fast + PROBE.nth(k);
                        probe.events = vec![segs.event(
                            probe.start,
                            true,
                            "Unhealthy",
                            "Readiness probe failed: HTTP probe failed with statuscode: 503".into(),
                        )];
                        segs.push(probe)?;
                    }
                }
                return Some(());
            }
            Run::Exit {
                after,
                code,
                reason,
            } => {
                let mut s = seg(at, State::Running { since: at, run });
                started(segs, &mut s);
                s.ready = *code == 0;
                segs.push(s)?;

                let end = at + *after;
                let term = Termination {
                    code: *code,
                    reason: reason.clone(),
                    started: at,
                    finished: end,
                    run,
                };
                let mut s = seg(end, State::Terminated(term.clone()));
                s.pulled = true;
                s.restarts = run;
                s.last = last.clone();
                if !policy.restarts_after(*code) {
                    s.finished = Some((*code, end));
                    segs.push(s)?;
                    return Some(());
                }
                segs.push(s)?;

                let backoff_at = end + TERMINATED_SHOWN;
                let delay = 10u64.saturating_mul(1 << run.min(5)).min(300);
                let mut s = seg(
                    backoff_at,
                    State::waiting(
                        "CrashLoopBackOff",
                        Some(format!(
                            "back-off {delay}s restarting failed container={} pod={}_{}({})",
                            plan.name, pod.name, pod.namespace, pod.uid
                        )),
                    ),
                );
                s.pulled = true;
                s.restarts = run;
                s.last = Some(term.clone());
                s.events.push(segs.event(
                    backoff_at,
                    true,
                    "BackOff",
                    "Back-off restarting failed container".into(),
                ));
                segs.push(s)?;
                last = Some(term);
                at = backoff_at + CRASH_BACKOFF.interval(run);
            }
        }
    }
    Some(())
}

#[cfg(test)]
mod tests;
