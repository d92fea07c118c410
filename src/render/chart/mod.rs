//! Helm charts as a render source: `helm template` renders the chart, kpush parses its output like
//! any manifest file, and each object remembers the chart template (and line) it came from.
//!
//! A path is a chart when it is a directory holding `Chart.yaml` or a packaged chart (`.tgz`).
//! kpush does not reimplement Helm: the `helm` on PATH (or `--helm`) renders, with the target
//! cluster's version and API versions as `.Capabilities` when a cluster is known. Chart output is
//! not put through `${VAR}` substitution (values are Helm's way to parameterise a chart).

pub mod errors;
pub mod helm;
pub mod output;

use std::path::{Path, PathBuf};

use super::problem::{Problem, ProblemKind, Severity};
use super::source::Source;
use super::vars::Substituted;

/// What `.Capabilities` should say: the target cluster's version and served API versions.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Capabilities {
    /// The cluster's version, for example `v1.35.4` (`--kube-version`).
    pub kube_version: Option<String>,
    /// Served group-versions and `group/version/Kind`s (`--api-versions`).
    pub api_versions: Vec<String>,
}

/// How to render charts; built by the CLI from `--values`, `--set` and friends.
#[derive(Debug, Clone, Default)]
pub struct ChartOptions {
    /// The helm binary (`--helm`); `None` finds `helm` on PATH.
    pub helm: Option<PathBuf>,
    /// Values files, in order (later ones win).
    pub values: Vec<PathBuf>,
    /// `--set KEY=VALUE` (helm's syntax, commas allowed).
    pub set: Vec<String>,
    /// `--set-string KEY=VALUE`.
    pub set_string: Vec<String>,
    /// `--set-file KEY=PATH`.
    pub set_file: Vec<String>,
    /// The release name; `None` uses the chart's name.
    pub release: Option<String>,
    /// The release namespace (`.Release.Namespace`).
    pub namespace: Option<String>,
    /// The target cluster's capabilities.
    pub capabilities: Capabilities,
    /// Let helm fetch missing dependencies (`helm template --dependency-update`).
    pub dependency_update: bool,
}

/// Whether `path` is a Helm chart: a directory with `Chart.yaml`, or a packaged `.tgz` chart.
pub fn is_chart(path: &Path) -> bool {
    if path.is_dir() {
        return path.join("Chart.yaml").is_file();
    }
    path.is_file() && output::is_packaged(path)
}

/// Renders the chart at `path`; each returned source is one object's document, named after the
/// chart template that produced it, with its lines mapped to that template's lines.
pub fn render(
    path: &Path,
    opts: &ChartOptions,
    problems: &mut Vec<Problem>,
) -> Vec<(Source, Substituted)> {
    let display = display(path);
    if path.is_dir()
        && let Err((file, why)) = links_in_chart(path)
    {
        problems.push(chart_problem(
            &format!("{display}/{file}"),
            0,
            format!(
                "chart file {display}/{file} {why}. helm reads every file of a chart, and its \
                 templates can copy any of them into a manifest"
            ),
        ));
        return Vec::new();
    }
    let helm = match helm::Helm::locate(opts.helm.as_deref()) {
        Ok(h) => h,
        Err(message) => {
            problems.push(chart_problem(&display, 0, message));
            return Vec::new();
        }
    };
    let name = match helm.chart_name(path) {
        Ok(n) => n,
        Err(message) => {
            problems.push(chart_problem(&display, 0, message));
            return Vec::new();
        }
    };
    let release = opts.release.clone().unwrap_or_else(|| name.clone());
    match helm.template(path, &release, opts) {
        Ok(text) => output::split(&text, &output::Layout::new(path, &display, &name)),
        Err(stderr) => {
            problems.extend(errors::explain(
                &stderr,
                &errors::Context::new(path, &display, &name, opts),
            ));
            Vec::new()
        }
    }
}

/// Checks the symlinks of the chart directory `chart`: each must lead inside the repository
/// (not into its `.git`) and not back to a directory that holds it. Returns the first offender
/// (its path inside the chart) and what is wrong with it.
pub(crate) fn links_in_chart(chart: &Path) -> Result<(), (String, String)> {
    let top = chart
        .canonicalize()
        .map_err(|e| (String::new(), format!("cannot be read: {e}")))?;
    let root = super::source::repository_root(&top);
    let mut walking = vec![top];
    walk_links(chart, Path::new(""), &root, &mut walking)
}

fn walk_links(
    dir: &Path,
    rel: &Path,
    root: &Path,
    walking: &mut Vec<PathBuf>,
) -> Result<(), (String, String)> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        // helm reports what it cannot read.
        return Ok(());
    };
    let mut paths: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
    paths.sort();
    for p in paths {
        let name = rel.join(p.file_name().unwrap_or_default());
        let shown = || name.display().to_string();
        let link = std::fs::symlink_metadata(&p).is_ok_and(|m| m.file_type().is_symlink());
        if link {
            super::source::confined(&p, root).map_err(|why| (shown(), why))?;
        }
        if !p.is_dir() {
            continue;
        }
        let Ok(canon) = p.canonicalize() else {
            continue;
        };
        if walking.contains(&canon) {
            return Err((
                shown(),
                format!(
                    "leads back to {}, which holds it (a symlink loop); remove the link",
                    canon.display()
                ),
            ));
        }
        walking.push(canon);
        walk_links(&p, &name, root, walking)?;
        walking.pop();
    }
    Ok(())
}

/// A problem with a chart, at `file:line`.
pub(crate) fn chart_problem(file: &str, line: u32, message: impl Into<String>) -> Problem {
    Problem::at(Severity::Error, ProblemKind::Chart, file, line, message)
}

/// The path as the user gave it, without a leading `./`.
pub(crate) fn display(p: &Path) -> String {
    let s = p.to_string_lossy();
    s.strip_prefix("./")
        .map(str::to_string)
        .unwrap_or_else(|| s.into_owned())
}
