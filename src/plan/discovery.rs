//! Resolving kinds to API resources, asking only for the group-versions the manifests use,
//! all at once, instead of walking the whole of discovery.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

use futures::future::join_all;
use kube::Client;
use kube::core::{ApiResource, GroupVersion};
use serde_json::Value;

use crate::cluster::discovery::{Method, ServedResource, ServerApis};
use crate::cluster::{Failure, RetryPolicy};
use crate::manifest::Manifest;

/// How the API serves a kind: its resource and whether it is namespaced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Served {
    /// Group, version, kind, plural.
    pub resource: ApiResource,
    /// Namespaced (true) or cluster-scoped.
    pub namespaced: bool,
    /// Whether the kind has a `status` subresource (its controller reports status).
    pub has_status: bool,
}

/// The served kinds of the group-versions asked about.
#[derive(Debug, Default, Clone)]
pub struct Catalog {
    kinds: HashMap<(String, String), Served>,
    /// Group-versions the server does not serve at all.
    missing: BTreeSet<String>,
    /// Everything the server serves, when aggregated discovery told (prune resolves the kinds
    /// a release recorded with it instead of asking again).
    server: Option<Arc<ServerApis>>,
}

impl Catalog {
    /// The served resource for `apiVersion` + `kind`, if any.
    pub fn resolve(&self, api_version: &str, kind: &str) -> Option<&Served> {
        self.kinds.get(&(api_version.to_string(), kind.to_string()))
    }

    /// Whether the server serves the group-version at all.
    pub fn serves_group_version(&self, api_version: &str) -> bool {
        !self.missing.contains(api_version)
    }

    /// The whole server's discovery this catalogue was made from, if aggregated discovery
    /// answered.
    pub fn server(&self) -> Option<&ServerApis> {
        self.server.as_deref()
    }

    /// Adds what another discovery round found.
    pub fn merge(&mut self, other: Catalog) {
        self.kinds.extend(other.kinds);
        for gv in other.missing {
            if !self.kinds.keys().any(|(v, _)| *v == gv) {
                self.missing.insert(gv);
            }
        }
    }

    fn add(&mut self, gv: &str, resources: &[ServedResource]) {
        for r in resources {
            self.kinds.insert(
                (gv.to_string(), r.resource.kind.clone()),
                Served {
                    resource: r.resource.clone(),
                    namespaced: r.namespaced,
                    has_status: r.has_status,
                },
            );
        }
    }

    /// Drops what is known about a group-version (before asking again).
    pub fn forget(&mut self, api_version: &str) {
        self.kinds.retain(|(v, _), _| v != api_version);
        self.missing.remove(api_version);
    }
}

/// What the server serves of `api_versions` (`v1`, `apps/v1`, ...): aggregated discovery, one
/// round trip whatever the number of group-versions (per group-version requests, all at once,
/// against a server without it). A group-version the server lists as stale (an aggregated API
/// whose backend is down) is asked about alone, so that its failure is reported as before.
pub async fn discover(
    client: &Client,
    policy: RetryPolicy,
    api_versions: &BTreeSet<String>,
) -> Result<Catalog, Failure> {
    let server = crate::cluster::discovery::fetch(client, policy, Some(api_versions)).await?;
    let stale: BTreeSet<String> = api_versions
        .iter()
        .filter(|gv| server.is_stale(gv))
        .cloned()
        .collect();
    let mut catalog = Catalog::default();
    for gv in api_versions {
        if stale.contains(gv) {
            continue;
        }
        match server.group_version(gv) {
            Some(resources) => catalog.add(gv, resources),
            None => {
                catalog.missing.insert(gv.clone());
            }
        }
    }
    if !stale.is_empty() {
        catalog.merge(discover_each(client, policy, &stale).await?);
    }
    if server.method == Method::Aggregated {
        catalog.server = Some(Arc::new(server));
    }
    Ok(catalog)
}

/// Asks the server, in parallel, about each group-version alone (after a CRD was Established:
/// cheaper to repeat than the whole of discovery).
pub async fn discover_each(
    client: &Client,
    policy: RetryPolicy,
    api_versions: &BTreeSet<String>,
) -> Result<Catalog, Failure> {
    let answers = join_all(api_versions.iter().map(|gv| async move {
        if gv.parse::<GroupVersion>().is_err() {
            return (gv.clone(), Ok(None));
        }
        let r = crate::cluster::discovery::group_version(client, policy, gv).await;
        (gv.clone(), r.map(Some))
    }))
    .await;
    let mut catalog = Catalog::default();
    for (gv, answer) in answers {
        match answer {
            Ok(Some(resources)) => catalog.add(&gv, &resources),
            Ok(None) => {
                catalog.missing.insert(gv);
            }
            Err(f) if f.is_missing_group() => {
                catalog.missing.insert(gv);
            }
            Err(f) => return Err(f),
        }
    }
    Ok(catalog)
}

/// The group-versions of `group` in which the cluster serves `kind` (`["autoscaling/v2"]` for
/// an HPA written as `autoscaling/v2beta2`), and the cluster's version (`v1.35.4`), for the
/// advice on a kind the cluster does not serve. Lookup failures give what is known.
pub async fn where_kind_is_served(
    client: &Client,
    group: &str,
    kind: &str,
) -> (Vec<String>, Option<String>) {
    let version = client.apiserver_version().await.ok().map(|v| v.git_version);
    let served = match kube::discovery::group(client, group).await {
        Ok(g) => {
            let preferred = g.preferred_version_or_latest().to_string();
            let mut versions: Vec<String> = g
                .versions()
                .filter(|v| {
                    g.versioned_resources(v)
                        .iter()
                        .any(|(ar, _)| ar.kind == kind)
                })
                .map(str::to_string)
                .collect();
            // The group's preferred version first: the one to advise.
            versions.sort_by_key(|v| *v != preferred);
            versions
                .into_iter()
                .map(|v| {
                    if group.is_empty() {
                        v
                    } else {
                        format!("{group}/{v}")
                    }
                })
                .collect()
        }
        Err(_) => Vec::new(),
    };
    (served, version)
}

/// The catalogue of the group-versions `manifests` use (what `plan` starts from; `kpush
/// status` resolves its objects with it too).
pub async fn catalog_for(
    client: &Client,
    policy: RetryPolicy,
    manifests: &[Manifest],
) -> Result<Catalog, Failure> {
    let api_versions: BTreeSet<String> = manifests
        .iter()
        .map(|m| m.api_version().to_string())
        .collect();
    discover(client, policy, &api_versions).await
}

/// A kind defined by a CustomResourceDefinition among the manifests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SetDefinedKind {
    /// The CRD's name (`crontabs.stable.example.com`).
    pub crd_name: String,
    /// Namespaced (true) or cluster-scoped.
    pub namespaced: bool,
    /// Versions the CRD serves.
    pub versions: Vec<String>,
    /// The resource (`crontabs`).
    pub plural: String,
}

/// (group, kind) → definition, for every CRD among the manifests.
pub fn kinds_defined_by_crds(manifests: &[Manifest]) -> HashMap<(String, String), SetDefinedKind> {
    let mut out = HashMap::new();
    for m in manifests {
        if m.group() != "apiextensions.k8s.io" || m.kind() != "CustomResourceDefinition" {
            continue;
        }
        let spec = &m.object["spec"];
        let (Some(group), Some(kind)) = (
            spec["group"].as_str(),
            spec.pointer("/names/kind").and_then(Value::as_str),
        ) else {
            continue;
        };
        let mut versions: Vec<String> = spec["versions"]
            .as_array()
            .map(|vs| {
                vs.iter()
                    .filter(|v| v["served"].as_bool() != Some(false))
                    .filter_map(|v| v["name"].as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default();
        if let Some(v) = spec["version"].as_str() {
            versions.push(v.to_string());
        }
        out.insert(
            (group.to_string(), kind.to_string()),
            SetDefinedKind {
                crd_name: m.name().to_string(),
                namespaced: spec["scope"].as_str() != Some("Cluster"),
                versions,
                plural: spec
                    .pointer("/names/plural")
                    .and_then(Value::as_str)
                    .map_or_else(|| kind.to_lowercase() + "s", str::to_string),
            },
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manifest::Origin;
    use serde_json::json;

    #[test]
    fn crds_in_the_set_define_kinds_with_scope_and_versions() {
        let crd = Manifest::new(
            Origin::new("crd.yaml", 1),
            json!({"apiVersion":"apiextensions.k8s.io/v1","kind":"CustomResourceDefinition",
              "metadata":{"name":"crontabs.stable.example.com"},
              "spec":{"group":"stable.example.com","scope":"Cluster","names":{"kind":"CronTab","plural":"crontabs"},
                "versions":[{"name":"v1","served":true},{"name":"v0","served":false}]}}),
        );
        let kinds = kinds_defined_by_crds(&[crd]);
        let d = &kinds[&("stable.example.com".to_string(), "CronTab".to_string())];
        assert!(!d.namespaced);
        assert_eq!(d.versions, vec!["v1"]);
    }
}
