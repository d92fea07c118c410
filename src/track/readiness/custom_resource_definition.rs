//! CustomResourceDefinition: established, unless its names were rejected.

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;

use super::Readiness;

/// Whether a CRD can be used: `NamesAccepted` False fails (a name conflicts with another
/// CRD), `Established` True is ready, anything else waits.
pub fn custom_resource_definition(crd: &CustomResourceDefinition) -> Readiness {
    let conditions = crd
        .status
        .as_ref()
        .and_then(|s| s.conditions.as_deref())
        .unwrap_or_default();
    if let Some(c) = conditions
        .iter()
        .find(|c| c.type_ == "NamesAccepted" && c.status == "False")
    {
        return Readiness::failed(
            c.reason
                .clone()
                .unwrap_or_else(|| "NamesNotAccepted".to_string()),
            c.message
                .clone()
                .unwrap_or_else(|| "the API server did not accept the CRD's names".to_string()),
        );
    }
    if conditions
        .iter()
        .any(|c| c.type_ == "Established" && c.status == "True")
    {
        return Readiness::Ready;
    }
    Readiness::in_progress("waiting for the CustomResourceDefinition to be established")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    fn crd(conditions: Value) -> CustomResourceDefinition {
        serde_json::from_value(json!({
            "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
            "metadata": {"name": "widgets.example.com"},
            "spec": {"group": "example.com", "names": {"kind": "Widget", "plural": "widgets"}, "scope": "Namespaced", "versions": []},
            "status": {"conditions": conditions},
        }))
        .expect("fixture")
    }

    #[test]
    fn established_crd_is_ready() {
        let c = crd(json!([
            {"type": "NamesAccepted", "status": "True"},
            {"type": "Established", "status": "True"}
        ]));
        assert_eq!(custom_resource_definition(&c), Readiness::Ready);
    }

    #[test]
    fn crd_not_yet_established_waits() {
        let c = crd(json!([{"type": "NamesAccepted", "status": "True"}]));
        assert!(!custom_resource_definition(&c).is_ready());
    }

    #[test]
    fn crd_with_rejected_names_fails() {
        let c = crd(json!([{
            "type": "NamesAccepted", "status": "False", "reason": "MultipleNamesNotAllowed",
            "message": "\"widgets\" is already in use"
        }]));
        assert_eq!(
            custom_resource_definition(&c),
            Readiness::failed("MultipleNamesNotAllowed", "\"widgets\" is already in use")
        );
    }
}
