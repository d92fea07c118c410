//! A rollout failure explained in plain text: its title and the block under it (message, pod,
//! events, logs, fix). Shared by every output and the run summary.

use std::fmt::Write as _;
use std::time::Duration;

use crate::event::{Explanation, Logs, ObjectRef, ObjectState, format_duration};

/// The title of a failure: `Deployment shop/web failed after 6.3s: ErrImagePull`.
pub fn failure_title(
    object: &ObjectRef,
    state: ObjectState,
    elapsed: Duration,
    reason: &str,
) -> String {
    title_for(&object.label(), state, elapsed, reason)
}

fn title_for(label: &str, state: ObjectState, elapsed: Duration, reason: &str) -> String {
    let verb = match state {
        ObjectState::TimedOut => "timed out",
        ObjectState::Unknown => "lost from sight",
        _ => "failed",
    };
    format!(
        "{label} {verb} after {}: {reason}",
        format_duration(elapsed)
    )
}

/// The body of a failure's block (everything under its title): message, pod and container,
/// events, logs (or why not), and what to do. Lines are indented by two spaces.
pub fn explanation_body(e: &Explanation) -> String {
    let mut out = String::new();
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

/// The whole failure block: `error: Deployment shop/web (web.yaml:3) failed after 6.3s:
/// ErrImagePull` and the body.
pub fn explanation_block(
    object: &ObjectRef,
    state: ObjectState,
    elapsed: Duration,
    e: &Explanation,
) -> String {
    let title = title_for(&object.label_at(), state, elapsed, &e.reason);
    format!("error: {title}\n{}", explanation_body(e))
}
