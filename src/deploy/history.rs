//! `kpush history` and `kpush list`: a release's revisions, and the releases of a namespace,
//! read from their records. Nothing is changed; printing is the caller's.

use crate::event::Outcome;
use crate::release::{History, Release, Revision, Store, Unreadable, store};

use super::connect::ClusterSettings;
use super::error::DeployError;

/// The history of release `name` in `namespace` (default: the context's); invalid input when it
/// has no revisions there.
pub async fn history(
    cluster: &ClusterSettings,
    name: &str,
    namespace: Option<&str>,
) -> Result<(Release, History), DeployError> {
    let (client, _) = super::render::connect(cluster).await?;
    let release = Release::new(name, namespace.unwrap_or(client.default_namespace()))
        .map_err(DeployError::invalid)?;
    let history = Store::new(&client, &release).history().await?;
    if history.revisions.is_empty() && history.unreadable.is_empty() {
        return Err(DeployError::invalid(format!(
            "release {} has no revisions in namespace {}; `kpush list -A` shows the releases \
             in the cluster",
            release.name, release.namespace
        )));
    }
    Ok((release, history))
}

/// The releases of one cluster, each with its newest revision.
pub struct Listing {
    /// The namespace listed; `None`: every namespace.
    pub namespace: Option<String>,
    /// Per release, its newest revision.
    pub releases: Vec<Revision>,
    /// Records that could not be read.
    pub unreadable: Vec<Unreadable>,
}

/// The releases in `namespace` (default: the context's; `all`: every namespace).
pub async fn list(
    cluster: &ClusterSettings,
    namespace: Option<&str>,
    all: bool,
) -> Result<Listing, DeployError> {
    let (client, server) = super::render::connect(cluster).await?;
    let namespace = match (namespace, all) {
        (_, true) => None,
        (Some(ns), false) => Some(ns.to_string()),
        (None, false) => Some(client.default_namespace().to_string()),
    };
    let (releases, unreadable) = store::releases(&client, namespace.as_deref())
        .await
        .map_err(|f| {
            DeployError::new(
                Outcome::Unreachable,
                anyhow::anyhow!("cannot list release records (Secrets) at {server}: {f}"),
            )
        })?;
    Ok(Listing {
        namespace,
        releases,
        unreadable,
    })
}
