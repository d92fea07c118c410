//! The thin layer between kpush's stages and the API server: addressing resources, sending
//! requests with retry, and classifying what went wrong. Plan and apply both stand on it.

pub mod discovery;
pub mod failure;
pub mod proxy;
pub mod requests;
pub mod retry;

pub use failure::{Failure, classify};
pub use requests::{
    Target, delete, dry_run_apply, get, list, list_page, merge_patch, server_apply,
};
pub use retry::{RetryBudget, RetryPolicy};
