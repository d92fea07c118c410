//! Service: a LoadBalancer needs an external address; other types are ready at once.

use k8s_openapi::api::core::v1::Service;

use super::Readiness;

/// Whether a Service is ready: type `LoadBalancer` once `status.loadBalancer.ingress` has an
/// entry, every other type (ClusterIP, NodePort, ExternalName) immediately.
pub fn service(s: &Service) -> Readiness {
    let type_ = s.spec.as_ref().and_then(|s| s.type_.as_deref());
    if type_ != Some("LoadBalancer") {
        return Readiness::Ready;
    }
    let has_ingress = s
        .status
        .as_ref()
        .and_then(|s| s.load_balancer.as_ref())
        .and_then(|lb| lb.ingress.as_ref())
        .is_some_and(|i| !i.is_empty());
    if has_ingress {
        Readiness::Ready
    } else {
        Readiness::in_progress("waiting for the load balancer to get an external address")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    fn svc(spec: Value, status: Value) -> Service {
        serde_json::from_value(json!({
            "apiVersion": "v1", "kind": "Service",
            "metadata": {"name": "web"},
            "spec": spec,
            "status": status,
        }))
        .expect("fixture")
    }

    #[test]
    fn load_balancer_service_waits_for_an_address() {
        let s = svc(json!({"type": "LoadBalancer"}), json!({"loadBalancer": {}}));
        assert!(!service(&s).is_ready());
        let s = svc(
            json!({"type": "LoadBalancer"}),
            json!({"loadBalancer": {"ingress": [{"ip": "20.1.2.3"}]}}),
        );
        assert_eq!(service(&s), Readiness::Ready);
    }

    #[test]
    fn cluster_ip_and_external_name_services_are_ready_at_once() {
        assert_eq!(service(&svc(json!({}), json!(null))), Readiness::Ready);
        assert_eq!(
            service(&svc(
                json!({"type": "ExternalName", "externalName": "db.example.com"}),
                json!(null)
            )),
            Readiness::Ready
        );
    }
}
