//! Tolerances and limits of a tracking run.

use std::time::Duration;

use crate::cluster::RetryPolicy;

/// The default [`TrackOptions::watch_deadline`].
pub const DEFAULT_WATCH_DEADLINE: Duration = Duration::from_secs(30);

/// How long to wait and how much to tolerate while tracking.
#[derive(Debug, Clone)]
pub struct TrackOptions {
    /// Bound on the whole wait (default 5 minutes).
    pub timeout: Duration,
    /// An object whose rollout shows no change for this long has stalled (default 3 minutes).
    pub no_progress_timeout: Duration,
    /// Restarts tolerated per container before a crash loop fails the rollout (default 2).
    pub failure_threshold: i32,
    /// How long a pod may stay unschedulable before that fails the rollout (default 15 s).
    pub unschedulable_grace: Duration,
    /// Log lines shown of a failing container (default 20; 0 reads no logs).
    pub log_lines: usize,
    /// Events shown per object in a failure explanation (default 5).
    pub event_lines: usize,
    /// How often a snapshot of all pending objects is reported (default 5 s).
    pub status_interval: Duration,
    /// A watch that hears nothing (no event, no bookmark, no answer) for this long is dropped,
    /// re-established and re-listed (default 30 s; see docs/reliability.md).
    pub watch_deadline: Duration,
    /// Backoff and the run's retry budget for re-establishing watches.
    pub retry: RetryPolicy,
}

impl Default for TrackOptions {
    fn default() -> Self {
        Self {
            timeout: Duration::from_secs(300),
            no_progress_timeout: Duration::from_secs(180),
            failure_threshold: 2,
            unschedulable_grace: Duration::from_secs(15),
            log_lines: 20,
            event_lines: 5,
            status_interval: Duration::from_secs(5),
            watch_deadline: DEFAULT_WATCH_DEADLINE,
            retry: RetryPolicy::default(),
        }
    }
}
