//! Which AKS cluster to deploy to.

use super::AuthError;
use std::fmt;
use std::str::FromStr;

/// An AKS cluster by subscription, resource group and name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AksTarget {
    /// Subscription id.
    pub subscription: String,
    /// Resource group.
    pub resource_group: String,
    /// Cluster name.
    pub cluster: String,
    /// Ask for admin (local account) credentials instead of user credentials.
    pub admin: bool,
}

impl AksTarget {
    /// Parses an ARM resource id such as
    /// `/subscriptions/S/resourceGroups/RG/providers/Microsoft.ContainerService/managedClusters/NAME`
    /// (the value of `--aks-cluster-id`); `admin` is false.
    pub fn from_resource_id(id: &str) -> Result<Self, AuthError> {
        let bad = || {
            AuthError::Config {
            message: format!("'{id}' is not an AKS cluster resource id"),
            fix: "pass --aks-cluster-id /subscriptions/SUBSCRIPTION/resourceGroups/GROUP/providers/Microsoft.ContainerService/managedClusters/NAME (az aks show -g GROUP -n NAME --query id -o tsv prints it)".into(),
        }
        };
        let parts: Vec<&str> = id.trim().trim_matches('/').split('/').collect();
        match parts.as_slice() {
            [subs, sub, rgs, rg, providers, provider, clusters, name]
                if subs.eq_ignore_ascii_case("subscriptions")
                    && rgs.eq_ignore_ascii_case("resourceGroups")
                    && providers.eq_ignore_ascii_case("providers")
                    && provider.eq_ignore_ascii_case("Microsoft.ContainerService")
                    && clusters.eq_ignore_ascii_case("managedClusters")
                    && [sub, rg, name].iter().all(|s| !s.is_empty()) =>
            {
                Ok(AksTarget {
                    subscription: sub.to_string(),
                    resource_group: rg.to_string(),
                    cluster: name.to_string(),
                    admin: false,
                })
            }
            _ => Err(bad()),
        }
    }

    /// The ARM resource id of the cluster.
    pub fn resource_id(&self) -> String {
        format!(
            "/subscriptions/{}/resourceGroups/{}/providers/Microsoft.ContainerService/managedClusters/{}",
            self.subscription, self.resource_group, self.cluster
        )
    }
}

impl FromStr for AksTarget {
    type Err = AuthError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::from_resource_id(s)
    }
}

impl fmt::Display for AksTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "AKS cluster {} (resource group {}, subscription {})",
            self.cluster, self.resource_group, self.subscription
        )
    }
}

/// An Azure Kubernetes Fleet Manager fleet (its hub cluster) by subscription, resource group
/// and name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FleetTarget {
    /// Subscription id.
    pub subscription: String,
    /// Resource group.
    pub resource_group: String,
    /// Fleet name.
    pub fleet: String,
}

impl FleetTarget {
    /// The ARM resource id of the fleet.
    pub fn resource_id(&self) -> String {
        format!(
            "/subscriptions/{}/resourceGroups/{}/providers/Microsoft.ContainerService/fleets/{}",
            self.subscription, self.resource_group, self.fleet
        )
    }
}

impl fmt::Display for FleetTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "the hub of fleet {} (resource group {}, subscription {})",
            self.fleet, self.resource_group, self.subscription
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resource_ids_parse_case_insensitively() {
        let t = AksTarget::from_resource_id(
            "/subscriptions/s1/resourcegroups/rg-1/providers/microsoft.containerservice/managedclusters/aks-1/",
        )
        .unwrap();
        assert_eq!(
            (
                t.subscription.as_str(),
                t.resource_group.as_str(),
                t.cluster.as_str()
            ),
            ("s1", "rg-1", "aks-1")
        );
        assert!(!t.admin);
        assert!(t.resource_id().ends_with("/managedClusters/aks-1"));
    }

    #[test]
    fn other_resource_ids_are_refused_with_the_expected_shape() {
        let err = AksTarget::from_resource_id("/subscriptions/s1/resourceGroups/rg").unwrap_err();
        assert!(err.to_string().contains("not an AKS cluster resource id"));
        assert!(
            AksTarget::from_resource_id(
                "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/vm"
            )
            .is_err()
        );
    }
}
