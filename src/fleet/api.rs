//! The hub's Fleet APIs kpush reads and writes.

use kube::api::{Api, DynamicObject};
use kube::core::{ApiResource, GroupVersionKind};

use super::Placement;
use super::placement::GROUP;

/// The label tying a ClusterResourceSnapshot to its placement.
pub const PARENT_LABEL: &str = "kubernetes-fleet.io/parent-CRP";

/// A cluster-scoped resource of Fleet's placement group.
pub fn resource(version: &str, kind: &str, plural: &str) -> ApiResource {
    ApiResource::from_gvk_with_plural(&GroupVersionKind::gvk(GROUP, version, kind), plural)
}

/// Fleet's APIs in the version of one placement.
pub struct FleetApi {
    /// ClusterResourcePlacements.
    pub placements: Api<DynamicObject>,
    /// ClusterResourceSnapshots.
    pub snapshots: Api<DynamicObject>,
}

impl FleetApi {
    /// The APIs in `placement`'s version.
    pub fn new(client: &kube::Client, placement: &Placement) -> Self {
        let v = placement.version();
        Self {
            placements: Api::all_with(
                client.clone(),
                &resource(v, "ClusterResourcePlacement", "clusterresourceplacements"),
            ),
            snapshots: Api::all_with(
                client.clone(),
                &resource(v, "ClusterResourceSnapshot", "clusterresourcesnapshots"),
            ),
        }
    }
}

/// An object as plain JSON (metadata included), for the pure status readers.
pub fn json(object: DynamicObject) -> serde_json::Value {
    serde_json::to_value(object).unwrap_or_default()
}
