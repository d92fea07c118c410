//! GitHub Actions: `::group::` per stage, `::error`/`::warning` annotations with file and line,
//! `::add-mask::`, a Markdown job summary in `GITHUB_STEP_SUMMARY` and step outputs in
//! `GITHUB_OUTPUT`.
//!
//! Workflow command syntax and escaping:
//! <https://docs.github.com/actions/reference/workflow-commands-for-github-actions>.

use std::fs::OpenOptions;
use std::io::Write;
use std::path::Path;
use std::sync::Mutex;

use sha2::{Digest, Sha256};

use super::ci::CiContext;
use super::ci_lines::CiLines;
use super::colour::Paint;
use super::events::{Action, Event, ObjectRef, Reporter, Stage};
use super::outcome::RunSummary;
use super::{lines, summary};
use crate::render::Severity;
use crate::track::outcome::ObjectState;

/// Escapes a command's message: `%`, CR and LF.
pub fn escape_data(s: &str) -> String {
    s.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

/// Escapes a command property value: as [`escape_data`], plus `:` and `,`.
pub fn escape_property(s: &str) -> String {
    escape_data(s).replace(':', "%3A").replace(',', "%2C")
}

/// An annotation level.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    /// `::error`.
    Error,
    /// `::warning`.
    Warning,
    /// `::notice`.
    Notice,
}

/// Where an annotation points and what it is called.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Annotation {
    /// Path relative to the workspace.
    pub file: Option<String>,
    /// 1-based line.
    pub line: Option<u32>,
    /// 1-based column.
    pub col: Option<u32>,
    /// Short title shown above the message.
    pub title: Option<String>,
}

/// `::error file=F,line=L,col=C,title=T::MSG`, escaped.
pub fn annotation(level: Level, at: &Annotation, message: &str) -> String {
    let name = match level {
        Level::Error => "error",
        Level::Warning => "warning",
        Level::Notice => "notice",
    };
    let mut props = Vec::new();
    if let Some(f) = &at.file {
        props.push(format!("file={}", escape_property(f)));
        if let Some(l) = at.line.filter(|l| *l > 0) {
            props.push(format!("line={l}"));
            if let Some(c) = at.col.filter(|c| *c > 0) {
                props.push(format!("col={c}"));
            }
        }
    }
    if let Some(t) = &at.title {
        props.push(format!("title={}", escape_property(t)));
    }
    let sep = if props.is_empty() { "" } else { " " };
    format!("::{name}{sep}{}::{}", props.join(","), escape_data(message))
}

/// One `GITHUB_OUTPUT` entry: `name=value`, or a heredoc when the value spans lines.
pub fn output_entry(name: &str, value: &str) -> String {
    if !value.contains('\n') && !value.contains('\r') {
        return format!("{name}={value}\n");
    }
    let digest = Sha256::digest(value.as_bytes());
    let hex: String = digest[..8].iter().map(|b| format!("{b:02x}")).collect();
    let mut delim = format!("kpush_EOF_{hex}");
    while value.lines().any(|l| l == delim) {
        delim.push('_');
    }
    format!("{name}<<{delim}\n{value}\n{delim}\n")
}

/// The `::add-mask::` commands hiding `secret` (one per line, as GitHub masks line by line).
pub fn mask_commands(secret: &str) -> Vec<String> {
    secret
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(|l| format!("::add-mask::{}", escape_data(l)))
        .collect()
}

/// The reporter for GitHub Actions.
pub struct GithubReporter {
    ctx: CiContext,
    paint: Paint,
    open_group: Mutex<Option<Stage>>,
    /// Rollout tracking is printed as plain lines (with annotations added for failures).
    track_lines: CiLines,
}

impl GithubReporter {
    /// A reporter writing to `ctx`.
    pub fn new(ctx: CiContext) -> Self {
        let paint = Paint {
            enabled: ctx.colour,
        };
        let track_lines = CiLines::new(Box::new(ctx.log.clone()));
        Self {
            ctx,
            paint,
            open_group: Mutex::new(None),
            track_lines,
        }
    }

    fn close_group(&self) {
        if let Ok(mut g) = self.open_group.lock()
            && g.take().is_some()
        {
            self.ctx.line("::endgroup::");
        }
    }

    fn object_annotation(&self, object: &ObjectRef, title: String) -> Annotation {
        Annotation {
            file: object
                .file
                .as_deref()
                .and_then(|f| self.ctx.annotation_path(f)),
            line: object.line,
            col: None,
            title: Some(title),
        }
    }

    fn write_outputs(&self, path: &Path, s: &RunSummary) {
        let mut text = String::new();
        text.push_str(&output_entry("result", s.result()));
        text.push_str(&output_entry("exit-code", &s.exit_code.to_string()));
        for (name, n) in s.counts.pairs() {
            text.push_str(&output_entry(&name.replace(' ', "-"), &n.to_string()));
        }
        text.push_str(&output_entry("images", &s.images.join("\n")));
        if let Some(report) = &s.report_path {
            text.push_str(&output_entry("report", &report.to_string_lossy()));
        }
        self.append(path, &text, "step outputs");
    }

    fn write_summary(&self, path: &Path, s: &RunSummary) {
        let used = std::fs::metadata(path)
            .map(|m| m.len() as usize)
            .unwrap_or(0);
        let budget = summary::LIMIT.saturating_sub(used);
        self.append(path, &summary::markdown(s, budget), "job summary");
    }

    fn append(&self, path: &Path, text: &str, what: &str) {
        let res = OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .and_then(|mut f| f.write_all(text.as_bytes()));
        if let Err(e) = res {
            self.ctx.line(&annotation(
                Level::Warning,
                &Annotation::default(),
                &format!(
                    "kpush could not write the {what} to {}: {e}",
                    path.display()
                ),
            ));
        }
    }
}

impl Reporter for GithubReporter {
    fn event(&self, event: &Event) {
        let p = self.paint;
        match event {
            Event::StageStarted { stage } => {
                self.close_group();
                self.ctx.line(&format!(
                    "::group::kpush: {}",
                    escape_data(lines::stage_name(*stage))
                ));
                if let Ok(mut g) = self.open_group.lock() {
                    *g = Some(*stage);
                }
            }
            Event::StageFinished { stage, elapsed } => {
                self.ctx.line(&p.dim(&format!(
                    "{} finished in {}",
                    lines::stage_name(*stage),
                    lines::duration(*elapsed)
                )));
                self.close_group();
            }
            Event::Problem { problem } => {
                let level = match problem.severity {
                    Severity::Error => Level::Error,
                    Severity::Warning => Level::Warning,
                };
                let kind = serde_json::to_value(problem.kind)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_string))
                    .unwrap_or_default();
                let file = self.ctx.annotation_path(&problem.file);
                let mut message = problem.message.clone();
                if file.is_none() && !problem.file.is_empty() {
                    message = format!("{}: {message}", problem.location());
                }
                let at = Annotation {
                    file,
                    line: Some(problem.line),
                    col: problem.column,
                    title: Some(format!("kpush: {kind}")),
                };
                self.ctx.line(&annotation(level, &at, &message));
            }
            Event::Object {
                object,
                action: Action::Failed,
                message,
            } => {
                let at = self
                    .object_annotation(object, format!("{} was rejected", object.display_name()));
                let msg = message.as_deref().unwrap_or("rejected by the API server");
                self.ctx.line(&annotation(Level::Error, &at, msg));
            }
            Event::Object {
                object,
                action,
                message,
            } => self
                .ctx
                .line(&lines::object_line(p, object, *action, message.as_deref())),
            Event::RolloutFailed {
                object,
                state,
                elapsed,
                explanation,
            } => {
                let verb = match state {
                    ObjectState::TimedOut => "timed out",
                    _ => "failed",
                };
                let at = self.object_annotation(
                    object,
                    format!(
                        "{} {verb} after {}",
                        object.display_name(),
                        lines::duration(*elapsed)
                    ),
                );
                self.ctx.line(&annotation(
                    Level::Error,
                    &at,
                    &lines::explanation_text(explanation),
                ));
                self.track_lines.event(event);
            }
            Event::Progress { .. }
            | Event::TrackStarted { .. }
            | Event::TrackStatus { .. }
            | Event::TrackFinished { .. } => self.track_lines.event(event),
            Event::Info { message } => self.ctx.line(message),
        }
    }

    fn finish(&self, s: &RunSummary) {
        self.close_group();
        self.ctx.line(&lines::final_line(self.paint, s));
        if let Some(path) = &self.ctx.outputs {
            self.write_outputs(path, s);
        }
        if let Some(path) = &self.ctx.summary {
            self.write_summary(path, s);
        }
    }

    fn mask(&self, secret: &str) {
        for cmd in mask_commands(secret) {
            self.ctx.line(&cmd);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn data_escapes_percent_cr_and_lf_only() {
        assert_eq!(escape_data("50%: a,b\r\nc"), "50%25: a,b%0D%0Ac");
    }

    #[test]
    fn properties_also_escape_colon_and_comma() {
        assert_eq!(escape_property("a:b,c%\n"), "a%3Ab%2Cc%25%0A");
    }

    #[test]
    fn percent_is_escaped_first_so_escapes_are_not_doubled() {
        assert_eq!(escape_data("%0A"), "%250A");
    }

    #[test]
    fn annotations_carry_file_line_column_and_title() {
        let at = Annotation {
            file: Some("k8s/web,v2.yaml".into()),
            line: Some(7),
            col: Some(3),
            title: Some("kpush: syntax".into()),
        };
        assert_eq!(
            annotation(Level::Error, &at, "bad: 100%\nfix it"),
            "::error file=k8s/web%2Cv2.yaml,line=7,col=3,title=kpush%3A syntax::bad: 100%25%0Afix it"
        );
    }

    #[test]
    fn annotations_without_location_omit_properties_and_zero_lines() {
        assert_eq!(
            annotation(Level::Notice, &Annotation::default(), "m"),
            "::notice::m"
        );
        let at = Annotation {
            file: Some("a.yaml".into()),
            line: Some(0),
            ..Annotation::default()
        };
        assert_eq!(
            annotation(Level::Warning, &at, "m"),
            "::warning file=a.yaml::m"
        );
    }

    #[test]
    fn multi_line_outputs_use_a_heredoc_whose_delimiter_is_not_in_the_value() {
        assert_eq!(output_entry("a", "1"), "a=1\n");
        let e = output_entry("images", "x:1\ny:2");
        let (head, rest) = e.split_once('\n').unwrap();
        let delim = head.strip_prefix("images<<").unwrap();
        assert_eq!(rest, format!("x:1\ny:2\n{delim}\n"));
    }

    #[test]
    fn masks_each_line_of_a_secret() {
        assert_eq!(
            mask_commands("abc\n def%\n\n"),
            vec!["::add-mask::abc", "::add-mask::def%25"]
        );
    }
}
