//! The permissions a fleet deploy needs on the hub beside applying its manifests, derived from
//! the requests this module's siblings make (the code in brackets):
//!
//! - before applying, to know what "new" will mean ([`super::before_deploy`]): GET the
//!   placement (`api::FleetApi::placements`), LIST its resource snapshots by label
//!   ([`super::latest_snapshot`]);
//! - following the rollout ([`super::follow`], [`super::rollout::track`]): GET the placement
//!   and LIST its snapshots, every poll;
//! - an `External` placement with an update strategy ([`super::staged::start_and_follow`]):
//!   CREATE the ClusterStagedUpdateRun, then GET it every poll (waiting for its snapshot first
//!   reads the placement and snapshots as above).
//!
//! kpush watches nothing on the hub (it polls), never reads ClusterSchedulingPolicySnapshots,
//! and never reads or approves ClusterApprovalRequests (it names the one to approve from the
//! run's status). Applying the placement itself (generated or the manifests' own) goes through
//! the ordinary pipeline with the other objects, so its `get`, `create` and `patch` are derived
//! with theirs. Without following (`--wait=false`) kpush makes none of these requests.

use kube::core::{ApiResource, GroupVersionKind};

use super::Placement;
use super::api::{PLACEMENTS, SNAPSHOTS};
use super::placement::{CRP_KIND, GROUP};
use super::staged::RUNS;
use crate::event::{Need, Permission};

/// Every hub permission of a fleet deploy through `placement` beside applying the manifests:
/// `follow` when kpush follows the rollout (`--wait`), `update_strategy` as given to
/// [`super::follow`]. Cluster-wide: Fleet's placement objects are cluster-scoped.
pub fn needs(
    placement: &Placement,
    follow: bool,
    update_strategy: Option<&str>,
) -> Vec<Permission> {
    let mut out = Vec::new();
    if !follow {
        return out;
    }
    out.push(permission(PLACEMENTS, "get", Need::FleetPlacement));
    out.push(permission(SNAPSHOTS, "list", Need::FleetSnapshots));
    if placement.external && update_strategy.is_some() {
        for verb in ["get", "create"] {
            out.push(permission(RUNS, verb, Need::FleetStagedRun));
        }
    }
    out
}

fn permission(resource: &str, verb: &str, need: Need) -> Permission {
    Permission {
        group: GROUP.to_string(),
        resource: resource.to_string(),
        subresource: None,
        verb: verb.to_string(),
        namespace: None,
        name: None,
        needs: vec![need],
    }
}

/// The resource of a Fleet kind kpush knows without asking a cluster (for `kpush rbac
/// --offline`): the ClusterResourcePlacement it wraps manifests in (cluster-scoped).
pub fn known_kind(api_version: &str, kind: &str) -> Option<(ApiResource, bool)> {
    let (group, version) = api_version.split_once('/')?;
    if group != GROUP || kind != CRP_KIND {
        return None;
    }
    let gvk = GroupVersionKind::gvk(group, version, kind);
    Some((ApiResource::from_gvk_with_plural(&gvk, PLACEMENTS), false))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manifest::Origin;

    fn placement(external: bool) -> Placement {
        Placement {
            name: "shop".into(),
            api_version: format!("{GROUP}/v1"),
            origin: Origin::new("--placement", 0),
            external,
        }
    }

    fn described(perms: &[Permission]) -> Vec<String> {
        perms.iter().map(Permission::describe).collect()
    }

    #[test]
    fn following_reads_the_placement_and_lists_its_snapshots() {
        let perms = needs(&placement(false), true, None);
        assert_eq!(
            described(&perms),
            [
                "get clusterresourceplacements.placement.kubernetes-fleet.io (cluster-wide)",
                "list clusterresourcesnapshots.placement.kubernetes-fleet.io (cluster-wide)",
            ]
        );
        assert!(perms.iter().all(|p| !p.optional()), "all are required");
        assert_eq!(perms[0].needs, [Need::FleetPlacement]);
        assert_eq!(perms[1].needs, [Need::FleetSnapshots]);
    }

    #[test]
    fn an_external_placement_with_a_strategy_creates_and_reads_its_staged_run() {
        let runs = |perms: &[Permission]| -> Vec<String> {
            perms
                .iter()
                .filter(|p| p.resource == "clusterstagedupdateruns")
                .map(|p| p.verb.clone())
                .collect()
        };
        let staged = needs(&placement(true), true, Some("canary-then-prod"));
        assert_eq!(runs(&staged), ["get", "create"]);
        assert!(
            staged
                .iter()
                .filter(|p| p.resource == "clusterstagedupdateruns")
                .all(|p| p.needs == [Need::FleetStagedRun])
        );
        assert!(runs(&needs(&placement(false), true, Some("s"))).is_empty());
        assert!(runs(&needs(&placement(true), true, None)).is_empty());
    }

    #[test]
    fn without_following_a_fleet_deploy_only_applies() {
        assert!(needs(&placement(true), false, Some("s")).is_empty());
    }

    #[test]
    fn the_placement_kind_resolves_offline_as_cluster_scoped() {
        let (r, namespaced) =
            known_kind("placement.kubernetes-fleet.io/v1beta1", CRP_KIND).expect("known");
        assert_eq!(
            (r.plural.as_str(), namespaced),
            ("clusterresourceplacements", false)
        );
        assert!(known_kind("placement.kubernetes-fleet.io/v1", "ResourceOverride").is_none());
        assert!(known_kind("v1", CRP_KIND).is_none());
    }
}
