//! Stage 5, report: how results look on a terminal, in CI logs and as JSON.
//!
//! Reporters are interchangeable sinks for [`Event`]s; each also gets the run's [`RunSummary`]
//! once at the end. [`ci`] picks the one for the CI system kpush runs in.

pub mod azure_devops;
pub mod ci;
pub mod ci_lines;
pub mod colour;
pub mod diff;
pub mod duration;
pub mod events;
pub mod fanout;
pub mod github;
pub mod json_result;
pub mod lines;
pub mod objects;
pub mod outcome;
pub mod rollout_text;
pub mod summary;
pub mod terminal;
pub mod terminal_progress;

pub use ci::{CiMode, CiSystem};
pub use duration::format_duration;
pub use events::{Action, Event, ObjectRef, Reporter, Stage};
pub use outcome::{Collector, RunSummary};
pub use terminal::TerminalReporter;

pub use ci_lines::CiLines;
pub use fanout::Fanout;
pub use json_result::JsonResult;
pub use terminal_progress::TerminalProgress;
