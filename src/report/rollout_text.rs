//! Rollout results as plain text, shared by the terminal and CI-log reporters: the failure
//! explanation block and the final summary table. ASCII only, so any log viewer shows it.

use std::fmt::Write as _;
use std::time::Duration;

use super::duration::format_duration;
use super::events::ObjectRef;
use super::objects::table;
use crate::track::{Explanation, Logs, ObjectState, Readiness, TrackOutcome};

/// `Deployment shop/web (deploy/web.yaml:3)`, or without the location when unknown.
pub fn object_label(object: &ObjectRef) -> String {
    match object.location() {
        Some(at) => format!("{} ({at})", object.display_name()),
        None => object.display_name(),
    }
}

/// The block explaining one failed or timed-out object: reason, pod and container, events,
/// logs (or why not), and what to do.
pub fn explanation_block(
    object: &ObjectRef,
    state: ObjectState,
    elapsed: Duration,
    e: &Explanation,
) -> String {
    let mut out = String::new();
    let verb = match state {
        ObjectState::TimedOut => "timed out",
        _ => "failed",
    };
    let _ = writeln!(
        out,
        "error: {} {verb} after {}: {}",
        object_label(object),
        format_duration(elapsed),
        e.reason
    );
    let _ = writeln!(out, "  {}", e.message);
    if let Some(pod) = &e.pod {
        let mut line = format!("  pod: {pod}");
        if let Some(c) = &e.container {
            let _ = write!(line, ", container: {c}");
        }
        if let Some(n) = e.restart_count {
            let _ = write!(line, ", restarts: {n}");
        }
        let _ = writeln!(out, "{line}");
    }
    if !e.events.is_empty() {
        let _ = writeln!(out, "  events:");
        for ev in &e.events {
            let times = if ev.count > 1 {
                format!(" (x{})", ev.count)
            } else {
                String::new()
            };
            let _ = writeln!(
                out,
                "    {} {} {}: {}{times}",
                ev.type_, ev.reason, ev.object, ev.message
            );
        }
    }
    match &e.logs {
        Some(Logs::Lines {
            container,
            previous,
            lines,
        }) => {
            let which = if *previous {
                " (previous instance)"
            } else {
                ""
            };
            if lines.is_empty() {
                let _ = writeln!(out, "  logs of {container}{which}: empty");
            } else {
                let _ = writeln!(
                    out,
                    "  last {} log lines of {container}{which}:",
                    lines.len()
                );
                for l in lines {
                    let _ = writeln!(out, "    | {l}");
                }
            }
        }
        Some(Logs::Unavailable { container, reason }) => {
            let _ = writeln!(out, "  logs of {container} cannot be read: {reason}");
        }
        None => {}
    }
    if let Some(hint) = &e.hint {
        let _ = writeln!(out, "  fix: {hint}");
    }
    out
}

/// A table of every tracked object: state, time to verdict, detail, and source.
pub fn summary_table(outcome: &TrackOutcome) -> String {
    let rows: Vec<[String; 5]> = outcome
        .objects
        .iter()
        .map(|o| {
            let detail = match (&o.explanation, &o.readiness) {
                (Some(e), _) => format!("{}: {}", e.reason, e.message),
                (None, Readiness::InProgress { message }) if o.state != ObjectState::Ready => {
                    message.clone()
                }
                _ => String::new(),
            };
            [
                o.object.display_name(),
                o.state.word().to_string(),
                format_duration(o.duration),
                o.object.location().unwrap_or_else(|| "-".to_string()),
                detail,
            ]
        })
        .collect();
    table(&["OBJECT", "STATE", "TIME", "SOURCE", "DETAIL"], &rows)
}

/// The run's last line: `3 objects ready in 12.5s`, `rollout failed: ...`.
pub fn verdict_line(outcome: &TrackOutcome) -> String {
    use crate::track::RunState;
    let n = outcome.objects.len();
    let objects = if n == 1 { "object" } else { "objects" };
    let elapsed = format_duration(outcome.elapsed);
    match outcome.state {
        RunState::Ready => format!("{n} {objects} ready in {elapsed}"),
        RunState::Failed => {
            let failed = outcome
                .objects
                .iter()
                .filter(|o| o.state == ObjectState::Failed)
                .count();
            format!("rollout failed after {elapsed}: {failed} of {n} {objects} failed")
        }
        RunState::TimedOut => {
            let pending: Vec<String> = outcome
                .objects
                .iter()
                .filter(|o| o.state == ObjectState::TimedOut)
                .map(|o| o.object.display_name())
                .collect();
            format!(
                "timed out after {elapsed}; still pending: {}",
                pending.join(", ")
            )
        }
        RunState::Interrupted => format!("interrupted after {elapsed}"),
    }
}
