//! Stage 5, report: how results look on a terminal, in CI logs and as JSON.

pub mod duration;
pub mod events;
pub mod objects;

pub use duration::format_duration;
pub use events::{Action, Event, ObjectRef, Reporter, Stage};
