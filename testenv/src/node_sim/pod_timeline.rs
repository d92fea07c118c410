//! A whole pod at a given moment: init containers in order, then the app containers, the phase.

use std::time::Duration;

use super::timeline::{
    ContainerPlan, ContainerView, PodIdent, RETRY, RestartPolicy, SimEvent, State, container_at,
};

/// Everything the simulated kubelet decided about a pod when it took it.
#[derive(Debug, Clone, PartialEq)]
pub struct PodPlan {
    pub ident: PodIdent,
    pub policy: RestartPolicy,
    pub init: Vec<ContainerPlan>,
    pub main: Vec<ContainerPlan>,
    /// A volume cannot be mounted (missing Secret or ConfigMap): nothing starts.
    pub mount_error: Option<String>,
}

/// The pod at one moment.
#[derive(Debug, Clone, PartialEq)]
pub struct PodSnapshot {
    pub init: Vec<ContainerView>,
    pub main: Vec<ContainerView>,
    /// Every event up to the moment, oldest first; a later snapshot extends this list.
    pub events: Vec<SimEvent>,
    pub phase: Phase,
    /// When the snapshot changes next; `None` when it never does.
    pub next_change: Option<Duration>,
}

/// The pod at `now`.
pub fn pod_at(plan: &PodPlan, now: Duration) -> PodSnapshot {
    if let Some(message) = &plan.mount_error {
        return mount_failure(plan, message, now);
    }
    let mut events = Vec::new();
    let mut next_change: Option<Duration> = None;
    let mut earliest = |t: Option<Duration>| {
        if let Some(t) = t {
            next_change = Some(next_change.map_or(t, |n| n.min(t)));
        }
    };

    let mut start = Some(Duration::ZERO);
    let mut init = Vec::new();
    for c in &plan.init {
        let (view, ev) = container_at(c, plan.policy, &plan.ident, start, now, "PodInitializing");
        start = match view.finished {
            Some((0, at)) => Some(at),
            _ => None,
        };
        earliest(view.next_change);
        events.extend(ev);
        init.push(view);
    }
    let mut main = Vec::new();
    for c in &plan.main {
        let (view, ev) = container_at(c, plan.policy, &plan.ident, start, now, "PodInitializing");
        earliest(view.next_change);
        events.extend(ev);
        main.push(view);
    }
    // Stable: simultaneous events keep container order, so later snapshots extend this list.
    events.sort_by_key(|e| e.at);
    let phase = phase(plan.policy, &init, &main);
    PodSnapshot {
        init,
        main,
        events,
        phase,
        next_change: if phase.is_terminal() {
            None
        } else {
            next_change
        },
    }
}

fn mount_failure(plan: &PodPlan, message: &str, now: Duration) -> PodSnapshot {
    let waiting = |reason: &str| ContainerView {
        state: State::Waiting {
            reason: reason.to_string(),
            message: None,
        },
        last: None,
        restarts: 0,
        ready: false,
        pulled: false,
        finished: None,
        next_change: None,
    };
    let main_reason = if plan.init.is_empty() {
        "ContainerCreating"
    } else {
        "PodInitializing"
    };
    let first = Duration::from_millis(100);
    let mut events = Vec::new();
    let mut next_change = None;
    for k in 0.. {
        let at = first + RETRY.nth(k);
        if at > now {
            next_change = Some(at);
            break;
        }
        events.push(SimEvent {
            at,
            warning: true,
            reason: "FailedMount".into(),
            message: message.to_string(),
            field_path: None,
        });
    }
    PodSnapshot {
        init: plan
            .init
            .iter()
            .map(|_| waiting("PodInitializing"))
            .collect(),
        main: plan.main.iter().map(|_| waiting(main_reason)).collect(),
        events,
        phase: Phase::Pending,
        next_change,
    }
}

/// Pod phase as the kubelet computes it (`getPhase`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    Pending,
    Running,
    Succeeded,
    Failed,
}

impl Phase {
    pub fn as_str(self) -> &'static str {
        match self {
            Phase::Pending => "Pending",
            Phase::Running => "Running",
            Phase::Succeeded => "Succeeded",
            Phase::Failed => "Failed",
        }
    }

    pub fn is_terminal(self) -> bool {
        matches!(self, Phase::Succeeded | Phase::Failed)
    }
}

pub fn phase(policy: RestartPolicy, init: &[ContainerView], main: &[ContainerView]) -> Phase {
    let mut pending_init = 0;
    let mut failed_init = 0;
    for v in init {
        match &v.state {
            State::Running { .. } => pending_init += 1,
            State::Terminated(t) if t.code == 0 => {}
            State::Terminated(_) => failed_init += 1,
            State::Waiting { .. } if v.last.is_some() => failed_init += 1,
            State::Waiting { .. } => pending_init += 1,
        }
    }
    if failed_init > 0 && policy == RestartPolicy::Never {
        return Phase::Failed;
    }
    let (mut running, mut waiting, mut stopped, mut succeeded) = (0, 0, 0, 0);
    for v in main {
        match &v.state {
            State::Running { .. } => running += 1,
            State::Terminated(t) => {
                stopped += 1;
                if t.code == 0 {
                    succeeded += 1;
                }
            }
            State::Waiting { .. } if v.last.is_some() => stopped += 1,
            State::Waiting { .. } => waiting += 1,
        }
    }
    if pending_init > 0 || waiting > 0 {
        return Phase::Pending;
    }
    if running > 0 {
        return Phase::Running;
    }
    if stopped > 0 {
        return if policy == RestartPolicy::Always {
            Phase::Running
        } else if stopped == succeeded {
            Phase::Succeeded
        } else if policy == RestartPolicy::Never {
            Phase::Failed
        } else {
            Phase::Running
        };
    }
    Phase::Pending
}

#[cfg(test)]
mod tests;
