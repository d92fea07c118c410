//! Least privilege at run time: the permissions an apply needs, resolved with the cluster's
//! discovery (shared by `kpush rbac`), and the access check `kpush apply` makes with them
//! before changing anything.

use std::time::Instant;

use kube::Client;
use kube::discovery::Scope;

use super::engine::Deployer;
use super::error::DeployError;
use crate::cluster::{Failure, RetryPolicy};
use crate::event::Outcome;
use crate::event::{Event, Permission, Sink};
use crate::manifest::Manifest;
use crate::plan::applyset::{self, ApplySet};
use crate::plan::permissions::{self, Recorded, Settings};
use crate::plan::{PlanError, access_review, discovery};

/// What the apply needs, and the objects whose kind the cluster does not serve.
pub struct Needed<'m> {
    /// Every permission, sorted.
    pub permissions: Vec<Permission>,
    /// Objects left out: their kind is not served (the plan reports them).
    pub unknown: Vec<&'m Manifest>,
}

/// The permissions applying `manifests` with `settings` needs, resolving kinds with the
/// cluster's discovery (and with prune, the kinds the release's parent recorded before).
pub async fn needed<'m>(
    client: &Client,
    retry: RetryPolicy,
    manifests: &'m [Manifest],
    default_ns: &str,
    settings: &Settings,
) -> Result<Needed<'m>, Failure> {
    let catalog = discovery::catalog_for(client, retry, manifests).await?;
    let crds = discovery::kinds_defined_by_crds(manifests);
    let (members, unknown) = permissions::members(manifests, default_ns, |m| {
        permissions::resolve_with(&catalog, &crds, m)
    });
    let recorded = match (&settings.release, settings.prune) {
        (Some(set), true) => recorded(client, retry, set, catalog.server()).await,
        _ => Recorded::default(),
    };
    Ok(Needed {
        permissions: permissions::required(&members, &recorded, settings),
        unknown,
    })
}

/// What the release's ApplySet parent recorded, resolved; nothing when it cannot be read (a
/// missing `get secrets` is among the permissions checked anyway).
async fn recorded(
    client: &Client,
    retry: RetryPolicy,
    set: &ApplySet,
    server: Option<&crate::cluster::discovery::ServerApis>,
) -> Recorded {
    let Ok(Some(parent)) = crate::apply::prune::read_parent(client, retry, set).await else {
        return Recorded::default();
    };
    let (kinds, namespaces) = crate::apply::prune::recorded(Some(&parent));
    let mut out = Recorded {
        kinds: Vec::new(),
        namespaces,
    };
    for gk in kinds {
        let (group, kind) = applyset::parse_group_kind(&gk);
        // The aggregated discovery the catalogue read answers without a request.
        if let Some(r) = server
            .and_then(|s| s.group(&group))
            .and_then(|g| g.recommended_kind(&kind))
        {
            out.kinds.push((r.resource.clone(), r.namespaced));
            continue;
        }
        let Ok(g) = kube::discovery::group(client, &group).await else {
            continue;
        };
        if let Some((ar, caps)) = g.recommended_kind(&kind) {
            out.kinds
                .push((ar, matches!(caps.scope, Scope::Namespaced)));
        }
    }
    out
}

/// What a deploy asks for beside applying its manifests' objects, and where it goes.
#[derive(Debug, Clone, Default)]
pub struct Beside {
    /// Permissions of those requests (a fleet deploy's, from `fleet::access`).
    pub permissions: Vec<Permission>,
    /// The deploy goes through an Azure Kubernetes Fleet Manager hub.
    pub fleet: bool,
    /// The fleet's ARM resource id, when `--fleet` names it.
    pub fleet_id: Option<String>,
}

/// The access check: asks the API server (SelfSubjectAccessReview) about every permission the
/// apply needs; reports each missing one and fails (rejected) when a required one is missing.
/// Reviews the server refuses make the check a warning: nothing can be said.
pub async fn check(
    d: &Deployer<'_>,
    manifests: &[Manifest],
    default_ns: &str,
    beside: Beside,
) -> Result<(), DeployError> {
    let (client, retry, sink) = (d.client, d.plan.retry, d.reporter as &dyn Sink);
    let settings = &Settings {
        beside: beside.permissions,
        ..d.permission_settings()
    };
    let started = Instant::now();
    let unreachable = |f: Failure| {
        let e = PlanError::from(f);
        DeployError::new(
            super::error::of_plan_error(&e),
            anyhow::anyhow!(
                "{}; nothing was applied",
                super::explain::explain(&e, d.server)
            ),
        )
    };
    let needed = needed(client, retry, manifests, default_ns, settings)
        .await
        .map_err(unreachable)?;
    let answers =
        match access_review::review(client, retry, d.plan.concurrency, &needed.permissions).await {
            Ok(a) => a,
            Err(Failure::Status(s)) => {
                sink.event(&Event::Warning {
                    object: None,
                    message: format!(
                        "cannot check kpush's permissions: the API server refused a \
                         SelfSubjectAccessReview ({}); going on without the check (pass \
                         --no-rbac-check to skip it)",
                        s.message
                    ),
                });
                return Ok(());
            }
            Err(f) => return Err(unreachable(f)),
        };
    let mut missing = 0;
    for (p, answer) in needed.permissions.iter().zip(&answers) {
        if answer.allowed {
            continue;
        }
        if let Some(reason) = &answer.reason {
            tracing::debug!("{}: {reason}", p.describe());
        }
        if !p.optional() {
            missing += 1;
        }
        sink.event(&Event::PermissionMissing {
            permission: p.clone(),
        });
    }
    sink.event(&Event::Info {
        message: format!(
            "checked {} permissions in {}",
            needed.permissions.len(),
            crate::event::format_duration(started.elapsed())
        ),
    });
    if missing == 0 {
        return Ok(());
    }
    let user = access_review::user_name(client).await;
    let namespaces: std::collections::BTreeSet<&str> = needed
        .permissions
        .iter()
        .zip(&answers)
        .filter(|(p, a)| !a.allowed && !p.optional())
        .filter_map(|(p, _)| p.namespace.as_deref())
        .collect();
    let namespaces: Vec<&str> = namespaces.into_iter().collect();
    let who = user.as_deref().map_or_else(
        || "the deploying identity".to_string(),
        |u| format!("\"{u}\""),
    );
    Err(DeployError::new(
        Outcome::Rejected,
        anyhow::anyhow!(
            "{who} lacks {missing} permission{} this apply needs (listed above); nothing was \
             changed.\n{}\n  If your authorizer answers SelfSubjectAccessReviews unreliably, \
             pass --no-rbac-check.",
            if missing == 1 { "" } else { "s" },
            match beside.fleet {
                true => crate::auth::advise_missing_on_fleet(
                    user.as_deref(),
                    beside.fleet_id.as_deref()
                ),
                false => crate::auth::advise_missing(user.as_deref(), &namespaces),
            }
        ),
    ))
}
