//! Stage 5, report: how results look on a terminal, in CI logs and as JSON.

pub mod diff;
pub mod events;
pub mod objects;
pub mod terminal;

pub use events::{Action, Event, ObjectRef, Reporter, Stage};
pub use terminal::TerminalReporter;
