//! The hub's Fleet APIs kpush reads and writes.

use kube::api::{Api, DynamicObject};
use kube::core::{ApiResource, GroupVersionKind};

use super::Placement;
use super::placement::GROUP;

/// The label tying a ClusterResourceSnapshot to its placement.
pub const PARENT_LABEL: &str = "kubernetes-fleet.io/parent-CRP";

/// ClusterResourcePlacements' resource (kpush reads them; applying one is the pipeline's).
pub const PLACEMENTS: &str = "clusterresourceplacements";
/// ClusterResourceSnapshots' resource (kpush lists them).
pub const SNAPSHOTS: &str = "clusterresourcesnapshots";

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
                &resource(v, super::placement::CRP_KIND, PLACEMENTS),
            ),
            snapshots: Api::all_with(
                client.clone(),
                &resource(v, "ClusterResourceSnapshot", SNAPSHOTS),
            ),
        }
    }
}

/// An object as plain JSON (metadata included), for the pure status readers.
pub fn json(object: DynamicObject) -> serde_json::Value {
    serde_json::to_value(object).unwrap_or_default()
}
