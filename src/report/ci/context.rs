//! Where a line reporter writes: the log and the files and directories the CI system names.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Component, Path, PathBuf};
use std::sync::{Arc, Mutex};

use super::system::CiSystem;
use crate::report::colour;

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
    /// `-v`: the API server's messages in full (otherwise long ones are cut).
    pub full_messages: bool,
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
            full_messages: verbose,
            clock: Arc::new(|| {
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map(|d| d.as_secs())
                    .unwrap_or(0)
            }),
        }
    }

    /// Writes one line of text to the log, unable to act as a CI command (it may quote a
    /// manifest or the API server: see [`super::untrusted`]).
    pub fn line(&self, line: &str) {
        self.log
            .write_text(&super::untrusted::neutralise(&format!("{line}\n")));
    }

    /// Writes a block of text to the log, as [`CiContext::line`] does.
    pub fn text(&self, text: &str) {
        self.log.write_text(&super::untrusted::neutralise(text));
    }

    /// Writes one of kpush's own log commands (a group, an annotation, a mask, an output),
    /// as is. Untrusted text inside it must already be escaped by the dialect.
    pub fn command(&self, line: &str) {
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

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx(cwd: &str, ws: Option<&str>) -> CiContext {
        let mut c = CiContext::from_env(
            CiSystem::Plain,
            &BTreeMap::new(),
            Box::new(std::io::sink()),
            false,
        );
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
