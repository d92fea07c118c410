//! `kpush rbac`: every permission `kpush apply` with the same settings needs — resolved with
//! the cluster's discovery, or offline with Kubernetes' built-in kinds and the set's CRDs.
//! Printing the Roles and bindings is `report::rbac`'s.

use std::collections::BTreeSet;

use kube::core::{ApiResource, GroupVersionKind};

use crate::event::{Outcome, Permission, Sink};
use crate::fleet;
use crate::manifest::Manifest;
use crate::plan::permissions::{self, Recorded, Settings};
use crate::plan::{PlanError, discovery};
use crate::render::patch::schema;

use super::connect::ClusterSettings;
use super::error::{self, DeployError};
use super::settings::DeploySettings;

/// What `kpush apply` with the settings needs.
pub struct Needs {
    /// Every permission, sorted.
    pub permissions: Vec<Permission>,
    /// Where kinds were resolved ("the discovery of https://…", or the built-in kinds).
    pub source: String,
    /// How many objects the render produced (with the placement and namespace added).
    pub objects: usize,
    /// Namespaces the manifests create.
    pub created_namespaces: BTreeSet<String>,
    /// The settings that decided them.
    pub settings: Settings,
    /// The Fleet placement deployed through.
    pub placement: Option<String>,
}

/// Renders `settings.render` and derives what applying it needs; `cluster` resolves kinds
/// (`None`: offline).
pub async fn needs(
    settings: &DeploySettings,
    cluster: Option<&ClusterSettings>,
    sink: &dyn Sink,
) -> Result<Needs, DeployError> {
    settings.check_prune()?;
    let release = settings.release_name();
    let client = match cluster {
        Some(c) => Some(super::render::connect(c).await?),
        None => None,
    };
    let mut manifests = match &client {
        Some((c, _)) => super::render::render(&settings.render, sink, Some(c), release).await?,
        None => super::render::render_offline(&settings.render, sink, release)?,
    };
    let namespace = match (&settings.render.namespace, &client) {
        (Some(ns), _) => ns.clone(),
        (None, Some((c, _))) => c.default_namespace().to_string(),
        (None, None) => "default".to_string(),
    };
    if settings.create_namespace {
        super::namespace::add(&mut manifests, &namespace);
    }
    // Through a fleet, as in `kpush apply`: the manifests are wrapped in their placement, the
    // hub's copies are not tracked, and following the placement has needs of its own.
    let fleet = match &settings.fleet {
        Some(f) => Some(super::fleet::prepare(
            &mut manifests,
            f,
            &namespace,
            settings.wait.is_some(),
            release.is_some(),
        )?),
        None => None,
    };
    // As `kpush apply` waits: on the cluster applied to, not through a fleet.
    let wait = settings.wait.as_ref().filter(|_| fleet.is_none());
    let applyset = release.map(|r| crate::plan::ApplySet::new(r, &namespace));
    let apply = crate::apply::ApplyOptions {
        prune: settings.prune,
        prune_namespaces_and_crds: settings.prune_namespaces_and_crds,
        ..Default::default()
    };
    let needs_settings = Settings {
        beside: fleet
            .as_ref()
            .map(|f| f.permissions.clone())
            .unwrap_or_default(),
        ..super::engine::permission_settings(wait, applyset, &apply, settings.recreate_on_immutable)
    };
    let (permissions, source) = match (&client, cluster) {
        (Some((c, server)), Some(cluster)) => {
            let retry = cluster.retry_policy(None);
            let needed = super::access::needed(c, retry, &manifests, &namespace, &needs_settings)
                .await
                .map_err(|f| {
                    let e = PlanError::from(f);
                    DeployError::new(
                        error::of_plan_error(&e),
                        anyhow::anyhow!("{}", super::explain::explain(&e, server)),
                    )
                })?;
            unknown(
                &needed.unknown,
                Outcome::Rejected,
                "the cluster does not serve it",
            )?;
            (needed.permissions, format!("the discovery of {server}"))
        }
        _ => {
            let crds = discovery::kinds_defined_by_crds(&manifests);
            let (members, unresolved) = permissions::members(&manifests, &namespace, |m| {
                permissions::defined_by_set(&crds, m)
                    .or_else(|| builtin(m))
                    .or_else(|| fleet::access::known_kind(m.api_version(), m.kind()))
            });
            unknown(
                &unresolved,
                Outcome::InvalidInput,
                &format!(
                    "it is not a built-in kind of Kubernetes {} and no CRD among the manifests \
                     defines it; run kpush rbac without --offline against the cluster",
                    schema::KUBERNETES_VERSION
                ),
            )?;
            let perms = permissions::required(&members, &Recorded::default(), &needs_settings);
            let source = format!(
                "the built-in kinds of Kubernetes {} (--offline)",
                schema::KUBERNETES_VERSION
            );
            (perms, source)
        }
    };
    let created_namespaces = manifests
        .iter()
        .filter(|m| m.group().is_empty() && m.kind() == "Namespace")
        .map(|m| m.name().to_string())
        .collect();
    Ok(Needs {
        permissions,
        source,
        objects: manifests.len(),
        created_namespaces,
        settings: needs_settings,
        placement: fleet.map(|f| f.placement.name),
    })
}

/// A built-in kind of the Kubernetes version kpush's schema table holds: its resource from
/// kube's pluralization (checked against that version's names) and its scope from the table.
fn builtin(m: &Manifest) -> Option<permissions::Resolved> {
    if !schema::is_builtin_kind(m.api_version(), m.kind()) {
        return None;
    }
    let gvk = GroupVersionKind::gvk(m.group(), m.version(), m.kind());
    Some((
        ApiResource::from_gvk(&gvk),
        !schema::is_cluster_scoped(m.group(), m.kind()),
    ))
}

/// Fails naming every object whose kind could not be resolved.
fn unknown(objects: &[&Manifest], outcome: Outcome, why: &str) -> Result<(), DeployError> {
    if objects.is_empty() {
        return Ok(());
    }
    let lines: Vec<String> = objects
        .iter()
        .map(|m| format!("{}: {} ({})", m.origin, m.key(), m.api_version()))
        .collect();
    Err(DeployError::new(
        outcome,
        anyhow::anyhow!(
            "cannot tell which resource {} of the objects use{}: {why}\n  {}",
            lines.len(),
            if lines.len() == 1 { "s" } else { "" },
            lines.join("\n  ")
        ),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manifest::Origin;
    use serde_json::json;

    #[test]
    fn builtin_kinds_resolve_offline_with_resource_and_scope() {
        let m = |api: &str, kind: &str| {
            Manifest::new(
                Origin::new("x.yaml", 1),
                json!({"apiVersion": api, "kind": kind, "metadata": {"name": "x"}}),
            )
        };
        let (r, namespaced) = builtin(&m("networking.k8s.io/v1", "NetworkPolicy")).unwrap();
        assert_eq!(r.plural, "networkpolicies");
        assert!(namespaced);
        let (r, namespaced) = builtin(&m("v1", "Endpoints")).unwrap();
        assert_eq!(r.plural, "endpoints");
        assert!(namespaced);
        let (r, namespaced) = builtin(&m("storage.k8s.io/v1", "StorageClass")).unwrap();
        assert_eq!(r.plural, "storageclasses");
        assert!(!namespaced);
        assert!(builtin(&m("stable.example.com/v1", "CronTab")).is_none());
        assert!(
            builtin(&m("apps/v1beta1", "Deployment")).is_none(),
            "not served in 1.35"
        );
    }
}
