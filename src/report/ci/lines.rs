//! The line reporter: plain lines that say each thing once, in the dialect of a CI system
//! (plain logs are the dialect without groups or annotations).

use std::collections::HashSet;
use std::sync::Mutex;

use super::context::CiContext;
use super::dialect::{Annotation, Dialect, Level};
use crate::event::{Event, ObjectRef, Stage, TargetState, format_duration};
use crate::render::problem::Severity;
use crate::report::colour::Paint;
use crate::report::human::HumanOutput;
use crate::report::outcome::RunSummary;
use crate::report::{explain, text};

/// The line reporter: plain lines that say each thing once, in the dialect of a CI system.
pub struct LineReporter {
    ctx: CiContext,
    dialect: Box<dyn Dialect>,
    paint: Paint,
    state: Mutex<Lines>,
}

#[derive(Default)]
struct Lines {
    open_group: Option<Stage>,
    advice_shown: HashSet<String>,
    verdicts: HashSet<(Option<String>, ObjectRef)>,
}

impl LineReporter {
    /// A reporter writing `dialect` to `ctx`.
    pub fn new(ctx: CiContext, dialect: Box<dyn Dialect>) -> Self {
        let paint = Paint {
            enabled: ctx.colour,
        };
        Self {
            ctx,
            dialect,
            paint,
            state: Mutex::new(Lines::default()),
        }
    }

    /// Writes the dialect's own commands.
    fn lines(&self, lines: Vec<String>) {
        for l in lines {
            self.ctx.command(&l);
        }
    }

    fn close_group(&self, lines: &mut Lines) {
        if let Some(stage) = lines.open_group.take() {
            self.lines(self.dialect.group_end(&self.ctx, stage));
        }
    }

    fn at(&self, object: &ObjectRef) -> (Option<String>, Option<u32>) {
        (
            object.file().and_then(|f| self.ctx.annotation_path(f)),
            object.line(),
        )
    }

    /// Prints an annotation, or `otherwise` when the dialect has none.
    fn annotate(&self, target: Option<&str>, a: Annotation, otherwise: impl FnOnce() -> String) {
        match self.dialect.annotation(&a) {
            Some(cmd) => self.ctx.command(&cmd),
            None => {
                let text = otherwise();
                if !text.is_empty() {
                    self.say_block(target, &with_newline(text));
                }
            }
        }
    }
}

fn with_newline(mut s: String) -> String {
    if !s.ends_with('\n') {
        s.push('\n');
    }
    s
}

impl LineReporter {
    /// Writes `line`, after `[target] ` in a multi-cluster run.
    fn say(&self, target: Option<&str>, line: &str) {
        match target {
            Some(_) => self.say_block(target, &with_newline(line.to_string())),
            None => self.ctx.line(line),
        }
    }

    /// Writes a block of text, each line after `[target] ` in a multi-cluster run.
    fn say_block(&self, target: Option<&str>, text: &str) {
        match target {
            Some(t) => {
                let mut out = String::new();
                for l in text.lines() {
                    out.push_str(&format!("[{t}] {l}\n"));
                }
                self.ctx.text(&out);
            }
            None => self.ctx.text(text),
        }
    }

    /// Shows one event; `target` names the target of a multi-cluster run the event belongs to.
    fn show(&self, st: &mut Lines, event: &Event, target: Option<&str>) {
        let p = self.paint;
        let titled = |title: String| match target {
            Some(t) => format!("{t}: {title}"),
            None => title,
        };
        match event {
            Event::Scoped { target, event } => self.show(st, event, Some(target)),
            Event::TargetStarted { name, cluster, .. } => {
                self.close_group(st);
                self.ctx.line(&p.bold(&format!("target {name}: {cluster}")));
            }
            Event::TargetFinished { result } => {
                self.close_group(st);
                self.ctx.line(&text::target_line(p, result));
                let failed = !matches!(
                    result.state,
                    TargetState::Succeeded | TargetState::Differences | TargetState::NotStarted
                );
                if let Some(message) = result.message.as_ref().filter(|_| failed) {
                    let a = Annotation {
                        level: Level::Error,
                        file: None,
                        line: None,
                        col: None,
                        title: format!("target {} {}", result.name, result.state.word()),
                        code: None,
                        message: message.clone(),
                    };
                    // The first line is on the target's line already; the rest follows it.
                    self.annotate(None, a, || {
                        message
                            .lines()
                            .skip(1)
                            .map(|l| format!("  {l}\n"))
                            .collect()
                    });
                }
            }
            // Stages of one target would interleave with another's: groups are the run's only.
            Event::StageStarted { .. } | Event::StageFinished { .. } if target.is_some() => {}
            Event::StageStarted { stage } => {
                self.close_group(st);
                self.lines(self.dialect.group_start(&self.ctx, *stage));
                st.open_group = Some(*stage);
            }
            Event::StageFinished { stage, elapsed } => {
                if self.ctx.verbose {
                    self.say(
                        target,
                        &p.dim(&format!(
                            "{} finished in {}",
                            stage.name(),
                            format_duration(*elapsed)
                        )),
                    );
                }
                self.close_group(st);
            }
            Event::Problem { problem } => {
                let file = self.ctx.annotation_path(&problem.file);
                let mut message = problem.message.clone();
                if file.is_none() && !problem.file.is_empty() {
                    message = format!("{}: {message}", problem.location());
                }
                let kind = serde_json::to_value(problem.kind)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_string))
                    .unwrap_or_default();
                let a = Annotation {
                    level: match problem.severity {
                        Severity::Error => Level::Error,
                        Severity::Warning => Level::Warning,
                    },
                    file,
                    line: Some(problem.line).filter(|l| *l > 0),
                    col: problem.column,
                    title: titled(format!("kpush: {kind}")),
                    code: Some(kind),
                    message,
                };
                // Errors stop the run and are printed with it; warnings are printed here.
                let plain = problem.severity == Severity::Warning;
                match self.dialect.annotation(&a) {
                    Some(cmd) => self.ctx.command(&cmd),
                    None if plain => self.say(target, &problem.to_string()),
                    None => {}
                }
            }
            Event::Rendered { .. } => {}
            Event::Object { object, action } => {
                self.say(target, &text::object_line(p, object, *action));
            }
            Event::Rejected { rejection } => {
                let shown = !rejection.advice.is_empty()
                    && !st.advice_shown.insert(rejection.advice.clone());
                let (file, line) = self.at(&rejection.object);
                let full = self.ctx.full_messages;
                let mut message = text::cut(&rejection.reason, full).into_owned();
                if !rejection.advice.is_empty() {
                    message.push_str("\nfix: ");
                    message.push_str(if shown { "as above" } else { &rejection.advice });
                }
                let a = Annotation {
                    level: Level::Error,
                    file,
                    line,
                    col: None,
                    title: titled(format!("{} was rejected", rejection.object.label())),
                    code: Some(rejection.kind.short().to_string()),
                    message,
                };
                self.annotate(target, a, || {
                    text::rejection_block(p, rejection, shown, full)
                });
            }
            Event::Warning { object, message } => {
                let (file, line) = object.as_ref().map(|o| self.at(o)).unwrap_or_default();
                let a = Annotation {
                    level: Level::Warning,
                    file,
                    line,
                    col: None,
                    title: titled("kpush".to_string()),
                    code: None,
                    message: message.clone(),
                };
                self.annotate(target, a, || format!("{}: {message}", p.yellow("warning")));
            }
            Event::PermissionMissing { permission } => {
                let optional = permission.optional();
                let message = permission.missing();
                let a = Annotation {
                    level: if optional {
                        Level::Warning
                    } else {
                        Level::Error
                    },
                    file: None,
                    line: None,
                    col: None,
                    title: titled("kpush: missing permission".to_string()),
                    code: Some("Forbidden".to_string()),
                    message: message.clone(),
                };
                let label = match optional {
                    true => p.yellow("warning"),
                    false => p.red("missing permission"),
                };
                self.annotate(target, a, || format!("{label}: {message}"));
            }
            Event::Release { note } if note.is_warning() => {
                let message = note.text();
                let a = Annotation {
                    level: Level::Warning,
                    file: None,
                    line: None,
                    col: None,
                    title: titled("kpush release".to_string()),
                    code: None,
                    message: message.clone(),
                };
                self.annotate(target, a, || format!("{}: {message}", p.yellow("warning")));
            }
            Event::Release { note } => self.say(target, &note.text()),
            Event::Info { message } => {
                if self.ctx.verbose {
                    self.say(target, &p.dim(message));
                }
            }
            Event::TrackStarted { objects, timeout } => {
                self.say(target, &text::waiting_line(objects.len(), *timeout));
            }
            Event::Progress {
                object,
                state,
                elapsed,
            } => {
                if let Some(line) = text::verdict_line(object, state, *elapsed)
                    && st
                        .verdicts
                        .insert((target.map(str::to_string), object.clone()))
                {
                    self.say(target, &line);
                }
            }
            Event::TrackStatus { elapsed, objects } => {
                let pending: Vec<String> = objects
                    .iter()
                    .filter(|o| !o.state.is_final())
                    .map(|o| match (o.ready, o.desired) {
                        (Some(r), Some(d)) => format!("{} {r}/{d}", o.object.label()),
                        _ => o.object.label(),
                    })
                    .collect();
                if pending.is_empty() {
                    return;
                }
                let ready = objects.iter().filter(|o| o.state.is_done()).count();
                self.say(
                    target,
                    &format!(
                        "[{}] {ready} of {} ready; waiting for {}",
                        format_duration(*elapsed),
                        objects.len(),
                        pending.join(", ")
                    ),
                );
            }
            Event::RolloutFailed {
                object,
                state,
                elapsed,
                explanation,
            } => {
                let (file, line) = self.at(object);
                let a = Annotation {
                    level: Level::Error,
                    file,
                    line,
                    col: None,
                    title: titled(explain::failure_title(
                        object,
                        *state,
                        *elapsed,
                        &explanation.reason,
                    )),
                    code: Some(explanation.reason.clone()),
                    message: explain::explanation_body(explanation)
                        .lines()
                        .map(|l| l.strip_prefix("  ").unwrap_or(l))
                        .collect::<Vec<_>>()
                        .join("\n"),
                };
                self.annotate(target, a, || {
                    explain::explanation_block(object, *state, *elapsed, explanation)
                });
            }
            Event::TrackFinished { outcome } => {
                self.say_block(
                    target,
                    &format!(
                        "{}{}\n",
                        text::outcome_table(outcome),
                        text::track_verdict(outcome)
                    ),
                );
            }
        }
    }
}

impl HumanOutput for LineReporter {
    fn event(&self, event: &Event) {
        let Ok(mut st) = self.state.lock() else {
            return;
        };
        self.show(&mut st, event, None);
    }

    fn finish(&self, s: &RunSummary) {
        if let Ok(mut st) = self.state.lock() {
            self.close_group(&mut st);
        }
        if !s.targets.is_empty() {
            self.ctx.text(&text::targets_table(s));
        }
        self.ctx.line(&text::final_line(self.paint, s));
        self.lines(self.dialect.outputs(&self.ctx, s));
        self.lines(self.dialect.summary(&self.ctx, s));
    }

    /// Masks `secret`, and also the form [`CiContext::line`] prints it in when it holds a CI
    /// command marker (see [`super::untrusted`]): the log must hide it either way.
    fn mask(&self, secret: &str) {
        let mut lines = self.dialect.mask(secret);
        for printed in super::untrusted::printed_forms(secret) {
            lines.extend(self.dialect.mask(&printed));
        }
        self.lines(lines);
    }
}
