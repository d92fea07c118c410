//! The pods that decide a workload's rollout: those of its newest revision.

use k8s_openapi::api::apps::v1::{DaemonSet, Deployment, ReplicaSet, StatefulSet};
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use serde::de::DeserializeOwned;
use serde_json::Value;

use super::revision::{Workload, is_pod_of_new_revision};
use super::targets::WorkloadKind;

/// True when the controller has seen the object's latest spec (`status.observedGeneration` ≥
/// `metadata.generation`), or the kind keeps no generation (Jobs before 1.25, pods).
pub(crate) fn caught_up(obj: &Value) -> bool {
    let generation = obj.pointer("/metadata/generation").and_then(Value::as_i64);
    let observed = obj
        .pointer("/status/observedGeneration")
        .and_then(Value::as_i64);
    match (generation, observed) {
        (Some(g), Some(o)) => o >= g,
        (Some(_), None) => false,
        (None, _) => true,
    }
}

/// The pods of `obj`'s newest revision among `pods`, ordered by name.
///
/// Empty until the workload's status has caught up with its spec: before that the revision
/// recorded in the status may be the previous one, whose pods must not fail the new rollout.
pub(crate) fn new_revision_pods<'a>(
    kind: WorkloadKind,
    obj: &Value,
    pods: impl Iterator<Item = &'a Pod>,
    replica_sets: &[ReplicaSet],
) -> Vec<&'a Pod> {
    if kind != WorkloadKind::Job && !caught_up(obj) {
        return Vec::new();
    }
    let mut found: Vec<&Pod> = match kind {
        WorkloadKind::Deployment => match typed::<Deployment>(obj) {
            Some(d) => filter(
                pods,
                &Workload::Deployment {
                    deployment: &d,
                    replica_sets,
                },
            ),
            None => Vec::new(),
        },
        WorkloadKind::StatefulSet => typed::<StatefulSet>(obj)
            .map(|s| filter(pods, &Workload::StatefulSet(&s)))
            .unwrap_or_default(),
        WorkloadKind::DaemonSet => typed::<DaemonSet>(obj)
            .map(|d| filter(pods, &Workload::DaemonSet(&d)))
            .unwrap_or_default(),
        WorkloadKind::ReplicaSet => typed::<ReplicaSet>(obj)
            .map(|r| filter(pods, &Workload::ReplicaSet(&r)))
            .unwrap_or_default(),
        WorkloadKind::Job => typed::<Job>(obj)
            .map(|j| filter(pods, &Workload::Job(&j)))
            .unwrap_or_default(),
        WorkloadKind::ReplicationController => {
            let uid = obj.pointer("/metadata/uid").and_then(Value::as_str);
            pods.filter(|p| controlled_by_uid(p, uid)).collect()
        }
        WorkloadKind::Pod => Vec::new(),
    };
    found.sort_by(|a, b| a.metadata.name.cmp(&b.metadata.name));
    found
}

/// Whether `pod` has a controller owner reference with `uid`.
pub(crate) fn controlled_by_uid(pod: &Pod, uid: Option<&str>) -> bool {
    uid.is_some_and(|uid| {
        pod.metadata
            .owner_references
            .iter()
            .flatten()
            .any(|r| r.controller == Some(true) && r.uid == uid)
    })
}

fn filter<'a>(pods: impl Iterator<Item = &'a Pod>, workload: &Workload<'_>) -> Vec<&'a Pod> {
    pods.filter(|p| is_pod_of_new_revision(p, workload))
        .collect()
}

/// The label selector of a workload (`spec.selector`) as a query string, if it has one.
pub(crate) fn selector_of(obj: &Value) -> Option<String> {
    let selector: LabelSelector =
        serde_json::from_value(obj.pointer("/spec/selector")?.clone()).ok()?;
    let selector = kube::core::Selector::try_from(selector).ok()?;
    let text = selector.to_string();
    (!text.is_empty()).then_some(text)
}

/// The newest failed pod among `pods` and its first container that exited non-zero, for
/// explaining a failed Job.
pub(crate) fn last_failed<'a>(pods: &[&'a Pod]) -> Option<(&'a Pod, Option<String>)> {
    let pod = pods
        .iter()
        .filter(|p| p.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Failed"))
        .max_by_key(|p| p.metadata.creation_timestamp.as_ref().map(|t| t.0))?;
    let container = pod.status.as_ref().and_then(|s| {
        s.container_statuses.iter().flatten().find_map(|c| {
            let t = c.state.as_ref()?.terminated.as_ref()?;
            (t.exit_code != 0).then(|| c.name.clone())
        })
    });
    Some((pod, container))
}

/// True when the pod is Running and all its containers are ready.
pub(crate) fn is_ready(pod: &Pod) -> bool {
    pod.status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .is_some_and(|cs| cs.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
}

/// A short fingerprint of the pods' state (phase, readiness, restarts), to notice progress.
pub(crate) fn fingerprint(pods: &[&Pod]) -> String {
    pods.iter()
        .map(|p| {
            let status = p.status.as_ref();
            let restarts: i32 = status
                .and_then(|s| s.container_statuses.as_ref())
                .map(|cs| cs.iter().map(|c| c.restart_count).sum())
                .unwrap_or(0);
            format!(
                "{}:{}:{}:{restarts}",
                p.metadata.name.as_deref().unwrap_or(""),
                status.and_then(|s| s.phase.as_deref()).unwrap_or(""),
                is_ready(p)
            )
        })
        .collect::<Vec<_>>()
        .join(",")
}

pub(crate) fn typed<T: DeserializeOwned>(obj: &Value) -> Option<T> {
    T::deserialize(obj).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn status_for_an_older_generation_has_not_caught_up() {
        let obj = |g: i64, o: Option<i64>| json!({"metadata": {"generation": g}, "status": {"observedGeneration": o}});
        assert!(!caught_up(&obj(2, Some(1))));
        assert!(caught_up(&obj(2, Some(2))));
        assert!(!caught_up(&obj(2, None)));
        assert!(caught_up(&json!({"metadata": {}})));
    }

    #[test]
    fn selector_becomes_a_query_string() {
        let obj = json!({"spec": {"selector": {"matchLabels": {"app": "web"},
            "matchExpressions": [{"key": "tier", "operator": "In", "values": ["a", "b"]}]}}});
        let s = selector_of(&obj).expect("selector");
        assert!(s.contains("app=web"), "{s}");
        assert!(s.contains("tier in (a,b)"), "{s}");
        assert_eq!(selector_of(&json!({"spec": {}})), None);
    }

    #[test]
    fn pods_of_a_deployment_whose_status_lags_are_not_judged() {
        let d = json!({"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "web", "namespace": "a", "generation": 2, "uid": "d"},
            "status": {"observedGeneration": 1}});
        let pod: Pod = serde_json::from_value(json!({"metadata": {"name": "p", "namespace": "a"}}))
            .expect("pod");
        let found = new_revision_pods(WorkloadKind::Deployment, &d, [&pod].into_iter(), &[]);
        assert!(found.is_empty());
    }
}
