//! Rollout progress on a terminal: one live row per tracked object (counts, state, elapsed
//! time), failure explanations printed above the rows, and the closing table. Every other
//! event is printed as plain lines above the rows.
//!
//! indicatif draws; what each row says is computed here ([`Terminal::frame`]), so it can be
//! checked without a terminal.

use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use indicatif::{MultiProgress, ProgressBar, ProgressStyle};

use super::ci::context::CiContext;
use super::ci::lines::LineReporter;
use super::ci::plain::Plain;
use super::human::HumanOutput;
use super::outcome::RunSummary;
use crate::event::{Event, ObjectRef, RolloutState, format_duration};

/// The live terminal display.
pub struct Terminal {
    lines: LineReporter,
    multi: MultiProgress,
    rows: Mutex<Vec<Row>>,
    /// Whether live rows are on screen (plain lines then go above them).
    live: Arc<AtomicBool>,
    /// Whether the current target of a multi-cluster run runs alone.
    alone: AtomicBool,
}

struct Row {
    object: ObjectRef,
    state: RolloutState,
    counts: Option<(i64, i64)>,
    at: Duration,
    bar: ProgressBar,
}

impl Row {
    fn text(&self, width: usize) -> String {
        let label = format!("{:<width$}", self.object.label());
        let counts = match (self.counts, &self.state) {
            (Some((_, d)), RolloutState::Ready) => format!("{d}/{d} "),
            (Some((r, d)), _) => format!("{r}/{d} "),
            (None, _) => String::new(),
        };
        let at = format_duration(self.at);
        match &self.state {
            RolloutState::InProgress { message } if message.is_empty() => {
                format!("{label}  {counts}waiting")
            }
            RolloutState::InProgress { message } => format!("{label}  {counts}{message}"),
            RolloutState::Ready => format!("{label}  {counts}ready in {at}"),
            RolloutState::Skipped => format!("{label}  not waited for"),
            RolloutState::Failed { reason, .. } => format!("{label}  failed after {at}: {reason}"),
        }
    }
}

/// Standard error, or, while live rows are drawn, whole lines through
/// [`MultiProgress::println`] so they appear above the rows.
struct AboveRows {
    multi: MultiProgress,
    live: Arc<AtomicBool>,
    pending: Vec<u8>,
}

impl Write for AboveRows {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if !self.live.load(Ordering::SeqCst) {
            return std::io::stderr().write(buf);
        }
        self.pending.extend_from_slice(buf);
        while let Some(i) = self.pending.iter().position(|b| *b == b'\n') {
            let line: Vec<u8> = self.pending.drain(..=i).collect();
            let line = String::from_utf8_lossy(&line[..i]).into_owned();
            if self.multi.println(&line).is_err() {
                eprintln!("{line}");
            }
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn style() -> ProgressStyle {
    ProgressStyle::with_template("{spinner:.cyan} {wide_msg} {elapsed:>4}")
        .unwrap_or_else(|_| ProgressStyle::default_spinner())
}

impl Terminal {
    /// A display drawing with `multi`, printing plain lines to `ctx`'s log.
    pub fn new(multi: MultiProgress, ctx: CiContext) -> Self {
        Self::with_live(multi, ctx, Arc::new(AtomicBool::new(false)))
    }

    fn with_live(multi: MultiProgress, ctx: CiContext, live: Arc<AtomicBool>) -> Self {
        Self {
            lines: LineReporter::new(ctx, Box::new(Plain)),
            multi,
            rows: Mutex::new(Vec::new()),
            live,
            alone: AtomicBool::new(false),
        }
    }

    /// A display on standard error, with colours unless `NO_COLOR` says otherwise.
    pub fn stderr(verbose: bool, colour: bool) -> Self {
        let multi = MultiProgress::with_draw_target(indicatif::ProgressDrawTarget::stderr());
        let live = Arc::new(AtomicBool::new(false));
        let mut ctx = CiContext::from_env(
            super::ci::CiSystem::Plain,
            &Default::default(),
            Box::new(AboveRows {
                multi: multi.clone(),
                live: live.clone(),
                pending: Vec::new(),
            }),
            verbose,
        );
        ctx.colour = colour;
        Self::with_live(multi, ctx, live)
    }

    /// What each live row says now, in order.
    pub fn frame(&self) -> Vec<String> {
        let Ok(rows) = self.rows.lock() else {
            return Vec::new();
        };
        let width = rows
            .iter()
            .map(|r| r.object.label().chars().count())
            .max()
            .unwrap_or(0);
        rows.iter().map(|r| r.text(width)).collect()
    }

    fn redraw(&self, rows: &[Row]) {
        let width = rows
            .iter()
            .map(|r| r.object.label().chars().count())
            .max()
            .unwrap_or(0);
        for r in rows {
            let text = r.text(width);
            match &r.state {
                RolloutState::InProgress { .. } => r.bar.set_message(text),
                RolloutState::Failed { .. } => {
                    if !r.bar.is_finished() {
                        r.bar.abandon_with_message(text)
                    }
                }
                RolloutState::Ready | RolloutState::Skipped => {
                    if !r.bar.is_finished() {
                        r.bar.finish_with_message(text)
                    }
                }
            }
        }
    }
}

impl HumanOutput for Terminal {
    fn event(&self, event: &Event) {
        let Ok(mut rows) = self.rows.lock() else {
            return;
        };
        match event {
            // A target that runs alone (one after another) is shown as a run of its own, live
            // rows included, under its `target NAME` line; targets that run at once are told in
            // lines that carry their names.
            Event::TargetStarted { alone, .. } => {
                self.alone.store(*alone, Ordering::SeqCst);
                drop(rows);
                self.lines.event(event);
            }
            Event::Scoped { event: inner, .. } if self.alone.load(Ordering::SeqCst) => {
                drop(rows);
                self.event(inner);
            }
            Event::Scoped { .. } => {
                drop(rows);
                self.lines.event(event);
            }
            Event::TrackStarted { objects, .. } => {
                self.lines.event(event);
                self.live.store(true, Ordering::SeqCst);
                for o in objects {
                    let bar = self.multi.add(ProgressBar::new_spinner());
                    bar.set_style(style());
                    bar.enable_steady_tick(Duration::from_millis(120));
                    rows.push(Row {
                        object: o.clone(),
                        state: RolloutState::InProgress {
                            message: String::new(),
                        },
                        counts: None,
                        at: Duration::ZERO,
                        bar,
                    });
                }
                self.redraw(&rows);
            }
            Event::Progress {
                object,
                state,
                elapsed,
            } => {
                if let Some(r) = rows.iter_mut().find(|r| &r.object == object) {
                    r.state = state.clone();
                    r.at = *elapsed;
                }
                self.redraw(&rows);
            }
            Event::TrackStatus { objects, .. } => {
                for o in objects {
                    if let Some(r) = rows.iter_mut().find(|r| r.object == o.object) {
                        r.counts = o.ready.zip(o.desired);
                    }
                }
                self.redraw(&rows);
            }
            Event::TrackFinished { .. } => {
                for r in rows.iter() {
                    if !r.bar.is_finished() {
                        r.bar.abandon();
                    }
                }
                // The closing table says what the rows said; plain lines from here on.
                rows.clear();
                let _ = self.multi.clear();
                self.live.store(false, Ordering::SeqCst);
                drop(rows);
                self.lines.event(event);
            }
            other => {
                drop(rows);
                self.lines.event(other);
            }
        }
    }

    fn finish(&self, s: &RunSummary) {
        self.lines.finish(s);
    }

    fn mask(&self, secret: &str) {
        self.lines.mask(secret);
    }
}

/// The frame as text (for tests and goldens): one row per line.
pub fn frame_text(frame: &[String]) -> String {
    let mut out = String::new();
    for l in frame {
        out.push_str(l.trim_end());
        out.push('\n');
    }
    out
}
