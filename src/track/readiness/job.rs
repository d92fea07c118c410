//! Job: ready when complete, failed when the controller gave up.

use k8s_openapi::api::batch::v1::Job;

use super::Readiness;

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
}
