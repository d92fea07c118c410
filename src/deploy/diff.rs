//! What `kpush apply` would change: the plan's diffs, what a prune would delete, and the live
//! objects a chart's hooks would delete. Nothing is changed; printing is the caller's.

use crate::apply::{self, PrunedObject};
use crate::event::{HookDeletion, ObjectDiff, Sink};
use crate::plan::{self, diff::object_diff};

use super::error::DeployError;
use super::explain::plan_failed;
use super::prune_check::{check_prune, rendered};
use super::{ClusterSettings, DeploySettings, Renders};

/// What applying the settings would do.
pub struct Differences {
    /// Per object, its change.
    pub diffs: Vec<ObjectDiff>,
    /// The objects a prune would delete.
    pub pruned: Vec<PrunedObject>,
    /// The live objects the chart's hooks would delete (refused ones included).
    pub hooks: Vec<HookDeletion>,
    /// The refusal apply would meet (the prune guard), reported after the differences.
    pub refused: Option<DeployError>,
}

/// Renders, plans with dry-runs and compares, as `apply` with `settings` would.
pub async fn diff(
    settings: &DeploySettings,
    cluster: &ClusterSettings,
    sink: &dyn Sink,
    renders: &Renders,
) -> Result<Differences, DeployError> {
    let (mut manifests, client, server) = renders
        .render_connected(&settings.render, cluster, sink, settings.release_name())
        .await?;
    settings.check_prune()?;
    // As apply counts them: hooks included.
    let rendered = rendered(&manifests);
    // A chart's hooks run only during apply (and may be deleted after): not compared, but the
    // live objects running them would delete are shown.
    let hook_manifests = super::hooks::take_hooks(&mut manifests, sink);
    let namespace = settings
        .render
        .namespace
        .clone()
        .unwrap_or_else(|| client.default_namespace().to_string());
    if settings.create_namespace {
        super::namespace::add(&mut manifests, &namespace);
    }
    let mut opts = settings.plan.options(
        &namespace,
        settings.release_name(),
        cluster.retry_policy(None),
    );
    opts.keep_dry_run = true;
    let hook_opts = plan::PlanOptions {
        preflight: false,
        keep_dry_run: false,
        ..opts.clone()
    };
    // The set's CRDs, so that hooks of the kinds they define are planned as in the apply.
    let crds: Vec<_> = manifests
        .iter()
        .filter(|m| m.group() == "apiextensions.k8s.io" && m.kind() == "CustomResourceDefinition")
        .cloned()
        .collect();
    let plan = plan::plan(&client, manifests, opts, sink)
        .await
        .map_err(|e| plan_failed(&e, &server, None))?;
    let hooks = super::hooks::deletions(&client, &plan, hook_manifests, crds, hook_opts, sink)
        .await
        .map_err(|e| match e {
            super::hooks::HookPlanError::Plan(e) => plan_failed(&e, &server, None),
            super::hooks::HookPlanError::Other(e) => e,
        })?;
    let diffs: Vec<_> = plan.objects.iter().map(object_diff).collect();
    if !settings.prune {
        return Ok(Differences {
            diffs,
            pruned: Vec::new(),
            hooks,
            refused: None,
        });
    }
    // What apply would prune, and whether apply would refuse it.
    let unchecked = apply::PruneGuard {
        allow_empty: true,
        limit: apply::PruneLimit::Percent(100),
    };
    let members = check_prune(
        &client,
        &plan,
        rendered,
        &unchecked,
        settings.prune_namespaces_and_crds,
    )
    .await?
    .map(|p| p.members)
    .unwrap_or_default();
    let refused = plan.options.applyset.as_ref().and_then(|set| {
        settings
            .prune_guard
            .check(&set.name, rendered, members.count, &members.candidates)
            .err()
            .map(|r| DeployError::new(super::error::of_prune_refusal(&r), r))
    });
    Ok(Differences {
        diffs,
        pruned: members.candidates,
        hooks,
        refused,
    })
}
