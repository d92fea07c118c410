//! Rollout tracking: wait until applied objects are ready, fail fast, and explain why.
//!
//! The pure half judges: [`readiness::readiness_of`] says whether an object has rolled out and
//! [`diagnose::diagnose`] why a pod will not become ready. The I/O half feeds them: [`track`]
//! watches the objects, their pods and events ([`watch`](self) module), re-judges on every change,
//! and on failure gathers evidence (events, logs) before reporting.

pub mod diagnose;
mod evaluate;
mod evidence;
pub mod options;
mod pods;
pub mod readiness;
pub mod revision;
mod run;
mod store;
pub mod targets;
mod watch;
mod watch_stream;

pub use crate::event::{
    EventLine, Explanation, Logs, ObjectOutcome, ObjectState, ObjectStatus, RunState, TrackOutcome,
};
pub use diagnose::{DiagnoseOptions, PodFailure, diagnose};
pub use options::TrackOptions;
pub use readiness::{Readiness, ReadinessContext, readiness_of};
pub use run::track;
pub use targets::{TargetError, TrackTarget, WorkloadKind, resolve};
