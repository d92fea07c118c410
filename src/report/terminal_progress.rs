//! Rollout progress on a terminal: one live line per tracked object (ready/desired replicas,
//! state, elapsed time), failure explanations above the lines, and a summary table at the end.
//!
//! Only for a terminal on standard error; use [`super::ci_lines::CiLines`] otherwise (indicatif
//! draws nothing without a terminal). Handles tracking events only.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

use super::duration::format_duration;
use super::events::{Event, Reporter};
use super::rollout_text::{explanation_block, summary_table, verdict_line};

/// The terminal reporter.
pub struct TerminalProgress {
    multi: MultiProgress,
    inner: Mutex<Lines>,
}

#[derive(Default)]
struct Lines {
    bars: HashMap<String, Line>,
}

struct Line {
    bar: ProgressBar,
    state: String,
    message: String,
    counts: Option<(i64, i64)>,
}

impl Line {
    fn render(&self) -> String {
        let counts = match self.counts {
            Some((r, d)) => format!("{r}/{d} "),
            None => String::new(),
        };
        let state = match self.state.as_str() {
            "inProgress" => "waiting",
            other => other,
        };
        if self.message.is_empty() {
            format!("{counts}{state}")
        } else {
            format!("{counts}{state}: {}", self.message)
        }
    }
}

impl Default for TerminalProgress {
    fn default() -> Self {
        Self::new()
    }
}

impl TerminalProgress {
    /// A reporter drawing on standard error.
    pub fn new() -> Self {
        Self {
            multi: MultiProgress::with_draw_target(ProgressDrawTarget::stderr()),
            inner: Mutex::new(Lines::default()),
        }
    }

    fn print(&self, text: &str) {
        if self.multi.println(text.trim_end_matches('\n')).is_err() {
            eprint!("{text}");
        }
    }
}

fn style() -> ProgressStyle {
    ProgressStyle::with_template("{spinner:.cyan} {prefix:.bold} {wide_msg} {elapsed:>4}")
        .unwrap_or_else(|_| ProgressStyle::default_spinner())
}

impl Reporter for TerminalProgress {
    fn event(&self, event: &Event) {
        let Ok(mut lines) = self.inner.lock() else {
            return;
        };
        match event {
            Event::TrackStarted { objects, .. } => {
                let width = objects
                    .iter()
                    .map(|o| o.display_name().chars().count())
                    .max()
                    .unwrap_or(0);
                for o in objects {
                    let name = o.display_name();
                    let bar = self.multi.add(ProgressBar::new_spinner());
                    bar.set_style(style());
                    bar.set_prefix(format!("{name:<width$}"));
                    bar.set_message("waiting");
                    bar.enable_steady_tick(Duration::from_millis(120));
                    lines.bars.insert(
                        name,
                        Line {
                            bar,
                            state: "inProgress".into(),
                            message: String::new(),
                            counts: None,
                        },
                    );
                }
            }
            Event::Progress {
                object,
                state,
                message,
                elapsed,
            } => {
                let Some(line) = lines.bars.get_mut(&object.display_name()) else {
                    return;
                };
                line.state = state.clone();
                line.message = message.clone();
                match state.as_str() {
                    "ready" | "skipped" => {
                        let counts = line
                            .counts
                            .map(|(_, d)| format!("{d}/{d} "))
                            .unwrap_or_default();
                        line.bar.finish_with_message(format!(
                            "{counts}{state} in {}",
                            format_duration(*elapsed)
                        ));
                    }
                    "failed" => line.bar.abandon_with_message(format!("FAILED: {message}")),
                    _ => line.bar.set_message(line.render()),
                }
            }
            Event::TrackStatus { objects, .. } => {
                for o in objects {
                    if let Some(line) = lines.bars.get_mut(&o.object.display_name()) {
                        line.counts = o.ready.zip(o.desired);
                        if !line.bar.is_finished() {
                            line.bar.set_message(line.render());
                        }
                    }
                }
            }
            Event::RolloutFailed {
                object,
                state,
                elapsed,
                explanation,
            } => {
                drop(lines);
                self.print(&explanation_block(object, *state, *elapsed, explanation));
            }
            Event::TrackFinished { outcome } => {
                for line in lines.bars.values() {
                    if !line.bar.is_finished() {
                        line.bar.abandon_with_message(line.render());
                    }
                }
                lines.bars.clear();
                let _ = self.multi.clear();
                eprint!("\n{}{}\n", summary_table(outcome), verdict_line(outcome));
            }
            _ => {}
        }
    }
}
