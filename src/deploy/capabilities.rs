//! What a Helm chart's `.Capabilities` should say about the target cluster: its version and
//! every served group-version and `group/version/Kind`.

use std::collections::BTreeSet;

use kube::Client;
use kube::discovery::Discovery;

use crate::cluster::retry::with_retry;
use crate::cluster::{Failure, RetryPolicy};
use crate::render::chart::Capabilities;

/// Asks the cluster for its version and served API versions (one full discovery).
pub async fn discover(client: &Client, policy: RetryPolicy) -> Result<Capabilities, Failure> {
    let version = with_retry(policy, || client.apiserver_version()).await?;
    let discovery = with_retry(policy, || Discovery::new(client.clone()).run()).await?;
    let mut api_versions = BTreeSet::new();
    for group in discovery.groups() {
        for version in group.versions() {
            let gv = if group.name().is_empty() {
                version.to_string()
            } else {
                format!("{}/{version}", group.name())
            };
            for (resource, _) in group.versioned_resources(version) {
                api_versions.insert(format!("{gv}/{}", resource.kind));
            }
            api_versions.insert(gv);
        }
    }
    Ok(Capabilities {
        kube_version: Some(version.git_version),
        api_versions: api_versions.into_iter().collect(),
    })
}
