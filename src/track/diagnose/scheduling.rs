//! Pods that no node will take, once they have been waiting longer than the grace.

use k8s_openapi::api::core::v1::{Event, Pod};

use super::events::{has_reason, last_seen, latest_message};
use super::{DiagnoseOptions, PodFailure, elapsed, pod_name};

/// `Unschedulable` once `PodScheduled` has been False with that reason for longer than the
/// grace (measured from the condition's last transition, else the pod's creation), unless the
/// cluster autoscaler's latest event says it triggered a scale-up for the pod.
pub(super) fn unschedulable(
    pod: &Pod,
    events: &[&Event],
    opts: &DiagnoseOptions,
) -> Option<PodFailure> {
    let cond = pod.status.as_ref()?.conditions.as_ref()?.iter().find(|c| {
        c.type_ == "PodScheduled"
            && c.status == "False"
            && c.reason.as_deref() == Some("Unschedulable")
    })?;
    let since = cond
        .last_transition_time
        .as_ref()
        .or(pod.metadata.creation_timestamp.as_ref())?;
    if elapsed(opts.now, since.0)? < opts.unschedulable_grace {
        return None;
    }
    let autoscaler = events
        .iter()
        .filter(|e| has_reason(e, &["TriggeredScaleUp", "NotTriggerScaleUp"]))
        .max_by_key(|e| last_seen(e));
    if autoscaler.is_some_and(|e| has_reason(e, &["TriggeredScaleUp"])) {
        return None;
    }
    let mut message = cond
        .message
        .as_deref()
        .filter(|m| !m.is_empty())
        .or_else(|| latest_message(events, |e| has_reason(e, &["FailedScheduling"])))
        .unwrap_or("no node can run the pod")
        .to_string();
    if let Some(m) = autoscaler
        .and_then(|e| e.message.as_deref())
        .filter(|m| !m.is_empty())
    {
        message.push_str(&format!("; cluster autoscaler: {m}"));
    }
    Some(PodFailure {
        pod: pod_name(pod),
        container: None,
        reason: "Unschedulable".to_string(),
        message,
        restart_count: 0,
        previous_logs_useful: false,
    })
}

#[cfg(test)]
mod tests {
    use super::super::diagnose;
    use super::super::fixtures::*;
    use serde_json::json;

    fn unschedulable_since(secs: i64) -> k8s_openapi::api::core::v1::Pod {
        pod(
            json!({}),
            json!({"phase": "Pending", "conditions": [{
                "type": "PodScheduled", "status": "False", "reason": "Unschedulable",
                "message": "0/3 nodes are available: 3 Insufficient cpu.",
                "lastTransitionTime": ago(secs)
            }]}),
        )
    }

    #[test]
    fn unschedulable_within_the_grace_is_not_a_failure() {
        assert_eq!(diagnose(&unschedulable_since(10), &[], &opts()), None);
    }

    #[test]
    fn unschedulable_past_the_grace_fails_with_the_scheduler_message() {
        let f = diagnose(&unschedulable_since(16), &[], &opts()).expect("failure");
        assert_eq!(f.reason, "Unschedulable");
        assert_eq!(f.container, None);
        assert_eq!(f.message, "0/3 nodes are available: 3 Insufficient cpu.");
    }

    #[test]
    fn unschedulable_grace_is_configurable() {
        let mut o = opts();
        o.unschedulable_grace = std::time::Duration::from_secs(120);
        assert_eq!(diagnose(&unschedulable_since(60), &[], &o), None);
    }

    #[test]
    fn unschedulable_pod_waits_while_the_autoscaler_adds_a_node() {
        let events = [event(
            "TriggeredScaleUp",
            "pod triggered scale-up: [{aks-nodepool1 3->4 (max: 5)}]",
            false,
            10,
            1,
        )];
        assert_eq!(diagnose(&unschedulable_since(60), &events, &opts()), None);
    }

    #[test]
    fn unschedulable_pod_the_autoscaler_cannot_help_quotes_it() {
        let events = [
            event("TriggeredScaleUp", "pod triggered scale-up", false, 50, 1),
            event(
                "NotTriggerScaleUp",
                "pod didn't trigger scale-up: 1 max node group size reached",
                false,
                10,
                1,
            ),
        ];
        let f = diagnose(&unschedulable_since(60), &events, &opts()).expect("failure");
        assert_eq!(
            f.message,
            "0/3 nodes are available: 3 Insufficient cpu.; cluster autoscaler: pod didn't trigger scale-up: 1 max node group size reached"
        );
    }
}
