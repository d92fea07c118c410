//! Evidence for a failure: the latest events of the object and its failing pod, and the
//! failing container's last log lines (or one line saying why they could not be read).

use std::time::Duration;

use k8s_openapi::api::core::v1::{Event as CoreEvent, Pod};
use k8s_openapi::jiff::{SignedDuration, Timestamp};
use kube::Client;
use kube::api::{Api, ListParams, LogParams};

use super::evaluate::{Culprit, Judgement};
use super::readiness::Readiness;
use super::targets::TrackTarget;
use crate::event::{EventLine, Explanation, Logs};

/// Bound on each request made to gather evidence.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// What the explanation is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Ending {
    /// The rollout failed.
    Failed,
    /// `--timeout` ran out after this long.
    Timeout(Duration),
    /// No progress for this long.
    NoProgress(Duration),
    /// The watch was given up (the API server stayed unreachable): there is nothing to ask.
    Lost,
}

/// Builds the explanation for a failed or timed-out object, asking the cluster for events and logs.
pub(crate) async fn explain(
    client: &Client,
    target: &TrackTarget,
    judgement: &Judgement,
    ending: Ending,
    event_lines: usize,
    log_lines: usize,
) -> Explanation {
    let (reason, message) = match (&judgement.readiness, ending) {
        (Readiness::Failed { reason, message }, _) => (reason.clone(), message.clone()),
        (r, Ending::Timeout(after)) => (
            "Timeout".to_string(),
            format!(
                "still {} after {}",
                pending_text(r),
                crate::event::format_duration(after)
            ),
        ),
        (r, Ending::NoProgress(after)) => (
            "NoProgress".to_string(),
            format!(
                "no progress for {}: still {}",
                crate::event::format_duration(after),
                pending_text(r)
            ),
        ),
        (r, Ending::Failed | Ending::Lost) => ("Failed".to_string(), pending_text(r)),
    };
    let culprit = judgement.culprit.as_ref();
    if matches!(ending, Ending::Lost) {
        return Explanation {
            hint: hint(&reason).map(str::to_string),
            reason,
            message,
            pod: None,
            container: None,
            restart_count: None,
            events: Vec::new(),
            logs: None,
        };
    }
    let since = target.written_at;
    let mut events = object_events(
        client,
        target.namespace(),
        &target.resource.kind,
        target.name(),
        event_lines,
        since,
    )
    .await;
    if let (Some(c), Some(ns)) = (culprit, target.namespace())
        && target.resource.kind != "Pod"
    {
        events.extend(object_events(client, Some(ns), "Pod", &c.pod, event_lines, since).await);
    }
    let logs = match (culprit, target.namespace()) {
        (Some(c), Some(ns)) if log_lines > 0 && c.has_run => {
            container_logs(client, ns, c, log_lines).await
        }
        _ => None,
    };
    Explanation {
        hint: hint(&reason).map(str::to_string),
        reason,
        message,
        pod: culprit.map(|c| c.pod.clone()),
        container: culprit.and_then(|c| c.container.clone()),
        restart_count: culprit.and_then(|c| c.restart_count),
        events,
        logs,
    }
}

fn pending_text(r: &Readiness) -> String {
    match r {
        Readiness::Ready => "ready".to_string(),
        Readiness::InProgress { message } => format!("waiting: {message}"),
        Readiness::Failed { reason, message } => format!("{reason}: {message}"),
    }
}

/// The latest `limit` events whose involved object is `kind`/`name`, oldest first, seen last
/// no earlier than `since` (server clock, seconds: events of earlier rollouts explain nothing
/// about this one); empty when they cannot be read (events are evidence, never a reason to
/// fail).
async fn object_events(
    client: &Client,
    namespace: Option<&str>,
    kind: &str,
    name: &str,
    limit: usize,
    since: Option<Timestamp>,
) -> Vec<EventLine> {
    if limit == 0 {
        return Vec::new();
    }
    let api: Api<CoreEvent> = match namespace {
        Some(ns) => Api::namespaced(client.clone(), ns),
        None => Api::all(client.clone()),
    };
    let params = ListParams::default().fields(&format!(
        "involvedObject.kind={kind},involvedObject.name={name}"
    ));
    let Ok(Ok(list)) = tokio::time::timeout(REQUEST_TIMEOUT, api.list(&params)).await else {
        return Vec::new();
    };
    let mut items = list.items;
    items.retain(|e| is_recent(e, since));
    items.sort_by_key(last_seen);
    let skip = items.len().saturating_sub(limit);
    items
        .into_iter()
        .skip(skip)
        .map(|e| EventLine {
            object: format!("{kind} {name}"),
            type_: e.type_.unwrap_or_default(),
            reason: e.reason.unwrap_or_default(),
            message: one_line(e.message.as_deref().unwrap_or("")),
            count: e.count.unwrap_or(1).max(1),
        })
        .collect()
}

/// How far an event's clock may lag the API server's: kubelets stamp their events with the
/// node's clock, and `since` is truncated to whole seconds.
const CLOCK_SKEW: SignedDuration = SignedDuration::from_secs(5);

/// Whether `e` was last seen at or after `since`, give or take [`CLOCK_SKEW`] (an event
/// without any timestamp is kept).
fn is_recent(e: &CoreEvent, since: Option<Timestamp>) -> bool {
    match (
        since.and_then(|s| s.checked_sub(CLOCK_SKEW).ok()),
        last_seen(e),
    ) {
        (Some(since), Some(seen)) => seen >= since,
        _ => true,
    }
}

fn last_seen(e: &CoreEvent) -> Option<Timestamp> {
    [
        e.last_timestamp.as_ref().map(|t| t.0),
        e.event_time.as_ref().map(|t| t.0),
        e.first_timestamp.as_ref().map(|t| t.0),
        e.metadata.creation_timestamp.as_ref().map(|t| t.0),
    ]
    .into_iter()
    .flatten()
    .max()
}

/// The culprit container's last lines (previous instance for crash loops), or one line saying
/// why they could not be read.
async fn container_logs(
    client: &Client,
    namespace: &str,
    c: &Culprit,
    lines: usize,
) -> Option<Logs> {
    let container = c.container.clone()?;
    let api: Api<Pod> = Api::namespaced(client.clone(), namespace);
    let params = LogParams {
        container: Some(container.clone()),
        previous: c.previous_logs,
        tail_lines: Some(i64::try_from(lines).unwrap_or(i64::MAX)),
        ..LogParams::default()
    };
    let answer = tokio::time::timeout(REQUEST_TIMEOUT, api.logs(&c.pod, &params)).await;
    Some(match answer {
        Ok(Ok(text)) => Logs::Lines {
            container,
            previous: c.previous_logs,
            lines: text.lines().map(str::to_string).collect(),
        },
        Ok(Err(e)) => Logs::Unavailable {
            container,
            reason: unreadable(&e),
        },
        Err(_) => Logs::Unavailable {
            container,
            reason: format!(
                "the API server did not answer within {} s",
                REQUEST_TIMEOUT.as_secs()
            ),
        },
    })
}

/// One line saying why logs could not be read.
fn unreadable(e: &kube::Error) -> String {
    match e {
        kube::Error::Api(s) if s.code == 403 => format!(
            "forbidden: {} (grant get on pods/log to read them)",
            one_line(&s.message)
        ),
        kube::Error::Api(s) => format!(
            "the API server could not fetch them from the node ({}): {}",
            s.code,
            one_line(&s.message)
        ),
        other => one_line(&other.to_string()),
    }
}

fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// What to do about a failure with this reason, when kpush knows.
pub(crate) fn hint(reason: &str) -> Option<&'static str> {
    Some(match reason {
        "ErrImagePull" | "ImagePullBackOff" | "InvalidImageName" => {
            "check the image name and tag, and that the cluster may pull from the registry (imagePullSecrets, or `az aks update --attach-acr`)"
        }
        "CrashLoopBackOff" | "PodFailed" | "Error" => {
            "the container keeps exiting: read its logs and its exit code"
        }
        "OOMKilled" => "raise the container's memory limit, or make it use less memory",
        "CreateContainerConfigError" | "CreateContainerError" => {
            "create the Secret or ConfigMap the pod refers to, or fix the reference"
        }
        "Unschedulable" => {
            "lower the pod's resource requests, fix its nodeSelector, affinity or tolerations, or add nodes"
        }
        "ReadinessProbeFailed" => {
            "check the readiness probe's path, port and timing against how the app starts"
        }
        "ProgressDeadlineExceeded" => "look at the events and pods of the new ReplicaSet",
        "BackoffLimitExceeded" | "DeadlineExceeded" => "the Job's pods failed: read their logs",
        "Timeout" => "raise --timeout if the rollout is merely slow; otherwise see the events",
        "NoProgress" => {
            "nothing changed for --no-progress-timeout: see the events; raise the timeout if it is merely slow"
        }
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unreadable_logs_are_explained_in_one_line() {
        let status = kube::core::Status::failure(
            "pods \"p\" is forbidden:\n user cannot get pods/log",
            "Forbidden",
        )
        .with_code(403);
        let line = unreadable(&kube::Error::Api(Box::new(status)));
        assert!(!line.contains('\n'));
        assert!(line.starts_with("forbidden:"), "{line}");
        assert!(line.contains("pods/log"));
    }

    #[test]
    fn known_reasons_have_hints() {
        assert!(hint("ImagePullBackOff").is_some());
        assert!(hint("OOMKilled").is_some());
        assert!(hint("SomethingElse").is_none());
    }
}
