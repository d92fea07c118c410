//! Records of a deploy kept outside the cluster, where teams look: GitHub deployments
//! ([`github`]) and notifications to Teams, Slack or any CloudEvents endpoint ([`notify`]). A record never changes a deploy's verdict or exit code: when the service
//! refuses or cannot be reached, the run gets one warning (an [`crate::event::Event::Warning`]
//! into the run's sink) naming what to fix, and the deploy goes on.
//!
//! The command line decides whether a record is kept (flags and environment) and drives it
//! around the deploy: started before, finished with the deploy's outcome.

pub mod github;
pub mod notify;
