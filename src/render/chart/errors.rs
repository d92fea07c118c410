//! Turning helm's error text into problems that name the template file and line, the values
//! file, or the flag, with what to do next.

use std::path::{Path, PathBuf};

use super::output::Layout;
use super::{ChartOptions, chart_problem, display};
use crate::render::problem::Problem;

/// What the error is about: the chart and the files the options name.
#[derive(Debug)]
pub struct Context {
    chart: PathBuf,
    display: String,
    layout: Layout,
    values: Vec<PathBuf>,
}

impl Context {
    /// The chart at `chart`, rendered with `opts`.
    pub fn new(chart: &Path, display: &str, name: &str, opts: &ChartOptions) -> Self {
        Self {
            chart: chart.to_path_buf(),
            display: display.to_string(),
            layout: Layout::new(chart, display, name),
            values: opts.values.clone(),
        }
    }

    fn chart_yaml(&self) -> String {
        if !super::output::is_packaged(&self.chart) {
            format!("{}/Chart.yaml", self.display)
        } else {
            self.display.clone()
        }
    }

    fn chart_yaml_line(&self, key: &str) -> u32 {
        std::fs::read_to_string(self.chart.join("Chart.yaml"))
            .ok()
            .and_then(|t| t.lines().position(|l| l.starts_with(key)))
            .map_or(0, |i| i as u32 + 1)
    }
}

/// One problem per helm error, located where helm says it is.
pub fn explain(stderr: &str, cx: &Context) -> Vec<Problem> {
    let message: String = stderr
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with("Use --debug flag"))
        .map(|l| l.strip_prefix("Error: ").unwrap_or(l))
        .collect::<Vec<_>>()
        .join("; ");
    vec![locate(&message, cx)]
}

fn locate(m: &str, cx: &Context) -> Problem {
    // `template: c/templates/x.yaml:4:18: executing ...` (the innermost one is where it failed),
    // `execution error at (c/templates/x.yaml:4:11): ...` (`required`, `fail`),
    // `parse error at (c/templates/x.yaml:5): ...`.
    let mut spots: Vec<usize> = Vec::new();
    for marker in ["execution error at (", "parse error at (", "template: "] {
        let mut found: Vec<usize> = m
            .match_indices(marker)
            .map(|(i, _)| i + marker.len())
            .collect();
        found.reverse();
        spots.extend(found);
    }
    for start in spots {
        if let Some((file, line, column)) = file_line_column(&m[start..]) {
            let (name, _) = cx.layout.file_of(&file);
            let mut p = chart_problem(
                &name,
                line,
                format!(
                    "helm could not render the chart: {m}; fix the template or the values it uses"
                ),
            );
            if let Some(c) = column {
                p = p.with_column(c);
            }
            return p;
        }
    }
    if let Some(rest) = m.strip_prefix("YAML parse error on ")
        && let Some((file, why)) = rest.split_once(": ")
    {
        let (name, _) = cx.layout.file_of(file);
        return chart_problem(
            &name,
            0,
            format!(
                "the template renders to invalid YAML ({why}; the line is in the rendered output, \
                 see it with `helm template --debug`): fix the template's indentation or quoting"
            ),
        );
    }
    if let Some(rest) = m.strip_prefix("failed to parse ")
        && let Some((file, why)) = rest.split_once(": ")
    {
        let line = why
            .find("line ")
            .and_then(|i| why[i + 5..].split(':').next()?.trim().parse().ok())
            .unwrap_or(0);
        let named = cx
            .values
            .iter()
            .any(|v| display(v) == file || v.as_os_str() == file);
        return chart_problem(
            file,
            line,
            format!(
                "{} is not valid YAML: {why}; a values file must be a YAML mapping",
                if named {
                    "this values file (--values)"
                } else {
                    "this values file"
                }
            ),
        );
    }
    for flag in ["--set-string", "--set-file", "--set-json", "--set"] {
        if let Some(why) = m.strip_prefix(&format!("failed parsing {flag} data: ")) {
            return chart_problem(
                flag,
                0,
                format!(
                    "{flag} is not in helm's KEY=VALUE syntax ({why}); write it as \
                     `{flag} a.b=value` (commas separate several, `a[0]=x` sets a list item, \
                     escape a literal comma or dot with a backslash)"
                ),
            );
        }
    }
    if let Some(i) = m.find("chart requires kubeVersion: ") {
        return chart_problem(
            &cx.chart_yaml(),
            cx.chart_yaml_line("kubeVersion:"),
            format!(
                "{}: deploy to a newer cluster, or use a chart version made for this one",
                &m[i..]
            ),
        );
    }
    if let Some(i) = m.find("missing in charts/ directory: ") {
        let missing = &m[i + "missing in charts/ directory: ".len()..];
        return chart_problem(
            &cx.chart_yaml(),
            cx.chart_yaml_line("dependencies:"),
            format!(
                "the chart's dependencies {missing} are not in its charts/ directory: vendor \
                 them with `helm dependency build {}` (and commit charts/), or pass \
                 --helm-dependency-update to let helm fetch them during the deploy",
                cx.display
            ),
        );
    }
    chart_problem(
        &cx.display,
        0,
        format!("helm could not render the chart: {m}"),
    )
}

/// `file:line[:column]` at the start of `s`, up to the next `:` or `)` after the numbers.
fn file_line_column(s: &str) -> Option<(String, u32, Option<u32>)> {
    let end = s.find([')', ' '])?;
    let spot = s[..end].trim_end_matches(':');
    let mut parts = spot.rsplitn(3, ':');
    let last = parts.next()?;
    let middle = parts.next()?;
    match (middle.parse::<u32>(), last.parse::<u32>(), parts.next()) {
        (Ok(line), Ok(col), Some(file)) => Some((file.to_string(), line, Some(col))),
        (Err(_), Ok(line), _) => Some((middle.to_string(), line, None)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cx() -> Context {
        Context::new(
            Path::new("deploy/demo"),
            "deploy/demo",
            "demo",
            &ChartOptions::default(),
        )
    }

    fn one(stderr: &str) -> Problem {
        explain(stderr, &cx()).remove(0)
    }

    #[test]
    fn template_errors_name_the_template_file_line_and_column() {
        let p = one(
            "Error: template: demo/templates/cm.yaml:4:18: executing \"demo/templates/cm.yaml\" at <.Values.a.b>: nil pointer evaluating interface {}.b\n\nUse --debug flag to render out invalid YAML\n",
        );
        assert_eq!(p.location(), "deploy/demo/templates/cm.yaml:4:18");
        assert!(p.message.contains("nil pointer"), "{}", p.message);
        assert!(!p.message.contains("--debug flag"), "{}", p.message);
    }

    #[test]
    fn the_innermost_template_error_wins() {
        let p = one(
            "Error: template: demo/templates/cm.yaml:4:11: executing \"demo/templates/cm.yaml\" at <include \"nope\" .>: error calling include: template: no template \"nope\" associated with template \"gotpl\"",
        );
        assert_eq!(p.location(), "deploy/demo/templates/cm.yaml:4:11");
        let p = one(
            "Error: template: demo/templates/a.yaml:3:4: executing \"demo/templates/a.yaml\" at <include \"x\" .>: error calling include: template: demo/templates/_helpers.tpl:10:5: executing \"x\" at <.Values.y>: boom",
        );
        assert_eq!(p.location(), "deploy/demo/templates/_helpers.tpl:10:5");
    }

    #[test]
    fn parse_and_required_errors_are_located() {
        assert_eq!(
            one("Error: parse error at (demo/templates/cm.yaml:5): unclosed action").location(),
            "deploy/demo/templates/cm.yaml:5"
        );
        assert_eq!(
            one("Error: execution error at (demo/templates/cm.yaml:4:11): set name!").location(),
            "deploy/demo/templates/cm.yaml:4:11"
        );
    }

    #[test]
    fn values_set_and_dependency_errors_say_what_to_do() {
        let p = one(
            "Error: failed to parse bad.yaml: error converting YAML to JSON: yaml: line 1: did not find expected ',' or ']'",
        );
        assert_eq!(p.location(), "bad.yaml:1");
        let p = one("Error: failed parsing --set data: error parsing index: EOF");
        assert_eq!(p.file, "--set");
        assert!(p.message.contains("KEY=VALUE"));
        let p = one(
            "Error: An error occurred while checking for chart dependencies. You may need to run `helm dependency build` to fetch missing dependencies: found in Chart.yaml, but missing in charts/ directory: redis",
        );
        assert_eq!(p.file, "deploy/demo/Chart.yaml");
        assert!(
            p.message.contains("--helm-dependency-update"),
            "{}",
            p.message
        );
    }
}
