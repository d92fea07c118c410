//! What a Helm chart's `.Capabilities` should say about the target cluster: its version and
//! every served group-version and `group/version/Kind`.

use kube::Client;

use crate::cluster::{Failure, RetryPolicy};
use crate::render::chart::Capabilities;

/// Asks the cluster for its version and served API versions: aggregated discovery and the
/// version together, one round trip (per group-version requests, all at once, on servers
/// without it).
pub async fn discover(client: &Client, policy: RetryPolicy) -> Result<Capabilities, Failure> {
    let (version, apis) = crate::cluster::discovery::version_and_apis(client, policy).await?;
    Ok(Capabilities {
        kube_version: Some(version),
        api_versions: apis.api_versions(),
    })
}
