//! Which pods belong to a workload's newest revision: the ones whose health decides a rollout.
//!
//! Old pods may crash while they are replaced; only the new revision's pods should be passed
//! to [`crate::track::diagnose()`]. Each answer is meaningful once the workload's status has
//! caught up with its generation (the controller writes the new revision's identity there).

use k8s_openapi::api::apps::v1::{DaemonSet, Deployment, ReplicaSet, StatefulSet};
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

/// Annotation holding a Deployment's revision, copied to the ReplicaSet of that revision.
pub const DEPLOYMENT_REVISION: &str = "deployment.kubernetes.io/revision";

/// A workload whose pods can be matched to its newest revision.
#[derive(Debug, Clone, Copy)]
pub enum Workload<'a> {
    /// A Deployment and the ReplicaSets in its namespace (any owner; they are filtered).
    Deployment {
        /// The Deployment.
        deployment: &'a Deployment,
        /// ReplicaSets to search for the Deployment's current one.
        replica_sets: &'a [ReplicaSet],
    },
    /// A ReplicaSet: all its pods are of its one revision.
    ReplicaSet(&'a ReplicaSet),
    /// A StatefulSet.
    StatefulSet(&'a StatefulSet),
    /// A DaemonSet.
    DaemonSet(&'a DaemonSet),
    /// A Job: all its pods count.
    Job(&'a Job),
}

/// True when `pod` belongs to the newest revision of `workload`.
pub fn is_pod_of_new_revision(pod: &Pod, workload: &Workload<'_>) -> bool {
    match workload {
        Workload::Deployment {
            deployment,
            replica_sets,
        } => is_pod_of_new_deployment_revision(pod, deployment, replica_sets),
        Workload::ReplicaSet(rs) => is_pod_of_replica_set(pod, rs),
        Workload::StatefulSet(s) => is_pod_of_new_stateful_set_revision(pod, s),
        Workload::DaemonSet(d) => is_pod_of_new_daemon_set_revision(pod, d),
        Workload::Job(j) => is_pod_of_job(pod, j),
    }
}

/// The Deployment's current ReplicaSet: controlled by it and carrying its revision annotation.
pub fn new_replica_set<'a>(
    deployment: &Deployment,
    replica_sets: &'a [ReplicaSet],
) -> Option<&'a ReplicaSet> {
    let revision = annotation(&deployment.metadata, DEPLOYMENT_REVISION)?;
    replica_sets.iter().find(|rs| {
        same_namespace(&rs.metadata, &deployment.metadata)
            && controlled_by(&rs.metadata, &deployment.metadata)
            && annotation(&rs.metadata, DEPLOYMENT_REVISION) == Some(revision)
    })
}

/// True when `pod` belongs to the Deployment's current ReplicaSet.
pub fn is_pod_of_new_deployment_revision(
    pod: &Pod,
    deployment: &Deployment,
    replica_sets: &[ReplicaSet],
) -> bool {
    new_replica_set(deployment, replica_sets).is_some_and(|rs| is_pod_of_replica_set(pod, rs))
}

/// True when `pod` is controlled by `rs` (by uid, or by `pod-template-hash` when `rs` has no uid).
pub fn is_pod_of_replica_set(pod: &Pod, rs: &ReplicaSet) -> bool {
    if !same_namespace(&pod.metadata, &rs.metadata) {
        return false;
    }
    if rs.metadata.uid.is_some() {
        return controlled_by(&pod.metadata, &rs.metadata);
    }
    let hash = |m: &ObjectMeta| label(m, "pod-template-hash").map(str::to_string);
    hash(&rs.metadata).is_some_and(|h| hash(&pod.metadata).as_deref() == Some(h.as_str()))
}

/// True when `pod` is controlled by the StatefulSet and its `controller-revision-hash` label is
/// the StatefulSet's `status.updateRevision`.
pub fn is_pod_of_new_stateful_set_revision(pod: &Pod, sts: &StatefulSet) -> bool {
    let update = sts
        .status
        .as_ref()
        .and_then(|s| s.update_revision.as_deref());
    same_namespace(&pod.metadata, &sts.metadata)
        && controlled_by(&pod.metadata, &sts.metadata)
        && update.is_some_and(|u| label(&pod.metadata, "controller-revision-hash") == Some(u))
}

/// True when `pod` is controlled by the DaemonSet and its `pod-template-generation` label is
/// the DaemonSet's template generation.
///
/// The template generation is the `deprecated.daemonset.template.generation` annotation that
/// the API server maintains (it moves only when the template changes), else
/// `metadata.generation`.
pub fn is_pod_of_new_daemon_set_revision(pod: &Pod, ds: &DaemonSet) -> bool {
    let generation = annotation(&ds.metadata, "deprecated.daemonset.template.generation")
        .map(str::to_string)
        .or_else(|| ds.metadata.generation.map(|g| g.to_string()));
    same_namespace(&pod.metadata, &ds.metadata)
        && controlled_by(&pod.metadata, &ds.metadata)
        && generation.is_some_and(|g| label(&pod.metadata, "pod-template-generation") == Some(&g))
}

/// True when `pod` was created by the Job: its controller-uid label (or owner) is the Job's
/// uid, or, when the Job has no uid, its job-name label is the Job's name.
pub fn is_pod_of_job(pod: &Pod, job: &Job) -> bool {
    if !same_namespace(&pod.metadata, &job.metadata) {
        return false;
    }
    let labelled =
        |keys: &[&str], want: &str| keys.iter().any(|k| label(&pod.metadata, k) == Some(want));
    match (job.metadata.uid.as_deref(), job.metadata.name.as_deref()) {
        (Some(uid), _) => {
            labelled(
                &["batch.kubernetes.io/controller-uid", "controller-uid"],
                uid,
            ) || controlled_by(&pod.metadata, &job.metadata)
        }
        (None, Some(name)) => labelled(&["batch.kubernetes.io/job-name", "job-name"], name),
        (None, None) => false,
    }
}

fn annotation<'a>(meta: &'a ObjectMeta, key: &str) -> Option<&'a str> {
    meta.annotations.as_ref()?.get(key).map(String::as_str)
}

fn label<'a>(meta: &'a ObjectMeta, key: &str) -> Option<&'a str> {
    meta.labels.as_ref()?.get(key).map(String::as_str)
}

/// True when `child` has a controller owner reference to `owner`'s uid; true as well when
/// `owner` has no uid (not read from a cluster), as nothing can be checked.
fn controlled_by(child: &ObjectMeta, owner: &ObjectMeta) -> bool {
    let Some(uid) = owner.uid.as_deref() else {
        return true;
    };
    child
        .owner_references
        .iter()
        .flatten()
        .any(|r| r.uid == uid && r.controller == Some(true))
}

fn same_namespace(a: &ObjectMeta, b: &ObjectMeta) -> bool {
    match (a.namespace.as_deref(), b.namespace.as_deref()) {
        (Some(x), Some(y)) => x == y,
        _ => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    fn owned(kind: &str, uid: &str) -> Value {
        json!([{"apiVersion": "apps/v1", "kind": kind, "name": "owner", "uid": uid, "controller": true}])
    }

    fn pod(labels: Value, owners: Value) -> Pod {
        serde_json::from_value(json!({
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": "p", "namespace": "prod", "labels": labels, "ownerReferences": owners},
        }))
        .expect("pod")
    }

    fn replica_set(uid: &str, revision: &str, owner_uid: &str) -> ReplicaSet {
        serde_json::from_value(json!({
            "apiVersion": "apps/v1", "kind": "ReplicaSet",
            "metadata": {
                "name": format!("web-{revision}"), "namespace": "prod", "uid": uid,
                "annotations": {"deployment.kubernetes.io/revision": revision},
                "ownerReferences": owned("Deployment", owner_uid),
            },
        }))
        .expect("rs")
    }

    fn deployment(revision: &str) -> Deployment {
        serde_json::from_value(json!({
            "apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "web", "namespace": "prod", "uid": "dep-uid",
                         "annotations": {"deployment.kubernetes.io/revision": revision}},
        }))
        .expect("deployment")
    }

    #[test]
    fn new_replica_set_is_the_owned_one_with_the_deployment_revision() {
        let sets = [
            replica_set("rs-1", "1", "dep-uid"),
            replica_set("rs-other", "2", "someone-else"),
            replica_set("rs-2", "2", "dep-uid"),
        ];
        let rs = new_replica_set(&deployment("2"), &sets).expect("found");
        assert_eq!(rs.metadata.uid.as_deref(), Some("rs-2"));
        assert!(new_replica_set(&deployment("3"), &sets).is_none());
    }

    #[test]
    fn only_pods_of_the_new_replica_set_are_new() {
        let sets = [
            replica_set("rs-1", "1", "dep-uid"),
            replica_set("rs-2", "2", "dep-uid"),
        ];
        let d = deployment("2");
        let workload = Workload::Deployment {
            deployment: &d,
            replica_sets: &sets,
        };
        assert!(is_pod_of_new_revision(
            &pod(json!({}), owned("ReplicaSet", "rs-2")),
            &workload
        ));
        assert!(!is_pod_of_new_revision(
            &pod(json!({}), owned("ReplicaSet", "rs-1")),
            &workload
        ));
    }

    #[test]
    fn stateful_set_pods_are_new_when_their_revision_hash_is_the_update_revision() {
        let sts: StatefulSet = serde_json::from_value(json!({
            "apiVersion": "apps/v1", "kind": "StatefulSet",
            "metadata": {"name": "db", "namespace": "prod", "uid": "sts-uid"},
            "status": {"replicas": 2, "updateRevision": "db-6c8", "currentRevision": "db-5b7"},
        }))
        .expect("sts");
        let owners = owned("StatefulSet", "sts-uid");
        assert!(is_pod_of_new_stateful_set_revision(
            &pod(
                json!({"controller-revision-hash": "db-6c8"}),
                owners.clone()
            ),
            &sts
        ));
        assert!(!is_pod_of_new_stateful_set_revision(
            &pod(json!({"controller-revision-hash": "db-5b7"}), owners),
            &sts
        ));
    }

    #[test]
    fn daemon_set_pods_are_new_when_their_template_generation_matches() {
        let mut ds: DaemonSet = serde_json::from_value(json!({
            "apiVersion": "apps/v1", "kind": "DaemonSet",
            "metadata": {"name": "agent", "namespace": "prod", "uid": "ds-uid", "generation": 4},
        }))
        .expect("ds");
        let owners = owned("DaemonSet", "ds-uid");
        let new = pod(json!({"pod-template-generation": "4"}), owners.clone());
        let old = pod(json!({"pod-template-generation": "3"}), owners);
        assert!(is_pod_of_new_daemon_set_revision(&new, &ds));
        assert!(!is_pod_of_new_daemon_set_revision(&old, &ds));
        // A spec change outside the template bumps generation but not the template generation.
        ds.metadata.generation = Some(5);
        ds.metadata.annotations = Some(
            [(
                "deprecated.daemonset.template.generation".to_string(),
                "4".to_string(),
            )]
            .into(),
        );
        assert!(is_pod_of_new_daemon_set_revision(&new, &ds));
    }

    #[test]
    fn job_pods_are_matched_by_controller_uid_or_job_name() {
        let mut job: Job = serde_json::from_value(json!({
            "apiVersion": "batch/v1", "kind": "Job",
            "metadata": {"name": "migrate", "namespace": "prod", "uid": "job-uid"},
        }))
        .expect("job");
        let by_uid = pod(
            json!({"batch.kubernetes.io/controller-uid": "job-uid"}),
            json!([]),
        );
        let other = pod(
            json!({"batch.kubernetes.io/controller-uid": "older-job"}),
            json!([]),
        );
        assert!(is_pod_of_new_revision(&by_uid, &Workload::Job(&job)));
        assert!(!is_pod_of_new_revision(&other, &Workload::Job(&job)));
        job.metadata.uid = None;
        assert!(is_pod_of_job(
            &pod(json!({"job-name": "migrate"}), json!([])),
            &job
        ));
    }

    #[test]
    fn pods_in_another_namespace_never_match() {
        let rs = replica_set("rs-2", "2", "dep-uid");
        let mut p = pod(json!({}), owned("ReplicaSet", "rs-2"));
        p.metadata.namespace = Some("staging".into());
        assert!(!is_pod_of_replica_set(&p, &rs));
    }
}
