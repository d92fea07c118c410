//! GitHub Actions: `::group::` per stage, `::error`/`::warning` annotations with file and line,
//! `::add-mask::`, step outputs in `GITHUB_OUTPUT` and a Markdown job summary in
//! `GITHUB_STEP_SUMMARY`.
//!
//! Workflow command syntax and escaping:
//! <https://docs.github.com/actions/reference/workflow-commands-for-github-actions>.

use sha2::{Digest, Sha256};

use super::context::CiContext;
use super::dialect::{Annotation, Dialect, Level};
use crate::event::Stage;
use crate::report::outcome::RunSummary;
use crate::report::summary;

/// The dialect of GitHub Actions.
#[derive(Debug, Default, Clone, Copy)]
pub struct Github;

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

impl Dialect for Github {
    fn group_start(&self, _ctx: &CiContext, stage: Stage) -> Vec<String> {
        vec![format!("::group::kpush: {}", stage.name())]
    }

    fn group_end(&self, _ctx: &CiContext, _stage: Stage) -> Vec<String> {
        vec!["::endgroup::".into()]
    }

    /// `::error file=F,line=L,col=C,title=T::MSG`, escaped.
    fn annotation(&self, a: &Annotation) -> Option<String> {
        let name = match a.level {
            Level::Error => "error",
            Level::Warning => "warning",
        };
        let mut props = Vec::new();
        if let Some(f) = &a.file {
            props.push(format!("file={}", escape_property(f)));
            if let Some(l) = a.line.filter(|l| *l > 0) {
                props.push(format!("line={l}"));
                if let Some(c) = a.col.filter(|c| *c > 0) {
                    props.push(format!("col={c}"));
                }
            }
        }
        props.push(format!("title={}", escape_property(&a.title)));
        Some(format!(
            "::{name} {}::{}",
            props.join(","),
            escape_data(&a.message)
        ))
    }

    /// One `::add-mask::` per line, as GitHub masks line by line.
    fn mask(&self, secret: &str) -> Vec<String> {
        secret
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .map(|l| format!("::add-mask::{}", escape_data(l)))
            .collect()
    }

    fn outputs(&self, ctx: &CiContext, s: &RunSummary) -> Vec<String> {
        let Some(path) = &ctx.outputs else {
            return Vec::new();
        };
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
        warning(ctx.append(path, &text, "step outputs"))
    }

    fn summary(&self, ctx: &CiContext, s: &RunSummary) -> Vec<String> {
        let Some(path) = &ctx.summary else {
            return Vec::new();
        };
        let used = std::fs::metadata(path)
            .map(|m| m.len() as usize)
            .unwrap_or(0);
        let budget = summary::LIMIT.saturating_sub(used);
        warning(ctx.append(path, &summary::markdown(s, budget), "job summary"))
    }
}

fn warning(message: Option<String>) -> Vec<String> {
    message
        .map(|m| format!("::warning::{}", escape_data(&m)))
        .into_iter()
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(file: Option<&str>, line: Option<u32>, col: Option<u32>) -> Annotation {
        Annotation {
            level: Level::Error,
            file: file.map(str::to_string),
            line,
            col,
            title: "kpush: syntax".into(),
            code: None,
            message: "bad: 100%\nfix it".into(),
        }
    }

    #[test]
    fn escapes_follow_the_workflow_command_rules() {
        assert_eq!(escape_data("50%: a,b\r\nc"), "50%25: a,b%0D%0Ac");
        assert_eq!(escape_property("a:b,c%\n"), "a%3Ab%2Cc%25%0A");
        assert_eq!(escape_data("%0A"), "%250A");
    }

    #[test]
    fn annotations_carry_file_line_column_and_title() {
        assert_eq!(
            Github.annotation(&at(Some("k8s/web,v2.yaml"), Some(7), Some(3))),
            Some(
                "::error file=k8s/web%2Cv2.yaml,line=7,col=3,title=kpush%3A syntax::bad: 100%25%0Afix it"
                    .into()
            )
        );
        assert_eq!(
            Github.annotation(&at(Some("a.yaml"), Some(0), None)),
            Some("::error file=a.yaml,title=kpush%3A syntax::bad: 100%25%0Afix it".into())
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
            Github.mask("abc\n def%\n\n"),
            vec!["::add-mask::abc", "::add-mask::def%25"]
        );
    }
}
