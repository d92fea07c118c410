//! A deploy's settings as plain values: the command line converts its flags and the
//! environment into these once (`cli::settings`); a library caller fills them directly.

use std::time::Duration;

use crate::apply::PruneGuard;
use crate::cluster::RetryPolicy;
use crate::fleet::PlacementSpec;
use crate::plan::{ApplySet, PlanOptions};
use crate::release::RunInfo;
use crate::render::RenderOptions;
use crate::track::TrackOptions;

/// Everything one `kpush apply` to one cluster needs besides the cluster itself.
#[derive(Debug, Clone)]
pub struct DeploySettings {
    /// What to render and how (paths, variables, images, namespace, charts).
    pub render: RenderOptions,
    /// How objects are sent (field manager, conflicts, concurrency, adoption).
    pub plan: PlanSettings,
    /// The release deployed (`--release`); `None`: no records, no prune.
    pub release: Option<ReleaseSettings>,
    /// Delete the release's objects that are no longer rendered (needs a release).
    pub prune: bool,
    /// Prune Namespaces and CustomResourceDefinitions too.
    pub prune_namespaces_and_crds: bool,
    /// When a prune is refused (an empty render, too much of the release).
    pub prune_guard: PruneGuard,
    /// Add a Namespace object for the target namespace when the manifests lack one.
    pub create_namespace: bool,
    /// A server-side dry-run of every object before applying.
    pub preflight: bool,
    /// Ask the API server whether every request is allowed before changing anything.
    pub access_check: bool,
    /// Delete and create again an object whose change touches an immutable field.
    pub recreate_on_immutable: bool,
    /// Waiting for rollouts; `None`: return once applied.
    pub wait: Option<TrackOptions>,
    /// The whole run's time bound (`--timeout`): retries never wait past it.
    pub timeout: Duration,
    /// Deploying through a Fleet hub; `None`: straight to the cluster.
    pub fleet: Option<FleetSettings>,
}

impl DeploySettings {
    /// Settings that render `paths` and deploy them as kpush's defaults say: preflight, access
    /// check, waiting five minutes for rollouts; no release.
    pub fn new(paths: Vec<std::path::PathBuf>) -> Self {
        Self {
            render: RenderOptions {
                paths,
                ..RenderOptions::default()
            },
            plan: PlanSettings::default(),
            release: None,
            prune: false,
            prune_namespaces_and_crds: false,
            prune_guard: PruneGuard::default(),
            create_namespace: false,
            preflight: true,
            access_check: true,
            recreate_on_immutable: false,
            wait: Some(TrackOptions::default()),
            timeout: TrackOptions::default().timeout,
            fleet: None,
        }
    }

    /// The release's name, when there is one.
    pub fn release_name(&self) -> Option<&str> {
        self.release.as_ref().map(|r| r.name.as_str())
    }

    /// Refuses prune without a release: nothing would say which objects are kpush's.
    pub fn check_prune(&self) -> Result<(), super::DeployError> {
        match self.prune && self.release.is_none() {
            true => Err(super::DeployError::invalid(
                "--prune needs --release NAME: the release's records say which objects kpush \
                 deployed and may delete",
            )),
            false => Ok(()),
        }
    }
}

/// How objects are sent.
#[derive(Debug, Clone)]
pub struct PlanSettings {
    /// The field manager of server-side apply.
    pub field_manager: String,
    /// Take fields other managers own.
    pub force_conflicts: bool,
    /// Take over objects last applied by kubectl or Helm.
    pub adopt: bool,
    /// Requests in flight at once.
    pub concurrency: usize,
    /// Take objects another kpush release owns.
    pub take_over_from_releases: bool,
}

impl Default for PlanSettings {
    fn default() -> Self {
        Self {
            field_manager: "kpush".into(),
            force_conflicts: false,
            adopt: true,
            concurrency: 16,
            take_over_from_releases: false,
        }
    }
}

impl PlanSettings {
    /// The plan options for a deploy into `namespace` (the release's ApplySet lives there).
    pub fn options(
        &self,
        namespace: &str,
        release: Option<&str>,
        retry: RetryPolicy,
    ) -> PlanOptions {
        PlanOptions {
            field_manager: self.field_manager.clone(),
            force_conflicts: self.force_conflicts,
            preflight: true,
            recreate_on_immutable: false,
            concurrency: self.concurrency,
            retry,
            applyset: release.map(|n| ApplySet::new(n, namespace)),
            keep_dry_run: false,
            adopt: self.adopt,
            created_first: Vec::new(),
            take_over_from_releases: self.take_over_from_releases,
        }
    }
}

/// A release: its records, lock and rollback.
#[derive(Debug, Clone)]
pub struct ReleaseSettings {
    /// Its name (`--release`).
    pub name: String,
    /// Revisions kept.
    pub history_max: usize,
    /// How long to wait while another deploy holds the lock.
    pub lock_timeout: Duration,
    /// Restore the last succeeded revision when a rollout fails, with this rollout budget.
    pub rollback_on_failure: Option<Duration>,
    /// Signs records written, checks records restored (`KPUSH_RECORD_KEY`).
    pub record_key: Option<crate::release::RecordKey>,
    /// Restore records that are not signed or do not verify.
    pub trust_unverified_records: bool,
    /// A restored revision may hold objects in other namespaces.
    pub allow_other_namespaces: bool,
    /// The CI run recorded with each revision.
    pub run: RunInfo,
}

impl ReleaseSettings {
    /// A release named `name` with kpush's defaults (10 revisions, a 5 minute lock wait).
    pub fn new(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            history_max: 10,
            lock_timeout: Duration::from_secs(300),
            rollback_on_failure: None,
            record_key: None,
            trust_unverified_records: false,
            allow_other_namespaces: false,
            run: RunInfo::default(),
        }
    }
}

/// A deploy through an Azure Kubernetes Fleet Manager hub.
#[derive(Debug, Clone, Default)]
pub struct FleetSettings {
    /// Generate the placement (`--placement`); `None`: the manifests hold one.
    pub placement: Option<PlacementSpec>,
    /// The staged update strategy of an External placement (`--update-strategy`).
    pub update_strategy: Option<String>,
}
