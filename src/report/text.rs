//! Plain text shared by every human output (terminal, plain lines, CI logs): one function per
//! thing said, so each is said the same way everywhere. ASCII only, so any log viewer shows it.

use std::fmt::Write as _;
use std::time::Duration;

use super::colour::Paint;
use super::outcome::{Counts, RunSummary};
use crate::event::{
    Action, ObjectRef, ObjectState, Rejection, RolloutState, RunState, TargetResult, TargetState,
    TrackOutcome, format_duration,
};

/// `created    Deployment shop/web (deploy/web.yaml:3)`.
pub fn object_line(paint: Paint, object: &ObjectRef, action: Action) -> String {
    let word = format!("{:<10}", action.word());
    let word = match action {
        Action::Created | Action::Recreated => paint.green(&word),
        Action::Configured | Action::WouldChange => paint.yellow(&word),
        Action::Pruned => paint.magenta(&word),
        Action::Failed | Action::Unknown => paint.red(&word),
        Action::Unchanged | Action::Skipped => paint.dim(&word),
    };
    format!("{word} {}", object.label_at())
}

/// Longest server message shown without `-v` (a CRD rejection can be 70 KB on one line).
pub const MESSAGE_LIMIT: usize = 600;

/// `message`, or when longer than [`MESSAGE_LIMIT`] and not `full`, its start and a note of
/// how much was left out.
pub fn cut(message: &str, full: bool) -> std::borrow::Cow<'_, str> {
    if full || message.len() <= MESSAGE_LIMIT {
        return message.into();
    }
    let mut end = MESSAGE_LIMIT;
    while !message.is_char_boundary(end) {
        end -= 1;
    }
    format!(
        "{}... ({} more characters; -v shows the whole message)",
        &message[..end],
        message.len() - end
    )
    .into()
}

/// The rejection block: the object line, the API's reason (cut unless `full`), and the advice
/// (or `fix: as above` when `advice_shown` says the same advice was printed for an earlier
/// object).
pub fn rejection_block(paint: Paint, r: &Rejection, advice_shown: bool, full: bool) -> String {
    let mut out = object_line(paint, &r.object, Action::Failed);
    for l in cut(&r.reason, full).lines() {
        let _ = write!(out, "\n    {}", l.trim_start());
    }
    if !r.advice.is_empty() {
        if advice_shown {
            out.push_str("\n    fix: as above");
        } else {
            let mut lines = r.advice.lines();
            if let Some(first) = lines.next() {
                let _ = write!(out, "\n    fix: {first}");
            }
            for l in lines {
                let _ = write!(out, "\n    {}", l.trim_start());
            }
        }
    }
    out
}

/// The line printed when a tracked object reaches its verdict: `[4.2s] Deployment shop/web:
/// ready`, `... failed: ErrImagePull`. `None` while the object is still in progress.
pub fn verdict_line(object: &ObjectRef, state: &RolloutState, elapsed: Duration) -> Option<String> {
    let at = format_duration(elapsed);
    let label = object.label();
    Some(match state {
        RolloutState::InProgress { .. } => return None,
        RolloutState::Ready => format!("[{at}] {label}: ready"),
        RolloutState::Skipped => {
            format!("[{at}] {label}: not waited for (kpush.dev/wait: \"false\")")
        }
        RolloutState::Failed { reason, .. } => format!("[{at}] {label}: failed: {reason}"),
    })
}

/// `waiting up to 5m for 3 objects`.
pub fn waiting_line(objects: usize, timeout: Duration) -> String {
    format!(
        "waiting up to {} for {objects} {}",
        format_duration(timeout),
        plural(objects, "object", "objects")
    )
}

/// A table of every tracked object: verdict, time to verdict, source, and the short reason.
pub fn outcome_table(outcome: &TrackOutcome) -> String {
    let rows: Vec<[String; 5]> = outcome
        .objects
        .iter()
        .map(|o| {
            [
                o.object.label(),
                o.state.word().to_string(),
                format_duration(o.duration),
                o.object.location().unwrap_or_else(|| "-".to_string()),
                o.short_reason(),
            ]
        })
        .collect();
    table(&["OBJECT", "STATE", "TIME", "SOURCE", "DETAIL"], &rows)
}

/// The end of tracking: `3 objects ready in 12.5s`, `rollout failed after ...`.
pub fn track_verdict(outcome: &TrackOutcome) -> String {
    let n = outcome.objects.len();
    let objects = plural(n, "object", "objects");
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
                .map(|o| o.object.label())
                .collect();
            format!(
                "timed out after {elapsed}; still pending: {}",
                pending.join(", ")
            )
        }
        RunState::Interrupted => format!("interrupted after {elapsed}"),
        RunState::Unreachable => {
            let unknown: Vec<String> = outcome
                .objects
                .iter()
                .filter(|o| o.state == ObjectState::Unknown)
                .map(|o| o.object.label())
                .collect();
            format!(
                "lost sight of the rollout after {elapsed}: the API server stayed unreachable; outcome unknown for {}",
                unknown.join(", ")
            )
        }
    }
}

/// `6 objects: 1 created, 5 unchanged; 1 pruned` (only non-zero counts), or `no objects`.
pub fn counts_sentence(summary: &RunSummary) -> String {
    counts_words(&summary.counts)
}

/// [`counts_sentence`] of one set of counts.
pub fn counts_words(c: &Counts) -> String {
    let parts: Vec<String> = c
        .pairs()
        .iter()
        .filter(|(name, n)| *n > 0 && *name != "pruned")
        .map(|(name, n)| format!("{n} {name}"))
        .collect();
    let objects = c.objects();
    let mut s = if objects == 0 {
        "no objects".to_string()
    } else {
        format!(
            "{objects} {}: {}",
            plural(objects, "object", "objects"),
            parts.join(", ")
        )
    };
    if c.pruned > 0 {
        let _ = write!(s, "; {} pruned", c.pruned);
    }
    s
}

/// The end of one target of a multi-cluster run: `target weu: succeeded in 12s`,
/// `target neu: failed (exit code 4) in 40s: ...`, `target ca: not started (an earlier target
/// failed)`.
pub fn target_line(paint: Paint, r: &TargetResult) -> String {
    let word = r.state.word();
    let head = match r.state {
        TargetState::Succeeded => paint.green(word),
        TargetState::NotStarted => paint.yellow(word),
        TargetState::Differences => paint.yellow(&format!(
            "{word} (exit code {})",
            crate::exit::of_outcome(r.outcome)
        )),
        _ => paint.red(&format!(
            "{word} (exit code {})",
            crate::exit::of_outcome(r.outcome)
        )),
    };
    let mut line = format!("target {}: {head}", r.name);
    if r.state != TargetState::NotStarted {
        let _ = write!(line, " in {}", format_duration(r.elapsed));
    }
    match (&r.message, r.state) {
        (Some(m), TargetState::NotStarted) => {
            let _ = write!(line, " ({m})");
        }
        (Some(m), _) => {
            let _ = write!(line, ": {}", first_line(m));
        }
        (None, _) => {}
    }
    line
}

/// The first line of `text`, cut to a table cell's length.
fn first_line(text: &str) -> String {
    let line = text.lines().next().unwrap_or_default();
    cut(line, false).into_owned()
}

/// One row per target of a multi-cluster run: result, exit code, objects, time, and why.
pub fn targets_table(summary: &RunSummary) -> String {
    let rows: Vec<[String; 5]> = summary
        .targets
        .iter()
        .map(|t| {
            [
                t.name.clone(),
                t.state.word().to_string(),
                match t.started() {
                    true => t.exit_code.to_string(),
                    false => "-".to_string(),
                },
                match t.started() {
                    true => counts_words(&t.counts),
                    false => "-".to_string(),
                },
                t.detail().map(first_line).unwrap_or_default(),
            ]
        })
        .collect();
    table(&["TARGET", "RESULT", "EXIT", "OBJECTS", "DETAIL"], &rows)
}

/// Human words for a result name (`rollout-failed` → `rollout failed`).
pub fn result_words(summary: &RunSummary) -> String {
    summary.result().replace('-', " ")
}

/// The last line of a run: `kpush apply: success: 3 objects: 1 created, 2 unchanged in 12s`
/// (without the counts when no object was applied: `kpush diff: differences (exit code 1) in
/// 2.1s`).
pub fn final_line(paint: Paint, summary: &RunSummary) -> String {
    let words = result_words(summary);
    let result = if summary.succeeded() {
        paint.green(&words)
    } else {
        paint.red(&format!("{words} (exit code {})", summary.exit_code))
    };
    let counts = if summary.counts == Default::default() {
        String::new()
    } else {
        format!(": {}", counts_sentence(summary))
    };
    format!(
        "kpush {}: {result}{}{counts} in {}",
        summary.command,
        targets_words(summary),
        format_duration(summary.duration)
    )
}

/// ` on 3 targets (2 succeeded, 1 failed)` for a multi-cluster run; empty otherwise.
fn targets_words(summary: &RunSummary) -> String {
    let n = summary.targets.len();
    if n == 0 {
        return String::new();
    }
    let mut states: Vec<(TargetState, usize)> = Vec::new();
    for t in &summary.targets {
        match states.iter_mut().find(|(s, _)| *s == t.state) {
            Some((_, k)) => *k += 1,
            None => states.push((t.state, 1)),
        }
    }
    let parts: Vec<String> = states
        .iter()
        .map(|(s, k)| format!("{k} {}", s.word()))
        .collect();
    format!(
        " on {n} {} ({})",
        plural(n, "target", "targets"),
        parts.join(", ")
    )
}

/// `object` or `objects`.
pub fn plural(n: usize, one: &'static str, many: &'static str) -> &'static str {
    if n == 1 { one } else { many }
}

/// Formats rows under headers in aligned columns.
pub fn table<const N: usize>(headers: &[&str; N], rows: &[[String; N]]) -> String {
    let mut widths = headers.map(|h| h.chars().count());
    for r in rows {
        for (w, c) in widths.iter_mut().zip(r) {
            *w = (*w).max(c.chars().count());
        }
    }
    let mut out = String::new();
    let mut line = |cells: Vec<&str>| {
        let mut l = String::new();
        for (i, (c, w)) in cells.iter().zip(widths).enumerate() {
            if i + 1 == N {
                l.push_str(c);
            } else {
                let _ = write!(l, "{c:<w$}  ");
            }
        }
        out.push_str(l.trim_end());
        out.push('\n');
    };
    line(headers.to_vec());
    for r in rows {
        line(r.iter().map(String::as_str).collect());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_aligns_columns() {
        let t = table(
            &["A", "BB"],
            &[
                ["long".to_string(), "x".to_string()],
                ["s".to_string(), "y".to_string()],
            ],
        );
        assert_eq!(t, "A     BB\nlong  x\ns     y\n");
    }

    #[test]
    fn long_messages_are_cut_unless_full() {
        let long = "x".repeat(70_000);
        let short = super::cut(&long, false);
        assert!(short.len() < 700, "{}", short.len());
        assert!(
            short.ends_with("(69400 more characters; -v shows the whole message)"),
            "{short}"
        );
        assert_eq!(super::cut(&long, true).len(), 70_000);
        assert_eq!(super::cut("short", false), "short");
    }
}
