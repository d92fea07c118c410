//! kpush: deploy Kubernetes manifests from CI.
//!
//! Data flows one way: [`render`] (files → [`Manifest`]s) → [`plan`] → [`apply`] → track → report.
//! [`cluster`] is the request layer plan and apply share.

pub mod apply;
pub mod auth;
pub mod cluster;
pub mod exit;
pub mod manifest;
pub mod track;

pub use manifest::{Manifest, ObjectKey, Origin};
pub mod cli;
pub mod plan;
pub mod release;
pub mod render;
pub mod report;
