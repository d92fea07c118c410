//! Line output for logs: one reporter for plain logs and every CI system, speaking each CI
//! system's syntax through a small [`Dialect`] (groups, annotations on file:line, masks,
//! outputs, summary). A new CI system is one dialect file.
//!
//! Detection reads the environment only: `GITHUB_ACTIONS=true` is GitHub Actions,
//! `TF_BUILD=True` Azure Pipelines, `GITLAB_CI=true` GitLab CI, anything else a plain log.
//! `--ci` (or `KPUSH_CI`) overrides it.

pub mod azure_devops;
pub mod github;
pub mod gitlab;
pub mod plain;

use std::collections::{BTreeMap, HashSet};
use std::io::Write;
use std::path::{Component, Path, PathBuf};
use std::sync::{Arc, Mutex};

use super::colour::{self, Paint};
use super::outcome::RunSummary;
use super::{HumanOutput, text};
use crate::event::{Event, ObjectRef, Stage, format_duration};
use crate::render::problem::Severity;

/// The `--ci` setting.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum CiMode {
    /// Detect from the environment.
    #[default]
    Auto,
    /// GitHub Actions workflow commands, job summary and step outputs.
    Github,
    /// Azure Pipelines logging commands, summary and output variables.
    AzureDevops,
    /// GitLab CI collapsible sections and a dotenv output file.
    Gitlab,
    /// Plain output, whatever the environment says.
    None,
}

/// A CI system whose log dialect kpush speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CiSystem {
    /// GitHub Actions.
    Github,
    /// Azure Pipelines.
    AzureDevOps,
    /// GitLab CI.
    Gitlab,
    /// No CI system (or one without a dialect): plain lines.
    Plain,
}

/// The CI system to speak to: `mode` unless it is `Auto`, else what `env` says.
pub fn detect(mode: CiMode, env: &BTreeMap<String, String>) -> CiSystem {
    match mode {
        CiMode::Github => CiSystem::Github,
        CiMode::AzureDevops => CiSystem::AzureDevOps,
        CiMode::Gitlab => CiSystem::Gitlab,
        CiMode::None => CiSystem::Plain,
        CiMode::Auto => {
            let is = |k: &str, v: &str| env.get(k).is_some_and(|x| x.eq_ignore_ascii_case(v));
            if is("GITHUB_ACTIONS", "true") {
                CiSystem::Github
            } else if is("TF_BUILD", "true") {
                CiSystem::AzureDevOps
            } else if is("GITLAB_CI", "true") {
                CiSystem::Gitlab
            } else {
                CiSystem::Plain
            }
        }
    }
}

/// The dialect of `system`.
pub fn dialect(system: CiSystem) -> Box<dyn Dialect> {
    match system {
        CiSystem::Github => Box::new(github::Github),
        CiSystem::AzureDevOps => Box::new(azure_devops::AzureDevOps),
        CiSystem::Gitlab => Box::new(gitlab::Gitlab),
        CiSystem::Plain => Box::new(plain::Plain),
    }
}

/// A log stream several writers share.
#[derive(Clone)]
pub struct SharedLog(Arc<Mutex<Box<dyn Write + Send>>>);

impl SharedLog {
    /// Shares `w`.
    pub fn new(w: Box<dyn Write + Send>) -> Self {
        Self(Arc::new(Mutex::new(w)))
    }

    /// Writes `text` and flushes; a log that cannot be written must not fail the deploy.
    pub fn write_text(&self, text: &str) {
        if let Ok(mut w) = self.0.lock() {
            let _ = w.write_all(text.as_bytes());
            let _ = w.flush();
        }
    }
}

/// Seconds since the Unix epoch, for GitLab's section markers (a fixed value in tests).
pub type Clock = Arc<dyn Fn() -> u64 + Send + Sync>;

/// Where a line reporter writes: its log stream, plus the files and directories the CI
/// system gave it through the environment.
pub struct CiContext {
    /// The log (standard error in the binary; a buffer in tests).
    pub log: SharedLog,
    /// Repository root: `GITHUB_WORKSPACE`, `BUILD_SOURCESDIRECTORY` or `CI_PROJECT_DIR`.
    /// Annotation paths are made relative to it so they land on the pull request's diff.
    pub workspace: Option<PathBuf>,
    /// The working directory relative manifest paths are resolved against.
    pub cwd: PathBuf,
    /// GitHub: `GITHUB_STEP_SUMMARY`. Azure DevOps: the directory the summary file is written
    /// to (`AGENT_TEMPDIRECTORY`).
    pub summary: Option<PathBuf>,
    /// GitHub: `GITHUB_OUTPUT`. GitLab: `KPUSH_DOTENV` (a dotenv file for `artifacts:reports:
    /// dotenv`). Unused by Azure DevOps (outputs are log commands).
    pub outputs: Option<PathBuf>,
    /// Whether human lines carry ANSI colours.
    pub colour: bool,
    /// Whether notes on what kpush is doing are shown (always in CI logs).
    pub verbose: bool,
    /// The clock for section markers.
    pub clock: Clock,
}

impl CiContext {
    /// The context the environment describes for `system`, logging to `log`.
    pub fn from_env(
        system: CiSystem,
        env: &BTreeMap<String, String>,
        log: Box<dyn Write + Send>,
        verbose: bool,
    ) -> Self {
        let path = |k: &str| env.get(k).filter(|v| !v.is_empty()).map(PathBuf::from);
        let (workspace, summary, outputs) = match system {
            CiSystem::Github => (
                path("GITHUB_WORKSPACE"),
                path("GITHUB_STEP_SUMMARY"),
                path("GITHUB_OUTPUT"),
            ),
            CiSystem::AzureDevOps => (
                path("BUILD_SOURCESDIRECTORY"),
                path("AGENT_TEMPDIRECTORY").or_else(|| Some(std::env::temp_dir())),
                None,
            ),
            CiSystem::Gitlab => (path("CI_PROJECT_DIR"), None, path("KPUSH_DOTENV")),
            CiSystem::Plain => (None, None, None),
        };
        Self {
            log: SharedLog::new(log),
            workspace,
            cwd: std::env::current_dir().unwrap_or_default(),
            summary,
            outputs,
            // CI logs render ANSI colours though steps have no terminal.
            colour: colour::enabled(env, system != CiSystem::Plain),
            verbose: verbose || system != CiSystem::Plain,
            clock: Arc::new(|| {
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map(|d| d.as_secs())
                    .unwrap_or(0)
            }),
        }
    }

    /// Writes one line to the log.
    pub fn line(&self, line: &str) {
        self.log.write_text(&format!("{line}\n"));
    }

    /// `file` as a path relative to the workspace with `/` separators, when it lies inside it;
    /// `None` for standard input and pseudo-files like `<arguments>`.
    pub fn annotation_path(&self, file: &str) -> Option<String> {
        // `-` is standard input; `--image`, `<arguments>` name flags, not files.
        if file.is_empty() || file.starts_with('-') || file.starts_with('<') {
            return None;
        }
        let abs = normalize(&self.cwd.join(file));
        let rel = match &self.workspace {
            Some(ws) => abs
                .strip_prefix(normalize(ws))
                .map(Path::to_path_buf)
                .unwrap_or_else(|_| PathBuf::from(file)),
            None => PathBuf::from(file),
        };
        if rel.is_absolute() {
            return Some(rel.to_string_lossy().into_owned());
        }
        let parts: Vec<String> = rel
            .components()
            .map(|c| c.as_os_str().to_string_lossy().into_owned())
            .collect();
        Some(parts.join("/"))
    }

    /// Appends `text` to `path`; on failure, returns a line saying so.
    pub fn append(&self, path: &Path, text: &str, what: &str) -> Option<String> {
        let res = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .and_then(|mut f| f.write_all(text.as_bytes()));
        res.err().map(|e| {
            format!(
                "kpush could not write the {what} to {}: {e}",
                path.display()
            )
        })
    }
}

/// Removes `.` and resolves `..` lexically (manifests may not exist any more; no symlinks).
fn normalize(p: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in p.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => {
                out.pop();
            }
            other => out.push(other.as_os_str()),
        }
    }
    out
}

/// An annotation level.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    /// An error.
    Error,
    /// A warning.
    Warning,
}

/// A message attached to a file and line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Annotation {
    /// Error or warning.
    pub level: Level,
    /// Path relative to the workspace.
    pub file: Option<String>,
    /// 1-based line.
    pub line: Option<u32>,
    /// 1-based column.
    pub col: Option<u32>,
    /// Short title (`Deployment shop/web was rejected`, `kpush: syntax`).
    pub title: String,
    /// A short code (a problem's kind), for systems that show one.
    pub code: Option<String>,
    /// The message (may span lines).
    pub message: String,
}

/// What distinguishes one CI system's log from another: its syntax, nothing else.
pub trait Dialect: Send + Sync {
    /// Lines that open a collapsible group for `stage`.
    fn group_start(&self, _ctx: &CiContext, _stage: Stage) -> Vec<String> {
        Vec::new()
    }

    /// Lines that close the group of `stage`.
    fn group_end(&self, _ctx: &CiContext, _stage: Stage) -> Vec<String> {
        Vec::new()
    }

    /// The annotation as one log command, or `None` when the system has none (the reporter
    /// then prints the message as plain lines).
    fn annotation(&self, _a: &Annotation) -> Option<String> {
        None
    }

    /// Commands that hide `secret` from the log from now on.
    fn mask(&self, _secret: &str) -> Vec<String> {
        Vec::new()
    }

    /// Sets the step's outputs (files or log commands); returns lines for the log.
    fn outputs(&self, _ctx: &CiContext, _s: &RunSummary) -> Vec<String> {
        Vec::new()
    }

    /// Writes the run's summary where the system shows it; returns lines for the log.
    fn summary(&self, _ctx: &CiContext, _s: &RunSummary) -> Vec<String> {
        Vec::new()
    }
}

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
    verdicts: HashSet<ObjectRef>,
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

    fn lines(&self, lines: Vec<String>) {
        for l in lines {
            self.ctx.line(&l);
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
    fn annotate(&self, a: Annotation, otherwise: impl FnOnce() -> String) {
        match self.dialect.annotation(&a) {
            Some(cmd) => self.ctx.line(&cmd),
            None => self.ctx.log.write_text(&with_newline(otherwise())),
        }
    }
}

fn with_newline(mut s: String) -> String {
    if !s.ends_with('\n') {
        s.push('\n');
    }
    s
}

impl HumanOutput for LineReporter {
    fn event(&self, event: &Event) {
        let Ok(mut st) = self.state.lock() else {
            return;
        };
        let p = self.paint;
        match event {
            Event::StageStarted { stage } => {
                self.close_group(&mut st);
                self.lines(self.dialect.group_start(&self.ctx, *stage));
                st.open_group = Some(*stage);
            }
            Event::StageFinished { stage, elapsed } => {
                if self.ctx.verbose {
                    self.ctx.line(&p.dim(&format!(
                        "{} finished in {}",
                        stage.name(),
                        format_duration(*elapsed)
                    )));
                }
                self.close_group(&mut st);
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
                    title: format!("kpush: {kind}"),
                    code: Some(kind),
                    message,
                };
                // Errors stop the run and are printed with it; warnings are printed here.
                let plain = problem.severity == Severity::Warning;
                match self.dialect.annotation(&a) {
                    Some(cmd) => self.ctx.line(&cmd),
                    None if plain => self.ctx.line(&problem.to_string()),
                    None => {}
                }
            }
            Event::Rendered { .. } => {}
            Event::Object { object, action } => {
                self.ctx.line(&text::object_line(p, object, *action));
            }
            Event::Rejected { rejection } => {
                let shown = !rejection.advice.is_empty()
                    && !st.advice_shown.insert(rejection.advice.clone());
                let (file, line) = self.at(&rejection.object);
                let mut message = rejection.reason.clone();
                if !rejection.advice.is_empty() {
                    message.push_str("\nfix: ");
                    message.push_str(if shown { "as above" } else { &rejection.advice });
                }
                let a = Annotation {
                    level: Level::Error,
                    file,
                    line,
                    col: None,
                    title: format!("{} was rejected", rejection.object.label()),
                    code: Some(rejection.kind.short().to_string()),
                    message,
                };
                self.annotate(a, || text::rejection_block(p, rejection, shown));
            }
            Event::Warning { object, message } => {
                let (file, line) = object.as_ref().map(|o| self.at(o)).unwrap_or_default();
                let a = Annotation {
                    level: Level::Warning,
                    file,
                    line,
                    col: None,
                    title: "kpush".to_string(),
                    code: None,
                    message: message.clone(),
                };
                self.annotate(a, || format!("{}: {message}", p.yellow("warning")));
            }
            Event::Info { message } => {
                if self.ctx.verbose {
                    self.ctx.line(&p.dim(message));
                }
            }
            Event::TrackStarted { objects, timeout } => {
                self.ctx.line(&text::waiting_line(objects.len(), *timeout));
            }
            Event::Progress {
                object,
                state,
                elapsed,
            } => {
                if let Some(line) = text::verdict_line(object, state, *elapsed)
                    && st.verdicts.insert(object.clone())
                {
                    self.ctx.line(&line);
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
                self.ctx.line(&format!(
                    "[{}] {ready} of {} ready; waiting for {}",
                    format_duration(*elapsed),
                    objects.len(),
                    pending.join(", ")
                ));
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
                    title: text::failure_title(object, *state, *elapsed, &explanation.reason),
                    code: Some(explanation.reason.clone()),
                    message: text::explanation_body(explanation)
                        .lines()
                        .map(|l| l.strip_prefix("  ").unwrap_or(l))
                        .collect::<Vec<_>>()
                        .join("\n"),
                };
                self.annotate(a, || {
                    text::explanation_block(object, *state, *elapsed, explanation)
                });
            }
            Event::TrackFinished { outcome } => {
                self.ctx.log.write_text(&format!(
                    "{}{}\n",
                    text::outcome_table(outcome),
                    text::track_verdict(outcome)
                ));
            }
        }
    }

    fn finish(&self, s: &RunSummary) {
        if let Ok(mut st) = self.state.lock() {
            self.close_group(&mut st);
        }
        self.ctx.line(&text::final_line(self.paint, s));
        self.lines(self.dialect.outputs(&self.ctx, s));
        self.lines(self.dialect.summary(&self.ctx, s));
    }

    fn mask(&self, secret: &str) {
        self.lines(self.dialect.mask(secret));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn detects_ci_systems_from_their_variables() {
        let gh = env(&[("GITHUB_ACTIONS", "true")]);
        let ado = env(&[("TF_BUILD", "True")]);
        let gl = env(&[("GITLAB_CI", "true")]);
        assert_eq!(detect(CiMode::Auto, &gh), CiSystem::Github);
        assert_eq!(detect(CiMode::Auto, &ado), CiSystem::AzureDevOps);
        assert_eq!(detect(CiMode::Auto, &gl), CiSystem::Gitlab);
        assert_eq!(detect(CiMode::Auto, &env(&[])), CiSystem::Plain);
        assert_eq!(
            detect(CiMode::Auto, &env(&[("GITHUB_ACTIONS", "false")])),
            CiSystem::Plain
        );
    }

    #[test]
    fn the_setting_overrides_detection() {
        let gh = env(&[("GITHUB_ACTIONS", "true")]);
        assert_eq!(detect(CiMode::None, &gh), CiSystem::Plain);
        assert_eq!(detect(CiMode::AzureDevops, &gh), CiSystem::AzureDevOps);
        assert_eq!(detect(CiMode::Github, &env(&[])), CiSystem::Github);
    }

    fn ctx(cwd: &str, ws: Option<&str>) -> CiContext {
        let mut c =
            CiContext::from_env(CiSystem::Plain, &env(&[]), Box::new(std::io::sink()), false);
        c.cwd = PathBuf::from(cwd);
        c.workspace = ws.map(PathBuf::from);
        c
    }

    #[test]
    fn annotation_paths_are_relative_to_the_workspace() {
        let c = ctx("/w/repo/deploy", Some("/w/repo"));
        assert_eq!(
            c.annotation_path("web.yaml").as_deref(),
            Some("deploy/web.yaml")
        );
        assert_eq!(
            c.annotation_path("./k8s/../web.yaml").as_deref(),
            Some("deploy/web.yaml")
        );
        assert_eq!(
            c.annotation_path("/w/repo/x/a.yaml").as_deref(),
            Some("x/a.yaml")
        );
        assert_eq!(
            c.annotation_path("/elsewhere/a.yaml").as_deref(),
            Some("/elsewhere/a.yaml")
        );
        assert_eq!(c.annotation_path("-"), None);
        assert_eq!(c.annotation_path("--image"), None);
        assert_eq!(c.annotation_path("<arguments>"), None);
        let no_ws = ctx("/w", None);
        assert_eq!(
            no_ws.annotation_path("a/b.yaml").as_deref(),
            Some("a/b.yaml")
        );
    }
}
