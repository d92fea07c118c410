//! The permissions `kpush apply` needs for a manifest set: every request it makes, as a verb
//! on a resource in a namespace, with the step that makes it. `kpush rbac` prints them as
//! Roles; the apply's access check asks the API server about each before changing anything.
//!
//! What each step sends (the code it mirrors in brackets):
//! - apply [`super::live`], [`super::preflight`], `apply::ssa`, `apply::adopt`: GET each object
//!   (LIST its collection when more than [`super::live::LIST_THRESHOLD`] objects share it), a
//!   server-side apply PATCH with `dryRun=All`, then the PATCH; an apply that creates the object
//!   is also authorized as `create`. CRDs are read until Established (GET, included).
//! - `--recreate-on-immutable` and chart hooks with a delete policy: DELETE.
//! - Roles and bindings among the manifests: RBAC's escalation check wants `escalate` on each
//!   role and `bind` on the role each binding names (by name), unless the identity holds all
//!   they grant ([`Grant`]).
//! - tracking (`--wait`) `track::watch`: LIST and WATCH of every applied object's resource in
//!   its namespace; pods and events in namespaces with workloads; ReplicaSets with
//!   Deployments; events with claims. Optional: `pods/log` and StorageClasses.
//! - a release (`--release`) `apply::parent`, `apply::prune`, `release::store`,
//!   `release::lock`: the ApplySet parent Secret (GET, server-side apply); revisions as Secrets
//!   (LIST, GET, CREATE, PATCH, DELETE); a Lease (GET, CREATE, UPDATE, DELETE); with prune, LIST
//!   and DELETE of every member kind (also kinds and namespaces the parent recorded before) in
//!   every namespace of the set.
//!
//! - requests made beside the stages (a fleet deploy's placement, snapshots and staged update
//!   runs on the hub, which the fleet module derives from its own code): taken as they come in
//!   [`Settings::beside`] and merged with the rest.
//!
//! Discovery (`/api`, `/apis`, `/version`) is open to every authenticated user
//! (`system:discovery`) and the access check's own SelfSubjectAccessReviews to everyone
//! (`system:basic-user`): neither appears here.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use kube::core::ApiResource;

use super::applyset::ApplySet;
use super::discovery::{Catalog, SetDefinedKind};
use super::live::LIST_THRESHOLD;
use crate::event::permission::verb_rank;
use crate::event::{Need, Permission};
use crate::manifest::Manifest;

/// One object of the set, resolved to its resource and namespace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    /// Group, version, kind, plural.
    pub resource: ApiResource,
    /// Namespace of a namespaced object; `None` for cluster-scoped ones.
    pub namespace: Option<String>,
    /// A chart hook: applied and tracked in its phase, never a member of the release (so never
    /// pruned).
    pub hook: bool,
    /// A chart hook deleted by its `helm.sh/hook-delete-policy` (Helm's default,
    /// `before-hook-creation`, included).
    pub hook_deletes: bool,
    /// A claim naming a StorageClass.
    pub storage_class: bool,
    /// A Role, ClusterRole or binding: what creating it takes beyond `create`.
    pub grant: Option<Grant>,
}

const RBAC_GROUP: &str = "rbac.authorization.k8s.io";

/// Kubernetes RBAC lets an identity create a role only with the permissions it grants (or
/// `escalate` on it), and a binding only with the permissions of the role it names (or `bind`
/// on that role). kpush cannot tell which; `kpush rbac` grants the verb, by name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grant {
    /// `escalate` (roles) or `bind` (bindings).
    pub verb: &'static str,
    /// `roles` or `clusterroles`.
    pub resource: &'static str,
    /// The namespace it is checked in; `None`: cluster-wide.
    pub namespace: Option<String>,
    /// The role's name.
    pub name: String,
    /// Why.
    pub need: Need,
}

/// What creating `m` takes beyond `create`, if it is a role or a binding.
fn grant_of(m: &Manifest, namespace: Option<&str>) -> Option<Grant> {
    if m.group() != RBAC_GROUP {
        return None;
    }
    let ns = namespace.map(str::to_string);
    let role_ref = || {
        let kind = m.object.pointer("/roleRef/kind")?.as_str()?;
        let name = m.object.pointer("/roleRef/name")?.as_str()?.to_string();
        Some((kind == "Role", name))
    };
    let (verb, role, namespace, name, need) = match m.kind() {
        "Role" => ("escalate", true, ns, m.name().to_string(), Need::GrantRoles),
        "ClusterRole" => (
            "escalate",
            false,
            None,
            m.name().to_string(),
            Need::GrantRoles,
        ),
        "RoleBinding" => {
            let (role, name) = role_ref()?;
            ("bind", role, ns, name, Need::BindRoles)
        }
        "ClusterRoleBinding" => {
            let (_, name) = role_ref()?;
            ("bind", false, None, name, Need::BindRoles)
        }
        _ => return None,
    };
    Some(Grant {
        verb,
        resource: if role { "roles" } else { "clusterroles" },
        namespace,
        name,
        need,
    })
}

/// Kinds and namespaces the release's ApplySet parent recorded before this apply (prune looks
/// there too).
#[derive(Debug, Clone, Default)]
pub struct Recorded {
    /// Resolved kinds (resource, namespaced).
    pub kinds: Vec<(ApiResource, bool)>,
    /// Namespaces.
    pub namespaces: BTreeSet<String>,
}

/// The apply settings that change what is needed.
#[derive(Debug, Clone, Default)]
pub struct Settings {
    /// Tracking (`--wait`, on by default).
    pub wait: bool,
    /// Failing containers' logs are read (`--log-lines` > 0).
    pub logs: bool,
    /// The release's ApplySet (`--release`): its parent, records and lock live in its namespace.
    pub release: Option<ApplySet>,
    /// Prune (on by default with a release).
    pub prune: bool,
    /// `--prune-namespaces-and-crds`.
    pub prune_namespaces_and_crds: bool,
    /// `--recreate-on-immutable`.
    pub recreate_on_immutable: bool,
    /// Permissions of requests made beside the stages (a fleet deploy's own, on the hub),
    /// merged with the rest.
    pub beside: Vec<Permission>,
}

/// How a kind resolves: its resource and whether it is namespaced.
pub type Resolved = (ApiResource, bool);

/// Resolves `m`'s kind with the cluster's discovery, or with a CRD of the set.
pub fn resolve_with(
    catalog: &Catalog,
    crds: &HashMap<(String, String), SetDefinedKind>,
    m: &Manifest,
) -> Option<Resolved> {
    match catalog.resolve(m.api_version(), m.kind()) {
        Some(s) => Some((s.resource.clone(), s.namespaced)),
        None => defined_by_set(crds, m),
    }
}

/// Resolves `m`'s kind with a CRD among the manifests (`crds` from
/// [`super::discovery::kinds_defined_by_crds`]).
pub fn defined_by_set(
    crds: &HashMap<(String, String), SetDefinedKind>,
    m: &Manifest,
) -> Option<Resolved> {
    let def = crds.get(&(m.group().to_string(), m.kind().to_string()))?;
    let resource = ApiResource {
        group: m.group().to_string(),
        version: m.version().to_string(),
        api_version: m.api_version().to_string(),
        kind: m.kind().to_string(),
        plural: def.plural.clone(),
    };
    Some((resource, def.namespaced))
}

/// The set's members (namespaced objects without a namespace go to `default_ns`), and the
/// objects whose kind `resolve` does not know.
pub fn members<'m>(
    manifests: &'m [Manifest],
    default_ns: &str,
    resolve: impl Fn(&Manifest) -> Option<Resolved>,
) -> (Vec<Member>, Vec<&'m Manifest>) {
    let mut out = Vec::with_capacity(manifests.len());
    let mut unknown = Vec::new();
    for m in manifests {
        let Some((resource, namespaced)) = resolve(m) else {
            unknown.push(m);
            continue;
        };
        let hook = super::hooks::hook_of(m);
        let hook_deletes = hook
            .as_ref()
            .is_some_and(|h| h.delete.before_creation || h.delete.succeeded || h.delete.failed);
        let storage_class = m.group().is_empty()
            && m.kind() == "PersistentVolumeClaim"
            && m.object.pointer("/spec/storageClassName").is_some();
        let namespace = namespaced.then(|| m.namespace().unwrap_or(default_ns).to_string());
        out.push(Member {
            grant: grant_of(m, namespace.as_deref()),
            namespace,
            resource,
            hook: hook.is_some(),
            hook_deletes,
            storage_class,
        });
    }
    (out, unknown)
}

/// Everything `kpush apply` with `settings` needs for `members`, sorted by namespace
/// (cluster-wide first), group, resource and verb.
pub fn required(members: &[Member], recorded: &Recorded, settings: &Settings) -> Vec<Permission> {
    let mut acc = Needs::default();
    let mut per_collection: BTreeMap<(String, String, Option<String>), usize> = BTreeMap::new();
    for m in members {
        let r = &m.resource;
        let ns = m.namespace.as_deref();
        acc.add(r, ns, &["get", "create", "patch"], Need::Apply);
        *per_collection
            .entry((r.group.clone(), r.plural.clone(), m.namespace.clone()))
            .or_default() += 1;
        if settings.recreate_on_immutable {
            acc.add(r, ns, &["delete"], Need::Recreate);
        }
        if m.hook_deletes {
            acc.add(r, ns, &["delete"], Need::HookDelete);
        }
        if let Some(g) = &m.grant {
            acc.grant(g);
        }
    }
    for ((group, plural, ns), n) in per_collection {
        if n > LIST_THRESHOLD {
            acc.insert(&group, &plural, None, ns.as_deref(), "list", Need::ReadLive);
        }
    }
    if settings.wait {
        track(&mut acc, members, settings.logs);
    }
    if let Some(set) = &settings.release {
        release(&mut acc, set);
        if settings.prune {
            prune(&mut acc, members, recorded, set, settings);
        }
    }
    for p in &settings.beside {
        acc.permission(p);
    }
    acc.into_permissions()
}

/// Watches of `track`: every object's collection, and pods, ReplicaSets and events where
/// workloads are.
fn track(acc: &mut Needs, members: &[Member], logs: bool) {
    const WATCH: &[&str] = &["list", "watch"];
    for m in members {
        let r = &m.resource;
        let ns = m.namespace.as_deref();
        acc.add(r, ns, WATCH, Need::Track);
        let Some(ns) = ns else { continue };
        let kind = (r.group.as_str(), r.kind.as_str());
        let workload = matches!(
            kind,
            (
                "apps",
                "Deployment" | "StatefulSet" | "DaemonSet" | "ReplicaSet"
            ) | ("batch", "Job")
                | ("", "ReplicationController" | "Pod")
        );
        if workload && kind != ("", "Pod") {
            for verb in WATCH {
                acc.insert("", "pods", None, Some(ns), verb, Need::TrackPods);
            }
        }
        if kind == ("apps", "Deployment") {
            for verb in WATCH {
                acc.insert(
                    "apps",
                    "replicasets",
                    None,
                    Some(ns),
                    verb,
                    Need::TrackReplicaSets,
                );
            }
        }
        if workload || kind == ("", "PersistentVolumeClaim") {
            for verb in WATCH {
                acc.insert("", "events", None, Some(ns), verb, Need::TrackEvents);
            }
        }
        if workload && logs {
            acc.insert("", "pods", Some("log"), Some(ns), "get", Need::Logs);
        }
        if m.storage_class {
            acc.insert(
                "storage.k8s.io",
                "storageclasses",
                None,
                None,
                "get",
                Need::StorageClasses,
            );
        }
    }
}

/// The release's parent Secret, revision Secrets and Lease, in its namespace.
fn release(acc: &mut Needs, set: &ApplySet) {
    let ns = Some(set.namespace.as_str());
    for verb in ["get", "create", "patch"] {
        acc.insert("", "secrets", None, ns, verb, Need::ApplySetParent);
    }
    for verb in ["get", "list", "create", "patch", "delete"] {
        acc.insert("", "secrets", None, ns, verb, Need::ReleaseRecords);
    }
    for verb in ["get", "create", "update", "delete"] {
        acc.insert(
            "coordination.k8s.io",
            "leases",
            None,
            ns,
            verb,
            Need::ReleaseLock,
        );
    }
}

/// LIST and DELETE of every member kind, old and new, in every namespace of the set.
fn prune(
    acc: &mut Needs,
    members: &[Member],
    recorded: &Recorded,
    set: &ApplySet,
    settings: &Settings,
) {
    let mut kinds: BTreeMap<(String, String), Resolved> = BTreeMap::new();
    let mut namespaces = recorded.namespaces.clone();
    namespaces.insert(set.namespace.clone());
    for m in members.iter().filter(|m| !m.hook) {
        let key = (m.resource.group.clone(), m.resource.kind.clone());
        kinds.insert(key, (m.resource.clone(), m.namespace.is_some()));
        namespaces.extend(m.namespace.clone());
    }
    for (r, namespaced) in &recorded.kinds {
        kinds
            .entry((r.group.clone(), r.kind.clone()))
            .or_insert_with(|| (r.clone(), *namespaced));
    }
    for (r, namespaced) in kinds.values() {
        let definition = (r.group.is_empty() && r.kind == "Namespace")
            || (r.group == "apiextensions.k8s.io" && r.kind == "CustomResourceDefinition");
        let verbs: &[&str] = match definition && !settings.prune_namespaces_and_crds {
            true => &["list"],
            false => &["list", "delete"],
        };
        let places: Vec<Option<&str>> = match namespaced {
            true => namespaces.iter().map(|n| Some(n.as_str())).collect(),
            false => vec![None],
        };
        for ns in places {
            for verb in verbs {
                let need = match *verb {
                    "list" => Need::PruneList,
                    _ => Need::PruneDelete,
                };
                acc.insert(&r.group, &r.plural, None, ns, verb, need);
            }
        }
    }
}

type Key = (
    Option<String>,
    String,
    String,
    Option<String>,
    Option<String>,
    String,
);

/// Needs gathered per (namespace, group, resource, subresource, name, verb).
#[derive(Default)]
struct Needs(BTreeMap<Key, BTreeSet<Need>>);

impl Needs {
    fn add(&mut self, r: &ApiResource, ns: Option<&str>, verbs: &[&str], need: Need) {
        for verb in verbs {
            self.insert(&r.group, &r.plural, None, ns, verb, need);
        }
    }

    fn insert(
        &mut self,
        group: &str,
        resource: &str,
        subresource: Option<&str>,
        ns: Option<&str>,
        verb: &str,
        need: Need,
    ) {
        let key = (
            ns.map(str::to_string),
            group.to_string(),
            resource.to_string(),
            subresource.map(str::to_string),
            None,
            verb.to_string(),
        );
        self.0.entry(key).or_default().insert(need);
    }

    /// A permission derived elsewhere, its needs joined with those of the same request.
    fn permission(&mut self, p: &Permission) {
        let key = (
            p.namespace.clone(),
            p.group.clone(),
            p.resource.clone(),
            p.subresource.clone(),
            p.name.clone(),
            p.verb.clone(),
        );
        self.0
            .entry(key)
            .or_default()
            .extend(p.needs.iter().copied());
    }

    /// What creating a role or binding of the set takes beyond `create`.
    fn grant(&mut self, g: &Grant) {
        let key = (
            g.namespace.clone(),
            RBAC_GROUP.to_string(),
            g.resource.to_string(),
            None,
            Some(g.name.clone()),
            g.verb.to_string(),
        );
        self.0.entry(key).or_default().insert(g.need);
    }

    fn into_permissions(self) -> Vec<Permission> {
        let mut out: Vec<Permission> = self
            .0
            .into_iter()
            .map(
                |((namespace, group, resource, subresource, name, verb), needs)| Permission {
                    group,
                    resource,
                    subresource,
                    verb,
                    namespace,
                    name,
                    needs: needs.into_iter().collect(),
                },
            )
            .collect();
        out.sort_by(|a, b| {
            (&a.namespace, &a.group, &a.resource, &a.subresource, &a.name)
                .cmp(&(&b.namespace, &b.group, &b.resource, &b.subresource, &b.name))
                .then(verb_rank(&a.verb).cmp(&verb_rank(&b.verb)))
        });
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manifest::Origin;
    use kube::core::GroupVersionKind;
    use serde_json::json;

    fn member(group: &str, kind: &str, ns: Option<&str>) -> Member {
        Member {
            resource: ApiResource::from_gvk(&GroupVersionKind::gvk(group, "v1", kind)),
            namespace: ns.map(str::to_string),
            hook: false,
            hook_deletes: false,
            storage_class: false,
            grant: None,
        }
    }

    fn verbs(perms: &[Permission], group: &str, resource: &str, ns: Option<&str>) -> Vec<String> {
        perms
            .iter()
            .filter(|p| {
                p.group == group
                    && p.resource == resource
                    && p.subresource.is_none()
                    && p.namespace.as_deref() == ns
            })
            .map(|p| p.verb.clone())
            .collect()
    }

    #[test]
    fn applying_without_waiting_needs_get_create_patch_only() {
        let perms = required(
            &[member("apps", "Deployment", Some("shop"))],
            &Recorded::default(),
            &Settings::default(),
        );
        assert_eq!(
            verbs(&perms, "apps", "deployments", Some("shop")),
            ["get", "create", "patch"]
        );
        assert_eq!(perms.len(), 3, "{perms:?}");
        assert!(perms.iter().all(|p| p.needs == [Need::Apply]));
    }

    #[test]
    fn waiting_for_a_deployment_watches_it_its_pods_replicasets_and_events() {
        let settings = Settings {
            wait: true,
            logs: true,
            ..Settings::default()
        };
        let perms = required(
            &[
                member("apps", "Deployment", Some("shop")),
                member("", "ConfigMap", Some("shop")),
            ],
            &Recorded::default(),
            &settings,
        );
        let shop = Some("shop");
        assert_eq!(
            verbs(&perms, "apps", "deployments", shop),
            ["get", "list", "watch", "create", "patch"]
        );
        assert_eq!(verbs(&perms, "", "pods", shop), ["list", "watch"]);
        assert_eq!(
            verbs(&perms, "apps", "replicasets", shop),
            ["list", "watch"]
        );
        assert_eq!(verbs(&perms, "", "events", shop), ["list", "watch"]);
        let logs = perms
            .iter()
            .find(|p| p.subresource.as_deref() == Some("log"))
            .expect("logs");
        assert!(logs.optional(), "logs are evidence, not a requirement");
        let cm = perms
            .iter()
            .find(|p| p.resource == "configmaps" && p.verb == "watch")
            .expect("configmaps watched");
        assert_eq!(cm.needs, [Need::Track]);
    }

    #[test]
    fn a_release_with_prune_lists_and_deletes_every_kind_in_every_namespace_of_the_set() {
        let set = ApplySet::new("shop", "shop");
        let recorded = Recorded {
            kinds: vec![(
                ApiResource::from_gvk(&GroupVersionKind::gvk("batch", "v1", "CronJob")),
                true,
            )],
            namespaces: ["old".to_string()].into(),
        };
        let settings = Settings {
            release: Some(set),
            prune: true,
            ..Settings::default()
        };
        let perms = required(
            &[
                member("apps", "Deployment", Some("shop")),
                member("", "Namespace", None),
            ],
            &recorded,
            &settings,
        );
        for ns in ["shop", "old"] {
            assert_eq!(
                verbs(&perms, "batch", "cronjobs", Some(ns)),
                ["list", "delete"],
                "a kind recorded before, in {ns}"
            );
            assert!(verbs(&perms, "apps", "deployments", Some(ns)).contains(&"delete".into()));
        }
        assert_eq!(
            verbs(&perms, "", "namespaces", None),
            ["get", "list", "create", "patch"],
            "namespaces are listed but not pruned without --prune-namespaces-and-crds"
        );
        assert_eq!(
            verbs(&perms, "", "secrets", Some("shop")),
            ["get", "list", "create", "patch", "delete"]
        );
        assert_eq!(
            verbs(&perms, "coordination.k8s.io", "leases", Some("shop")),
            ["get", "create", "update", "delete"]
        );
        assert_eq!(perms[0].namespace, None, "cluster-wide first");
    }

    #[test]
    fn roles_need_escalate_and_bindings_bind_on_the_role_they_name() {
        let rbac = |kind: &str, extra: serde_json::Value| {
            let mut o = json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": kind,
                "metadata": {"name": "app"}});
            if let (Some(o), Some(e)) = (o.as_object_mut(), extra.as_object()) {
                o.extend(e.clone());
            }
            Manifest::new(Origin::new("rbac.yaml", 1), o)
        };
        let all = [
            rbac("Role", json!({"rules": []})),
            rbac("ClusterRole", json!({"rules": []})),
            rbac(
                "RoleBinding",
                json!({"roleRef": {"apiGroup": "rbac.authorization.k8s.io",
                "kind": "ClusterRole", "name": "view"}}),
            ),
            rbac(
                "ClusterRoleBinding",
                json!({"roleRef": {"apiGroup": "rbac.authorization.k8s.io",
                "kind": "ClusterRole", "name": "app"}}),
            ),
        ];
        let (members, _) = members(&all, "team", |m| {
            let namespaced = !m.kind().starts_with("Cluster");
            Some((
                ApiResource::from_gvk(&GroupVersionKind::gvk(m.group(), m.version(), m.kind())),
                namespaced,
            ))
        });
        let perms = required(&members, &Recorded::default(), &Settings::default());
        let grants: Vec<String> = perms
            .iter()
            .filter(|p| p.name.is_some())
            .map(|p| p.describe())
            .collect();
        assert_eq!(
            grants,
            [
                "bind clusterroles.rbac.authorization.k8s.io app (cluster-wide)",
                "escalate clusterroles.rbac.authorization.k8s.io app (cluster-wide)",
                "bind clusterroles.rbac.authorization.k8s.io view in namespace team",
                "escalate roles.rbac.authorization.k8s.io app in namespace team",
            ]
        );
        assert!(
            perms
                .iter()
                .filter(|p| p.name.is_some())
                .all(Permission::optional),
            "the check cannot tell whether the identity holds what a role grants: a warning"
        );
    }

    #[test]
    fn permissions_from_beside_the_stages_join_the_same_requests_of_the_set() {
        let crp = ApiResource::from_gvk_with_plural(
            &GroupVersionKind::gvk(
                "placement.kubernetes-fleet.io",
                "v1",
                "ClusterResourcePlacement",
            ),
            "clusterresourceplacements",
        );
        let placement = Member {
            resource: crp,
            ..member("", "Namespace", None)
        };
        let read = |resource: &str, verb: &str, need: Need| Permission {
            group: "placement.kubernetes-fleet.io".into(),
            resource: resource.into(),
            subresource: None,
            verb: verb.into(),
            namespace: None,
            name: None,
            needs: vec![need],
        };
        let settings = Settings {
            beside: vec![
                read("clusterresourceplacements", "get", Need::FleetPlacement),
                read("clusterresourcesnapshots", "list", Need::FleetSnapshots),
            ],
            ..Settings::default()
        };
        let perms = required(&[placement], &Recorded::default(), &settings);
        let group = "placement.kubernetes-fleet.io";
        assert_eq!(
            verbs(&perms, group, "clusterresourceplacements", None),
            ["get", "create", "patch"]
        );
        assert_eq!(
            verbs(&perms, group, "clusterresourcesnapshots", None),
            ["list"]
        );
        let get = perms
            .iter()
            .find(|p| p.resource == "clusterresourceplacements" && p.verb == "get")
            .expect("get");
        assert_eq!(
            get.needs,
            [Need::Apply, Need::FleetPlacement],
            "one rule, both reasons"
        );
        assert_eq!(perms.len(), 4, "{perms:?}");
    }

    #[test]
    fn several_objects_of_a_collection_are_read_with_one_list() {
        let many: Vec<Member> = (0..=LIST_THRESHOLD)
            .map(|_| member("", "ConfigMap", Some("a")))
            .collect();
        let perms = required(&many, &Recorded::default(), &Settings::default());
        let list = perms.iter().find(|p| p.verb == "list").expect("list");
        assert_eq!(list.needs, [Need::ReadLive]);
        let few = required(&many[..1], &Recorded::default(), &Settings::default());
        assert!(few.iter().all(|p| p.verb != "list"));
    }

    #[test]
    fn members_take_the_default_namespace_and_crd_plurals_from_the_set() {
        let crd = Manifest::new(
            Origin::new("crd.yaml", 1),
            json!({"apiVersion":"apiextensions.k8s.io/v1","kind":"CustomResourceDefinition",
              "metadata":{"name":"crontabs.stable.example.com"},
              "spec":{"group":"stable.example.com","scope":"Namespaced",
                "names":{"kind":"CronTab","plural":"crontabs"},"versions":[{"name":"v1"}]}}),
        );
        let cr = Manifest::new(
            Origin::new("cr.yaml", 1),
            json!({"apiVersion":"stable.example.com/v1","kind":"CronTab","metadata":{"name":"x"}}),
        );
        let hook = Manifest::new(
            Origin::new("chart/templates/hook.yaml", 1).from_chart(),
            json!({"apiVersion":"batch/v1","kind":"Job","metadata":{"name":"migrate",
              "annotations":{"helm.sh/hook":"pre-upgrade",
                "helm.sh/hook-delete-policy":"before-hook-creation"}}}),
        );
        let all = [crd, cr, hook];
        let crds = super::super::discovery::kinds_defined_by_crds(&all);
        let (members, unknown) = members(&all, "team", |m| defined_by_set(&crds, m));
        assert_eq!(
            unknown.len(),
            2,
            "the CRD and the Job are not defined by the set"
        );
        assert_eq!(members[0].resource.plural, "crontabs");
        assert_eq!(members[0].namespace.as_deref(), Some("team"));
        let (hooks, _) = super::members(&all[2..], "team", |m| {
            Some((
                ApiResource::from_gvk(&GroupVersionKind::gvk(m.group(), m.version(), m.kind())),
                true,
            ))
        });
        assert!(hooks[0].hook && hooks[0].hook_deletes);
        let settings = Settings {
            release: Some(ApplySet::new("app", "team")),
            prune: true,
            ..Settings::default()
        };
        let perms = required(&hooks, &Recorded::default(), &settings);
        let delete = perms
            .iter()
            .find(|p| p.resource == "jobs" && p.verb == "delete")
            .expect("delete");
        assert_eq!(delete.needs, [Need::HookDelete], "hooks are never pruned");
    }
}
