//! Rollout tracking: pure rules that say whether an object is ready and why a pod failed.
//!
//! Nothing here talks to a cluster. The watch loop feeds objects, pods and events to
//! [`readiness::readiness_of`] and [`diagnose::diagnose`] and reports what they return.

pub mod diagnose;
pub mod readiness;
pub mod revision;

pub use diagnose::{DiagnoseOptions, PodFailure, diagnose};
pub use readiness::{Readiness, ReadinessContext, readiness_of};
