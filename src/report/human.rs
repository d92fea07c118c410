//! What every human output (terminal, plain lines, CI logs) does.

use super::outcome::RunSummary;
use crate::event::Event;

/// A human output: terminal, plain lines or a CI log.
pub trait HumanOutput: Send + Sync {
    /// Shows one event.
    fn event(&self, event: &Event);
    /// The run is over: the last lines, outputs and summary files.
    fn finish(&self, summary: &RunSummary);
    /// Hides `secret` from the log from now on (CI systems that can).
    fn mask(&self, secret: &str);
}
