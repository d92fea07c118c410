//! What happens to a release around a deploy: its lock, its revisions, a rollback.

use std::time::Duration;

/// One thing about the release being deployed; reporters show [`ReleaseNote::text`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReleaseNote {
    /// Another deploy holds the release's lock; this one waits.
    LockHeld {
        /// The release.
        release: String,
        /// Who holds it (CI run or user, since when).
        holder: String,
        /// How long this deploy waits at most.
        timeout: Duration,
    },
    /// Another deploy took the lock over while this one ran.
    LockLost {
        /// The release.
        release: String,
    },
    /// A Secret that looks like a revision could not be read; skipped.
    Skipped {
        /// `namespace/name` of the Secret.
        record: String,
        /// Why.
        reason: String,
    },
    /// A revision left pending by a kpush that died was marked interrupted.
    Abandoned {
        /// The release.
        release: String,
        /// The revision.
        revision: u32,
    },
    /// A revision was completed with a status.
    Recorded {
        /// The release.
        release: String,
        /// The revision.
        revision: u32,
        /// Its status word (`succeeded`, `failed`, ...).
        status: String,
    },
    /// A revision's result could not be written; it stays pending.
    NotRecorded {
        /// The release.
        release: String,
        /// The revision.
        revision: u32,
        /// Why.
        reason: String,
    },
    /// A rollback starts: re-applying revision `to`.
    RollingBack {
        /// The release.
        release: String,
        /// The revision that failed (`None` for `kpush rollback`).
        failed: Option<(u32, String)>,
        /// The revision restored.
        to: u32,
        /// Its commit, when known.
        commit: Option<String>,
        /// The rollback's rollout budget (`--rollback-timeout`), for a rollback on failure.
        budget: Option<Duration>,
    },
    /// `--rollback-on-failure` found no succeeded revision to go back to.
    NothingToRollBack {
        /// The release.
        release: String,
        /// Whether this was the release's first deploy.
        first: bool,
    },
    /// `kpush drift` compares the live objects with a revision.
    Comparing {
        /// The release.
        release: String,
        /// The revision.
        revision: u32,
        /// Its commit, when known.
        commit: Option<String>,
    },
}

impl ReleaseNote {
    /// Whether this is a warning (annotated as one in CI).
    pub fn is_warning(&self) -> bool {
        matches!(
            self,
            ReleaseNote::LockLost { .. }
                | ReleaseNote::Skipped { .. }
                | ReleaseNote::Abandoned { .. }
                | ReleaseNote::NotRecorded { .. }
                | ReleaseNote::RollingBack {
                    failed: Some(_),
                    ..
                }
                | ReleaseNote::NothingToRollBack { .. }
        )
    }

    /// The line reporters print.
    pub fn text(&self) -> String {
        let commit = |c: &Option<String>| {
            c.as_ref()
                .map(|c| format!(", commit {c}"))
                .unwrap_or_default()
        };
        match self {
            ReleaseNote::LockHeld {
                release,
                holder,
                timeout,
            } => format!(
                "release {release}: waiting up to {}s for the deploy lock, held by {holder}",
                timeout.as_secs()
            ),
            ReleaseNote::LockLost { release } => format!(
                "release {release}: another deploy took the lock over while this one ran (kpush \
                 could not renew it in time); check `kpush history {release}`"
            ),
            ReleaseNote::Skipped { record, reason } => {
                format!("skipped Secret {record}: {reason}")
            }
            ReleaseNote::Abandoned { release, revision } => format!(
                "release {release}: revision {revision} was left pending by a kpush that stopped \
                 without recording its result; marked interrupted"
            ),
            ReleaseNote::Recorded {
                release,
                revision,
                status,
            } => format!("release {release}: revision {revision} {status}"),
            ReleaseNote::NotRecorded {
                release,
                revision,
                reason,
            } => format!("release {release}: revision {revision} stays pending: {reason}"),
            ReleaseNote::RollingBack {
                release,
                failed: Some((n, status)),
                to,
                commit: c,
                budget,
            } => format!(
                "release {release}: revision {n} {status}; rolling back to revision {to}{}{}",
                commit(c),
                budget
                    .map(|b| format!(" (rollout budget {}s)", b.as_secs()))
                    .unwrap_or_default()
            ),
            ReleaseNote::RollingBack {
                release,
                failed: None,
                to,
                commit: c,
                ..
            } => format!(
                "release {release}: rolling back to revision {to}{}",
                commit(c)
            ),
            ReleaseNote::NothingToRollBack { release, first } => format!(
                "nothing to roll back to: release {release} has no succeeded revision before this \
                 one{}",
                if *first {
                    " (this was its first deploy)"
                } else {
                    ""
                }
            ),
            ReleaseNote::Comparing {
                release,
                revision,
                commit: c,
            } => format!(
                "release {release}: comparing the live objects with revision {revision}{}",
                commit(c)
            ),
        }
    }
}
