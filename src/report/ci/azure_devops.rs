//! Azure Pipelines: `##[group]` per stage, `##vso[task.logissue]` with source path and line,
//! `##vso[task.setsecret]`, output variables, an uploaded Markdown summary and
//! `##vso[task.complete]` on failure.
//!
//! Logging command syntax and escaping (as azure-pipelines-task-lib writes them):
//! <https://learn.microsoft.com/azure/devops/pipelines/scripts/logging-commands>.

use super::context::CiContext;
use super::dialect::{Annotation, Dialect, Level};
use crate::event::Stage;
use crate::report::outcome::RunSummary;
use crate::report::{summary, text};

/// The dialect of Azure Pipelines.
#[derive(Debug, Default, Clone, Copy)]
pub struct AzureDevOps;

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

/// `##vso[task.setvariable variable=N;isoutput=true;]V`.
pub fn set_output(name: &str, value: &str) -> String {
    command(
        "task.setvariable",
        &[("variable", name.to_string()), ("isoutput", "true".into())],
        value,
    )
}

impl Dialect for AzureDevOps {
    fn group_start(&self, _ctx: &CiContext, stage: Stage) -> Vec<String> {
        vec![format!("##[group]kpush: {}", stage.name())]
    }

    fn group_end(&self, _ctx: &CiContext, _stage: Stage) -> Vec<String> {
        vec!["##[endgroup]".into()]
    }

    /// `##vso[task.logissue type=error;sourcepath=F;linenumber=L;columnnumber=C;code=K;]T: MSG`.
    fn annotation(&self, a: &Annotation) -> Option<String> {
        let kind = match a.level {
            Level::Error => "error",
            Level::Warning => "warning",
        };
        let mut props = vec![("type", kind.to_string())];
        if let Some(f) = &a.file {
            props.push(("sourcepath", f.clone()));
            if let Some(l) = a.line.filter(|l| *l > 0) {
                props.push(("linenumber", l.to_string()));
                if let Some(c) = a.col.filter(|c| *c > 0) {
                    props.push(("columnnumber", c.to_string()));
                }
            }
        }
        if let Some(c) = &a.code {
            props.push(("code", c.clone()));
        }
        // A manifest problem's title (`kpush: syntax`) only repeats its code.
        let message = match &a.code {
            Some(code) if a.title == format!("kpush: {code}") => a.message.clone(),
            _ => format!("{}: {}", a.title, a.message),
        };
        Some(command("task.logissue", &props, &message))
    }

    fn mask(&self, secret: &str) -> Vec<String> {
        secret
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .map(|l| command("task.setsecret", &[], l))
            .collect()
    }

    fn outputs(&self, _ctx: &CiContext, s: &RunSummary) -> Vec<String> {
        let mut lines = vec![
            set_output("result", s.result()),
            set_output("exitCode", &s.exit_code.to_string()),
        ];
        for (name, n) in s.counts.pairs() {
            lines.push(set_output(&camel(name), &n.to_string()));
        }
        if let Some(report) = &s.report_path {
            lines.push(set_output("report", &report.to_string_lossy()));
        }
        lines
    }

    /// Uploads the Markdown summary, and marks the task failed when the run failed.
    fn summary(&self, ctx: &CiContext, s: &RunSummary) -> Vec<String> {
        let mut lines = Vec::new();
        if let Some(dir) = &ctx.summary {
            // One file per run: the agent attaches it when the job ends, so a later run in the
            // same job must not overwrite an earlier run's summary.
            let path = dir.join(format!(
                "kpush-{}-{}-summary.md",
                s.command,
                std::process::id()
            ));
            match std::fs::write(&path, summary::markdown(s, summary::LIMIT)) {
                Ok(()) => {
                    let abs = std::path::absolute(&path).unwrap_or(path);
                    lines.push(command("task.uploadsummary", &[], &abs.to_string_lossy()));
                }
                Err(e) => lines.push(command(
                    "task.logissue",
                    &[("type", "warning".into())],
                    &format!(
                        "kpush could not write its summary to {}: {e}",
                        path.display()
                    ),
                )),
            }
        }
        // Differences found by `diff` are its answer, not a failure: its exit code (1) fails a
        // script step anyway, and the KpushDeploy task must be able to pass (the agent keeps
        // the worst `task.complete` result of a task).
        if !s.succeeded() && s.exit_code != crate::exit::DIFFERENCES {
            lines.push(command(
                "task.complete",
                &[("result", "Failed".into())],
                &format!("kpush {}: {}", s.command, text::result_words(s)),
            ));
        }
        lines
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
    fn escapes_follow_the_logging_command_rules() {
        assert_eq!(escape_data("100%\r\nok; ]"), "100%AZP25%0D%0Aok; ]");
        assert_eq!(escape_property("a;b]c%"), "a%3Bb%5Dc%AZP25");
    }

    #[test]
    fn log_issue_names_source_path_line_and_column() {
        let a = Annotation {
            level: Level::Error,
            file: Some("k8s/web.yaml".into()),
            line: Some(4),
            col: Some(2),
            title: "kpush: syntax".into(),
            code: Some("syntax".into()),
            message: "bad\nthing".into(),
        };
        assert_eq!(
            AzureDevOps.annotation(&a).unwrap(),
            "##vso[task.logissue type=error;sourcepath=k8s/web.yaml;linenumber=4;columnnumber=2;code=syntax;]bad%0Athing"
        );
    }

    #[test]
    fn outputs_and_secrets_use_their_commands() {
        assert_eq!(
            set_output("result", "success"),
            "##vso[task.setvariable variable=result;isoutput=true;]success"
        );
        assert_eq!(
            AzureDevOps.mask("s3cr;t\n"),
            vec!["##vso[task.setsecret]s3cr;t"]
        );
        assert_eq!(camel("would change"), "wouldChange");
    }
}
