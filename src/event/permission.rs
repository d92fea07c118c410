//! Permissions: one verb on one resource in one namespace (or cluster-wide), and why `kpush
//! apply` needs it. `plan::permissions` derives them, `kpush rbac` prints them as Roles and the
//! apply's access check reports the missing ones.

use serde::Serialize;

/// The step of `kpush apply` that makes a request, and so needs a permission.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum Need {
    /// Server-side apply of the set's objects and its dry-run (get, create, patch).
    Apply,
    /// Reading the live objects of a collection holding several of them at once (list).
    ReadLive,
    /// `--recreate-on-immutable`: deleting an object to create it again.
    Recreate,
    /// A chart hook's `helm.sh/hook-delete-policy`.
    HookDelete,
    /// Watching the applied objects until they are ready.
    Track,
    /// Watching the pods of workloads.
    TrackPods,
    /// Watching the ReplicaSets of Deployments.
    TrackReplicaSets,
    /// Watching events (pod failures, claims that do not bind).
    TrackEvents,
    /// The ApplySet parent Secret that records the release's kinds and namespaces.
    ApplySetParent,
    /// Finding members of the release to prune.
    PruneList,
    /// Deleting members of the release no longer in the manifests.
    PruneDelete,
    /// The release's revision records (Secrets).
    ReleaseRecords,
    /// The release's deploy lock (a Lease).
    ReleaseLock,
    /// Reading a failing container's logs (optional: the failure is reported without them).
    Logs,
    /// Reading a claim's StorageClass (optional: its binding mode is then assumed).
    StorageClasses,
    /// Creating the manifests' Roles and ClusterRoles (`escalate`), needed unless the identity
    /// holds every permission they grant.
    GrantRoles,
    /// Creating the manifests' bindings (`bind` on the role they name), needed unless the
    /// identity holds every permission that role grants.
    BindRoles,
    /// A fleet deploy reading its ClusterResourcePlacement on the hub: what it selected before
    /// the deploy, and its status while following the rollout on the members.
    FleetPlacement,
    /// A fleet deploy listing its placement's resource snapshots (which one is newest).
    FleetSnapshots,
    /// A fleet deploy starting and following a ClusterStagedUpdateRun (External strategy).
    FleetStagedRun,
}

impl Need {
    /// What kpush does with the permission, as a phrase after "needed to".
    pub fn text(self) -> &'static str {
        match self {
            Need::Apply => "apply the manifests' objects (server-side apply and its dry-run)",
            Need::ReadLive => "read the live objects of a collection holding several of them",
            Need::Recreate => {
                "delete and create again objects whose immutable fields change \
                 (--recreate-on-immutable)"
            }
            Need::HookDelete => "delete chart hooks as their helm.sh/hook-delete-policy says",
            Need::Track => "watch the applied objects until they are ready (--wait)",
            Need::TrackPods => "watch the workloads' pods (--wait)",
            Need::TrackReplicaSets => "watch the Deployments' ReplicaSets (--wait)",
            Need::TrackEvents => "watch events that explain failures (--wait)",
            Need::ApplySetParent => {
                "record the release's kinds and namespaces in its ApplySet parent Secret"
            }
            Need::PruneList => "find the release's objects to prune",
            Need::PruneDelete => "prune the release's objects that left the manifests",
            Need::ReleaseRecords => "record the release's revisions (Secrets)",
            Need::ReleaseLock => "take the release's deploy lock (a Lease)",
            Need::Logs => "show a failing container's logs (optional)",
            Need::StorageClasses => "read the StorageClass of claims (optional)",
            Need::GrantRoles => {
                "create the manifests' roles (unless the identity holds every permission they \
                 grant)"
            }
            Need::BindRoles => {
                "create the manifests' bindings (unless the identity holds every permission the \
                 role grants)"
            }
            Need::FleetPlacement => {
                "read the placement's status on the Fleet hub: what it selected before the \
                 deploy, then its rollout on the member clusters (--wait)"
            }
            Need::FleetSnapshots => {
                "find the placement's newest resource snapshot on the Fleet hub (--wait)"
            }
            Need::FleetStagedRun => {
                "start and follow the staged update run of an External placement \
                 (--update-strategy)"
            }
        }
    }

    /// True when kpush may work without it: less evidence, or (roles and bindings) the
    /// identity holds what they grant, which a review of this one permission cannot tell. The
    /// access check warns about these instead of refusing.
    pub fn optional(self) -> bool {
        matches!(
            self,
            Need::Logs | Need::StorageClasses | Need::GrantRoles | Need::BindRoles
        )
    }
}

/// One verb on one resource in one namespace, or cluster-wide.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Permission {
    /// API group (`""` for the core group).
    pub group: String,
    /// Resource (plural: `deployments`).
    pub resource: String,
    /// Subresource (`log` of `pods/log`), if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subresource: Option<String>,
    /// Verb (`get`, `list`, `watch`, `create`, `update`, `patch`, `delete`).
    pub verb: String,
    /// Namespace; `None` for cluster-scoped resources.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// The one object it is about (`resourceNames` in a rule), if only one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Why, sorted.
    pub needs: Vec<Need>,
}

impl Permission {
    /// True when every need is optional.
    pub fn optional(&self) -> bool {
        self.needs.iter().all(|n| n.optional())
    }

    /// `deployments.apps`, `pods/log`, `namespaces`: the resource as kubectl spells it.
    pub fn resource_label(&self) -> String {
        let mut r = self.resource.clone();
        if let Some(s) = &self.subresource {
            r = format!("{r}/{s}");
        }
        if self.group.is_empty() {
            r
        } else {
            format!("{r}.{}", self.group)
        }
    }

    /// `patch deployments.apps in namespace shop`, `list namespaces (cluster-wide)`,
    /// `bind clusterroles.rbac.authorization.k8s.io view in namespace shop`.
    pub fn describe(&self) -> String {
        let place = match &self.namespace {
            Some(ns) => format!("in namespace {ns}"),
            None => "(cluster-wide)".to_string(),
        };
        let name = self
            .name
            .as_ref()
            .map(|n| format!(" {n}"))
            .unwrap_or_default();
        format!("{} {}{name} {place}", self.verb, self.resource_label())
    }

    /// The permission as missing: `cannot patch deployments.apps in namespace shop (needed to
    /// …)`.
    pub fn missing(&self) -> String {
        format!("cannot {} (needed to {})", self.describe(), self.why())
    }

    /// Why, as one phrase: the needs joined with `; `.
    pub fn why(&self) -> String {
        self.needs
            .iter()
            .map(|n| n.text())
            .collect::<Vec<_>>()
            .join("; ")
    }
}

/// The order verbs are written in rules: reads, then writes.
pub fn verb_rank(verb: &str) -> usize {
    const ORDER: [&str; 7] = [
        "get", "list", "watch", "create", "update", "patch", "delete",
    ];
    ORDER.iter().position(|v| *v == verb).unwrap_or(ORDER.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn permissions_read_as_kubectl_spells_resources() {
        let p = Permission {
            group: "apps".into(),
            resource: "deployments".into(),
            subresource: None,
            verb: "patch".into(),
            namespace: Some("shop".into()),
            name: None,
            needs: vec![Need::Apply],
        };
        assert_eq!(p.describe(), "patch deployments.apps in namespace shop");
        let logs = Permission {
            group: String::new(),
            resource: "pods".into(),
            subresource: Some("log".into()),
            verb: "get".into(),
            namespace: None,
            name: None,
            needs: vec![Need::Logs],
        };
        assert_eq!(logs.describe(), "get pods/log (cluster-wide)");
        assert!(logs.optional() && !p.optional());
    }
}
