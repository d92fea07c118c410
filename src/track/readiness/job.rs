//! Job: ready when complete, failed when the controller gave up.

use std::time::Duration;

use k8s_openapi::api::batch::v1::Job;

use super::Readiness;
use super::replica_failure::{CreateFailure, classify};

/// How long a Job may go on failing to create its pods (a ServiceAccount not there yet) before
/// that counts as failure.
pub const CREATE_GRACE: Duration = Duration::from_secs(15);

/// Whether a Job has completed.
///
/// A `Failed` (or `FailureTarget`) condition that is True fails with its reason, for example
/// `BackoffLimitExceeded` or `DeadlineExceeded`; `Complete` (or `SuccessCriteriaMet`) True is
/// ready. A suspended Job is ready: it will not run until someone resumes it, so waiting could
/// only time out. Otherwise it reports its counts.
pub fn job(j: &Job) -> Readiness {
    let status = j.status.as_ref();
    let conditions = status
        .and_then(|s| s.conditions.as_deref())
        .unwrap_or_default();
    let is_true = |t: &str| {
        conditions
            .iter()
            .find(|c| c.type_ == t && c.status == "True")
    };
    if let Some(c) = is_true("Failed").or_else(|| is_true("FailureTarget")) {
        return Readiness::failed(
            c.reason.clone().unwrap_or_else(|| "JobFailed".to_string()),
            c.message
                .clone()
                .unwrap_or_else(|| "the job failed".to_string()),
        );
    }
    if is_true("Complete").is_some() || is_true("SuccessCriteriaMet").is_some() {
        return Readiness::Ready;
    }
    let spec = j.spec.as_ref();
    if spec.and_then(|s| s.suspend) == Some(true) {
        return Readiness::Ready;
    }
    let succeeded = status.and_then(|s| s.succeeded).unwrap_or(0);
    let active = status.and_then(|s| s.active).unwrap_or(0);
    let failed = status.and_then(|s| s.failed).unwrap_or(0);
    let mut message = match spec.and_then(|s| s.completions) {
        Some(m) => format!("{succeeded} succeeded of {m} completions, {active} active"),
        None => format!("{succeeded} succeeded, {active} active"),
    };
    if failed > 0 {
        message.push_str(&format!(", {failed} failed"));
    }
    Readiness::in_progress(message)
}

/// A Job still in progress whose controller reports that it cannot create pods (its
/// `FailedCreate` events: the latest `message`, and how long ago the first was, `lasting`),
/// while it has no pod: a quota or policy fails it at once, anything else (a ServiceAccount
/// that does not exist) once it has lasted [`CREATE_GRACE`]; until then the message is quoted.
pub fn cannot_create_pods(readiness: Readiness, message: &str, lasting: Duration) -> Readiness {
    let Readiness::InProgress { message: waiting } = readiness else {
        return readiness;
    };
    if let CreateFailure::Permanent { reason, message } = classify(message) {
        return Readiness::failed(reason, message);
    }
    if lasting >= CREATE_GRACE {
        let hint = if message.contains("serviceaccount") && message.contains("not found") {
            ": create the ServiceAccount before the Job (or fix spec.template.spec.serviceAccountName); \
             with a chart, a hook's ServiceAccount deleted by helm.sh/hook-delete-policy before a \
             later hook needs it does this"
        } else {
            ""
        };
        return Readiness::failed(
            "FailedCreate",
            format!(
                "the Job's controller has not been able to create its pods for {}s: {message}{hint}",
                lasting.as_secs()
            ),
        );
    }
    Readiness::in_progress(format!("{waiting} (FailedCreate: {message})"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    fn job_with(spec: Value, status: Value) -> Job {
        serde_json::from_value(json!({
            "apiVersion": "batch/v1", "kind": "Job",
            "metadata": {"name": "migrate"},
            "spec": spec,
            "status": status,
        }))
        .expect("fixture")
    }

    #[test]
    fn complete_job_is_ready() {
        let j = job_with(
            json!({"completions": 1}),
            json!({"succeeded": 1, "conditions": [{"type": "Complete", "status": "True"}]}),
        );
        assert_eq!(job(&j), Readiness::Ready);
    }

    #[test]
    fn job_past_its_backoff_limit_fails_with_the_reason() {
        let j = job_with(
            json!({"backoffLimit": 2}),
            json!({"failed": 3, "conditions": [{
                "type": "Failed", "status": "True", "reason": "BackoffLimitExceeded",
                "message": "Job has reached the specified backoff limit"
            }]}),
        );
        assert_eq!(
            job(&j),
            Readiness::failed(
                "BackoffLimitExceeded",
                "Job has reached the specified backoff limit"
            )
        );
    }

    #[test]
    fn job_past_its_deadline_fails() {
        let j = job_with(
            json!({"activeDeadlineSeconds": 60}),
            json!({"conditions": [{
                "type": "Failed", "status": "True", "reason": "DeadlineExceeded",
                "message": "Job was active longer than specified deadline"
            }]}),
        );
        assert!(
            matches!(job(&j), Readiness::Failed { reason, .. } if reason == "DeadlineExceeded")
        );
    }

    #[test]
    fn running_job_reports_its_counts() {
        let j = job_with(
            json!({"completions": 3}),
            json!({"succeeded": 1, "active": 2, "failed": 1}),
        );
        assert_eq!(
            job(&j),
            Readiness::in_progress("1 succeeded of 3 completions, 2 active, 1 failed")
        );
        let j = job_with(json!({}), json!({"active": 1}));
        assert_eq!(job(&j), Readiness::in_progress("0 succeeded, 1 active"));
    }

    #[test]
    fn suspended_job_is_ready() {
        let j = job_with(json!({"suspend": true}), json!({}));
        assert_eq!(job(&j), Readiness::Ready);
    }

    #[test]
    fn a_job_that_cannot_create_pods_fails_after_the_grace_naming_the_cause() {
        let waiting = Readiness::in_progress("0 succeeded, 0 active");
        let sa = "Error creating: pods \"hook-\" is forbidden: error looking up service account \
                  ns/certgen: serviceaccount \"certgen\" not found";
        match cannot_create_pods(waiting.clone(), sa, Duration::from_secs(3)) {
            Readiness::InProgress { message } => {
                assert!(
                    message.contains("FailedCreate: Error creating"),
                    "{message}"
                )
            }
            other => panic!("{other:?}"),
        }
        match cannot_create_pods(waiting.clone(), sa, CREATE_GRACE) {
            Readiness::Failed { reason, message } => {
                assert_eq!(reason, "FailedCreate");
                assert!(
                    message.contains("serviceaccount \"certgen\" not found"),
                    "{message}"
                );
                assert!(message.contains("create the ServiceAccount"), "{message}");
            }
            other => panic!("{other:?}"),
        }
        // A quota fails at once; a finished Job is left alone.
        let quota = "pods \"j-1\" is forbidden: exceeded quota: compute, requested: pods=1";
        assert!(matches!(
            cannot_create_pods(waiting, quota, Duration::ZERO),
            Readiness::Failed { ref reason, .. } if reason == "QuotaExceeded"
        ));
        assert_eq!(
            cannot_create_pods(Readiness::Ready, sa, CREATE_GRACE),
            Readiness::Ready
        );
    }
}
