//! APIService: ready when the aggregated API is available.

use k8s_openapi::kube_aggregator::pkg::apis::apiregistration::v1::APIService;

use super::Readiness;
use super::status::explain;

/// Whether an APIService is available. `Available` False only waits, quoting why: the backing
/// service may still be starting, and the rollout timeout catches one that never does.
pub fn api_service(a: &APIService) -> Readiness {
    let available = a
        .status
        .as_ref()
        .and_then(|s| s.conditions.as_deref())
        .unwrap_or_default()
        .iter()
        .find(|c| c.type_ == "Available");
    match available {
        Some(c) if c.status == "True" => Readiness::Ready,
        Some(c) => {
            Readiness::in_progress(match explain(c.reason.as_deref(), c.message.as_deref()) {
                Some(d) => format!("waiting for the API to become available ({d})"),
                None => "waiting for the API to become available".to_string(),
            })
        }
        None => Readiness::in_progress("waiting for the API to become available"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    fn api(conditions: Value) -> APIService {
        serde_json::from_value(json!({
            "apiVersion": "apiregistration.k8s.io/v1", "kind": "APIService",
            "metadata": {"name": "v1beta1.metrics.k8s.io"},
            "spec": {"group": "metrics.k8s.io", "version": "v1beta1", "groupPriorityMinimum": 100, "versionPriority": 100},
            "status": {"conditions": conditions},
        }))
        .expect("fixture")
    }

    #[test]
    fn available_api_service_is_ready() {
        assert_eq!(
            api_service(&api(json!([{"type": "Available", "status": "True"}]))),
            Readiness::Ready
        );
    }

    #[test]
    fn unavailable_api_service_waits_with_the_reason() {
        let a = api(json!([{
            "type": "Available", "status": "False", "reason": "MissingEndpoints",
            "message": "endpoints for service/metrics-server in \"kube-system\" have no addresses"
        }]));
        assert_eq!(
            api_service(&a),
            Readiness::in_progress(
                "waiting for the API to become available (MissingEndpoints: endpoints for service/metrics-server in \"kube-system\" have no addresses)"
            )
        );
    }
}
