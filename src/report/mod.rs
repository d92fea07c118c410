//! Stage 5, report: how results look on a terminal, in CI logs and as JSON.
//!
//! Reporters are interchangeable sinks for [`Event`]s; each also gets the run's [`RunSummary`]
//! once at the end. [`ci`] picks the one for the CI system kpush runs in.

pub mod azure_devops;
pub mod ci;
pub mod colour;
pub mod diff;
pub mod events;
pub mod github;
pub mod lines;
pub mod objects;
pub mod outcome;
pub mod summary;
pub mod terminal;

pub use ci::{CiMode, CiSystem};
pub use events::{Action, Event, ObjectRef, Reporter, Stage};
pub use outcome::{Collector, RunSummary};
pub use terminal::TerminalReporter;
