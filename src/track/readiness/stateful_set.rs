//! StatefulSet: ready pods, then updated pods up to the partition, on current status only.

use k8s_openapi::api::apps::v1::StatefulSet;

use super::Readiness;
use super::status::stale;

/// Whether a StatefulSet has rolled out.
///
/// Status must be for the current generation. With the `OnDelete` strategy that is all (pods
/// change only when someone deletes them). With `RollingUpdate` (the default), for both
/// `OrderedReady` and `Parallel` pod management: no surplus pods, every desired pod ready (and
/// available when `minReadySeconds` is set); then, with a partition, at least
/// `replicas - partition` pods updated; without one, `currentRevision == updateRevision`.
pub fn stateful_set(s: &StatefulSet) -> Readiness {
    let status = s.status.as_ref();
    if let Some(r) = stale(
        s.metadata.generation,
        status.and_then(|s| s.observed_generation),
    ) {
        return r;
    }
    let spec = s.spec.as_ref();
    let strategy = spec.and_then(|s| s.update_strategy.as_ref());
    if strategy.and_then(|s| s.type_.as_deref()) == Some("OnDelete") {
        return Readiness::Ready;
    }
    let desired = spec.and_then(|s| s.replicas).unwrap_or(1);
    let replicas = status.map(|s| s.replicas).unwrap_or(0);
    let ready = status.and_then(|s| s.ready_replicas).unwrap_or(0);
    let updated = status.and_then(|s| s.updated_replicas).unwrap_or(0);
    if replicas > desired {
        return Readiness::in_progress(format!(
            "{} surplus pods are pending termination",
            replicas - desired
        ));
    }
    if ready < desired {
        return Readiness::in_progress(format!("{ready} of {desired} pods are ready"));
    }
    let min_ready = spec.and_then(|s| s.min_ready_seconds).unwrap_or(0);
    if let Some(available) = status.and_then(|s| s.available_replicas)
        && min_ready > 0
        && available < desired
    {
        return Readiness::in_progress(format!("{available} of {desired} pods are available"));
    }
    let partition = strategy
        .and_then(|s| s.rolling_update.as_ref())
        .and_then(|r| r.partition)
        .unwrap_or(0);
    if partition > 0 {
        let wanted = (desired - partition).max(0);
        if updated < wanted {
            return Readiness::in_progress(format!(
                "partitioned rollout: {updated} of {wanted} new pods have been updated"
            ));
        }
        return Readiness::Ready;
    }
    let current = status.and_then(|s| s.current_revision.as_deref());
    match status.and_then(|s| s.update_revision.as_deref()) {
        Some(update) if current != Some(update) => Readiness::in_progress(format!(
            "{updated} of {desired} pods are at revision {update}"
        )),
        _ => Readiness::Ready,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    fn sts(spec: Value, status: Value) -> StatefulSet {
        serde_json::from_value(json!({
            "apiVersion": "apps/v1", "kind": "StatefulSet",
            "metadata": {"name": "db", "generation": 2},
            "spec": spec,
            "status": status,
        }))
        .expect("fixture")
    }

    fn message(r: Readiness) -> String {
        match r {
            Readiness::InProgress { message } => message,
            other => panic!("expected InProgress, got {other:?}"),
        }
    }

    #[test]
    fn stateful_set_with_stale_status_is_not_ready() {
        let s = sts(
            json!({"replicas": 1}),
            json!({"observedGeneration": 1, "replicas": 1, "readyReplicas": 1,
                   "currentRevision": "db-1", "updateRevision": "db-1"}),
        );
        assert!(message(stateful_set(&s)).contains("generation 2"));
    }

    #[test]
    fn stateful_set_rolled_out_is_ready() {
        let s = sts(
            json!({"replicas": 3}),
            json!({"observedGeneration": 2, "replicas": 3, "readyReplicas": 3, "updatedReplicas": 3,
                   "currentRevision": "db-2", "updateRevision": "db-2"}),
        );
        assert_eq!(stateful_set(&s), Readiness::Ready);
    }

    #[test]
    fn stateful_set_waits_for_ready_pods() {
        let s = sts(
            json!({"replicas": 3}),
            json!({"observedGeneration": 2, "replicas": 3, "readyReplicas": 2, "updatedReplicas": 3,
                   "currentRevision": "db-2", "updateRevision": "db-2"}),
        );
        assert_eq!(message(stateful_set(&s)), "2 of 3 pods are ready");
    }

    #[test]
    fn stateful_set_waits_until_current_revision_catches_up() {
        let s = sts(
            json!({"replicas": 3}),
            json!({"observedGeneration": 2, "replicas": 3, "readyReplicas": 3, "updatedReplicas": 1,
                   "currentRevision": "db-1", "updateRevision": "db-2"}),
        );
        assert_eq!(
            message(stateful_set(&s)),
            "1 of 3 pods are at revision db-2"
        );
    }

    #[test]
    fn partitioned_stateful_set_is_ready_when_pods_above_the_partition_are_updated() {
        let spec = json!({"replicas": 5, "updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"partition": 3}}});
        let waiting = sts(
            spec.clone(),
            json!({"observedGeneration": 2, "replicas": 5, "readyReplicas": 5, "updatedReplicas": 1,
                   "currentRevision": "db-1", "updateRevision": "db-2"}),
        );
        assert_eq!(
            message(stateful_set(&waiting)),
            "partitioned rollout: 1 of 2 new pods have been updated"
        );
        // Pods below the partition stay at the old revision, so revisions never converge.
        let done = sts(
            spec,
            json!({"observedGeneration": 2, "replicas": 5, "readyReplicas": 5, "updatedReplicas": 2,
                   "currentRevision": "db-1", "updateRevision": "db-2"}),
        );
        assert_eq!(stateful_set(&done), Readiness::Ready);
    }

    #[test]
    fn partitioned_stateful_set_still_needs_ready_pods() {
        let s = sts(
            json!({"replicas": 3, "updateStrategy": {"rollingUpdate": {"partition": 2}}}),
            json!({"observedGeneration": 2, "replicas": 3, "readyReplicas": 2, "updatedReplicas": 1}),
        );
        assert_eq!(message(stateful_set(&s)), "2 of 3 pods are ready");
    }

    #[test]
    fn partition_above_replicas_needs_no_updated_pods() {
        let s = sts(
            json!({"replicas": 2, "updateStrategy": {"rollingUpdate": {"partition": 5}}}),
            json!({"observedGeneration": 2, "replicas": 2, "readyReplicas": 2, "updatedReplicas": 0}),
        );
        assert_eq!(stateful_set(&s), Readiness::Ready);
    }

    #[test]
    fn on_delete_stateful_set_is_ready_once_observed() {
        let spec = json!({"replicas": 3, "updateStrategy": {"type": "OnDelete"}});
        let s = sts(
            spec.clone(),
            json!({"observedGeneration": 2, "replicas": 3, "readyReplicas": 0}),
        );
        assert_eq!(stateful_set(&s), Readiness::Ready);
        let stale = sts(spec, json!({"observedGeneration": 1, "replicas": 3}));
        assert!(!stateful_set(&stale).is_ready());
    }

    #[test]
    fn parallel_stateful_set_follows_the_same_rule() {
        let s = sts(
            json!({"replicas": 2, "podManagementPolicy": "Parallel"}),
            json!({"observedGeneration": 2, "replicas": 2, "readyReplicas": 1, "updatedReplicas": 2,
                   "currentRevision": "db-2", "updateRevision": "db-2"}),
        );
        assert_eq!(message(stateful_set(&s)), "1 of 2 pods are ready");
    }

    #[test]
    fn stateful_set_with_min_ready_seconds_waits_for_available_pods() {
        let s = sts(
            json!({"replicas": 2, "minReadySeconds": 30}),
            json!({"observedGeneration": 2, "replicas": 2, "readyReplicas": 2, "availableReplicas": 1,
                   "updatedReplicas": 2, "currentRevision": "db-2", "updateRevision": "db-2"}),
        );
        assert_eq!(message(stateful_set(&s)), "1 of 2 pods are available");
    }

    #[test]
    fn stateful_set_scaling_down_waits_for_surplus_pods() {
        let s = sts(
            json!({"replicas": 1}),
            json!({"observedGeneration": 2, "replicas": 3, "readyReplicas": 3, "updatedReplicas": 3,
                   "currentRevision": "db-2", "updateRevision": "db-2"}),
        );
        assert_eq!(
            message(stateful_set(&s)),
            "2 surplus pods are pending termination"
        );
    }
}
