//! Deployment: kubectl's rollout-status rule, applied only to status of the current generation.

use k8s_openapi::api::apps::v1::Deployment;

use super::Readiness;
use super::status::stale;

/// Whether a Deployment has rolled out.
///
/// In order: status must be for the current generation; a `Progressing` condition with reason
/// `ProgressDeadlineExceeded` fails; a paused Deployment is ready (the controller will not roll
/// it out, so waiting could only time out; Helm does the same, kubectl would wait forever);
/// then, as `kubectl rollout status`: all desired replicas updated, no old replicas left, and
/// every updated replica available. A `ReplicaFailure` condition fails at once when waiting will
/// not cure it (quota exceeded, forbidden by PodSecurity or admission), and is quoted otherwise.
pub fn deployment(d: &Deployment) -> Readiness {
    let status = d.status.as_ref();
    if let Some(r) = stale(
        d.metadata.generation,
        status.and_then(|s| s.observed_generation),
    ) {
        return r;
    }
    let conditions = status
        .and_then(|s| s.conditions.as_deref())
        .unwrap_or_default();
    if let Some(c) = conditions.iter().find(|c| {
        c.type_ == "Progressing" && c.reason.as_deref() == Some("ProgressDeadlineExceeded")
    }) {
        let message = c.message.clone().unwrap_or_else(|| {
            "the rollout made no progress within spec.progressDeadlineSeconds".to_string()
        });
        return Readiness::failed("ProgressDeadlineExceeded", message);
    }
    let spec = d.spec.as_ref();
    if spec.and_then(|s| s.paused) == Some(true) {
        return Readiness::Ready;
    }
    let desired = spec.and_then(|s| s.replicas).unwrap_or(1);
    let replicas = status.and_then(|s| s.replicas).unwrap_or(0);
    let updated = status.and_then(|s| s.updated_replicas).unwrap_or(0);
    let available = status.and_then(|s| s.available_replicas).unwrap_or(0);
    let waiting = if updated < desired {
        format!("{updated} out of {desired} new replicas have been updated")
    } else if replicas > updated {
        format!(
            "{} old replicas are pending termination",
            replicas - updated
        )
    } else if available < updated {
        format!("{available} of {updated} updated replicas are available")
    } else {
        return Readiness::Ready;
    };
    let failure = conditions
        .iter()
        .find(|c| c.type_ == "ReplicaFailure" && c.status == "True")
        .map(|c| (c.reason.as_deref(), c.message.as_deref()));
    super::replica_failure::while_waiting(waiting, failure, replicas > updated)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    fn deployment_with(spec: Value, status: Value) -> Deployment {
        serde_json::from_value(json!({
            "apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "web", "namespace": "prod", "generation": 3},
            "spec": spec,
            "status": status,
        }))
        .expect("fixture")
    }

    fn in_progress(r: Readiness) -> String {
        match r {
            Readiness::InProgress { message } => message,
            other => panic!("expected InProgress, got {other:?}"),
        }
    }

    #[test]
    fn deployment_with_stale_status_is_not_ready() {
        // The old status looks complete, but it describes generation 2.
        let d = deployment_with(
            json!({"replicas": 2}),
            json!({"observedGeneration": 2, "replicas": 2, "updatedReplicas": 2, "availableReplicas": 2}),
        );
        assert!(in_progress(deployment(&d)).contains("observe generation 3"));
    }

    #[test]
    fn deployment_without_status_is_not_ready() {
        let d = deployment_with(json!({"replicas": 2}), json!(null));
        assert!(in_progress(deployment(&d)).contains("generation 3"));
    }

    #[test]
    fn deployment_with_all_replicas_updated_and_available_is_ready() {
        let d = deployment_with(
            json!({"replicas": 2}),
            json!({"observedGeneration": 3, "replicas": 2, "updatedReplicas": 2, "availableReplicas": 2}),
        );
        assert_eq!(deployment(&d), Readiness::Ready);
    }

    #[test]
    fn deployment_replicas_default_to_one() {
        let d = deployment_with(
            json!({}),
            json!({"observedGeneration": 3, "replicas": 1, "updatedReplicas": 0, "availableReplicas": 1}),
        );
        assert_eq!(
            in_progress(deployment(&d)),
            "0 out of 1 new replicas have been updated"
        );
    }

    #[test]
    fn deployment_with_old_replicas_left_waits_for_their_termination() {
        let d = deployment_with(
            json!({"replicas": 3}),
            json!({"observedGeneration": 3, "replicas": 4, "updatedReplicas": 3, "availableReplicas": 3}),
        );
        assert_eq!(
            in_progress(deployment(&d)),
            "1 old replicas are pending termination"
        );
    }

    #[test]
    fn deployment_with_unavailable_updated_replicas_waits() {
        let d = deployment_with(
            json!({"replicas": 3}),
            json!({"observedGeneration": 3, "replicas": 3, "updatedReplicas": 3, "availableReplicas": 1}),
        );
        assert_eq!(
            in_progress(deployment(&d)),
            "1 of 3 updated replicas are available"
        );
    }

    #[test]
    fn deployment_past_its_progress_deadline_fails() {
        let d = deployment_with(
            json!({"replicas": 1}),
            json!({
                "observedGeneration": 3, "replicas": 2, "updatedReplicas": 1, "availableReplicas": 1,
                "conditions": [{
                    "type": "Progressing", "status": "False", "reason": "ProgressDeadlineExceeded",
                    "message": "ReplicaSet \"web-5d9\" has timed out progressing."
                }]
            }),
        );
        assert_eq!(
            deployment(&d),
            Readiness::failed(
                "ProgressDeadlineExceeded",
                "ReplicaSet \"web-5d9\" has timed out progressing."
            )
        );
    }

    #[test]
    fn deployment_scaled_to_zero_is_ready_once_old_pods_are_gone() {
        let d = deployment_with(
            json!({"replicas": 0}),
            json!({"observedGeneration": 3, "replicas": 0}),
        );
        assert_eq!(deployment(&d), Readiness::Ready);
    }

    #[test]
    fn paused_deployment_is_ready_once_observed() {
        let d = deployment_with(
            json!({"replicas": 3, "paused": true}),
            json!({"observedGeneration": 3, "replicas": 3, "updatedReplicas": 0, "availableReplicas": 3}),
        );
        assert_eq!(deployment(&d), Readiness::Ready);
        let stale = deployment_with(
            json!({"replicas": 3, "paused": true}),
            json!({"observedGeneration": 2}),
        );
        assert!(!deployment(&stale).is_ready());
    }

    #[test]
    fn deployment_waiting_quotes_a_replica_failure() {
        let d = deployment_with(
            json!({"replicas": 1}),
            json!({
                "observedGeneration": 3, "replicas": 0, "updatedReplicas": 0,
                "conditions": [{
                    "type": "ReplicaFailure", "status": "True", "reason": "FailedCreate",
                    "message": "pods \"web-1\" is forbidden: exceeded quota"
                }]
            }),
        );
        assert_eq!(
            in_progress(deployment(&d)),
            "0 out of 1 new replicas have been updated (FailedCreate: pods \"web-1\" is forbidden: exceeded quota)"
        );
    }
}
