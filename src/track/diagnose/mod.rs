//! Why a pod will not become ready: pure diagnosis from the pod and its events.
//!
//! [`diagnose`] returns a [`PodFailure`] only for problems that waiting will not fix (or that
//! have outlasted their grace); everything else is left to the rollout's own progress.

mod containers;
mod events;
#[cfg(test)]
mod fixtures;
mod probes;
mod scheduling;

use std::fmt;
use std::time::Duration;

use k8s_openapi::api::core::v1::{Event, Pod};
use k8s_openapi::jiff::Timestamp;
use serde::Serialize;

pub use probes::readiness_grace;

/// A pod that will not become ready, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PodFailure {
    /// The pod's name.
    pub pod: String,
    /// The container at fault, if the failure is a container's.
    pub container: Option<String>,
    /// Short CamelCase cause, for example `ImagePullBackOff` or `Unschedulable`.
    pub reason: String,
    /// Human explanation, from the container status or the most relevant event.
    pub message: String,
    /// The container's restart count (0 for pod-level failures).
    pub restart_count: i32,
    /// True when the previous container instance's logs explain the failure (crash loops, OOM).
    pub previous_logs_useful: bool,
}

impl fmt::Display for PodFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "pod {}", self.pod)?;
        if let Some(c) = &self.container {
            write!(f, " container {c}")?;
        }
        write!(f, ": {}", self.reason)?;
        if !self.message.is_empty() {
            write!(f, ": {}", self.message)?;
        }
        Ok(())
    }
}

/// Tolerances for [`diagnose`], and the time to judge them at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DiagnoseOptions {
    /// Restart count at which a crash-looping container fails the rollout (default 2, so one
    /// restart is tolerated as a blip; 0 fails on the first crash loop).
    pub failure_threshold: i32,
    /// How long a pod may stay unschedulable before that counts as failure (default 15 s).
    pub unschedulable_grace: Duration,
    /// The current time, against which conditions' and containers' start times are measured.
    pub now: Timestamp,
}

impl DiagnoseOptions {
    /// Default tolerances, judged at `now`.
    pub fn at(now: Timestamp) -> Self {
        Self {
            failure_threshold: 2,
            unschedulable_grace: Duration::from_secs(15),
            now,
        }
    }
}

impl Default for DiagnoseOptions {
    /// Default tolerances, judged at the current time.
    fn default() -> Self {
        Self::at(Timestamp::now())
    }
}

/// Why `pod` will not become ready, or `None` if nothing is known to be wrong yet.
///
/// Pods being deleted are ignored. Checked in order, init containers before the others:
/// - a container waiting with `ErrImagePull` whose error is permanent (not found, denied,
///   unauthorized; a timeout or rate limit waits for the kubelet's retry), `ImagePullBackOff`,
///   `InvalidImageName`,
///   `CreateContainerConfigError`, `CreateContainerError`, `RunContainerError` or any other
///   reason that starts with `Err` or ends in `Error` or `BackOff` fails at once;
/// - `CrashLoopBackOff` fails once the restart count reaches `failure_threshold`, and at once
///   when the last instance was `OOMKilled`; a container that was `OOMKilled` and is running
///   again fails once it reaches the threshold. Pods of Jobs are exempt: crash loops are the
///   Job's `backoffLimit` to judge;
/// - phase `Failed`, except for Job pods (the Job decides) and for controller-owned pods
///   failed by their node (evicted, preempted, node shutdown), which the controller replaces;
/// - `PodScheduled` False with reason `Unschedulable` for longer than `unschedulable_grace`,
///   unless the cluster autoscaler's latest word is that it triggered a scale-up;
/// - a running container that is not ready, past [`readiness_grace`] since it started, with at
///   least `failureThreshold` `Unhealthy` readiness events since it started.
pub fn diagnose(pod: &Pod, events: &[Event], opts: &DiagnoseOptions) -> Option<PodFailure> {
    if pod.metadata.deletion_timestamp.is_some() {
        return None;
    }
    let events = events::of_pod(pod, events);
    let kind = PodKind::of(pod);
    containers::failure(pod, &events, opts, kind)
        .or_else(|| failed_phase(pod, kind))
        .or_else(|| scheduling::unschedulable(pod, &events, opts))
        .or_else(|| probes::readiness_failure(pod, &events, opts))
}

/// Who owns a pod, as far as diagnosis cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum PodKind {
    /// Created by a Job: the Job judges crashes and failed pods.
    Job,
    /// Created by another controller, which replaces failed pods.
    Controlled,
    /// Nobody replaces it.
    Bare,
}

impl PodKind {
    fn of(pod: &Pod) -> Self {
        let controller = pod
            .metadata
            .owner_references
            .iter()
            .flatten()
            .find(|r| r.controller == Some(true));
        let labels = pod.metadata.labels.as_ref();
        let job_label = labels.is_some_and(|l| {
            l.contains_key("batch.kubernetes.io/job-name") || l.contains_key("job-name")
        });
        match controller {
            Some(r) if r.kind == "Job" => Self::Job,
            _ if job_label => Self::Job,
            Some(_) => Self::Controlled,
            None => Self::Bare,
        }
    }
}

/// Reasons a node gives when it fails a pod that its controller will replace.
const NODE_FAILURES: &[&str] = &[
    "Evicted",
    "Preempting",
    "Shutdown",
    "Terminated",
    "NodeShutdown",
    "NodeLost",
];

fn failed_phase(pod: &Pod, kind: PodKind) -> Option<PodFailure> {
    let status = pod.status.as_ref()?;
    if status.phase.as_deref() != Some("Failed") || kind == PodKind::Job {
        return None;
    }
    let reason = status.reason.as_deref().filter(|r| !r.is_empty());
    if kind == PodKind::Controlled && reason.is_some_and(|r| NODE_FAILURES.contains(&r)) {
        return None;
    }
    let crashed = status
        .init_container_statuses
        .iter()
        .chain(status.container_statuses.iter())
        .flatten()
        .find_map(|c| {
            let t = c.state.as_ref()?.terminated.as_ref()?;
            (t.exit_code != 0).then_some((c, t))
        });
    let message = status
        .message
        .clone()
        .filter(|m| !m.is_empty())
        .or_else(|| crashed.map(|(_, t)| containers::exit_summary(t)))
        .unwrap_or_else(|| "the pod failed".to_string());
    Some(PodFailure {
        pod: pod_name(pod),
        container: crashed.map(|(c, _)| c.name.clone()),
        reason: reason
            .or_else(|| {
                crashed
                    .and_then(|(_, t)| t.reason.as_deref())
                    .filter(|r| *r == "OOMKilled")
            })
            .unwrap_or("PodFailed")
            .to_string(),
        message,
        restart_count: crashed.map(|(c, _)| c.restart_count).unwrap_or(0),
        previous_logs_useful: false,
    })
}

fn pod_name(pod: &Pod) -> String {
    pod.metadata.name.clone().unwrap_or_default()
}

/// Time from `since` to `now`, or `None` if `since` is in the future.
fn elapsed(now: Timestamp, since: Timestamp) -> Option<Duration> {
    Duration::try_from(now.duration_since(since)).ok()
}

#[cfg(test)]
mod tests {
    use super::fixtures::*;
    use super::*;
    use serde_json::json;

    #[test]
    fn healthy_running_pod_has_no_failure() {
        let p = pod(
            json!({}),
            json!({"phase": "Running", "containerStatuses": [container_status(
                json!({"running": {"startedAt": ago(60)}}), json!({}), 0, true)]}),
        );
        assert_eq!(diagnose(&p, &[], &opts()), None);
    }

    #[test]
    fn pod_being_deleted_is_ignored() {
        let mut p = pod(
            json!({}),
            json!({"phase": "Pending", "containerStatuses": [container_status(
                json!({"waiting": {"reason": "ImagePullBackOff"}}), json!({}), 0, false)]}),
        );
        p.metadata.deletion_timestamp = Some(k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(
            NOW.parse().expect("NOW"),
        ));
        assert_eq!(diagnose(&p, &[], &opts()), None);
    }

    #[test]
    fn bare_failed_pod_fails_naming_the_crashed_container() {
        let mut p = pod(
            json!({}),
            json!({"phase": "Failed", "containerStatuses": [container_status(
                json!({"terminated": {"exitCode": 2, "reason": "Error", "message": "config file missing"}}),
                json!({}), 0, false)]}),
        );
        p.metadata.owner_references = None;
        let f = diagnose(&p, &[], &opts()).expect("failure");
        assert_eq!(f.reason, "PodFailed");
        assert_eq!(f.container.as_deref(), Some("app"));
        assert_eq!(f.message, "exit code 2 (Error): config file missing");
    }

    #[test]
    fn bare_pod_that_ran_out_of_memory_fails_as_oom_killed() {
        let mut p = pod(
            json!({}),
            json!({"phase": "Failed", "containerStatuses": [container_status(
                json!({"terminated": {"exitCode": 137, "reason": "OOMKilled"}}), json!({}), 0, false)]}),
        );
        p.metadata.owner_references = None;
        let f = diagnose(&p, &[], &opts()).expect("failure");
        assert_eq!(f.reason, "OOMKilled");
        assert_eq!(f.message, "exit code 137 (OOMKilled)");
    }

    #[test]
    fn evicted_pod_of_a_replica_set_is_left_to_the_controller() {
        let p = pod(
            json!({}),
            json!({"phase": "Failed", "reason": "Evicted", "message": "The node was low on resource: memory."}),
        );
        assert_eq!(diagnose(&p, &[], &opts()), None);
    }

    #[test]
    fn controlled_pod_failed_for_another_reason_fails() {
        let p = pod(
            json!({}),
            json!({"phase": "Failed", "reason": "DeadlineExceeded", "message": "Pod was active on the node longer than the specified deadline"}),
        );
        let f = diagnose(&p, &[], &opts()).expect("failure");
        assert_eq!(f.reason, "DeadlineExceeded");
        assert_eq!(f.container, None);
    }

    #[test]
    fn failed_job_pod_is_left_to_the_job() {
        let mut p = pod(
            json!({}),
            json!({"phase": "Failed", "containerStatuses": [container_status(
                json!({"terminated": {"exitCode": 1, "reason": "Error"}}), json!({}), 0, false)]}),
        );
        p.metadata.owner_references = None;
        p.metadata.labels = Some(
            [(
                "batch.kubernetes.io/job-name".to_string(),
                "migrate".to_string(),
            )]
            .into(),
        );
        assert_eq!(diagnose(&p, &[], &opts()), None);
    }

    #[test]
    fn pod_failure_displays_pod_container_reason_and_message() {
        let f = PodFailure {
            pod: "web-1".into(),
            container: Some("app".into()),
            reason: "OOMKilled".into(),
            message: "out of memory".into(),
            restart_count: 3,
            previous_logs_useful: true,
        };
        assert_eq!(
            f.to_string(),
            "pod web-1 container app: OOMKilled: out of memory"
        );
    }
}
