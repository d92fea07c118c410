//! Per-object overrides of the readiness rule, written as `kpush.dev/*` annotations.

use serde_json::Value;

use super::Readiness;
use super::field_path::{lookup, parse_path};
use super::status::{conditions, explain, stale_json};

/// Annotation that turns waiting off: `kpush.dev/wait: "false"`.
pub const WAIT: &str = "kpush.dev/wait";
/// Annotation naming the condition that means ready: `kpush.dev/ready-condition: Synced`.
pub const READY_CONDITION: &str = "kpush.dev/ready-condition";
/// Annotation giving a field and the value that means ready: `status.phase=Active`.
pub const READY_JSONPATH: &str = "kpush.dev/ready-jsonpath";

/// True when the object asks not to be waited for (`kpush.dev/wait: "false"`).
pub fn wait_disabled(obj: &Value) -> bool {
    annotation(obj, WAIT).is_some_and(|v| v.trim().eq_ignore_ascii_case("false"))
}

/// The readiness dictated by `kpush.dev/ready-condition` and `kpush.dev/ready-jsonpath`, or
/// `None` when the object has neither.
///
/// With both, both must hold. Status for an older generation waits, and a `Stalled` condition
/// that is True still fails. A malformed annotation fails with reason `InvalidAnnotation`.
pub(super) fn override_readiness(obj: &Value) -> Option<Readiness> {
    let condition = annotation(obj, READY_CONDITION);
    let jsonpath = annotation(obj, READY_JSONPATH);
    if condition.is_none() && jsonpath.is_none() {
        return None;
    }
    if let Some(r) = stale_json(obj, None) {
        return Some(r);
    }
    let conditions = conditions(obj);
    if let Some(wanted) = condition {
        let wanted = wanted.trim();
        if wanted.is_empty() {
            return Some(invalid(READY_CONDITION, "it names no condition"));
        }
        if wanted != "Stalled"
            && let Some(c) = conditions
                .iter()
                .find(|c| c.type_ == "Stalled" && c.is_true())
        {
            return Some(Readiness::failed(
                c.reason.unwrap_or("Stalled"),
                c.message
                    .unwrap_or("the controller reports the object as stalled"),
            ));
        }
        match conditions.iter().find(|c| c.type_ == wanted) {
            Some(c) if c.is_true() => {
                if let Some(r) = stale_json(obj, Some(c)) {
                    return Some(r);
                }
            }
            Some(c) => {
                let now = match explain(c.reason, c.message) {
                    Some(d) => format!("{}: {d}", c.status),
                    None => c.status.to_string(),
                };
                return Some(Readiness::in_progress(format!(
                    "waiting for condition {wanted} to be True (currently {now})"
                )));
            }
            None => {
                return Some(Readiness::in_progress(format!(
                    "waiting for condition {wanted} to be True (not reported yet)"
                )));
            }
        }
    }
    if let Some(spec) = jsonpath {
        let Some((path, expected)) = spec.split_once('=') else {
            return Some(invalid(READY_JSONPATH, "expected <path>=<value>"));
        };
        let path = path.trim();
        let expected = unquote(expected.trim());
        let steps = match parse_path(path) {
            Ok(steps) => steps,
            Err(e) => return Some(invalid(READY_JSONPATH, &e)),
        };
        match lookup(obj, &steps).map(as_text) {
            Some(actual) if actual == expected => {}
            Some(actual) => {
                return Some(Readiness::in_progress(format!(
                    "waiting for {path}={expected} (currently {actual})"
                )));
            }
            None => {
                return Some(Readiness::in_progress(format!(
                    "waiting for {path}={expected} (not set yet)"
                )));
            }
        }
    }
    Some(Readiness::Ready)
}

fn annotation<'a>(obj: &'a Value, key: &str) -> Option<&'a str> {
    obj.get("metadata")?.get("annotations")?.get(key)?.as_str()
}

fn invalid(annotation: &str, why: &str) -> Readiness {
    Readiness::failed(
        "InvalidAnnotation",
        format!("annotation {annotation} is malformed: {why}"),
    )
}

fn unquote(s: &str) -> &str {
    ['"', '\'']
        .iter()
        .find_map(|q| s.strip_prefix(*q).and_then(|s| s.strip_suffix(*q)))
        .unwrap_or(s)
}

/// A field's value as text to compare with the annotation: strings bare, others as JSON.
fn as_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn with(annotations: Value, status: Value) -> Value {
        json!({
            "apiVersion": "example.com/v1", "kind": "Widget",
            "metadata": {"name": "w", "generation": 2, "annotations": annotations},
            "status": status,
        })
    }

    #[test]
    fn wait_false_disables_waiting() {
        assert!(wait_disabled(&with(
            json!({"kpush.dev/wait": "false"}),
            json!(null)
        )));
        assert!(wait_disabled(&with(
            json!({"kpush.dev/wait": " False "}),
            json!(null)
        )));
        assert!(!wait_disabled(&with(
            json!({"kpush.dev/wait": "true"}),
            json!(null)
        )));
        assert!(!wait_disabled(&with(json!({}), json!(null))));
    }

    #[test]
    fn objects_without_override_annotations_are_left_to_their_rule() {
        assert_eq!(override_readiness(&with(json!({}), json!({}))), None);
    }

    #[test]
    fn ready_condition_annotation_waits_for_that_condition() {
        let a = json!({"kpush.dev/ready-condition": "Synced"});
        let obj = with(
            a.clone(),
            json!({"conditions": [{"type": "Ready", "status": "True"}]}),
        );
        assert_eq!(
            override_readiness(&obj),
            Some(Readiness::in_progress(
                "waiting for condition Synced to be True (not reported yet)"
            ))
        );
        let obj = with(
            a.clone(),
            json!({"conditions": [{"type": "Synced", "status": "False", "reason": "ApiError", "message": "throttled"}]}),
        );
        assert_eq!(
            override_readiness(&obj),
            Some(Readiness::in_progress(
                "waiting for condition Synced to be True (currently False: ApiError: throttled)"
            ))
        );
        let obj = with(
            a,
            json!({"conditions": [{"type": "Synced", "status": "True"}]}),
        );
        assert_eq!(override_readiness(&obj), Some(Readiness::Ready));
    }

    #[test]
    fn ready_condition_annotation_ignores_stale_status() {
        let obj = with(
            json!({"kpush.dev/ready-condition": "Synced"}),
            json!({"observedGeneration": 1, "conditions": [{"type": "Synced", "status": "True"}]}),
        );
        assert!(!override_readiness(&obj).is_some_and(|r| r.is_ready()));
    }

    #[test]
    fn ready_condition_annotation_still_fails_on_stalled() {
        let obj = with(
            json!({"kpush.dev/ready-condition": "Synced"}),
            json!({"conditions": [{"type": "Stalled", "status": "True", "reason": "Bad", "message": "no"}]}),
        );
        assert_eq!(
            override_readiness(&obj),
            Some(Readiness::failed("Bad", "no"))
        );
    }

    #[test]
    fn ready_jsonpath_annotation_compares_the_field() {
        let a = json!({"kpush.dev/ready-jsonpath": "status.phase=Active"});
        assert_eq!(
            override_readiness(&with(a.clone(), json!({"phase": "Active"}))),
            Some(Readiness::Ready)
        );
        assert_eq!(
            override_readiness(&with(a.clone(), json!({"phase": "Pending"}))),
            Some(Readiness::in_progress(
                "waiting for status.phase=Active (currently Pending)"
            ))
        );
        assert_eq!(
            override_readiness(&with(a, json!({}))),
            Some(Readiness::in_progress(
                "waiting for status.phase=Active (not set yet)"
            ))
        );
    }

    #[test]
    fn ready_jsonpath_annotation_supports_indexes_numbers_and_kubectl_braces() {
        let status = json!({"replicas": 3, "endpoints": [{"addresses": ["10.0.0.1"]}]});
        let a =
            json!({"kpush.dev/ready-jsonpath": "{.status.endpoints[0].addresses[0]}=\"10.0.0.1\""});
        assert_eq!(
            override_readiness(&with(a, status.clone())),
            Some(Readiness::Ready)
        );
        let a = json!({"kpush.dev/ready-jsonpath": "status.replicas=3"});
        assert_eq!(override_readiness(&with(a, status)), Some(Readiness::Ready));
    }

    #[test]
    fn both_annotations_must_hold() {
        let a = json!({"kpush.dev/ready-condition": "Synced", "kpush.dev/ready-jsonpath": "status.phase=Active"});
        let obj = with(
            a,
            json!({"phase": "Pending", "conditions": [{"type": "Synced", "status": "True"}]}),
        );
        assert!(!override_readiness(&obj).is_some_and(|r| r.is_ready()));
    }

    #[test]
    fn malformed_ready_jsonpath_fails_naming_the_annotation() {
        for bad in [
            "status.phase",
            "status..phase=x",
            "status.items[x]=1",
            "status.items[0=1",
            "=x",
        ] {
            let obj = with(json!({"kpush.dev/ready-jsonpath": bad}), json!({}));
            match override_readiness(&obj) {
                Some(Readiness::Failed { reason, message }) => {
                    assert_eq!(reason, "InvalidAnnotation", "{bad}");
                    assert!(message.contains(READY_JSONPATH), "{bad}: {message}");
                }
                other => panic!("{bad}: expected failure, got {other:?}"),
            }
        }
    }
}
