//! Readiness probes that keep failing past the time a healthy start would need.

use std::time::Duration;

use k8s_openapi::api::core::v1::{Container, Event, Pod, Probe};

use super::events::{concerns_container, last_seen, latest_message, occurrences};
use super::{DiagnoseOptions, PodFailure, elapsed, pod_name};

/// How long after its start a container may fail its readiness probe before that counts.
///
/// werf's formula, in seconds: first probe at most `period + initialDelay` after start
/// (probes start at a random point within the first period), then `timeout` for it to
/// finish, `(failureThreshold + successThreshold − 3) × period` for the checks before the last
/// one that matters, `period / 2` for event latency and `timeout` for the last probe. With a
/// startup probe the readiness probe cannot begin before the startup probe's quickest success
/// (`initialDelay + period × successThreshold + timeout`) plus one period. Fields take the
/// API defaults when unset and their minimums when below; the result is never less than one
/// period plus one timeout.
pub fn readiness_grace(readiness: &Probe, startup: Option<&Probe>) -> Duration {
    let p = Settings::of(readiness);
    let mut first_probe = p.period + p.initial_delay;
    if let Some(s) = startup.map(Settings::of) {
        first_probe =
            first_probe.max(s.initial_delay + s.period * s.success + s.timeout + p.period);
    }
    let millis = (first_probe + 2 * p.timeout + (p.failure + p.success - 3) * p.period) * 1000
        + p.period * 500;
    let floor = (p.period + p.timeout) * 1000;
    Duration::from_millis(u64::try_from(millis.max(floor)).unwrap_or(0))
}

/// A probe's settings with API defaults and minimums applied, widened to avoid overflow.
struct Settings {
    initial_delay: i64,
    timeout: i64,
    period: i64,
    success: i64,
    failure: i64,
}

impl Settings {
    fn of(p: &Probe) -> Self {
        let get = |v: Option<i32>, default: i32, min: i32| i64::from(v.unwrap_or(default).max(min));
        Self {
            initial_delay: get(p.initial_delay_seconds, 0, 0),
            timeout: get(p.timeout_seconds, 1, 1),
            period: get(p.period_seconds, 10, 1),
            success: get(p.success_threshold, 1, 1),
            failure: get(p.failure_threshold, 3, 1),
        }
    }
}

/// `ReadinessProbeFailed` for the first running, unready container past its grace whose
/// readiness probe failed at least `failureThreshold` times since it started.
pub(super) fn readiness_failure(
    pod: &Pod,
    events: &[&Event],
    opts: &DiagnoseOptions,
) -> Option<PodFailure> {
    let status = pod.status.as_ref()?;
    status
        .init_container_statuses
        .iter()
        .chain(status.container_statuses.iter())
        .flatten()
        .find_map(|c| {
            if c.ready {
                return None;
            }
            let started_at = c.state.as_ref()?.running.as_ref()?.started_at.as_ref()?.0;
            let spec = container_spec(pod, &c.name)?;
            let probe = spec.readiness_probe.as_ref()?;
            if spec.startup_probe.is_some() && c.started != Some(true) {
                return None;
            }
            let grace = readiness_grace(probe, spec.startup_probe.as_ref());
            if elapsed(opts.now, started_at)? < grace {
                return None;
            }
            let failing = |e: &Event| {
                e.reason.as_deref() == Some("Unhealthy")
                    && concerns_container(e, &c.name)
                    && e.message
                        .as_deref()
                        .is_none_or(|m| m.starts_with("Readiness probe"))
                    && last_seen(e).is_none_or(|t| t >= started_at)
            };
            let failures: i64 = events
                .iter()
                .filter(|e| failing(e))
                .map(|e| i64::from(occurrences(e)))
                .sum();
            if failures < Settings::of(probe).failure {
                return None;
            }
            Some(PodFailure {
                pod: pod_name(pod),
                container: Some(c.name.clone()),
                reason: "ReadinessProbeFailed".to_string(),
                message: latest_message(events, failing)
                    .unwrap_or("the readiness probe keeps failing")
                    .to_string(),
                restart_count: c.restart_count,
                previous_logs_useful: false,
            })
        })
}

fn container_spec<'a>(pod: &'a Pod, name: &str) -> Option<&'a Container> {
    let spec = pod.spec.as_ref()?;
    spec.init_containers
        .iter()
        .flatten()
        .chain(spec.containers.iter())
        .find(|c| c.name == name)
}

#[cfg(test)]
mod tests {
    use super::super::diagnose;
    use super::super::fixtures::*;
    use super::*;
    use serde_json::{Value, json};

    fn probe(v: Value) -> Probe {
        serde_json::from_value(v).expect("probe")
    }

    #[test]
    fn readiness_grace_with_default_probe_settings_is_27_seconds() {
        // period 10 + initialDelay 0 + timeout 1 + (3 + 1 - 3) * 10 + 5 + timeout 1
        assert_eq!(
            readiness_grace(&probe(json!({})), None),
            Duration::from_secs(27)
        );
    }

    #[test]
    fn readiness_grace_is_computed_from_the_probe() {
        let p = probe(json!({
            "initialDelaySeconds": 20, "timeoutSeconds": 3, "periodSeconds": 5,
            "successThreshold": 2, "failureThreshold": 6
        }));
        // 5 + 20 + 3 + (6 + 2 - 3) * 5 + 2.5 + 3
        assert_eq!(readiness_grace(&p, None), Duration::from_millis(58_500));
    }

    #[test]
    fn readiness_grace_is_never_below_one_period_and_timeout() {
        let p = probe(json!({"periodSeconds": 30, "failureThreshold": 1, "successThreshold": 1}));
        // 30 + 1 + (1 + 1 - 3) * 30 + 15 + 1 = 17 < 31
        assert_eq!(readiness_grace(&p, None), Duration::from_secs(31));
        let p = probe(json!({"periodSeconds": 0, "timeoutSeconds": -4, "failureThreshold": 0}));
        assert!(readiness_grace(&p, None) >= Duration::from_secs(2));
    }

    #[test]
    fn readiness_grace_waits_for_a_startup_probe() {
        let startup = probe(json!({"initialDelaySeconds": 30, "periodSeconds": 10}));
        // first readiness probe: max(10 + 0, 30 + 10 * 1 + 1 + 10) = 51; 51 + 1 + 10 + 5 + 1
        assert_eq!(
            readiness_grace(&probe(json!({})), Some(&startup)),
            Duration::from_secs(68)
        );
    }

    fn unready_since(secs: i64, container: Value) -> Pod {
        pod(
            container,
            json!({"phase": "Running", "containerStatuses": [container_status(
                json!({"running": {"startedAt": ago(secs)}}), json!({}), 0, false)]}),
        )
    }

    fn unhealthy(secs_ago: i64, count: i32) -> Event {
        event(
            "Unhealthy",
            "Readiness probe failed: HTTP probe failed with statuscode: 503",
            true,
            secs_ago,
            count,
        )
    }

    #[test]
    fn failing_readiness_probe_within_the_grace_is_not_a_failure() {
        let p = unready_since(
            20,
            json!({"readinessProbe": {"httpGet": {"path": "/ready", "port": 8080}}}),
        );
        assert_eq!(diagnose(&p, &[unhealthy(2, 3)], &opts()), None);
    }

    #[test]
    fn failing_readiness_probe_past_the_grace_fails_quoting_the_probe() {
        let p = unready_since(
            40,
            json!({"readinessProbe": {"httpGet": {"path": "/ready", "port": 8080}}}),
        );
        let f = diagnose(&p, &[unhealthy(2, 3)], &opts()).expect("failure");
        assert_eq!(f.reason, "ReadinessProbeFailed");
        assert_eq!(f.container.as_deref(), Some("app"));
        assert_eq!(
            f.message,
            "Readiness probe failed: HTTP probe failed with statuscode: 503"
        );
    }

    #[test]
    fn unready_container_without_unhealthy_events_is_not_a_failure() {
        let p = unready_since(
            40,
            json!({"readinessProbe": {"httpGet": {"path": "/ready", "port": 8080}}}),
        );
        assert_eq!(diagnose(&p, &[], &opts()), None);
    }

    #[test]
    fn too_few_probe_failures_are_not_a_failure() {
        let p = unready_since(
            40,
            json!({"readinessProbe": {"httpGet": {"path": "/ready", "port": 8080}}}),
        );
        assert_eq!(diagnose(&p, &[unhealthy(2, 2)], &opts()), None);
    }

    #[test]
    fn probe_failures_of_a_previous_container_instance_do_not_count() {
        let p = unready_since(
            40,
            json!({"readinessProbe": {"httpGet": {"path": "/ready", "port": 8080}}}),
        );
        assert_eq!(diagnose(&p, &[unhealthy(60, 5)], &opts()), None);
    }

    #[test]
    fn liveness_probe_failures_are_not_readiness_failures() {
        let p = unready_since(
            40,
            json!({"readinessProbe": {"httpGet": {"path": "/ready", "port": 8080}}}),
        );
        let e = event(
            "Unhealthy",
            "Liveness probe failed: connection refused",
            true,
            2,
            5,
        );
        assert_eq!(diagnose(&p, &[e], &opts()), None);
    }

    #[test]
    fn container_whose_startup_probe_has_not_passed_is_not_judged() {
        let p = unready_since(
            300,
            json!({
                "readinessProbe": {"httpGet": {"path": "/ready", "port": 8080}},
                "startupProbe": {"httpGet": {"path": "/started", "port": 8080}}
            }),
        );
        assert_eq!(diagnose(&p, &[unhealthy(2, 5)], &opts()), None);
    }
}
