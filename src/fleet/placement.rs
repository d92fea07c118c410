//! Wrapping a manifest set in a ClusterResourcePlacement: the user's own, or one generated
//! from `--placement`.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::str::FromStr;

use serde_json::{Value, json};

use super::FleetError;
use crate::manifest::{Manifest, Origin};

/// The API group of Fleet's placement objects.
pub const GROUP: &str = "placement.kubernetes-fleet.io";
/// The kind kpush wraps manifests in.
pub const CRP_KIND: &str = "ClusterResourcePlacement";
/// The version kpush writes generated placements in.
pub const GENERATED_VERSION: &str = "v1";

/// Which member clusters a generated placement selects (`--placement`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PlacementSpec {
    /// `all`: every member cluster (PickAll).
    All,
    /// `clusters=a,b`: these members by name (PickFixed).
    Clusters(Vec<String>),
    /// `labels=k=v,k2=v2`: every member whose labels match all pairs (PickAll with a selector).
    Labels(BTreeMap<String, String>),
}

impl FromStr for PlacementSpec {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let usage = "use `all`, `clusters=NAME[,NAME...]` or `labels=KEY=VALUE[,KEY=VALUE...]`";
        let s = s.trim();
        if s == "all" {
            return Ok(Self::All);
        }
        let (what, list) = s
            .split_once('=')
            .ok_or_else(|| format!("'{s}' is not a placement: {usage}"))?;
        let items: Vec<&str> = list
            .split(',')
            .map(str::trim)
            .filter(|i| !i.is_empty())
            .collect();
        if items.is_empty() {
            return Err(format!("'{s}' names nothing: {usage}"));
        }
        match what.trim() {
            "clusters" => Ok(Self::Clusters(
                items.into_iter().map(str::to_string).collect(),
            )),
            "labels" => items
                .into_iter()
                .map(|pair| {
                    pair.split_once('=')
                        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
                        .filter(|(k, _)| !k.is_empty())
                        .ok_or_else(|| format!("'{pair}' is not KEY=VALUE: {usage}"))
                })
                .collect::<Result<_, _>>()
                .map(Self::Labels),
            other => Err(format!("'{other}' is not a placement kind: {usage}")),
        }
    }
}

impl fmt::Display for PlacementSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::All => f.write_str("all"),
            Self::Clusters(names) => write!(f, "clusters={}", names.join(",")),
            Self::Labels(labels) => {
                let pairs: Vec<String> = labels.iter().map(|(k, v)| format!("{k}={v}")).collect();
                write!(f, "labels={}", pairs.join(","))
            }
        }
    }
}

/// The placement a deploy goes through.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Placement {
    /// Its name (ClusterResourcePlacements are cluster-scoped).
    pub name: String,
    /// Its apiVersion as written (`placement.kubernetes-fleet.io/v1`, `.../v1beta1`).
    pub api_version: String,
    /// Where it came from: its file and line, or `--placement`.
    pub origin: Origin,
    /// Whether its rollout strategy is `External` (staged update runs roll it out).
    pub external: bool,
}

impl Placement {
    /// The version part of its apiVersion.
    pub fn version(&self) -> &str {
        self.api_version
            .split_once('/')
            .map(|(_, v)| v)
            .unwrap_or(GENERATED_VERSION)
    }
}

/// Kinds that are cluster-scoped in every cluster, so a generated placement selects them by
/// name rather than through a namespace.
const CLUSTER_SCOPED: [&str; 14] = [
    "Namespace",
    "ClusterRole",
    "ClusterRoleBinding",
    "CustomResourceDefinition",
    "StorageClass",
    "PriorityClass",
    "IngressClass",
    "PersistentVolume",
    "ValidatingWebhookConfiguration",
    "MutatingWebhookConfiguration",
    "ValidatingAdmissionPolicy",
    "ValidatingAdmissionPolicyBinding",
    "RuntimeClass",
    "APIService",
];

fn is_placement(m: &Manifest) -> bool {
    m.group() == GROUP && m.kind() == CRP_KIND
}

/// Finds the manifests' ClusterResourcePlacement, or adds one generated from `spec` (named
/// `name`) that selects every namespace the manifests use (`default_namespace` for objects
/// that name none) and their other cluster-scoped objects.
pub fn wrap(
    manifests: &mut Vec<Manifest>,
    spec: Option<&PlacementSpec>,
    name: &str,
    default_namespace: &str,
) -> Result<Placement, FleetError> {
    let own: Vec<&Manifest> = manifests.iter().filter(|m| is_placement(m)).collect();
    match (own.as_slice(), spec) {
        ([one], None) => Ok(describe(one)),
        ([one], Some(spec)) => Err(FleetError::Placement(format!(
            "--placement {spec} and the ClusterResourcePlacement {} ({}) both say where to deploy\n  fix: drop --placement to use the manifests' placement, or remove it from the manifests",
            one.name(),
            one.origin
        ))),
        ([first, second, ..], _) => Err(FleetError::Placement(format!(
            "the manifests hold more than one ClusterResourcePlacement ({} at {}, {} at {}); kpush follows one placement per deploy\n  fix: deploy each placement's manifests separately",
            first.name(),
            first.origin,
            second.name(),
            second.origin
        ))),
        ([], None) => Err(FleetError::Placement(
            "the manifests hold no ClusterResourcePlacement, so nothing says which member clusters to deploy to\n  fix: add one to the manifests, or pass --placement all (or clusters=NAME,... or labels=KEY=VALUE,...)".into(),
        )),
        ([], Some(spec)) => {
            let object = generate(manifests, spec, name, default_namespace);
            let manifest = Manifest::new(Origin::new("--placement", 0), object);
            let placement = describe(&manifest);
            manifests.push(manifest);
            Ok(placement)
        }
    }
}

fn describe(m: &Manifest) -> Placement {
    Placement {
        name: m.name().to_string(),
        api_version: m.object["apiVersion"]
            .as_str()
            .unwrap_or_default()
            .to_string(),
        origin: m.origin.clone(),
        external: m.object["spec"]["strategy"]["type"] == "External",
    }
}

/// The generated ClusterResourcePlacement.
fn generate(
    manifests: &[Manifest],
    spec: &PlacementSpec,
    name: &str,
    default_namespace: &str,
) -> Value {
    let mut namespaces = BTreeSet::new();
    let mut cluster_scoped = BTreeSet::new();
    for m in manifests {
        let namespace = m.object["metadata"]["namespace"].as_str();
        if m.group().is_empty() && m.kind() == "Namespace" {
            namespaces.insert(m.name().to_string());
        } else if let Some(ns) = namespace {
            namespaces.insert(ns.to_string());
        } else if CLUSTER_SCOPED.contains(&m.kind()) {
            let version = m.object["apiVersion"]
                .as_str()
                .and_then(|v| v.rsplit('/').next())
                .unwrap_or("v1");
            cluster_scoped.insert((
                m.group().to_string(),
                version.to_string(),
                m.kind().to_string(),
                m.name().to_string(),
            ));
        } else {
            namespaces.insert(default_namespace.to_string());
        }
    }
    let mut selectors: Vec<Value> = namespaces
        .iter()
        .map(|ns| json!({"group": "", "version": "v1", "kind": "Namespace", "name": ns}))
        .collect();
    selectors.extend(cluster_scoped.iter().map(|(group, version, kind, name)| {
        json!({"group": group, "version": version, "kind": kind, "name": name})
    }));
    let policy = match spec {
        PlacementSpec::All => json!({"placementType": "PickAll"}),
        PlacementSpec::Clusters(names) => {
            json!({"placementType": "PickFixed", "clusterNames": names})
        }
        PlacementSpec::Labels(labels) => json!({
            "placementType": "PickAll",
            "affinity": {"clusterAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {
                "clusterSelectorTerms": [{"labelSelector": {"matchLabels": labels}}]
            }}}
        }),
    };
    json!({
        "apiVersion": format!("{GROUP}/{GENERATED_VERSION}"),
        "kind": CRP_KIND,
        "metadata": {"name": name},
        "spec": {"resourceSelectors": selectors, "policy": policy},
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(value: Value) -> Manifest {
        Manifest::new(Origin::new("app.yaml", 1), value)
    }

    fn app() -> Vec<Manifest> {
        vec![
            m(json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "shop"}})),
            m(
                json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "namespace": "shop"}}),
            ),
            m(json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cfg"}})),
            m(
                json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole", "metadata": {"name": "reader"}}),
            ),
        ]
    }

    #[test]
    fn placement_flags_parse_and_print_back() {
        for text in ["all", "clusters=a,b", "labels=env=prod,tier=web"] {
            assert_eq!(text.parse::<PlacementSpec>().unwrap().to_string(), text);
        }
        assert!("some".parse::<PlacementSpec>().is_err());
        assert!("clusters=".parse::<PlacementSpec>().is_err());
        assert!("labels=env".parse::<PlacementSpec>().is_err());
        assert!("zones=a".parse::<PlacementSpec>().is_err());
    }

    #[test]
    fn a_generated_placement_selects_the_namespaces_and_cluster_scoped_objects() {
        let mut manifests = app();
        let spec: PlacementSpec = "labels=env=prod".parse().unwrap();
        let p = wrap(&mut manifests, Some(&spec), "shop", "default").unwrap();
        assert_eq!(p.name, "shop");
        assert_eq!(p.origin.file.as_ref(), "--placement");
        assert!(!p.external);
        let crp = &manifests.last().unwrap().object;
        let selected: Vec<String> = crp["spec"]["resourceSelectors"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| {
                format!(
                    "{} {}",
                    s["kind"].as_str().unwrap(),
                    s["name"].as_str().unwrap()
                )
            })
            .collect();
        assert_eq!(
            selected,
            ["Namespace default", "Namespace shop", "ClusterRole reader"]
        );
        assert_eq!(
            crp["spec"]["policy"]["affinity"]["clusterAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]
                ["clusterSelectorTerms"][0]["labelSelector"]["matchLabels"]["env"],
            "prod"
        );
    }

    #[test]
    fn the_manifests_own_placement_is_used_and_conflicts_are_refused() {
        let mut manifests = app();
        manifests.push(m(json!({
            "apiVersion": "placement.kubernetes-fleet.io/v1beta1", "kind": "ClusterResourcePlacement",
            "metadata": {"name": "mine"}, "spec": {"strategy": {"type": "External"}}
        })));
        let p = wrap(&mut manifests, None, "x", "default").unwrap();
        assert_eq!(
            (p.name.as_str(), p.version(), p.external),
            ("mine", "v1beta1", true)
        );
        let err = wrap(&mut manifests, Some(&PlacementSpec::All), "x", "default").unwrap_err();
        assert!(err.to_string().contains("drop --placement"), "{err}");
        let err = wrap(&mut app(), None, "x", "default").unwrap_err();
        assert!(err.to_string().contains("--placement all"), "{err}");
    }
}
