//! Which CI system kpush runs in, and the reporter that speaks its log dialect.
//!
//! Detection reads the environment only: `GITHUB_ACTIONS=true` is GitHub Actions,
//! `TF_BUILD=True` is Azure Pipelines, anything else a plain terminal or log. `--ci` (or
//! `KPUSH_CI`) overrides it.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Component, Path, PathBuf};
use std::sync::{Arc, Mutex};

use super::azure_devops::AzureDevOpsReporter;
use super::colour;
use super::events::Reporter;
use super::github::GithubReporter;

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
    /// No CI system (or one without a dialect): plain lines.
    Plain,
}

/// The CI system to speak to: `mode` unless it is `Auto`, else what `env` says.
pub fn detect(mode: CiMode, env: &BTreeMap<String, String>) -> CiSystem {
    match mode {
        CiMode::Github => CiSystem::Github,
        CiMode::AzureDevops => CiSystem::AzureDevOps,
        CiMode::None => CiSystem::Plain,
        CiMode::Auto => {
            let is = |k: &str, v: &str| env.get(k).is_some_and(|x| x.eq_ignore_ascii_case(v));
            if is("GITHUB_ACTIONS", "true") {
                CiSystem::Github
            } else if is("TF_BUILD", "true") {
                CiSystem::AzureDevOps
            } else {
                CiSystem::Plain
            }
        }
    }
}

/// A log stream several writers share (a CI reporter and the rollout lines it delegates to).
#[derive(Clone)]
pub struct SharedLog(Arc<Mutex<Box<dyn Write + Send>>>);

impl SharedLog {
    /// Shares `w`.
    pub fn new(w: Box<dyn Write + Send>) -> Self {
        Self(Arc::new(Mutex::new(w)))
    }
}

impl Write for SharedLog {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match self.0.lock() {
            Ok(mut w) => w.write(buf),
            Err(_) => Ok(buf.len()),
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        match self.0.lock() {
            Ok(mut w) => w.flush(),
            Err(_) => Ok(()),
        }
    }
}

/// Where a CI reporter writes: its log stream, plus the files and directories the CI system
/// gave it through the environment.
pub struct CiContext {
    /// The log (standard error in the binary; a buffer in tests).
    pub log: SharedLog,
    /// Repository root: `GITHUB_WORKSPACE` or `BUILD_SOURCESDIRECTORY`. Annotation paths are
    /// made relative to it so they land on the pull request's diff.
    pub workspace: Option<PathBuf>,
    /// The working directory relative manifest paths are resolved against.
    pub cwd: PathBuf,
    /// GitHub: `GITHUB_STEP_SUMMARY`. Azure DevOps: the directory the summary file is written
    /// to (`AGENT_TEMPDIRECTORY`).
    pub summary: Option<PathBuf>,
    /// GitHub: `GITHUB_OUTPUT`. Unused by Azure DevOps (outputs are log commands).
    pub outputs: Option<PathBuf>,
    /// Whether human lines carry ANSI colours.
    pub colour: bool,
}

impl CiContext {
    /// The context the environment describes for `system`, logging to `log`.
    pub fn from_env(
        system: CiSystem,
        env: &BTreeMap<String, String>,
        log: Box<dyn Write + Send>,
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
            CiSystem::Plain => (None, None, None),
        };
        Self {
            log: SharedLog::new(log),
            workspace,
            cwd: std::env::current_dir().unwrap_or_default(),
            summary,
            outputs,
            // Both CI logs render ANSI colours though steps have no terminal.
            colour: colour::enabled(env, system != CiSystem::Plain),
        }
    }

    /// Writes one line to the log; a log that cannot be written must not fail the deploy.
    pub fn line(&self, line: &str) {
        let mut w = self.log.clone();
        let _ = w.write_all(format!("{line}\n").as_bytes());
        let _ = w.flush();
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

/// The reporter for `system`, or `None` for [`CiSystem::Plain`] (the terminal reporter's job).
pub fn reporter(system: CiSystem, ctx: CiContext) -> Option<Box<dyn Reporter>> {
    match system {
        CiSystem::Github => Some(Box::new(GithubReporter::new(ctx))),
        CiSystem::AzureDevOps => Some(Box::new(AzureDevOpsReporter::new(ctx))),
        CiSystem::Plain => None,
    }
}

/// The commands that hide `value` in `system`'s logs (none for a plain terminal).
pub fn mask_commands(system: CiSystem, value: &str) -> Vec<String> {
    match system {
        CiSystem::Github => super::github::mask_commands(value),
        CiSystem::AzureDevOps => super::azure_devops::mask_commands(value),
        CiSystem::Plain => Vec::new(),
    }
}

/// Tells `system` to hide `value` (a token, a password) from its logs from now on, by writing
/// `::add-mask::` or `##vso[task.setsecret]` to standard error. For code that holds secrets but
/// no reporter (sign-in); call it before the value could be printed anywhere.
pub fn mask(system: CiSystem, value: &str) {
    let cmds = mask_commands(system, value);
    if cmds.is_empty() {
        return;
    }
    let mut err = std::io::stderr().lock();
    for c in cmds {
        let _ = writeln!(err, "{c}");
    }
    let _ = err.flush();
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
    fn detects_github_and_azure_devops_from_their_variables() {
        let gh = env(&[("GITHUB_ACTIONS", "true")]);
        let ado = env(&[("TF_BUILD", "True")]);
        assert_eq!(detect(CiMode::Auto, &gh), CiSystem::Github);
        assert_eq!(detect(CiMode::Auto, &ado), CiSystem::AzureDevOps);
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
        CiContext {
            log: SharedLog::new(Box::new(std::io::sink())),
            workspace: ws.map(PathBuf::from),
            cwd: PathBuf::from(cwd),
            summary: None,
            outputs: None,
            colour: false,
        }
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
