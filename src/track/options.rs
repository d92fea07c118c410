//! Tolerances and limits of a tracking run.

use std::time::Duration;

/// How long to wait and how much to tolerate while tracking.
#[derive(Debug, Clone, PartialEq, Eq)]
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
        }
    }
}
