//! The small trait a CI system implements: its syntax for groups, annotations, masks,
//! outputs and summary.

use super::context::CiContext;
use crate::event::Stage;
use crate::report::outcome::RunSummary;

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
