//! Azure Pipelines: `##[group]` per stage, `##vso[task.logissue]` with source path and line,
//! `##vso[task.setsecret]`, output variables, an uploaded Markdown summary and
//! `##vso[task.complete]` on failure.
//!
//! Logging command syntax and escaping (as azure-pipelines-task-lib writes them):
//! <https://learn.microsoft.com/azure/devops/pipelines/scripts/logging-commands>.

use std::sync::Mutex;

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
    s.replace('%', "%AZP25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

/// Escapes a command property value: as [`escape_data`], plus `]` and `;`.
pub fn escape_property(s: &str) -> String {
    escape_data(s).replace(']', "%5D").replace(';', "%3B")
}

/// `##vso[area.action k=v;...]data`, escaped.
pub fn command(name: &str, props: &[(&str, String)], data: &str) -> String {
    let props: String = props
        .iter()
        .map(|(k, v)| format!("{k}={};", escape_property(v)))
        .collect();
    let sep = if props.is_empty() { "" } else { " " };
    format!("##vso[{name}{sep}{props}]{}", escape_data(data))
}

/// Where an issue points.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IssueAt {
    /// Path relative to the sources directory.
    pub file: Option<String>,
    /// 1-based line.
    pub line: Option<u32>,
    /// 1-based column.
    pub col: Option<u32>,
    /// A short code (kpush's problem kind).
    pub code: Option<String>,
}

/// `##vso[task.logissue type=error;sourcepath=F;linenumber=L;columnnumber=C;code=K;]MSG`.
pub fn log_issue(error: bool, at: &IssueAt, message: &str) -> String {
    let mut props = vec![("type", if error { "error" } else { "warning" }.to_string())];
    if let Some(f) = &at.file {
        props.push(("sourcepath", f.clone()));
        if let Some(l) = at.line.filter(|l| *l > 0) {
            props.push(("linenumber", l.to_string()));
            if let Some(c) = at.col.filter(|c| *c > 0) {
                props.push(("columnnumber", c.to_string()));
            }
        }
    }
    if let Some(c) = &at.code {
        props.push(("code", c.clone()));
    }
    command("task.logissue", &props, message)
}

/// `##vso[task.setvariable variable=N;isoutput=true]V`.
pub fn set_output(name: &str, value: &str) -> String {
    command(
        "task.setvariable",
        &[("variable", name.to_string()), ("isoutput", "true".into())],
        value,
    )
}

/// `##vso[task.setsecret]V` for each line of `secret`.
pub fn mask_commands(secret: &str) -> Vec<String> {
    secret
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(|l| command("task.setsecret", &[], l))
        .collect()
}

/// The reporter for Azure Pipelines.
pub struct AzureDevOpsReporter {
    ctx: CiContext,
    paint: Paint,
    open_group: Mutex<Option<Stage>>,
    /// Rollout tracking is printed as plain lines (with annotations added for failures).
    track_lines: CiLines,
}

impl AzureDevOpsReporter {
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
            self.ctx.line("##[endgroup]");
        }
    }

    fn object_issue(&self, object: &ObjectRef) -> IssueAt {
        IssueAt {
            file: object
                .file
                .as_deref()
                .and_then(|f| self.ctx.annotation_path(f)),
            line: object.line,
            col: None,
            code: None,
        }
    }

    fn upload_summary(&self, s: &RunSummary) {
        let Some(dir) = &self.ctx.summary else {
            return;
        };
        // One file per run: the agent attaches it when the job ends, so a later run in the same
        // job must not overwrite an earlier run's summary.
        let path = dir.join(format!(
            "kpush-{}-{}-summary.md",
            s.command,
            std::process::id()
        ));
        match std::fs::write(&path, summary::markdown(s, summary::LIMIT)) {
            Ok(()) => {
                let abs = std::path::absolute(&path).unwrap_or(path);
                self.ctx
                    .line(&command("task.uploadsummary", &[], &abs.to_string_lossy()));
            }
            Err(e) => self.ctx.line(&log_issue(
                false,
                &IssueAt::default(),
                &format!(
                    "kpush could not write its summary to {}: {e}",
                    path.display()
                ),
            )),
        }
    }
}

impl Reporter for AzureDevOpsReporter {
    fn event(&self, event: &Event) {
        let p = self.paint;
        match event {
            Event::StageStarted { stage } => {
                self.close_group();
                self.ctx
                    .line(&format!("##[group]kpush: {}", lines::stage_name(*stage)));
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
                let kind = serde_json::to_value(problem.kind)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_string));
                let file = self.ctx.annotation_path(&problem.file);
                let mut message = problem.message.clone();
                if file.is_none() && !problem.file.is_empty() {
                    message = format!("{}: {message}", problem.location());
                }
                let at = IssueAt {
                    file,
                    line: Some(problem.line),
                    col: problem.column,
                    code: kind,
                };
                self.ctx.line(&log_issue(
                    problem.severity == Severity::Error,
                    &at,
                    &message,
                ));
            }
            Event::Object {
                object,
                action: Action::Failed,
                message,
            } => {
                let msg = format!(
                    "{} was rejected: {}",
                    object.display_name(),
                    message.as_deref().unwrap_or("rejected by the API server")
                );
                self.ctx
                    .line(&log_issue(true, &self.object_issue(object), &msg));
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
                let msg = format!(
                    "{} {verb} after {}: {}",
                    object.display_name(),
                    lines::duration(*elapsed),
                    lines::explanation_text(explanation)
                );
                self.ctx
                    .line(&log_issue(true, &self.object_issue(object), &msg));
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
        self.ctx.line(&set_output("result", s.result()));
        self.ctx
            .line(&set_output("exitCode", &s.exit_code.to_string()));
        for (name, n) in s.counts.pairs() {
            self.ctx.line(&set_output(&camel(name), &n.to_string()));
        }
        if let Some(report) = &s.report_path {
            self.ctx
                .line(&set_output("report", &report.to_string_lossy()));
        }
        self.upload_summary(s);
        if !s.succeeded() {
            self.ctx.line(&command(
                "task.complete",
                &[("result", "Failed".into())],
                &format!("kpush {}: {}", s.command, lines::result_words(s)),
            ));
        }
    }

    fn mask(&self, secret: &str) {
        for cmd in mask_commands(secret) {
            self.ctx.line(&cmd);
        }
    }
}

/// `would change` → `wouldChange` (Azure DevOps variable names are case-insensitive words).
fn camel(name: &str) -> String {
    let mut out = String::new();
    let mut upper = false;
    for c in name.chars() {
        if c == ' ' {
            upper = true;
        } else if upper {
            out.extend(c.to_uppercase());
            upper = false;
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn data_escapes_percent_as_azp25_and_line_breaks() {
        assert_eq!(escape_data("100%\r\nok; ]"), "100%AZP25%0D%0Aok; ]");
    }

    #[test]
    fn properties_also_escape_semicolon_and_bracket() {
        assert_eq!(escape_property("a;b]c%"), "a%3Bb%5Dc%AZP25");
    }

    #[test]
    fn log_issue_names_source_path_line_and_column() {
        let at = IssueAt {
            file: Some("k8s/web.yaml".into()),
            line: Some(4),
            col: Some(2),
            code: Some("syntax".into()),
        };
        assert_eq!(
            log_issue(true, &at, "bad\nthing"),
            "##vso[task.logissue type=error;sourcepath=k8s/web.yaml;linenumber=4;columnnumber=2;code=syntax;]bad%0Athing"
        );
        assert_eq!(
            log_issue(false, &IssueAt::default(), "w"),
            "##vso[task.logissue type=warning;]w"
        );
    }

    #[test]
    fn outputs_and_secrets_use_their_commands() {
        assert_eq!(
            set_output("result", "success"),
            "##vso[task.setvariable variable=result;isoutput=true;]success"
        );
        assert_eq!(
            mask_commands("s3cr;t\n"),
            vec!["##vso[task.setsecret]s3cr;t"]
        );
        assert_eq!(camel("would change"), "wouldChange");
    }
}
