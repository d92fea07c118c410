//! ReplicaSet and ReplicationController: every desired replica available, on current status.

use k8s_openapi::api::apps::v1::ReplicaSet;
use k8s_openapi::api::core::v1::ReplicationController;

use super::Readiness;
use super::status::stale;

/// Whether a ReplicaSet has all its replicas available.
pub fn replica_set(rs: &ReplicaSet) -> Readiness {
    let status = rs.status.as_ref();
    let failure = status
        .and_then(|s| s.conditions.as_deref())
        .unwrap_or_default()
        .iter()
        .find(|c| c.type_ == "ReplicaFailure" && c.status == "True")
        .map(|c| (c.reason.as_deref(), c.message.as_deref()));
    replicas_rule(Counts {
        generation: rs.metadata.generation,
        observed: status.and_then(|s| s.observed_generation),
        desired: rs.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1),
        replicas: status.map(|s| s.replicas).unwrap_or(0),
        available: status.and_then(|s| s.available_replicas.or(s.ready_replicas)),
        failure,
    })
}

/// Whether a ReplicationController has all its replicas available.
pub fn replication_controller(rc: &ReplicationController) -> Readiness {
    let status = rc.status.as_ref();
    let failure = status
        .and_then(|s| s.conditions.as_deref())
        .unwrap_or_default()
        .iter()
        .find(|c| c.type_ == "ReplicaFailure" && c.status == "True")
        .map(|c| (c.reason.as_deref(), c.message.as_deref()));
    replicas_rule(Counts {
        generation: rc.metadata.generation,
        observed: status.and_then(|s| s.observed_generation),
        desired: rc.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1),
        replicas: status.map(|s| s.replicas).unwrap_or(0),
        available: status.and_then(|s| s.available_replicas.or(s.ready_replicas)),
        failure,
    })
}

/// The container images of a pod template or pod spec, in order.
fn images(spec: Option<&serde_json::Value>) -> Vec<&str> {
    spec.and_then(|s| s.get("containers"))
        .and_then(serde_json::Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|c| c.get("image").and_then(serde_json::Value::as_str))
        .collect()
}

/// The ReplicationController's pods (`pods`, those it controls) that run another template's
/// images than its own; fails the rollout when there are any: a ReplicationController never
/// replaces its pods when its template changes, so waiting cannot help.
pub fn replication_controller_pods(
    rc: &serde_json::Value,
    pods: &[serde_json::Value],
) -> Option<Readiness> {
    let wanted = images(rc.pointer("/spec/template/spec"));
    let old: Vec<&serde_json::Value> = pods
        .iter()
        .filter(|p| p.pointer("/metadata/deletionTimestamp").is_none())
        .filter(|p| images(p.get("spec")) != wanted)
        .collect();
    let first = old.first()?;
    let name = first
        .pointer("/metadata/name")
        .and_then(serde_json::Value::as_str)
        .unwrap_or("");
    Some(Readiness::failed(
        "PodsNotReplaced",
        format!(
            "{} of {} pods still run the previous template (pod {name} runs {}, the template \
             says {}): a ReplicationController does not replace its pods when its template \
             changes; delete the old pods, or move to a Deployment",
            old.len(),
            pods.len(),
            images(first.get("spec")).join(", "),
            wanted.join(", ")
        ),
    ))
}

struct Counts<'a> {
    generation: Option<i64>,
    observed: Option<i64>,
    desired: i32,
    replicas: i32,
    available: Option<i32>,
    failure: Option<(Option<&'a str>, Option<&'a str>)>,
}

fn replicas_rule(c: Counts<'_>) -> Readiness {
    if let Some(r) = stale(c.generation, c.observed) {
        return r;
    }
    let available = c.available.unwrap_or(0);
    let waiting = if available < c.desired {
        format!("{available} of {} replicas are available", c.desired)
    } else if c.replicas > c.desired {
        format!(
            "{} surplus replicas are pending termination",
            c.replicas - c.desired
        )
    } else {
        return Readiness::Ready;
    };
    super::replica_failure::while_waiting(waiting, c.failure, false)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    fn rs(status: Value) -> ReplicaSet {
        serde_json::from_value(json!({
            "apiVersion": "apps/v1", "kind": "ReplicaSet",
            "metadata": {"name": "web-abc", "generation": 2},
            "spec": {"replicas": 2},
            "status": status,
        }))
        .expect("fixture")
    }

    fn rc(status: Value) -> ReplicationController {
        serde_json::from_value(json!({
            "apiVersion": "v1", "kind": "ReplicationController",
            "metadata": {"name": "legacy", "generation": 1},
            "spec": {"replicas": 1},
            "status": status,
        }))
        .expect("fixture")
    }

    #[test]
    fn replica_set_with_stale_status_is_not_ready() {
        let r = rs(json!({"observedGeneration": 1, "replicas": 2, "availableReplicas": 2}));
        assert!(!replica_set(&r).is_ready());
    }

    #[test]
    fn replica_set_waits_for_available_replicas() {
        let r = rs(json!({"observedGeneration": 2, "replicas": 2, "availableReplicas": 1}));
        assert_eq!(
            replica_set(&r),
            Readiness::in_progress("1 of 2 replicas are available")
        );
        let r = rs(json!({"observedGeneration": 2, "replicas": 2, "availableReplicas": 2}));
        assert_eq!(replica_set(&r), Readiness::Ready);
    }

    #[test]
    fn replica_set_quotes_replica_failure_while_waiting() {
        let r = rs(json!({
            "observedGeneration": 2, "replicas": 0,
            "conditions": [{"type": "ReplicaFailure", "status": "True", "reason": "FailedCreate", "message": "quota"}]
        }));
        assert_eq!(
            replica_set(&r),
            Readiness::in_progress("0 of 2 replicas are available (FailedCreate: quota)")
        );
    }

    #[test]
    fn replication_controller_with_pods_of_an_older_image_fails() {
        let rc = json!({"spec": {"template": {"spec": {"containers": [{"name": "a", "image": "web:2"}]}}}});
        let pod = |name: &str, image: &str| json!({"metadata": {"name": name}, "spec": {"containers": [{"name": "a", "image": image}]}});
        let r = replication_controller_pods(&rc, &[pod("p1", "web:1"), pod("p2", "web:2")])
            .expect("fails");
        assert!(
            matches!(&r, Readiness::Failed { reason, message } if reason == "PodsNotReplaced" && message.starts_with("1 of 2 pods")),
            "{r:?}"
        );
        assert_eq!(
            replication_controller_pods(&rc, &[pod("p2", "web:2")]),
            None
        );
    }

    #[test]
    fn replication_controller_uses_ready_replicas_when_available_is_missing() {
        assert_eq!(
            replication_controller(&rc(
                json!({"observedGeneration": 1, "replicas": 1, "readyReplicas": 1})
            )),
            Readiness::Ready
        );
        assert!(
            !replication_controller(&rc(json!({"observedGeneration": 1, "replicas": 1})))
                .is_ready()
        );
    }
}
