//! A run's outcome as a Markdown job summary (GitHub's `GITHUB_STEP_SUMMARY`, Azure DevOps's
//! `task.uploadsummary`): counts per action, rollout result and duration per workload, images,
//! and what failed.

use super::outcome::{Failure, RunSummary, Workload};
use super::text;
use crate::event::{ObjectState, TargetState, format_duration};

/// GitHub refuses step summaries over 1 MiB; stay below it with room for a closing note.
pub const LIMIT: usize = 1024 * 1024 - 4 * 1024;

/// Longest failure message shown; the JSON report keeps the rest.
const MAX_MESSAGE: usize = 8 * 1024;

/// The summary as Markdown, at most `budget` bytes (rows that do not fit are left out, with a
/// note saying how many).
pub fn markdown(summary: &RunSummary, budget: usize) -> String {
    let mut doc = Doc::new(budget);
    let icon = if summary.succeeded() { "✅" } else { "❌" };
    doc.push(format!(
        "## {icon} kpush {}: {}\n\n",
        summary.command,
        text::result_words(summary)
    ));
    doc.push(format!(
        "Exit code {} after {}.\n\n",
        summary.exit_code,
        format_duration(summary.duration)
    ));

    let always = ["created", "configured", "unchanged", "pruned"];
    let cols: Vec<(&str, usize)> = summary
        .counts
        .pairs()
        .into_iter()
        .filter(|(name, n)| always.contains(name) || *n > 0)
        .collect();
    let names: Vec<&str> = cols.iter().map(|(n, _)| *n).collect();
    let values: Vec<String> = cols.iter().map(|(_, v)| v.to_string()).collect();
    doc.push(format!(
        "| {} |\n|{}\n| {} |\n\n",
        names.join(" | "),
        "---:|".repeat(cols.len()),
        values.join(" | ")
    ));

    if !summary.targets.is_empty() {
        doc.push(
            "### Targets\n\n| target | result | exit code | objects | duration | detail |\n|---|---|---:|---|---:|---|\n"
                .into(),
        );
        let rows = summary.targets.iter().map(|t| {
            let icon = match t.state {
                TargetState::Succeeded => "✅",
                TargetState::NotStarted => "⏸️",
                _ => "❌",
            };
            let (code, objects, duration) = match t.started() {
                true => (
                    t.exit_code.to_string(),
                    text::counts_words(&t.counts),
                    format_duration(t.duration),
                ),
                false => ("-".into(), "-".into(), "-".into()),
            };
            format!(
                "| {} | {icon} {} | {code} | {} | {duration} | {} |\n",
                cell(&t.name),
                t.state.word(),
                cell(&objects),
                cell(t.detail().unwrap_or_default())
            )
        });
        doc.rows(rows, summary.targets.len());
        doc.push("\n".into());
    }
    // With targets, each target's images are listed under it.
    let images = match summary.targets.is_empty() {
        true => &summary.images[..],
        false => &[],
    };
    sections(
        &mut doc,
        "",
        &summary.workloads,
        images,
        &summary.release,
        &summary.failures,
    );
    for t in &summary.targets {
        sections(
            &mut doc,
            &format!("{}: ", t.name),
            &t.workloads,
            &t.images,
            &t.release,
            &t.failures,
        );
    }
    doc.text
}

/// Rollouts, images, release notes and failures, under headings that start with `target`.
fn sections(
    doc: &mut Doc,
    target: &str,
    workloads: &[Workload],
    images: &[String],
    release: &[String],
    failures: &[Failure],
) {
    if !workloads.is_empty() {
        doc.push(
            format!("### {target}Rollouts\n\n| workload | result | duration | detail |\n|---|---|---:|---|\n"),
        );
        let rows = workloads.iter().map(|w| {
            let icon = match w.state {
                ObjectState::Ready => "✅",
                ObjectState::Failed => "❌",
                ObjectState::TimedOut => "⏱️",
                ObjectState::Pending => "⏸️",
                ObjectState::Unknown => "❔",
                ObjectState::Skipped => "➖",
            };
            format!(
                "| {} | {icon} {} | {} | {} |\n",
                cell(&w.object.label()),
                w.state.word(),
                format_duration(w.duration),
                cell(&w.detail)
            )
        });
        doc.rows(rows, workloads.len());
        doc.push("\n".into());
    }

    if !images.is_empty() {
        doc.push(format!("### {target}Images\n\n"));
        let rows = images.iter().map(|i| format!("- {}\n", code(i)));
        doc.rows(rows, images.len());
        doc.push("\n".into());
    }

    if !release.is_empty() {
        doc.push(format!("### {target}Release\n\n"));
        let rows = release.iter().map(|l| format!("- {}\n", cell(l)));
        doc.rows(rows, release.len());
        doc.push("\n".into());
    }

    if !failures.is_empty() {
        doc.push(format!("### {target}What failed\n\n"));
        let rows = failures.iter().map(|f| {
            let mut head = match &f.object {
                Some(o) => format!("**{}**", cell(&o.label())),
                None => "**Manifests**".to_string(),
            };
            if let Some(loc) = f.object.as_ref().and_then(|o| o.location()) {
                head.push_str(&format!(" at {}", code(&loc)));
            }
            format!("{head}\n\n{}\n", fenced(&truncate(&f.message, MAX_MESSAGE)))
        });
        doc.rows(rows, failures.len());
    }
}

/// Text for a Markdown table cell: one line, no column breaks, no HTML.
pub fn cell(text: &str) -> String {
    let escaped = text
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('|', "\\|");
    escaped.lines().collect::<Vec<_>>().join("<br>")
}

/// Inline code that survives backticks in the text.
fn code(text: &str) -> String {
    let longest = longest_run(text, '`');
    let ticks = "`".repeat(longest + 1);
    let pad = if text.starts_with('`') || text.ends_with('`') {
        " "
    } else {
        ""
    };
    format!("{ticks}{pad}{text}{pad}{ticks}")
}

/// A fenced `text` block longer than any backtick run inside.
fn fenced(text: &str) -> String {
    let fence = "`".repeat((longest_run(text, '`') + 1).max(3));
    format!("{fence}text\n{}\n{fence}\n", text.trim_end())
}

fn longest_run(text: &str, ch: char) -> usize {
    let (mut best, mut cur) = (0, 0);
    for c in text.chars() {
        cur = if c == ch { cur + 1 } else { 0 };
        best = best.max(cur);
    }
    best
}

fn truncate(text: &str, max: usize) -> String {
    if text.len() <= max {
        return text.to_string();
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!(
        "{}\n… (shortened; the JSON report has the full text)",
        &text[..end]
    )
}

/// A document that stops taking rows when its byte budget runs out.
struct Doc {
    text: String,
    budget: usize,
}

impl Doc {
    /// Room kept for the "N more" notes.
    const RESERVE: usize = 256;

    fn new(budget: usize) -> Self {
        Self {
            text: String::new(),
            budget,
        }
    }

    fn push(&mut self, s: String) {
        if self.text.len() + s.len() + Self::RESERVE <= self.budget {
            self.text.push_str(&s);
        }
    }

    fn rows(&mut self, rows: impl Iterator<Item = String>, total: usize) {
        let mut shown = 0;
        for r in rows {
            if self.text.len() + r.len() + Self::RESERVE > self.budget {
                break;
            }
            self.text.push_str(&r);
            shown += 1;
        }
        if shown < total {
            let note = format!(
                "\n_…and {} more not shown: the summary is limited in size; see the JSON report._\n",
                total - shown
            );
            if self.text.len() + note.len() <= self.budget {
                self.text.push_str(&note);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells_cannot_break_the_table_or_inject_html() {
        assert_eq!(cell("a|b\nc <script>"), "a\\|b<br>c &lt;script&gt;");
    }

    #[test]
    fn code_spans_and_fences_outgrow_backticks_inside() {
        assert_eq!(code("a`b"), "``a`b``");
        assert_eq!(fenced("x ```` y"), "`````text\nx ```` y\n`````\n");
    }

    #[test]
    fn a_rollback_is_told_in_the_release_section_before_what_failed() {
        let mut s = RunSummary::new("apply", 7);
        s.release = vec![
            "release shop: revision 4 failed; rolling back to revision 3".into(),
            "release shop: revision 5 succeeded".into(),
        ];
        s.failures.push(Failure {
            object: None,
            message: "a rollout failed".into(),
        });
        let md = markdown(&s, LIMIT);
        let release = md.find("### Release\n\n- release shop: revision 4 failed; rolling back to revision 3\n- release shop: revision 5 succeeded\n");
        let failed = md.find("### What failed");
        assert!(release.is_some() && release < failed, "{md}");
    }

    #[test]
    fn huge_summaries_stay_under_the_budget_and_say_what_was_left_out() {
        let mut s = RunSummary::new("apply", 4);
        for i in 0..5000 {
            s.failures.push(Failure {
                object: None,
                message: format!("failure {i} {}", "x".repeat(500)),
            });
        }
        let md = markdown(&s, LIMIT);
        assert!(md.len() <= LIMIT, "{}", md.len());
        assert!(md.contains("more not shown"), "no note");
    }
}
