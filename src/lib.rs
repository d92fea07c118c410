//! kpush: deploy Kubernetes manifests from CI.
//!
//! Data flows one way: [`render`] (files → [`Manifest`]s) → [`plan`] → [`apply`] → [`track`];
//! the stages emit [`event`]s that [`report`] shows. [`cluster`] is the request layer plan and
//! apply share. docs/architecture.md has the picture and the allowed imports.

pub mod apply;
pub mod auth;
pub mod cluster;
pub mod deploy;
pub mod event;
pub mod exit;
pub mod fleet;
pub mod manifest;
pub mod track;

pub use manifest::{Manifest, ObjectKey, Origin};
pub mod cli;
pub mod plan;
pub mod records;
pub mod release;
pub mod render;
pub mod report;
