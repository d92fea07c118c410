//! Rollout progress for logs without a terminal (CI): plain lines, no cursor movement.
//!
//! Prints one line per state change of an object as it happens, a compact status line for
//! each periodic snapshot while anything is pending, the explanation of each failure, and a
//! final summary table. Handles tracking events only; other events are left to other reporters.
//!
//! ```text
//! waiting up to 5m for 2 objects
//! [0.2s] Deployment shop/web: in progress: 0 of 3 updated replicas are available
//! [5.0s] 0 of 2 ready; waiting for Deployment shop/web 1/3, Job shop/migrate 0/1
//! [6.3s] Deployment shop/web: ready
//! ```

use std::collections::HashMap;
use std::io::Write;
use std::sync::Mutex;

use super::duration::format_duration;
use super::events::{Event, Reporter};
use super::rollout_text::{explanation_block, summary_table, verdict_line};

/// The CI-log reporter; writes to any sink (standard error in the binary, a buffer in tests).
pub struct CiLines {
    inner: Mutex<Inner>,
}

struct Inner {
    out: Box<dyn Write + Send>,
    last_state: HashMap<String, String>,
}

impl CiLines {
    /// A reporter writing to standard error.
    pub fn stderr() -> Self {
        Self::new(Box::new(std::io::stderr()))
    }

    /// A reporter writing to `out`.
    pub fn new(out: Box<dyn Write + Send>) -> Self {
        Self {
            inner: Mutex::new(Inner {
                out,
                last_state: HashMap::new(),
            }),
        }
    }
}

impl Reporter for CiLines {
    fn event(&self, event: &Event) {
        let Ok(mut inner) = self.inner.lock() else {
            return;
        };
        let text = match event {
            Event::TrackStarted { objects, timeout } => {
                let n = objects.len();
                let word = if n == 1 { "object" } else { "objects" };
                format!(
                    "waiting up to {} for {n} {word}\n",
                    format_duration(*timeout)
                )
            }
            Event::Progress {
                object,
                state,
                message,
                elapsed,
            } => {
                let key = object.display_name();
                if inner.last_state.get(&key) == Some(state) {
                    return;
                }
                inner.last_state.insert(key.clone(), state.clone());
                let at = format_duration(*elapsed);
                match state.as_str() {
                    "inProgress" => format!("[{at}] {key}: in progress: {message}\n"),
                    "failed" => format!("[{at}] {key}: FAILED: {message}\n"),
                    "skipped" => {
                        format!("[{at}] {key}: not waited for (kpush.dev/wait: \"false\")\n")
                    }
                    other => format!("[{at}] {key}: {other}\n"),
                }
            }
            Event::TrackStatus { elapsed, objects } => {
                let pending: Vec<String> = objects
                    .iter()
                    .filter(|o| o.state == "inProgress")
                    .map(|o| match (o.ready, o.desired) {
                        (Some(r), Some(d)) => format!("{} {r}/{d}", o.object.display_name()),
                        _ => format!("{} ({})", o.object.display_name(), o.message),
                    })
                    .collect();
                if pending.is_empty() {
                    return;
                }
                let ready = objects
                    .iter()
                    .filter(|o| o.state == "ready" || o.state == "skipped")
                    .count();
                format!(
                    "[{}] {ready} of {} ready; waiting for {}\n",
                    format_duration(*elapsed),
                    objects.len(),
                    pending.join(", ")
                )
            }
            Event::RolloutFailed {
                object,
                state,
                elapsed,
                explanation,
            } => explanation_block(object, *state, *elapsed, explanation),
            Event::TrackFinished { outcome } => {
                format!("{}{}\n", summary_table(outcome), verdict_line(outcome))
            }
            _ => return,
        };
        let _ = inner.out.write_all(text.as_bytes());
        let _ = inner.out.flush();
    }
}
