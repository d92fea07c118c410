//! kpush's exit codes, in one place, and the mapping from errors to them.

/// Everything worked (for `diff`: no differences).
pub const SUCCESS: i32 = 0;
/// `kpush diff` found differences.
pub const DIFFERENCES: i32 = 1;
/// The manifests or flags are invalid; nothing was sent to the cluster.
pub const BAD_INPUT: i32 = 2;
/// The API server rejected objects (preflight or apply: invalid, conflict, forbidden, immutable).
pub const APPLY_REJECTED: i32 = 3;
/// The rollout failed (a workload is certainly broken).
pub const ROLLOUT_FAILED: i32 = 4;
/// The rollout did not finish within `--timeout` or made no progress.
pub const TIMED_OUT: i32 = 5;
/// The cluster could not be reached, or kpush could not authenticate to it.
pub const CLUSTER_UNREACHABLE: i32 = 6;
/// The rollout failed or timed out, and `--rollback-on-failure` restored the last succeeded
/// revision.
pub const ROLLED_BACK: i32 = 7;
/// Another deploy of the same release held its lock for the whole `--lock-timeout`.
pub const LOCKED: i32 = 8;
/// Interrupted by Ctrl-C or SIGTERM.
pub const INTERRUPTED: i32 = 130;
/// An unexpected internal error (a bug: please report it).
pub const INTERNAL: i32 = 70;

/// An error that knows which exit code it deserves; used at the binary's edge.
#[derive(Debug)]
pub struct ExitError {
    /// The process exit code.
    pub code: i32,
    /// The error to print.
    pub error: anyhow::Error,
}

impl ExitError {
    /// Wraps an error with its exit code.
    pub fn new(code: i32, error: impl Into<anyhow::Error>) -> Self {
        Self {
            code,
            error: error.into(),
        }
    }
}

impl std::fmt::Display for ExitError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:#}", self.error)
    }
}

impl std::error::Error for ExitError {}
