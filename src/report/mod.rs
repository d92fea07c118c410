//! Stage 5, report: how a run looks on a terminal, in plain logs, in CI logs and as JSON.
//!
//! The CLI builds one [`Reporter`] per run from the output settings. It receives every event
//! the stages emit (it is their [`Sink`]), every secret to mask, and `finish` once at the end;
//! behind it sit the human output ([`terminal::Terminal`] on a TTY, else
//! [`ci::LineReporter`] in the dialect of the CI system), the run summary ([`outcome`]) and
//! the `-o json` document ([`json_result`]). Human output goes to standard error; data (the
//! JSON document) to standard output.
//!
//! `report` reads the event vocabulary ([`crate::event`]) and nothing of plan, apply or track.

pub mod ci;
pub mod colour;
pub mod diff;
pub mod explain;
pub mod history;
pub mod human;
pub mod json_result;
pub mod objects;
pub mod outcome;
pub mod rbac;
pub mod run;
pub mod summary;
pub mod terminal;
pub mod text;

pub use ci::{CiMode, CiSystem};
pub use human::HumanOutput;
pub use json_result::JsonResult;
pub use outcome::{Collector, RunSummary};
pub use run::{OutputSettings, Progress, Reporter};
