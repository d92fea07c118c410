//! Flags of deploying through an Azure Kubernetes Fleet Manager hub (`--fleet` itself is an
//! Azure flag, beside `--aks-cluster`).

use clap::Args;

use crate::fleet::PlacementSpec;

const HEADING: &str = "Azure Kubernetes Fleet Manager";

/// Where a fleet deploy goes and how it rolls out.
#[derive(Debug, Clone, Default, Args)]
pub struct FleetArgs {
    /// Generate the ClusterResourcePlacement the manifests are wrapped in: `all` (every member),
    /// `clusters=NAME[,NAME...]` or `labels=KEY=VALUE[,KEY=VALUE...]`. It selects the
    /// manifests' namespaces and their other cluster-scoped objects. Without it the manifests
    /// must hold a ClusterResourcePlacement of their own.
    #[arg(help_heading = HEADING, long, value_name = "SPEC", env = "KPUSH_PLACEMENT")]
    pub placement: Option<PlacementSpec>,

    /// The cluster reached through the kubeconfig is a Fleet hub: wrap and follow the
    /// placement as with --fleet (which implies it).
    #[arg(help_heading = HEADING, long, env = "KPUSH_FLEET_HUB")]
    pub fleet_hub: bool,

    /// The ClusterStagedUpdateStrategy of the staged update run kpush starts when the
    /// placement's rollout strategy is External.
    #[arg(help_heading = HEADING, long, value_name = "NAME", env = "KPUSH_UPDATE_STRATEGY")]
    pub update_strategy: Option<String>,
}

impl FleetArgs {
    /// Whether a run deploys through a fleet: `--fleet` (`azure_fleet`, an Azure flag),
    /// `--fleet-hub` or `--placement`.
    pub fn through_fleet(&self, azure_fleet: Option<&str>) -> bool {
        self.fleet_hub
            || self.placement.is_some()
            || azure_fleet.is_some_and(|f| !f.trim().is_empty())
    }
}
