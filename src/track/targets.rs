//! What to track: [`TrackTarget`]s, and the resolver from rendered manifests to them that
//! `kpush status` uses (with the plan's discovery catalogue).

use kube::Client;
use kube::discovery::ApiResource;
use thiserror::Error;

use crate::cluster::{Failure, RetryPolicy};
use crate::event::ObjectRef;
use crate::manifest::Manifest;
use crate::plan::discovery::{Catalog, catalog_for};

/// One object to wait for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrackTarget {
    /// The object (its key holds the namespace it lives in: `None` for cluster-scoped kinds)
    /// and the file:line it came from: the one identity of the object, shared with every
    /// event about it.
    pub object: ObjectRef,
    /// The resource to watch (group, version, kind, plural).
    pub resource: ApiResource,
    /// True when the kind is known to report status (a custom resource with a status
    /// subresource): the generic rule then waits for status instead of declaring success.
    pub expects_status: bool,
    /// metadata.generation returned by the apply, if known: older copies never count.
    pub generation: Option<i64>,
    /// When the apply last wrote the object (server clock), if known: the object's events
    /// from before it belong to earlier rollouts and are left out of explanations.
    pub written_at: Option<k8s_openapi::jiff::Timestamp>,
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
    /// v1 ReplicationController.
    ReplicationController,
    /// A bare v1 Pod (the object itself is the pod).
    Pod,
}

impl TrackTarget {
    /// A target for an object of `resource`; `namespace` must be `None` for cluster-scoped kinds.
    pub fn from_parts(
        mut object: ObjectRef,
        resource: ApiResource,
        namespace: Option<String>,
        expects_status: bool,
        generation: Option<i64>,
    ) -> Self {
        object.key.namespace = namespace;
        Self {
            object,
            resource,
            expects_status,
            generation,
            written_at: None,
        }
    }

    /// metadata.name.
    pub fn name(&self) -> &str {
        &self.object.key.name
    }

    /// The namespace of a namespaced object; `None` for cluster-scoped ones.
    pub fn namespace(&self) -> Option<&str> {
        self.object.key.namespace.as_deref()
    }

    /// The same target, written by the apply at `at` (server clock).
    pub fn written_at(mut self, at: Option<k8s_openapi::jiff::Timestamp>) -> Self {
        self.written_at = at;
        self
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
            ("", "ReplicationController") => Some(WorkloadKind::ReplicationController),
            _ => None,
        }
    }
}

/// Why manifests could not be turned into targets.
#[derive(Debug, Error)]
pub enum TargetError {
    /// The cluster does not serve the object's kind (missing CRD, wrong apiVersion).
    #[error(
        "{}: {reason}\n  fix: check apiVersion and kind, or install the \
         CustomResourceDefinition that defines {}",
        .object.label_at(),
        .object.key.kind
    )]
    UnknownKind {
        /// The object and where it was written.
        object: Box<ObjectRef>,
        /// What the cluster serves instead.
        reason: String,
    },
    /// The API server could not be asked.
    #[error("cannot read the API server's discovery information: {}", .0.message())]
    Discovery(Failure),
}

impl TargetError {
    /// True when the cluster could not be reached or refused kpush's credentials.
    pub fn is_unreachable(&self) -> bool {
        matches!(self, TargetError::Discovery(_))
    }
}

/// Resolves each manifest's kind with the plan's discovery and returns one target per
/// manifest. Namespaced objects without a namespace get the client's default namespace.
pub async fn resolve(
    client: &Client,
    manifests: &[Manifest],
) -> Result<Vec<TrackTarget>, TargetError> {
    let catalog = catalog_for(client, RetryPolicy::default(), manifests)
        .await
        .map_err(TargetError::Discovery)?;
    targets_in(&catalog, client.default_namespace(), manifests)
}

/// One target per manifest, its kind resolved in `catalog`.
pub fn targets_in(
    catalog: &Catalog,
    default_namespace: &str,
    manifests: &[Manifest],
) -> Result<Vec<TrackTarget>, TargetError> {
    let mut targets = Vec::with_capacity(manifests.len());
    for m in manifests {
        let Some(served) = catalog.resolve(m.api_version(), m.kind()) else {
            let reason = if catalog.serves_group_version(m.api_version()) {
                format!(
                    "the cluster serves {} but not kind {}",
                    m.api_version(),
                    m.kind()
                )
            } else {
                format!("the cluster does not serve apiVersion {}", m.api_version())
            };
            return Err(TargetError::UnknownKind {
                object: Box::new(ObjectRef::new(m.key(), Some(m.origin.clone()))),
                reason,
            });
        };
        let namespace = served
            .namespaced
            .then(|| m.namespace().unwrap_or(default_namespace).to_string());
        let mut key = m.key();
        key.namespace = namespace.clone();
        let expects_status = is_custom_group(&served.resource.group) && served.has_status;
        targets.push(TrackTarget::from_parts(
            ObjectRef::new(key, Some(m.origin.clone())),
            served.resource.clone(),
            namespace,
            expects_status,
            None,
        ));
    }
    Ok(targets)
}

/// True for API groups defined by CustomResourceDefinitions rather than Kubernetes itself:
/// their names contain a dot and do not end in `.k8s.io`.
pub fn is_custom_group(group: &str) -> bool {
    group.contains('.') && !group.ends_with(".k8s.io") && group != "k8s.io"
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manifest::ObjectKey;
    use kube::core::GroupVersionKind;

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
                ObjectKey {
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
        assert_eq!(t.name(), "web");
    }
}
