//! GitLab CI: collapsible sections per stage (`section_start` / `section_end` markers) and,
//! when `KPUSH_DOTENV` names a file, the run's outputs as a dotenv file for
//! `artifacts:reports:dotenv`. GitLab has no log annotations and cannot mask values at run
//! time (mask CI/CD variables in the project settings instead): failures are printed as
//! plain blocks.
//!
//! Section syntax: <https://docs.gitlab.com/ci/jobs/job_logs/#custom-collapsible-sections>.

use super::context::CiContext;
use super::dialect::Dialect;
use crate::event::Stage;
use crate::report::outcome::RunSummary;

/// The dialect of GitLab CI.
#[derive(Debug, Default, Clone, Copy)]
pub struct Gitlab;

/// One dotenv line `KPUSH_NAME=value` (values on one line; GitLab reads no quoting).
pub fn dotenv_entry(name: &str, value: &str) -> String {
    let name: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_uppercase()
            } else {
                '_'
            }
        })
        .collect();
    let value = value.replace(['\r', '\n'], " ");
    format!("KPUSH_{name}={value}\n")
}

impl Dialect for Gitlab {
    fn group_start(&self, ctx: &CiContext, stage: Stage) -> Vec<String> {
        vec![format!(
            "\x1b[0Ksection_start:{}:kpush_{}[collapsed=true]\r\x1b[0Kkpush: {}",
            (ctx.clock)(),
            stage.name(),
            stage.name()
        )]
    }

    fn group_end(&self, ctx: &CiContext, stage: Stage) -> Vec<String> {
        vec![format!(
            "\x1b[0Ksection_end:{}:kpush_{}\r\x1b[0K",
            (ctx.clock)(),
            stage.name()
        )]
    }

    fn outputs(&self, ctx: &CiContext, s: &RunSummary) -> Vec<String> {
        let Some(path) = &ctx.outputs else {
            return Vec::new();
        };
        let mut text = String::new();
        text.push_str(&dotenv_entry("result", s.result()));
        text.push_str(&dotenv_entry("exit code", &s.exit_code.to_string()));
        for (name, n) in s.counts.pairs() {
            text.push_str(&dotenv_entry(name, &n.to_string()));
        }
        text.push_str(&dotenv_entry("images", &s.images.join(",")));
        if let Some(report) = &s.report_path {
            text.push_str(&dotenv_entry("report", &report.to_string_lossy()));
        }
        ctx.append(path, &text, "dotenv outputs")
            .map(|m| format!("warning: {m}"))
            .into_iter()
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dotenv_names_are_upper_case_words_and_values_one_line() {
        assert_eq!(dotenv_entry("would change", "0"), "KPUSH_WOULD_CHANGE=0\n");
        assert_eq!(dotenv_entry("images", "a\nb"), "KPUSH_IMAGES=a b\n");
    }
}
