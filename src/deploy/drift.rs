//! `kpush drift`: where the live objects differ from a release's last succeeded revision (no
//! repository needed). Nothing is changed; printing is the caller's.

use std::collections::HashSet;

use crate::apply::{PrunedObject, prune};
use crate::event::{ObjectDiff, Outcome, ReleaseNote, Sink};
use crate::plan::{self, PlanOptions, diff::object_diff};
use crate::release::{Release, Store, drift};

use super::connect::ClusterSettings;
use super::error::DeployError;
use super::explain::plan_failed;
use super::release::{note, skipped};

/// A release's drift.
pub struct Drift {
    /// Per object of the revision, its difference from the live object.
    pub diffs: Vec<ObjectDiff>,
    /// Live members of the release the revision does not hold.
    pub pruned: Vec<PrunedObject>,
}

/// Where the live objects of release `name` (in `namespace`, default: the context's) differ
/// from its last succeeded revision, compared as `field_manager` applied them.
pub async fn drift(
    cluster: &ClusterSettings,
    name: &str,
    namespace: Option<&str>,
    field_manager: &str,
    reporter: &dyn Sink,
) -> Result<Drift, DeployError> {
    let (client, server) = super::render::connect(cluster).await?;
    let release = Release::new(name, namespace.unwrap_or(client.default_namespace()))
        .map_err(DeployError::invalid)?;
    let history = Store::new(&client, &release).history().await?;
    skipped(reporter, &history.unreadable);
    let Some(revision) = history.last_succeeded() else {
        return Err(DeployError::new(
            Outcome::InvalidInput,
            anyhow::anyhow!(
                "release {} in namespace {} has no succeeded revision to compare with{}",
                release.name,
                release.namespace,
                if history.revisions.is_empty() {
                    " (no revisions at all; `kpush list -A` shows the releases)".to_string()
                } else {
                    "; `kpush history` shows its revisions".to_string()
                }
            ),
        ));
    };
    note(
        reporter,
        ReleaseNote::Comparing {
            release: release.name.clone(),
            revision: revision.revision,
            commit: revision.run.commit.clone(),
        },
    );
    let set = release.applyset();
    let opts = PlanOptions {
        field_manager: field_manager.to_string(),
        // A dry run only: take every field back, so a hand edit shows as a difference
        // instead of a conflict.
        force_conflicts: true,
        applyset: Some(set.clone()),
        keep_dry_run: true,
        // Objects another release took are compared too (the plan warns about them).
        take_over_from_releases: true,
        ..Default::default()
    };
    let retry = opts.retry;
    let manifests = revision.manifests();
    let rendered = super::prune_check::rendered(&manifests);
    let plan = plan::plan(&client, manifests, opts, reporter)
        .await
        .map_err(|e| plan_failed(&e, &server, None))?;
    let diffs = drift::drifted(&plan, object_diff);
    let parent = prune::read_parent(&client, retry, &set)
        .await
        .map_err(|e| DeployError::new(Outcome::Rejected, e))?;
    let (kinds, nss) = prune::recorded(parent.as_ref());
    let keep: HashSet<_> = plan.objects.iter().map(|o| o.manifest.key()).collect();
    // As `kpush apply` prunes by default: namespaces and CRDs are shown kept.
    let members = prune::members(&client, retry, &set, &kinds, &nss, &keep, false)
        .await
        .map_err(|f| {
            DeployError::new(
                Outcome::Unreachable,
                anyhow::anyhow!("cannot list the release's objects: {f}"),
            )
        })?;
    // The verdict a re-apply of the revision (`kpush rollback`) would get with the default
    // guard: shown, as drift changes nothing.
    if let Err(refusal) = crate::apply::PruneGuard::default().check(
        &set.name,
        rendered,
        members.count,
        &members.candidates,
    ) {
        reporter.event(&crate::event::Event::Warning {
            object: None,
            message: format!(
                "re-applying revision {} (kpush rollback --to {}) would be refused: {refusal}",
                revision.revision, revision.revision
            ),
        });
    }
    Ok(Drift {
        diffs,
        pruned: members.candidates,
    })
}
