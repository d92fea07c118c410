//! Stage 5, report: how results look on a terminal, in CI logs and as JSON.

pub mod ci_lines;
pub mod diff;
pub mod duration;
pub mod events;
pub mod fanout;
pub mod json_result;
pub mod objects;
pub mod rollout_text;
pub mod terminal;
pub mod terminal_progress;

pub use duration::format_duration;
pub use events::{Action, Event, ObjectRef, Reporter, Stage};
pub use terminal::TerminalReporter;

pub use ci_lines::CiLines;
pub use fanout::Fanout;
pub use json_result::JsonResult;
pub use terminal_progress::TerminalProgress;
