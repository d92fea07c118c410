//! `kpush rollback`: re-apply a recorded revision through the same engine as `apply`
//! (preflight, waves, prune against that revision's objects, tracking), recorded as a new
//! revision.

use crate::apply::ApplyOptions;
use crate::event::Sink;
use crate::plan::PlanOptions;
use crate::release::Release;
use crate::track::TrackOptions;

use super::engine::Deployer;
use super::error::{DeployError, DeployResult};
use super::release::{self, Source};
use super::{ClusterSettings, Interrupt, ReleaseSettings};

/// What a rollback restores and how.
#[derive(Debug, Clone)]
pub struct RollbackSettings {
    /// The release (its records, lock and signing key).
    pub release: ReleaseSettings,
    /// Its namespace (default: the context's).
    pub namespace: Option<String>,
    /// The revision to restore; `None`: the newest succeeded one before the newest.
    pub to: Option<u32>,
    /// The field manager the release was applied with.
    pub field_manager: String,
    /// Take fields other managers own.
    pub force_conflicts: bool,
    /// Restore objects that meanwhile belong to another release.
    pub take_over_from_releases: bool,
    /// The prune guard.
    pub prune_guard: crate::apply::PruneGuard,
    /// Waiting for the rollout; `None`: return once applied.
    pub wait: Option<TrackOptions>,
    /// The run's time bound.
    pub timeout: std::time::Duration,
    /// Ask the API server whether every request is allowed before changing anything.
    pub access_check: bool,
}

/// Restores a revision of the release as a new revision, under its lock.
pub async fn rollback(
    settings: &RollbackSettings,
    cluster: &ClusterSettings,
    sink: &dyn Sink,
    interrupt: &Interrupt,
) -> DeployResult {
    let started = std::time::Instant::now();
    let (client, server) =
        super::cancel::unless_cancelled(interrupt, super::render::connect(cluster)).await?;
    let namespace = settings
        .namespace
        .as_deref()
        .unwrap_or(client.default_namespace());
    let release = Release::new(&settings.release.name, namespace).map_err(DeployError::invalid)?;
    // One retry budget for the whole run, shared by apply and tracking, as for `apply`.
    let retry = cluster.retry_policy(Some(started + settings.timeout));
    let deploy = Deployer {
        client: &client,
        server: &server,
        reporter: sink,
        plan: PlanOptions {
            field_manager: settings.field_manager.clone(),
            force_conflicts: settings.force_conflicts,
            applyset: Some(release.applyset()),
            retry,
            take_over_from_releases: settings.take_over_from_releases,
            ..Default::default()
        },
        apply: ApplyOptions {
            prune: true,
            prune_guard: settings.prune_guard,
            ..Default::default()
        },
        wait: settings.wait.clone().map(|w| TrackOptions { retry, ..w }),
        interrupt: interrupt.clone(),
        adopt: true,
    };
    if settings.access_check {
        let check = check_access(&deploy, &release, settings.to);
        super::cancel::unless_cancelled(interrupt, check).await?;
    }
    release::deploy(
        &deploy,
        &release,
        &settings.release,
        Source::Revision(settings.to),
    )
    .await
}

/// The access check for the revision `to` would restore, before its lock is taken. A history
/// that cannot be read is left to the rollback itself, which reports it.
async fn check_access(
    d: &Deployer<'_>,
    release: &Release,
    to: Option<u32>,
) -> Result<(), DeployError> {
    let Ok(history) = crate::release::Store::new(d.client, release)
        .history()
        .await
    else {
        return Ok(());
    };
    let revision = release::pick(&history, to, &release.name)?;
    super::access::check(
        d,
        &revision.manifests(),
        &release.namespace,
        Default::default(),
    )
    .await
}
