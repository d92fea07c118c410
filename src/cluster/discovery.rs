//! What the API server serves, in one round trip: aggregated discovery
//! (`apidiscovery.k8s.io/v2`, GA in Kubernetes 1.30) answers `GET /api` and `GET /apis` with
//! every group, version, kind, resource and scope, so the two go out together. A server
//! without it answers the same two requests with its plain lists (or refuses the media type
//! with 406, and is asked again for them); only then is each group-version asked about, all at
//! once.

use std::collections::{BTreeMap, BTreeSet};

use futures::future::{join, join_all};
use kube::Client;
use kube::core::{ApiResource, GroupVersion};
use kube::discovery::Scope;
use serde::Deserialize;
use serde_json::Value;

use super::failure::Failure;
use super::retry::{RetryPolicy, with_retry};

/// The media types asked for on `/api` and `/apis`: aggregated discovery v2, else the plain
/// lists (as kubectl asks).
pub const ACCEPT_AGGREGATED: &str =
    "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json";

/// One served resource of a group-version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServedResource {
    /// Group, version, kind, plural.
    pub resource: ApiResource,
    /// Namespaced (true) or cluster-scoped.
    pub namespaced: bool,
    /// Whether the resource has a `status` subresource.
    pub has_status: bool,
}

/// One served API group: its versions, the preferred one first.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ServedGroup {
    /// The group's name (`""` for the core group).
    pub name: String,
    /// `(version, resources)`, the server's preferred version first.
    pub versions: Vec<(String, Vec<ServedResource>)>,
}

impl ServedGroup {
    /// The resources of `version`, if the group serves it.
    pub fn version(&self, version: &str) -> Option<&[ServedResource]> {
        self.versions
            .iter()
            .find(|(v, _)| v == version)
            .map(|(_, r)| r.as_slice())
    }

    /// `kind` in the preferred version that serves it (what kube's `recommended_kind` gives).
    pub fn recommended_kind(&self, kind: &str) -> Option<&ServedResource> {
        self.versions
            .iter()
            .flat_map(|(_, rs)| rs.iter())
            .find(|r| r.resource.kind == kind)
    }
}

/// How the answer was obtained (for tests and `-v`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Method {
    /// Aggregated discovery: two requests in one round trip.
    #[default]
    Aggregated,
    /// The server lacks aggregated discovery: the plain lists, then one request per
    /// group-version, all at once.
    PerGroupVersion,
}

/// What the server serves (all of it, or the group-versions asked about).
#[derive(Debug, Clone, Default)]
pub struct ServerApis {
    groups: BTreeMap<String, ServedGroup>,
    /// Group-versions listed but whose resources could not be read fresh (an aggregated API
    /// whose backend is down: `freshness: Stale`).
    stale: BTreeSet<String>,
    /// Every group-version the server lists (also those not read, when only some were asked).
    listed: BTreeSet<String>,
    /// How the answer was obtained.
    pub method: Method,
}

impl ServerApis {
    /// The served group `name`.
    pub fn group(&self, name: &str) -> Option<&ServedGroup> {
        self.groups.get(name)
    }

    /// Every served group, by name.
    pub fn groups(&self) -> impl Iterator<Item = &ServedGroup> {
        self.groups.values()
    }

    /// The resources of `api_version` (`v1`, `apps/v1`), if they were read.
    pub fn group_version(&self, api_version: &str) -> Option<&[ServedResource]> {
        let (group, version) = split_api_version(api_version);
        self.groups.get(group)?.version(version)
    }

    /// Whether the server lists `api_version` but could not describe it (stale).
    pub fn is_stale(&self, api_version: &str) -> bool {
        self.stale.contains(api_version)
    }

    /// Whether the server lists `api_version` at all.
    pub fn lists(&self, api_version: &str) -> bool {
        self.listed.contains(api_version)
    }

    /// Every served group-version (`apps/v1`) and `group/version/Kind`, sorted: what a Helm
    /// chart's `.Capabilities.APIVersions` holds.
    pub fn api_versions(&self) -> Vec<String> {
        let mut out = BTreeSet::new();
        for g in self.groups.values() {
            for (version, resources) in &g.versions {
                let gv = join_api_version(&g.name, version);
                for r in resources {
                    out.insert(format!("{gv}/{}", r.resource.kind));
                }
                out.insert(gv);
            }
        }
        out.into_iter().collect()
    }

    fn insert(&mut self, group: &str, version: &str, resources: Vec<ServedResource>) {
        let g = self
            .groups
            .entry(group.to_string())
            .or_insert_with(|| ServedGroup {
                name: group.to_string(),
                versions: Vec::new(),
            });
        g.versions.push((version.to_string(), resources));
    }
}

/// The server's version (`v1.35.4`) and everything it serves: a chart's `.Capabilities`. The
/// three requests go out together.
pub async fn version_and_apis(
    client: &Client,
    policy: RetryPolicy,
) -> Result<(String, ServerApis), Failure> {
    let (version, apis) = join(
        with_retry(policy, || client.apiserver_version()),
        fetch(client, policy, None),
    )
    .await;
    Ok((version?.git_version, apis?))
}

/// Everything the server serves (`wanted: None`), or at least the group-versions in `wanted`:
/// aggregated discovery when the server has it (one round trip, whatever is wanted);
/// otherwise the plain lists and then only the wanted (or every listed) group-version, at
/// once. Group-versions the server does not list are simply absent.
pub async fn fetch(
    client: &Client,
    policy: RetryPolicy,
    wanted: Option<&BTreeSet<String>>,
) -> Result<ServerApis, Failure> {
    let (core, apis) = join(
        get_discovery(client, policy, "/api"),
        get_discovery(client, policy, "/apis"),
    )
    .await;
    let (core, apis) = (core?, apis?);
    let mut out = ServerApis::default();
    let mut plain_listed = Vec::new();
    for (doc, core_group) in [(core, true), (apis, false)] {
        match doc.get("kind").and_then(Value::as_str) {
            Some("APIGroupDiscoveryList") => {
                let list: AggregatedList = serde_json::from_value(doc).map_err(|e| {
                    Failure::Other(format!("cannot read the aggregated discovery: {e}"))
                })?;
                read_aggregated(&mut out, list, core_group);
            }
            Some("APIVersions") => {
                for v in doc["versions"].as_array().into_iter().flatten() {
                    if let Some(v) = v.as_str() {
                        out.listed.insert(v.to_string());
                        plain_listed.push(v.to_string());
                    }
                }
            }
            Some("APIGroupList") => {
                for g in doc["groups"].as_array().into_iter().flatten() {
                    // The preferred version first, as aggregated discovery orders them.
                    let preferred = g.pointer("/preferredVersion/groupVersion");
                    let mut versions: Vec<&str> = g["versions"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .filter_map(|v| v["groupVersion"].as_str())
                        .collect();
                    versions.sort_by_key(|v| Some(*v) != preferred.and_then(Value::as_str));
                    for gv in versions {
                        out.listed.insert(gv.to_string());
                        plain_listed.push(gv.to_string());
                    }
                }
            }
            other => {
                return Err(Failure::Other(format!(
                    "unexpected discovery document (kind {}) from {}",
                    other.unwrap_or("none"),
                    if core_group { "/api" } else { "/apis" }
                )));
            }
        }
    }
    if plain_listed.is_empty() {
        return Ok(out);
    }
    out.method = Method::PerGroupVersion;
    let ask: Vec<String> = plain_listed
        .into_iter()
        .filter(|gv| wanted.is_none_or(|w| w.contains(gv)))
        .collect();
    let answers = join_all(ask.iter().map(|gv| group_version(client, policy, gv))).await;
    for (gv, answer) in ask.iter().zip(answers) {
        match answer {
            Ok(resources) => {
                let (group, version) = split_api_version(gv);
                out.insert(group, version, resources);
            }
            // Listed a moment ago and gone now: not served.
            Err(f) if f.is_missing_group() => {
                out.listed.remove(gv);
            }
            Err(f) => return Err(f),
        }
    }
    Ok(out)
}

/// The resources of one group-version, asked for alone (kube's `pinned_group`).
pub async fn group_version(
    client: &Client,
    policy: RetryPolicy,
    api_version: &str,
) -> Result<Vec<ServedResource>, Failure> {
    let parsed: GroupVersion = api_version
        .parse()
        .map_err(|_| Failure::Other(format!("'{api_version}' is not a group-version")))?;
    let group = with_retry(policy, || kube::discovery::pinned_group(client, &parsed)).await?;
    Ok(group
        .versioned_resources(&parsed.version)
        .into_iter()
        .map(|(ar, caps)| ServedResource {
            namespaced: matches!(caps.scope, Scope::Namespaced),
            has_status: caps.subresources.iter().any(|(r, _)| r.plural == "status"),
            resource: ar,
        })
        .collect())
}

/// `GET path` asking for aggregated discovery; a server that refuses the media type (406) is
/// asked again for the plain list.
async fn get_discovery(client: &Client, policy: RetryPolicy, path: &str) -> Result<Value, Failure> {
    let ask = |accept: &'static str| {
        with_retry(policy, move || {
            let req = http::Request::get(path)
                .header(http::header::ACCEPT, accept)
                .body(Vec::new());
            let client = client.clone();
            async move {
                client
                    .request::<Value>(req.map_err(kube::Error::HttpError)?)
                    .await
            }
        })
    };
    match ask(ACCEPT_AGGREGATED).await {
        Err(f) if f.code() == Some(406) => ask("application/json").await,
        other => other,
    }
}

fn read_aggregated(out: &mut ServerApis, list: AggregatedList, core_group: bool) {
    for group in list.items {
        let name = if core_group {
            String::new()
        } else {
            group.metadata.name.unwrap_or_default()
        };
        for version in group.versions {
            let gv = join_api_version(&name, &version.version);
            out.listed.insert(gv.clone());
            if version.freshness.as_deref() == Some("Stale") {
                out.stale.insert(gv);
                continue;
            }
            let resources = version
                .resources
                .into_iter()
                .map(|r| ServedResource {
                    resource: ApiResource {
                        group: name.clone(),
                        version: version.version.clone(),
                        api_version: gv.clone(),
                        kind: r.response_kind.map(|k| k.kind).unwrap_or_default(),
                        plural: r.resource,
                    },
                    namespaced: r.scope.as_deref() == Some("Namespaced"),
                    has_status: r.subresources.iter().any(|s| s.subresource == "status"),
                })
                .collect();
            out.insert(&name, &version.version, resources);
        }
    }
}

/// `("apps", "v1")` of `apps/v1`; `("", "v1")` of `v1`.
fn split_api_version(api_version: &str) -> (&str, &str) {
    api_version.rsplit_once('/').unwrap_or(("", api_version))
}

fn join_api_version(group: &str, version: &str) -> String {
    if group.is_empty() {
        version.to_string()
    } else {
        format!("{group}/{version}")
    }
}

// The parts of `apidiscovery.k8s.io/v2` read here.

#[derive(Deserialize)]
struct AggregatedList {
    #[serde(default)]
    items: Vec<AggregatedGroup>,
}

#[derive(Deserialize)]
struct AggregatedGroup {
    #[serde(default)]
    metadata: Meta,
    #[serde(default)]
    versions: Vec<AggregatedVersion>,
}

#[derive(Deserialize, Default)]
struct Meta {
    name: Option<String>,
}

#[derive(Deserialize)]
struct AggregatedVersion {
    version: String,
    #[serde(default)]
    resources: Vec<AggregatedResource>,
    freshness: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct AggregatedResource {
    resource: String,
    response_kind: Option<Kind>,
    scope: Option<String>,
    #[serde(default)]
    subresources: Vec<Subresource>,
}

#[derive(Deserialize)]
struct Kind {
    #[serde(default)]
    kind: String,
}

#[derive(Deserialize)]
struct Subresource {
    #[serde(default)]
    subresource: String,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn aggregated_documents_give_groups_preferred_version_first_and_skip_stale_ones() {
        let apis: AggregatedList = serde_json::from_value(json!({
            "kind": "APIGroupDiscoveryList",
            "items": [
                {"metadata": {"name": "apps"}, "versions": [{"version": "v1", "freshness": "Current",
                  "resources": [{"resource": "deployments", "scope": "Namespaced",
                    "responseKind": {"group": "apps", "version": "v1", "kind": "Deployment"},
                    "subresources": [{"subresource": "scale"}, {"subresource": "status"}]}]}]},
                {"metadata": {"name": "metrics.k8s.io"}, "versions": [{"version": "v1beta1",
                  "freshness": "Stale", "resources": []}]},
                {"metadata": {"name": "example.com"}, "versions": [
                  {"version": "v2", "resources": [{"resource": "widgets", "scope": "Cluster",
                    "responseKind": {"kind": "Widget"}}]},
                  {"version": "v1", "resources": [{"resource": "widgets", "scope": "Cluster",
                    "responseKind": {"kind": "Widget"}}, {"resource": "gadgets", "scope": "Cluster",
                    "responseKind": {"kind": "Gadget"}}]}]}
            ]
        }))
        .unwrap();
        let mut out = ServerApis::default();
        read_aggregated(&mut out, apis, false);
        let d = &out.group_version("apps/v1").unwrap()[0];
        assert_eq!(d.resource.kind, "Deployment");
        assert_eq!(d.resource.plural, "deployments");
        assert_eq!(d.resource.api_version, "apps/v1");
        assert!(d.namespaced && d.has_status);
        assert!(out.is_stale("metrics.k8s.io/v1beta1"));
        assert!(out.lists("metrics.k8s.io/v1beta1"));
        assert!(out.group_version("metrics.k8s.io/v1beta1").is_none());
        let g = out.group("example.com").unwrap();
        assert_eq!(g.recommended_kind("Widget").unwrap().resource.version, "v2");
        assert_eq!(g.recommended_kind("Gadget").unwrap().resource.version, "v1");
        assert!(!g.recommended_kind("Widget").unwrap().namespaced);
        assert!(
            out.api_versions()
                .contains(&"example.com/v1/Gadget".to_string())
        );
    }

    #[test]
    fn the_core_group_has_no_name() {
        let core: AggregatedList = serde_json::from_value(json!({
            "items": [{"metadata": {"name": ""}, "versions": [{"version": "v1", "resources": [
                {"resource": "configmaps", "scope": "Namespaced", "responseKind": {"kind": "ConfigMap"}}]}]}]
        }))
        .unwrap();
        let mut out = ServerApis::default();
        read_aggregated(&mut out, core, true);
        let cm = &out.group_version("v1").unwrap()[0];
        assert_eq!(cm.resource.group, "");
        assert_eq!(cm.resource.api_version, "v1");
        assert_eq!(out.api_versions(), vec!["v1", "v1/ConfigMap"]);
    }
}
