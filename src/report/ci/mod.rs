//! Line output for logs: one reporter for plain logs and every CI system, speaking each CI
//! system's syntax through a small [`Dialect`] (groups, annotations on file:line, masks,
//! outputs, summary). A new CI system is one dialect file.
//!
//! Detection reads the environment only: `GITHUB_ACTIONS=true` is GitHub Actions,
//! `TF_BUILD=True` Azure Pipelines, `GITLAB_CI=true` GitLab CI, anything else a plain log.
//! `--ci` (or `KPUSH_CI`) overrides it.

pub mod azure_devops;
pub mod context;
pub mod dialect;
pub mod github;
pub mod gitlab;
pub mod lines;
pub mod plain;
pub mod system;
pub mod untrusted;

pub use context::{CiContext, Clock, SharedLog};
pub use dialect::{Annotation, Dialect, Level};
pub use lines::LineReporter;
pub use system::{CiMode, CiSystem, detect};

/// The dialect of `system`.
pub fn dialect(system: CiSystem) -> Box<dyn Dialect> {
    match system {
        CiSystem::Github => Box::new(github::Github),
        CiSystem::AzureDevOps => Box::new(azure_devops::AzureDevOps),
        CiSystem::Gitlab => Box::new(gitlab::Gitlab),
        CiSystem::Plain => Box::new(plain::Plain),
    }
}
