//! Any other kind, judged from the conventions most controllers follow (kstatus's rules).

use serde_json::Value;

use super::Readiness;
use super::status::{Condition, conditions, explain, observed_generation, stale_json};

/// Whether an object of a kind without its own rule is ready.
///
/// In order:
/// 1. `status.observedGeneration` behind `metadata.generation` waits: stale status never
///    counts as success.
/// 2. No `status` (absent, null or `{}`): ready for kinds that have none (ConfigMap, Secret,
///    Role...); waits for "status" when `expects_status` (the caller knows the kind reports
///    status, for example its CRD declares a status subresource).
/// 3. Conditions: `Stalled` True fails with its reason and message; `Reconciling` True waits;
///    `Ready`, else `Available`, decides: True is ready (unless the condition's own
///    `observedGeneration` is behind), False or Unknown waits with its message.
/// 4. Neither condition: ready, since step 1 passed; except that when `expects_status` and the
///    status has neither conditions nor `observedGeneration`, nothing shows that the
///    controller has looked at the object yet, so it waits.
pub fn generic(obj: &Value, expects_status: bool) -> Readiness {
    if let Some(r) = stale_json(obj, None) {
        return r;
    }
    let has_status = obj
        .get("status")
        .is_some_and(|s| !s.is_null() && s.as_object().is_none_or(|m| !m.is_empty()));
    if !has_status {
        return if expects_status {
            Readiness::in_progress("waiting for status")
        } else {
            Readiness::Ready
        };
    }
    let conditions = conditions(obj);
    let find = |t: &str| conditions.iter().find(|c| c.type_ == t);
    if let Some(c) = find("Stalled").filter(|c| c.is_true()) {
        return Readiness::failed(
            c.reason.unwrap_or("Stalled"),
            c.message
                .unwrap_or("the controller reports the object as stalled"),
        );
    }
    if let Some(c) = find("Reconciling").filter(|c| c.is_true()) {
        return Readiness::in_progress(waiting_for("reconciliation to finish", c));
    }
    if let Some(c) = find("Ready").or_else(|| find("Available")) {
        if let Some(r) = stale_json(obj, Some(c)) {
            return r;
        }
        return if c.is_true() {
            Readiness::Ready
        } else {
            Readiness::in_progress(waiting_for(&format!("condition {} to be True", c.type_), c))
        };
    }
    if expects_status && conditions.is_empty() && observed_generation(obj).is_none() {
        return Readiness::in_progress("waiting for status");
    }
    Readiness::Ready
}

fn waiting_for(what: &str, c: &Condition<'_>) -> String {
    match explain(c.reason, c.message) {
        Some(d) => format!("waiting for {what} ({d})"),
        None => format!("waiting for {what}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn widget(status: Value) -> Value {
        json!({
            "apiVersion": "example.com/v1", "kind": "Widget",
            "metadata": {"name": "w", "generation": 5},
            "status": status,
        })
    }

    #[test]
    fn object_without_status_is_ready_when_its_kind_has_none() {
        let cm =
            json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "data": {}});
        assert_eq!(generic(&cm, false), Readiness::Ready);
    }

    #[test]
    fn custom_resource_expected_to_report_status_waits_for_it() {
        let mut w = widget(json!(null));
        assert_eq!(
            generic(&w, true),
            Readiness::in_progress("waiting for status")
        );
        w["status"] = json!({});
        assert_eq!(
            generic(&w, true),
            Readiness::in_progress("waiting for status")
        );
        w["status"] = json!({"phase": "Creating"});
        assert_eq!(
            generic(&w, true),
            Readiness::in_progress("waiting for status")
        );
    }

    #[test]
    fn generic_object_with_stale_status_is_never_ready() {
        let w = widget(json!({
            "observedGeneration": 4,
            "conditions": [{"type": "Ready", "status": "True"}]
        }));
        assert!(
            matches!(generic(&w, false), Readiness::InProgress { message } if message.contains("generation 5"))
        );
    }

    #[test]
    fn generic_ready_condition_of_an_older_generation_is_not_ready() {
        let w = widget(json!({
            "conditions": [{"type": "Ready", "status": "True", "observedGeneration": 4}]
        }));
        assert!(!generic(&w, true).is_ready());
    }

    #[test]
    fn generic_stalled_fails_with_its_reason() {
        let w = widget(json!({
            "observedGeneration": 5,
            "conditions": [
                {"type": "Ready", "status": "False"},
                {"type": "Stalled", "status": "True", "reason": "InvalidSpec", "message": "size must be positive"}
            ]
        }));
        assert_eq!(
            generic(&w, true),
            Readiness::failed("InvalidSpec", "size must be positive")
        );
    }

    #[test]
    fn generic_reconciling_waits() {
        let w = widget(json!({
            "observedGeneration": 5,
            "conditions": [
                {"type": "Ready", "status": "True"},
                {"type": "Reconciling", "status": "True", "reason": "Progressing", "message": "scaling up"}
            ]
        }));
        assert_eq!(
            generic(&w, true),
            Readiness::in_progress(
                "waiting for reconciliation to finish (Progressing: scaling up)"
            )
        );
    }

    #[test]
    fn generic_ready_false_waits_with_its_message() {
        let w = widget(json!({
            "observedGeneration": 5,
            "conditions": [{"type": "Ready", "status": "False", "message": "certificate not issued yet"}]
        }));
        assert_eq!(
            generic(&w, true),
            Readiness::in_progress(
                "waiting for condition Ready to be True (certificate not issued yet)"
            )
        );
    }

    #[test]
    fn generic_ready_or_available_true_is_ready() {
        let w = widget(
            json!({"observedGeneration": 5, "conditions": [{"type": "Ready", "status": "True"}]}),
        );
        assert_eq!(generic(&w, true), Readiness::Ready);
        let w = widget(json!({"conditions": [{"type": "Available", "status": "True"}]}));
        assert_eq!(generic(&w, true), Readiness::Ready);
    }

    #[test]
    fn generic_other_conditions_are_ready_once_the_generation_is_observed() {
        let w = widget(
            json!({"observedGeneration": 5, "conditions": [{"type": "Synced", "status": "True"}]}),
        );
        assert_eq!(generic(&w, true), Readiness::Ready);
        let w = widget(
            json!({"observedGeneration": 4, "conditions": [{"type": "Synced", "status": "True"}]}),
        );
        assert!(!generic(&w, true).is_ready());
    }
}
