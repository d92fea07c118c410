//! Containers that start: pulling, running, becoming ready, exiting and being restarted.

use std::time::Duration;

use super::{
    CRASH_BACKOFF, CREATE, PROBE, PULL, PodIdent, RestartPolicy, Run, Segment, Segments, State,
    TERMINATED_SHOWN, Termination, seg,
};

/// Successful starts, and the runs, exits and restarts that follow.
pub(super) fn runs(
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
