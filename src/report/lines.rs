//! Events as plain, one-line log text, shared by the CI reporters.

use std::time::Duration;

use super::colour::Paint;
use super::events::{Action, ObjectRef, Stage};
use super::outcome::RunSummary;
use crate::track::outcome::Explanation;

/// `render`, `plan`, `apply`, `track`.
pub fn stage_name(stage: Stage) -> &'static str {
    match stage {
        Stage::Render => "render",
        Stage::Plan => "plan",
        Stage::Apply => "apply",
        Stage::Track => "track",
    }
}

/// `created`, `would change`, ...
pub fn action_name(action: Action) -> &'static str {
    match action {
        Action::Created => "created",
        Action::Configured => "configured",
        Action::Unchanged => "unchanged",
        Action::Recreated => "recreated",
        Action::Pruned => "pruned",
        Action::WouldChange => "would change",
        Action::Skipped => "skipped",
        Action::Failed => "failed",
    }
}

/// `0.4s`, `12s`, `3m 05s`.
pub fn duration(d: Duration) -> String {
    let ms = d.as_millis();
    if ms < 10_000 {
        format!("{:.1}s", ms as f64 / 1000.0)
    } else if ms < 60_000 {
        format!("{}s", ms / 1000)
    } else {
        let s = ms / 1000;
        format!("{}m {:02}s", s / 60, s % 60)
    }
}

/// `Deployment shop/web (deploy/web.yaml:3)`, or without the location when unknown.
pub fn object_with_location(object: &ObjectRef) -> String {
    match object.location() {
        Some(loc) => format!("{} ({loc})", object.display_name()),
        None => object.display_name(),
    }
}

/// `created      Deployment shop/web (deploy/web.yaml:3)`, with the message after a colon.
pub fn object_line(
    paint: Paint,
    object: &ObjectRef,
    action: Action,
    message: Option<&str>,
) -> String {
    let name = action_name(action);
    let padded = format!("{name:<12}");
    let label = match action {
        Action::Created | Action::Configured | Action::Recreated => paint.green(&padded),
        Action::Pruned | Action::WouldChange => paint.yellow(&padded),
        Action::Failed => paint.red(&padded),
        Action::Unchanged | Action::Skipped => paint.dim(&padded),
    };
    let mut line = format!("{label}{}", object_with_location(object));
    if let Some(m) = message.filter(|m| !m.is_empty()) {
        line.push_str(": ");
        line.push_str(m);
    }
    line
}

/// A rollout failure in a few lines: `reason: message`, the pod and container, and the hint.
pub fn explanation_text(e: &Explanation) -> String {
    let mut text = format!("{}: {}", e.reason, e.message);
    if let Some(pod) = &e.pod {
        text.push_str(&format!("\npod: {pod}"));
        if let Some(c) = &e.container {
            text.push_str(&format!(", container: {c}"));
        }
    }
    if let Some(hint) = &e.hint {
        text.push_str(&format!("\nfix: {hint}"));
    }
    text
}

/// Human words for a result name (`rollout-failed` → `rollout failed`).
pub fn result_words(summary: &RunSummary) -> String {
    summary.result().replace('-', " ")
}

/// `1 created, 2 unchanged` (only non-zero counts), or `no objects`.
pub fn counts_sentence(summary: &RunSummary) -> String {
    let parts: Vec<String> = summary
        .counts
        .pairs()
        .iter()
        .filter(|(_, n)| *n > 0)
        .map(|(name, n)| format!("{n} {name}"))
        .collect();
    if parts.is_empty() {
        "no objects".to_string()
    } else {
        parts.join(", ")
    }
}

/// The last line of a run: `kpush apply: success: 1 created, 2 unchanged in 12s`.
pub fn final_line(paint: Paint, summary: &RunSummary) -> String {
    let words = result_words(summary);
    let result = if summary.succeeded() {
        paint.green(&words)
    } else {
        paint.red(&format!("{words} (exit code {})", summary.exit_code))
    };
    format!(
        "kpush {}: {result}: {} in {}",
        summary.command,
        counts_sentence(summary),
        duration(summary.duration)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_naturally() {
        assert_eq!(duration(Duration::from_millis(420)), "0.4s");
        assert_eq!(duration(Duration::from_secs(42)), "42s");
        assert_eq!(duration(Duration::from_secs(185)), "3m 05s");
    }
}
