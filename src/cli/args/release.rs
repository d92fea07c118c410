//! Flags of `kpush apply` for releases: history cap, deploy lock, rollback on failure.

use std::time::Duration;

use clap::Args;

use super::wait::parse_duration;
use crate::deploy::ReleaseSettings;

/// Flags of every command that records a revision (`apply --release`, `rollback`).
#[derive(Debug, Clone, Args)]
pub struct RecordArgs {
    /// Revisions kept per release; older ones are deleted (the newest succeeded one is always
    /// kept).
    #[arg(long, value_name = "N", env = "KPUSH_HISTORY_MAX", default_value_t = 10, value_parser = clap::value_parser!(u16).range(1..))]
    pub history_max: u16,

    /// How long to wait while another deploy of the same release holds its lock.
    #[arg(long, value_name = "DURATION", env = "KPUSH_LOCK_TIMEOUT", default_value = "5m", value_parser = parse_duration)]
    pub lock_timeout: Duration,

    /// Restore a revision whose record is not signed with KPUSH_RECORD_KEY, or whose signature
    /// does not verify (records written before the key was set, or changed since). Check the
    /// record first: anyone who may write Secrets in the namespace could have written it.
    #[arg(long, env = "KPUSH_TRUST_UNVERIFIED_RECORDS")]
    pub trust_unverified_records: bool,
}

/// The variable holding the key that signs revision records (a secret of the pipeline).
pub const RECORD_KEY_VAR: &str = "KPUSH_RECORD_KEY";

impl RecordArgs {
    /// The settings of release `name`, without a rollback on failure; the record key comes from
    /// `KPUSH_RECORD_KEY` (never a flag: a flag's value shows in process lists), the CI run from
    /// the environment.
    pub fn settings(&self, name: &str, env: &crate::cli::Env) -> ReleaseSettings {
        ReleaseSettings {
            name: name.to_string(),
            history_max: usize::from(self.history_max),
            lock_timeout: self.lock_timeout,
            rollback_on_failure: None,
            record_key: env
                .get(RECORD_KEY_VAR)
                .and_then(|k| crate::release::RecordKey::new(k)),
            trust_unverified_records: self.trust_unverified_records,
            allow_other_namespaces: false,
            run: crate::release::RunInfo::from_env(env),
        }
    }
}

/// Release flags of `kpush apply` (they matter only with `--release`).
#[derive(Debug, Clone, Args)]
pub struct ReleaseArgs {
    #[command(flatten)]
    pub record: RecordArgs,

    /// When a rollout fails or times out, re-apply the release's last succeeded revision and
    /// track it (exit code 7 when that worked).
    #[arg(long, env = "KPUSH_ROLLBACK_ON_FAILURE")]
    pub rollback_on_failure: bool,

    /// Time the rollback's rollout gets (its own budget, not the deploy's leftover time).
    #[arg(long, value_name = "DURATION", env = "KPUSH_ROLLBACK_TIMEOUT", default_value = "5m", value_parser = parse_duration)]
    pub rollback_timeout: Duration,
}

impl ReleaseArgs {
    /// The settings of release `name`.
    pub fn settings(&self, name: &str, env: &crate::cli::Env) -> ReleaseSettings {
        ReleaseSettings {
            rollback_on_failure: self.rollback_on_failure.then_some(self.rollback_timeout),
            ..self.record.settings(name, env)
        }
    }
}

/// Which release: its name and namespace, for `history`, `rollback` and `drift`.
#[derive(Debug, Clone, Args)]
pub struct ReleaseRef {
    /// The release (the NAME given to `kpush apply --release`).
    #[arg(value_name = "RELEASE")]
    pub name: String,

    /// The release's namespace (default: the context's).
    #[arg(short = 'n', long, env = "KPUSH_NAMESPACE")]
    pub namespace: Option<String>,
}
