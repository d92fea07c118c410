//! Pod: ready when its Ready condition is True, or when it ran to completion.

use k8s_openapi::api::core::v1::Pod;

use super::Readiness;
use super::status::explain;

/// Whether a Pod is ready.
///
/// Phase `Succeeded` is ready for pods that are not restarted (`restartPolicy` `OnFailure` or
/// `Never`); a pod with `restartPolicy: Always` that stopped for good fails, as does phase
/// `Failed`. Otherwise the pod is ready when its `Ready` condition is True. Why a pod is not
/// ready yet (image pulls, crash loops) is [`crate::track::diagnose()`]'s business.
pub fn pod(p: &Pod) -> Readiness {
    let status = p.status.as_ref();
    let phase = status.and_then(|s| s.phase.as_deref()).unwrap_or("Pending");
    let restart_policy = p
        .spec
        .as_ref()
        .and_then(|s| s.restart_policy.as_deref())
        .unwrap_or("Always");
    match phase {
        "Succeeded" if restart_policy == "Always" => {
            return Readiness::failed(
                "PodCompleted",
                "the pod's containers stopped and will not be restarted",
            );
        }
        "Succeeded" => return Readiness::Ready,
        "Failed" => {
            let reason = status
                .and_then(|s| s.reason.clone())
                .unwrap_or_else(|| "PodFailed".to_string());
            let message = status
                .and_then(|s| s.message.clone())
                .or_else(|| terminated_container(p))
                .unwrap_or_else(|| "the pod failed".to_string());
            return Readiness::failed(reason, message);
        }
        _ => {}
    }
    let conditions = status
        .and_then(|s| s.conditions.as_deref())
        .unwrap_or_default();
    if conditions
        .iter()
        .any(|c| c.type_ == "Ready" && c.status == "True")
    {
        return Readiness::Ready;
    }
    if let Some(c) = conditions
        .iter()
        .find(|c| c.type_ == "PodScheduled" && c.status == "False")
    {
        let detail = explain(c.reason.as_deref(), c.message.as_deref());
        return Readiness::in_progress(match detail {
            Some(d) => format!("waiting to be scheduled ({d})"),
            None => "waiting to be scheduled".to_string(),
        });
    }
    if let Some(waiting) = waiting_container(p) {
        return Readiness::in_progress(waiting);
    }
    Readiness::in_progress(format!(
        "waiting for the pod to become ready (phase {phase})"
    ))
}

/// `container C is waiting: Reason` for the first waiting container, init containers first.
fn waiting_container(p: &Pod) -> Option<String> {
    let status = p.status.as_ref()?;
    status
        .init_container_statuses
        .iter()
        .chain(status.container_statuses.iter())
        .flatten()
        .find_map(|c| {
            let reason = c.state.as_ref()?.waiting.as_ref()?.reason.as_deref()?;
            Some(format!("container {} is waiting: {reason}", c.name))
        })
}

/// `container C exited with code N (Reason)` for the first container that failed.
fn terminated_container(p: &Pod) -> Option<String> {
    let status = p.status.as_ref()?;
    status
        .init_container_statuses
        .iter()
        .chain(status.container_statuses.iter())
        .flatten()
        .find_map(|c| {
            let t = c.state.as_ref()?.terminated.as_ref()?;
            (t.exit_code != 0).then(|| match t.reason.as_deref() {
                Some(r) => format!(
                    "container {} exited with code {} ({r})",
                    c.name, t.exit_code
                ),
                None => format!("container {} exited with code {}", c.name, t.exit_code),
            })
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    fn pod_with(restart_policy: &str, status: Value) -> Pod {
        serde_json::from_value(json!({
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": "p"},
            "spec": {"restartPolicy": restart_policy, "containers": [{"name": "app", "image": "app:1"}]},
            "status": status,
        }))
        .expect("fixture")
    }

    #[test]
    fn pod_with_ready_condition_is_ready() {
        let p = pod_with(
            "Always",
            json!({"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}]}),
        );
        assert_eq!(pod(&p), Readiness::Ready);
    }

    #[test]
    fn running_pod_that_is_not_ready_is_in_progress() {
        let p = pod_with(
            "Always",
            json!({"phase": "Running", "conditions": [{"type": "Ready", "status": "False"}]}),
        );
        assert_eq!(
            pod(&p),
            Readiness::in_progress("waiting for the pod to become ready (phase Running)")
        );
    }

    #[test]
    fn succeeded_pod_that_is_not_restarted_is_ready() {
        let p = pod_with("Never", json!({"phase": "Succeeded"}));
        assert_eq!(pod(&p), Readiness::Ready);
        let p = pod_with("OnFailure", json!({"phase": "Succeeded"}));
        assert_eq!(pod(&p), Readiness::Ready);
    }

    #[test]
    fn succeeded_pod_with_restart_always_fails() {
        let p = pod_with("Always", json!({"phase": "Succeeded"}));
        assert!(pod(&p).is_failed());
    }

    #[test]
    fn failed_pod_fails_with_its_reason() {
        let p = pod_with(
            "Never",
            json!({"phase": "Failed", "reason": "DeadlineExceeded", "message": "Pod was active on the node longer than the specified deadline"}),
        );
        assert_eq!(
            pod(&p),
            Readiness::failed(
                "DeadlineExceeded",
                "Pod was active on the node longer than the specified deadline"
            )
        );
    }

    #[test]
    fn failed_pod_without_message_names_the_failed_container() {
        let p = pod_with(
            "Never",
            json!({"phase": "Failed", "containerStatuses": [{
                "name": "app", "image": "app:1", "imageID": "", "ready": false, "restartCount": 0,
                "state": {"terminated": {"exitCode": 3, "reason": "Error"}}
            }]}),
        );
        assert_eq!(
            pod(&p),
            Readiness::failed("PodFailed", "container app exited with code 3 (Error)")
        );
    }

    #[test]
    fn unscheduled_pod_says_why() {
        let p = pod_with(
            "Always",
            json!({"phase": "Pending", "conditions": [{
                "type": "PodScheduled", "status": "False", "reason": "Unschedulable",
                "message": "0/3 nodes are available: 3 Insufficient cpu."
            }]}),
        );
        assert_eq!(
            pod(&p),
            Readiness::in_progress(
                "waiting to be scheduled (Unschedulable: 0/3 nodes are available: 3 Insufficient cpu.)"
            )
        );
    }

    #[test]
    fn pending_pod_names_its_waiting_container() {
        let p = pod_with(
            "Always",
            json!({"phase": "Pending", "containerStatuses": [{
                "name": "app", "image": "app:1", "imageID": "", "ready": false, "restartCount": 0,
                "state": {"waiting": {"reason": "ContainerCreating"}}
            }]}),
        );
        assert_eq!(
            pod(&p),
            Readiness::in_progress("container app is waiting: ContainerCreating")
        );
    }
}
