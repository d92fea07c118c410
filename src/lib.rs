//! kpush: deploy Kubernetes manifests from CI.
//!
//! Data flows one way: [`render`] (files → [`Manifest`]s) → plan → apply → track → report.

pub mod auth;
pub mod exit;
pub mod manifest;
pub mod track;

pub use manifest::{Manifest, ObjectKey, Origin};
pub mod cli;
pub mod render;
pub mod report;
