//! What to track: [`TrackTarget`]s, and a minimal resolver from rendered manifests to them.
//!
//! NOTE: [`resolve`] asks the API server about each group/version/kind with
//! `kube::discovery::pinned_kind`. Once the plan stage's discovery lands on main, `kpush status`
//! should reuse that and this resolver should shrink to [`TrackTarget::from_parts`].

use std::collections::BTreeMap;

use kube::Client;
use kube::core::GroupVersionKind;
use kube::discovery::{ApiCapabilities, ApiResource, Scope};
use thiserror::Error;

use crate::manifest::{Manifest, ObjectKey};
use crate::report::ObjectRef;

/// One object to wait for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrackTarget {
    /// The object and the file:line it came from.
    pub object: ObjectRef,
    /// The resource to watch (group, version, kind, plural).
    pub resource: ApiResource,
    /// Namespace of a namespaced object; `None` for cluster-scoped ones.
    pub namespace: Option<String>,
    /// metadata.name.
    pub name: String,
    /// True when the kind is known to report status (a custom resource with a status
    /// subresource): the generic rule then waits for status instead of declaring success.
    pub expects_status: bool,
    /// metadata.generation returned by the apply, if known: older copies never count.
    pub generation: Option<i64>,
}

/// Workload kinds whose pods kpush watches and diagnoses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WorkloadKind {
    /// apps/v1 Deployment.
    Deployment,
    /// apps/v1 StatefulSet.
    StatefulSet,
    /// apps/v1 DaemonSet.
    DaemonSet,
    /// apps/v1 ReplicaSet.
    ReplicaSet,
    /// batch/v1 Job.
    Job,
    /// A bare v1 Pod (the object itself is the pod).
    Pod,
}

impl TrackTarget {
    /// A target for an object of `resource`; `namespace` must be `None` for cluster-scoped kinds.
    pub fn from_parts(
        object: ObjectRef,
        resource: ApiResource,
        namespace: Option<String>,
        expects_status: bool,
        generation: Option<i64>,
    ) -> Self {
        let name = object.name.clone();
        Self {
            object,
            resource,
            namespace,
            name,
            expects_status,
            generation,
        }
    }

    /// The workload kind, if kpush looks at this object's pods.
    pub fn workload(&self) -> Option<WorkloadKind> {
        match (self.resource.group.as_str(), self.resource.kind.as_str()) {
            ("apps", "Deployment") => Some(WorkloadKind::Deployment),
            ("apps", "StatefulSet") => Some(WorkloadKind::StatefulSet),
            ("apps", "DaemonSet") => Some(WorkloadKind::DaemonSet),
            ("apps", "ReplicaSet") => Some(WorkloadKind::ReplicaSet),
            ("batch", "Job") => Some(WorkloadKind::Job),
            ("", "Pod") => Some(WorkloadKind::Pod),
            _ => None,
        }
    }
}

/// Why manifests could not be turned into targets.
#[derive(Debug, Error)]
pub enum TargetError {
    /// The cluster does not serve the object's kind (missing CRD, wrong apiVersion).
    #[error(
        "{object} ({origin}): the cluster does not serve {api_version} {kind}: {reason}\n  \
         fix: check apiVersion and kind, or install the CustomResourceDefinition that defines it"
    )]
    UnknownKind {
        /// The object.
        object: ObjectKey,
        /// Where it was written.
        origin: crate::Origin,
        /// Its apiVersion.
        api_version: String,
        /// Its kind.
        kind: String,
        /// The API server's answer.
        reason: String,
    },
    /// The API server could not be asked.
    #[error("cannot read the API server's discovery information: {0}")]
    Discovery(#[source] kube::Error),
}

impl TargetError {
    /// True when the cluster could not be reached or refused kpush's credentials.
    pub fn is_unreachable(&self) -> bool {
        matches!(self, TargetError::Discovery(_))
    }
}

/// Resolves each manifest's kind against the cluster and returns one target per manifest.
///
/// Namespaced objects without a namespace get the client's default namespace.
pub async fn resolve(
    client: &Client,
    manifests: &[Manifest],
) -> Result<Vec<TrackTarget>, TargetError> {
    let mut kinds: BTreeMap<(String, String, String), (ApiResource, ApiCapabilities)> =
        BTreeMap::new();
    let mut targets = Vec::with_capacity(manifests.len());
    for m in manifests {
        let key = (
            m.group().to_string(),
            m.version().to_string(),
            m.kind().to_string(),
        );
        if !kinds.contains_key(&key) {
            let gvk = GroupVersionKind::gvk(&key.0, &key.1, &key.2);
            match kube::discovery::pinned_kind(client, &gvk).await {
                Ok(found) => {
                    kinds.insert(key.clone(), found);
                }
                Err(kube::Error::Api(s)) if s.code == 404 => {
                    return Err(unknown(m, format!("{} ({})", s.message, s.reason)));
                }
                Err(kube::Error::Discovery(e)) => return Err(unknown(m, e.to_string())),
                Err(e) => return Err(TargetError::Discovery(e)),
            }
        }
        let Some((resource, caps)) = kinds.get(&key) else {
            continue;
        };
        let namespace = match caps.scope {
            Scope::Cluster => None,
            Scope::Namespaced => Some(
                m.namespace()
                    .map(str::to_string)
                    .unwrap_or_else(|| client.default_namespace().to_string()),
            ),
        };
        let mut key = m.key();
        key.namespace = namespace.clone();
        let expects_status = is_custom_group(&resource.group)
            && caps.subresources.iter().any(|(r, _)| r.plural == "status");
        targets.push(TrackTarget::from_parts(
            ObjectRef::new(&key, Some(&m.origin)),
            resource.clone(),
            namespace,
            expects_status,
            None,
        ));
    }
    Ok(targets)
}

fn unknown(m: &Manifest, reason: String) -> TargetError {
    TargetError::UnknownKind {
        object: m.key(),
        origin: m.origin.clone(),
        api_version: m.api_version().to_string(),
        kind: m.kind().to_string(),
        reason,
    }
}

/// True for API groups defined by CustomResourceDefinitions rather than Kubernetes itself:
/// their names contain a dot and do not end in `.k8s.io`.
pub fn is_custom_group(group: &str) -> bool {
    group.contains('.') && !group.ends_with(".k8s.io") && group != "k8s.io"
}

/// One tracking target per applied object (unchanged ones too: a broken rollout stays broken).
pub fn of_applied(outcome: &crate::apply::ApplyOutcome) -> Vec<TrackTarget> {
    outcome
        .objects
        .iter()
        .filter(|o| o.is_applied())
        .filter_map(|o| {
            let t = o.target.as_ref()?;
            let mut key = o.key.clone();
            key.namespace = t.namespace.clone();
            Some(TrackTarget::from_parts(
                ObjectRef::new(&key, Some(&o.origin)),
                t.resource.clone(),
                t.namespace.clone(),
                is_custom_group(&t.resource.group) && t.has_status,
                o.generation(),
            ))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn custom_groups_are_dotted_and_not_kubernetes_own() {
        assert!(is_custom_group("example.com"));
        assert!(is_custom_group("cert-manager.io"));
        assert!(!is_custom_group("apps"));
        assert!(!is_custom_group(""));
        assert!(!is_custom_group("networking.k8s.io"));
        assert!(!is_custom_group("apiextensions.k8s.io"));
    }

    #[test]
    fn workload_kind_comes_from_group_and_kind() {
        let gvk = GroupVersionKind::gvk("apps", "v1", "Deployment");
        let t = TrackTarget::from_parts(
            ObjectRef::new(
                &ObjectKey {
                    group: "apps".into(),
                    kind: "Deployment".into(),
                    namespace: Some("a".into()),
                    name: "web".into(),
                },
                None,
            ),
            ApiResource::from_gvk(&gvk),
            Some("a".into()),
            false,
            None,
        );
        assert_eq!(t.workload(), Some(WorkloadKind::Deployment));
        assert_eq!(t.name, "web");
    }
}
