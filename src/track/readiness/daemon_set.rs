//! DaemonSet: kubectl's rollout-status rule, on current status only.

use k8s_openapi::api::apps::v1::DaemonSet;

use super::Readiness;
use super::status::stale;

/// Whether a DaemonSet has rolled out.
///
/// Status must be for the current generation. With the `OnDelete` strategy that is all. With
/// `RollingUpdate` (the default): every node that should run a pod runs an updated one, and
/// that many pods are available.
pub fn daemon_set(d: &DaemonSet) -> Readiness {
    let status = d.status.as_ref();
    if let Some(r) = stale(
        d.metadata.generation,
        status.and_then(|s| s.observed_generation),
    ) {
        return r;
    }
    let on_delete = d
        .spec
        .as_ref()
        .and_then(|s| s.update_strategy.as_ref())
        .and_then(|s| s.type_.as_deref())
        == Some("OnDelete");
    if on_delete {
        return Readiness::Ready;
    }
    let desired = status.map(|s| s.desired_number_scheduled).unwrap_or(0);
    let updated = status.and_then(|s| s.updated_number_scheduled).unwrap_or(0);
    let available = status.and_then(|s| s.number_available).unwrap_or(0);
    if updated < desired {
        Readiness::in_progress(format!(
            "{updated} out of {desired} new pods have been updated"
        ))
    } else if available < desired {
        Readiness::in_progress(format!(
            "{available} of {desired} updated pods are available"
        ))
    } else {
        Readiness::Ready
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    fn ds(spec: Value, status: Value) -> DaemonSet {
        serde_json::from_value(json!({
            "apiVersion": "apps/v1", "kind": "DaemonSet",
            "metadata": {"name": "agent", "generation": 4},
            "spec": spec,
            "status": status,
        }))
        .expect("fixture")
    }

    #[test]
    fn daemon_set_with_stale_status_is_not_ready() {
        let d = ds(
            json!({}),
            json!({"observedGeneration": 3, "desiredNumberScheduled": 2, "updatedNumberScheduled": 2,
                   "numberAvailable": 2, "currentNumberScheduled": 2, "numberMisscheduled": 0, "numberReady": 2}),
        );
        assert!(!daemon_set(&d).is_ready());
    }

    #[test]
    fn daemon_set_waits_for_updated_then_available_pods() {
        let updating = ds(
            json!({}),
            json!({"observedGeneration": 4, "desiredNumberScheduled": 3, "updatedNumberScheduled": 1, "numberAvailable": 3}),
        );
        assert_eq!(
            daemon_set(&updating),
            Readiness::in_progress("1 out of 3 new pods have been updated")
        );
        let starting = ds(
            json!({}),
            json!({"observedGeneration": 4, "desiredNumberScheduled": 3, "updatedNumberScheduled": 3, "numberAvailable": 2}),
        );
        assert_eq!(
            daemon_set(&starting),
            Readiness::in_progress("2 of 3 updated pods are available")
        );
    }

    #[test]
    fn daemon_set_rolled_out_is_ready() {
        let d = ds(
            json!({"updateStrategy": {"type": "RollingUpdate"}}),
            json!({"observedGeneration": 4, "desiredNumberScheduled": 3, "updatedNumberScheduled": 3, "numberAvailable": 3}),
        );
        assert_eq!(daemon_set(&d), Readiness::Ready);
    }

    #[test]
    fn on_delete_daemon_set_is_ready_once_observed() {
        let d = ds(
            json!({"updateStrategy": {"type": "OnDelete"}}),
            json!({"observedGeneration": 4, "desiredNumberScheduled": 3, "updatedNumberScheduled": 0}),
        );
        assert_eq!(daemon_set(&d), Readiness::Ready);
    }
}
