//! Container states that doom a pod: image and configuration errors, crash loops, OOM kills.

use k8s_openapi::api::core::v1::{ContainerStateTerminated, ContainerStatus, Event, Pod};

use super::events::{concerns_container, has_reason, latest_message};
use super::{DiagnoseOptions, PodFailure, PodKind, pod_name};

/// Waiting reasons that retrying will not cure; any other reason that starts with `Err` or ends
/// in `Error` or `BackOff` (Argo CD's rule) counts too, except `CrashLoopBackOff`.
const FATAL_WAITING: &[&str] = &[
    "ErrImagePull",
    "ImagePullBackOff",
    "InvalidImageName",
    "CreateContainerConfigError",
    "CreateContainerError",
    "RunContainerError",
    // The kubelet's reason when the runtime's signature policy rejects the image.
    "SignatureValidationFailed",
];
/// The kubelet's reason when the runtime could not connect to the registry: may pass, like a
/// transient ErrImagePull, so kpush waits for ImagePullBackOff.
const REGISTRY_UNAVAILABLE: &str = "RegistryUnavailable";

const CRASH_LOOP: &str = "CrashLoopBackOff";
const OOM_KILLED: &str = "OOMKilled";

/// The first failing container, init containers first.
pub(super) fn failure(
    pod: &Pod,
    events: &[&Event],
    opts: &DiagnoseOptions,
    kind: PodKind,
) -> Option<PodFailure> {
    let status = pod.status.as_ref()?;
    status
        .init_container_statuses
        .iter()
        .chain(status.container_statuses.iter())
        .flatten()
        .find_map(|c| container_failure(pod, c, events, opts, kind))
}

fn container_failure(
    pod: &Pod,
    c: &ContainerStatus,
    events: &[&Event],
    opts: &DiagnoseOptions,
    kind: PodKind,
) -> Option<PodFailure> {
    let waiting = c.state.as_ref().and_then(|s| s.waiting.as_ref());
    let waiting_reason = waiting.and_then(|w| w.reason.as_deref()).unwrap_or("");
    let last = c.last_state.as_ref().and_then(|s| s.terminated.as_ref());
    let oom = last.is_some_and(|t| t.reason.as_deref() == Some(OOM_KILLED));
    let fail = |reason: &str, message: String, previous_logs_useful: bool| PodFailure {
        pod: pod_name(pod),
        container: Some(c.name.clone()),
        reason: reason.to_string(),
        message,
        restart_count: c.restart_count,
        previous_logs_useful,
    };
    let mine = |e: &Event| concerns_container(e, &c.name);

    if waiting_reason == REGISTRY_UNAVAILABLE
        || waiting_reason == "ErrImagePull"
            && !waiting
                .and_then(|w| w.message.as_deref())
                .is_some_and(is_permanent_pull_error)
    {
        // A registry hiccup (timeout, 429, 5xx) may pass on the kubelet's next try: wait for
        // ImagePullBackOff, which means that try failed too.
        return None;
    }
    if is_fatal_waiting(waiting_reason) {
        let status_message = waiting
            .and_then(|w| w.message.as_deref())
            .filter(|m| !m.is_empty());
        // ImagePullBackOff's own message only says "Back-off pulling image"; the registry's
        // answer is in the kubelet's `Failed` event.
        let pull_error = (waiting_reason == "ImagePullBackOff")
            .then(|| latest_message(events, |e| mine(e) && has_reason(e, &["Failed"])))
            .flatten();
        let message = pull_error
            .or(status_message)
            .or_else(|| latest_message(events, |e| mine(e) && is_warning(e)))
            .unwrap_or_default();
        return Some(fail(waiting_reason, message.to_string(), false));
    }
    if kind == PodKind::Job {
        return None;
    }
    let limit = memory_limit(pod, &c.name);
    if waiting_reason == CRASH_LOOP && oom {
        return Some(fail(OOM_KILLED, oom_message(limit, c.restart_count), true));
    }
    if waiting_reason == CRASH_LOOP && c.restart_count >= opts.failure_threshold {
        let message = match last {
            Some(t) => format!(
                "restarted {} times; last {}",
                c.restart_count,
                exit_summary(t)
            ),
            None => waiting
                .and_then(|w| w.message.as_deref())
                .filter(|m| !m.is_empty())
                .or_else(|| latest_message(events, |e| mine(e) && has_reason(e, &["BackOff"])))
                .unwrap_or("the container keeps crashing")
                .to_string(),
        };
        return Some(fail(CRASH_LOOP, message, true));
    }
    if oom && c.restart_count >= opts.failure_threshold {
        return Some(fail(OOM_KILLED, oom_message(limit, c.restart_count), true));
    }
    None
}

fn is_fatal_waiting(reason: &str) -> bool {
    FATAL_WAITING.contains(&reason)
        || (reason != CRASH_LOOP
            && (reason.starts_with("Err")
                || reason.ends_with("Error")
                || reason.ends_with("BackOff")))
}

fn is_warning(e: &Event) -> bool {
    e.type_.as_deref() == Some("Warning")
}

/// `exit code N (Reason): termination message`.
pub(super) fn exit_summary(t: &ContainerStateTerminated) -> String {
    let mut s = format!("exit code {}", t.exit_code);
    if let Some(r) = t.reason.as_deref().filter(|r| !r.is_empty()) {
        s.push_str(&format!(" ({r})"));
    }
    if let Some(m) = t
        .message
        .as_deref()
        .map(str::trim)
        .filter(|m| !m.is_empty())
    {
        s.push_str(&format!(": {m}"));
    }
    s
}

fn oom_message(limit: Option<&str>, restarts: i32) -> String {
    match limit {
        Some(l) => {
            format!("killed for exceeding its memory limit of {l}; restarted {restarts} times")
        }
        None => format!("killed for running out of memory; restarted {restarts} times"),
    }
}

/// The container's memory limit as written in the pod spec, for example `256Mi`.
fn memory_limit<'a>(pod: &'a Pod, container: &str) -> Option<&'a str> {
    let spec = pod.spec.as_ref()?;
    spec.init_containers
        .iter()
        .flatten()
        .chain(spec.containers.iter())
        .find(|c| c.name == container)?
        .resources
        .as_ref()?
        .limits
        .as_ref()?
        .get("memory")
        .map(|q| q.0.as_str())
}

/// Whether an image pull error will not pass by retrying: the image or tag does not exist, the
/// cluster may not pull it, the registry's name does not resolve or its certificate is not
/// trusted. Timeouts, refused or reset connections, DNS failures the resolver calls temporary,
/// rate limits (429) and server errors (5xx) may pass, so kpush waits for the kubelet's retry.
///
/// The phrases are containerd's, CRI-O's and Go's own (see `kpush_testenv::node_sim::pull_errors`
/// for their sources); status codes are matched with their reason phrase, never as bare digits,
/// which also occur in digests and addresses.
fn is_permanent_pull_error(message: &str) -> bool {
    let m = message.to_ascii_lowercase();
    const TRANSIENT: [&str; 19] = [
        "429 too many requests",
        "toomanyrequests",
        "too many requests to registry",
        "registry is unavailable",
        "i/o timeout",
        "timeout awaiting response headers",
        "tls handshake timeout",
        "context deadline exceeded",
        "connection reset by peer",
        "connection refused",
        "temporary failure in name resolution",
        "server misbehaving",
        "500 internal server error",
        "502 bad gateway",
        "503 service unavailable",
        "504 gateway timeout",
        "unexpected eof",
        "code = deadlineexceeded",
        "code = unavailable",
    ];
    if TRANSIENT.iter().any(|t| m.contains(t)) {
        return false;
    }
    const PERMANENT: [&str; 18] = [
        "not found",
        "manifest unknown",
        "name unknown",
        "pull access denied",
        "requested access to the resource is denied",
        "insufficient_scope",
        "401 unauthorized",
        "403 forbidden",
        "404 not found",
        "unauthorized: authentication required",
        "no such host",
        "x509:",
        "failed to verify certificate",
        "invalid reference format",
        "no match for platform",
        "code = notfound",
        "signature validation failed",
        "blocked pull of",
    ];
    PERMANENT.iter().any(|p| m.contains(p))
}

#[cfg(test)]
mod tests {
    use super::super::diagnose;
    use super::super::fixtures::*;
    use serde_json::{Value, json};

    fn waiting_pod(reason: &str, message: Option<&str>) -> k8s_openapi::api::core::v1::Pod {
        pod(
            json!({}),
            json!({"phase": "Pending", "containerStatuses": [container_status(
                json!({"waiting": {"reason": reason, "message": message}}), json!({}), 0, false)]}),
        )
    }

    fn crash_looping(restarts: i32, last: Value) -> k8s_openapi::api::core::v1::Pod {
        pod(
            json!({"resources": {"limits": {"memory": "256Mi"}}}),
            json!({"phase": "Running", "containerStatuses": [container_status(
                json!({"waiting": {"reason": "CrashLoopBackOff", "message": "back-off 20s restarting failed container=app"}}),
                json!({"terminated": last}), restarts, false)]}),
        )
    }

    #[test]
    fn image_and_configuration_errors_fail_at_once() {
        for reason in [
            "ErrImagePull",
            "ImagePullBackOff",
            "InvalidImageName",
            "CreateContainerConfigError",
            "CreateContainerError",
            "RunContainerError",
            "ErrImageNeverPull",
        ] {
            let details = "manifest unknown: details";
            let f = diagnose(&waiting_pod(reason, Some(details)), &[], &opts())
                .unwrap_or_else(|| panic!("{reason} should fail"));
            assert_eq!(f.reason, reason);
            assert_eq!(f.container.as_deref(), Some("app"));
            assert_eq!(f.message, details);
            assert!(!f.previous_logs_useful);
        }
    }

    #[test]
    fn ordinary_waiting_reasons_are_not_failures() {
        for reason in ["ContainerCreating", "PodInitializing"] {
            assert_eq!(diagnose(&waiting_pod(reason, None), &[], &opts()), None);
        }
    }

    #[test]
    fn image_pull_back_off_quotes_the_registry_error_from_events() {
        let events = [
            event(
                "Pulling",
                "Pulling image \"registry.example/app:1\"",
                true,
                30,
                1,
            ),
            event(
                "Failed",
                "Failed to pull image \"registry.example/app:1\": manifest unknown",
                true,
                20,
                2,
            ),
            event(
                "BackOff",
                "Back-off pulling image \"registry.example/app:1\"",
                true,
                5,
                3,
            ),
        ];
        let p = waiting_pod(
            "ImagePullBackOff",
            Some("Back-off pulling image \"registry.example/app:1\""),
        );
        let f = diagnose(&p, &events, &opts()).expect("failure");
        assert_eq!(
            f.message,
            "Failed to pull image \"registry.example/app:1\": manifest unknown"
        );
    }

    #[test]
    fn empty_status_message_is_filled_from_the_latest_warning_event() {
        let events = [event(
            "Failed",
            "Error: secret \"db\" not found",
            true,
            5,
            1,
        )];
        let p = waiting_pod("CreateContainerConfigError", None);
        let f = diagnose(&p, &events, &opts()).expect("failure");
        assert_eq!(f.message, "Error: secret \"db\" not found");
    }

    #[test]
    fn failing_init_container_is_reported() {
        let p = pod(
            json!({}),
            json!({"phase": "Pending", "initContainerStatuses": [{
                "name": "migrate", "image": "m:1", "imageID": "", "ready": false, "restartCount": 0,
                "state": {"waiting": {"reason": "ErrImagePull", "message": "not found"}}
            }]}),
        );
        let f = diagnose(&p, &[], &opts()).expect("failure");
        assert_eq!(f.container.as_deref(), Some("migrate"));
        assert_eq!(f.reason, "ErrImagePull");
    }

    #[test]
    fn failure_threshold_tolerates_a_crash_loop_blip() {
        let p = crash_looping(1, json!({"exitCode": 1, "reason": "Error"}));
        assert_eq!(diagnose(&p, &[], &opts()), None);
    }

    #[test]
    fn crash_loop_at_the_failure_threshold_fails_with_the_exit_code() {
        let p = crash_looping(
            2,
            json!({"exitCode": 1, "reason": "Error", "message": "panic: DATABASE_URL not set\n"}),
        );
        let f = diagnose(&p, &[], &opts()).expect("failure");
        assert_eq!(f.reason, "CrashLoopBackOff");
        assert_eq!(f.restart_count, 2);
        assert_eq!(
            f.message,
            "restarted 2 times; last exit code 1 (Error): panic: DATABASE_URL not set"
        );
        assert!(f.previous_logs_useful);
    }

    #[test]
    fn failure_threshold_zero_fails_on_the_first_crash_loop() {
        let p = crash_looping(0, json!({"exitCode": 1}));
        let mut o = opts();
        o.failure_threshold = 0;
        assert!(diagnose(&p, &[], &o).is_some());
    }

    #[test]
    fn oom_killed_crash_loop_fails_at_once_naming_the_limit() {
        let p = crash_looping(1, json!({"exitCode": 137, "reason": "OOMKilled"}));
        let f = diagnose(&p, &[], &opts()).expect("failure");
        assert_eq!(f.reason, "OOMKilled");
        assert_eq!(
            f.message,
            "killed for exceeding its memory limit of 256Mi; restarted 1 times"
        );
        assert!(f.previous_logs_useful);
    }

    #[test]
    fn oom_killed_container_running_again_fails_past_the_threshold() {
        let running = |restarts| {
            pod(
                json!({}),
                json!({"phase": "Running", "containerStatuses": [container_status(
                    json!({"running": {"startedAt": ago(5)}}),
                    json!({"terminated": {"exitCode": 137, "reason": "OOMKilled"}}), restarts, true)]}),
            )
        };
        assert_eq!(diagnose(&running(1), &[], &opts()), None);
        let f = diagnose(&running(2), &[], &opts()).expect("failure");
        assert_eq!(f.reason, "OOMKilled");
        assert_eq!(
            f.message,
            "killed for running out of memory; restarted 2 times"
        );
    }

    #[test]
    fn crash_loop_in_a_job_pod_is_left_to_the_backoff_limit() {
        let mut p = crash_looping(5, json!({"exitCode": 1}));
        p.metadata.owner_references = Some(vec![
            serde_json::from_value(json!({"apiVersion": "batch/v1", "kind": "Job", "name": "migrate", "uid": "job-uid", "controller": true}))
                .expect("owner"),
        ]);
        assert_eq!(diagnose(&p, &[], &opts()), None);
        // Image errors still fail a Job's pod at once.
        p.status = waiting_pod("ImagePullBackOff", Some("x")).status;
        assert!(diagnose(&p, &[], &opts()).is_some());
    }

    #[test]
    fn permanent_pull_errors_fail_at_once_and_transient_ones_wait_for_back_off() {
        assert!(super::is_permanent_pull_error(
            "rpc error: code = NotFound desc = failed to pull and unpack image \"docker.io/library/nginx:nope\": failed to resolve reference \"docker.io/library/nginx:nope\": docker.io/library/nginx:nope: not found"
        ));
        assert!(super::is_permanent_pull_error("401 Unauthorized"));
        assert!(!super::is_permanent_pull_error(
            "dial tcp 10.0.0.1:443: i/o timeout"
        ));
        assert!(!super::is_permanent_pull_error(""));
        // CRI-O (containers/image) words a missing tag like this.
        assert!(super::is_permanent_pull_error(
            "reading manifest 9.9 in quay.io/org/app: manifest unknown"
        ));
    }

    /// Every failure the node simulator acts out, worded as containerd and CRI-O report them and
    /// as the kubelet shows them (sources in `kpush_testenv::node_sim::pull_errors`), for images
    /// whose names, tags and digests hold digits that look like status codes: a permanent one
    /// fails at the first ErrImagePull, a transient one waits for the kubelet's retry, and every
    /// one fails at ImagePullBackOff quoting the registry's answer.
    #[test]
    fn real_runtime_messages_are_classified_as_the_runtime_means_them() {
        for image in [
            "nginx:1.27",
            "regsitry.example/shop/web:429",
            "myacr.azurecr.io/app:v503-404",
            "ghcr.io/org/app@sha256:4294295030000000000000000000000000000000000000000000000000000401",
        ] {
            let examples = kpush_testenv::node_sim::pull_errors::examples(image);
            assert_eq!(examples.len(), 20, "{image}");
            for ex in examples {
                let what = format!("{:?} {:?} for {image}", ex.runtime, ex.failure);
                let pulled = waiting_pod(&ex.kubelet.reason, Some(&ex.kubelet.message));
                let verdict = diagnose(&pulled, &[], &opts());
                assert_eq!(
                    verdict.is_some(),
                    ex.permanent,
                    "{what}: {}",
                    ex.kubelet.message
                );
                if let Some(f) = verdict {
                    assert_eq!(f.reason, ex.kubelet.reason, "{what}");
                    assert_eq!(f.message, ex.kubelet.message, "{what}");
                }
                let backing_off = waiting_pod("ImagePullBackOff", Some(&ex.back_off));
                let failed = event("Failed", &ex.event, true, 5, 1);
                let f = diagnose(&backing_off, &[failed], &opts()).expect("back-off fails");
                assert_eq!(f.reason, "ImagePullBackOff", "{what}");
                assert_eq!(f.message, ex.event, "{what}");
                // Without the event (expired), the status message still carries the answer.
                let f = diagnose(&backing_off, &[], &opts()).expect("back-off fails");
                assert_eq!(f.message, ex.back_off, "{what}");
            }
        }
    }

    #[test]
    fn a_transient_err_image_pull_is_not_yet_a_failure() {
        let p: super::Pod = serde_json::from_value(json!({
            "metadata": {"name": "p", "namespace": "n"},
            "status": {"containerStatuses": [{
                "name": "c", "image": "x", "imageID": "", "ready": false, "restartCount": 0,
                "state": {"waiting": {"reason": "ErrImagePull", "message": "toomanyrequests: rate limit"}}
            }]}
        }))
        .unwrap();
        assert!(
            super::failure(
                &p,
                &[],
                &super::DiagnoseOptions::default(),
                super::PodKind::Controlled
            )
            .is_none()
        );
    }
}
