//! A controller that cannot create pods (`ReplicaFailure`, reason `FailedCreate`): failures
//! waiting will not cure fail the rollout at once, naming the quota or policy; the others
//! (a ServiceAccount not created yet) are quoted while waiting.

use super::Readiness;
use super::status::with_detail;

/// What a pod-creation failure message means for the rollout.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CreateFailure {
    /// Waiting will not help until the quota, the policy or the manifest changes.
    Permanent {
        /// Short CamelCase cause: `QuotaExceeded`, `PodSecurity`, `AdmissionDenied`, `LimitRange`.
        reason: &'static str,
        /// The quota or policy named, and the server's message.
        message: String,
    },
    /// May pass on a later attempt.
    Transient,
}

/// Classifies the message of a `FailedCreate` condition or event.
pub fn classify(message: &str) -> CreateFailure {
    let permanent = |reason, what: String| CreateFailure::Permanent {
        reason,
        message: format!("{what}: {message}"),
    };
    if let Some(name) = after(message, "exceeded quota: ", &[',']) {
        return permanent(
            "QuotaExceeded",
            format!("pods would exceed ResourceQuota {name}"),
        );
    }
    if let Some(name) = after(message, "failed quota: ", &[':']) {
        return permanent(
            "QuotaExceeded",
            format!("pods lack requests or limits that ResourceQuota {name} requires"),
        );
    }
    if let Some(level) = after(message, "violates PodSecurity \"", &['"']) {
        return permanent(
            "PodSecurity",
            format!("the namespace's Pod Security level {level} forbids these pods"),
        );
    }
    if let Some(policy) = after(message, "ValidatingAdmissionPolicy '", &['\'']) {
        return permanent(
            "AdmissionDenied",
            format!("ValidatingAdmissionPolicy {policy} denies these pods"),
        );
    }
    if let Some(hook) = after(message, "admission webhook \"", &['"'])
        && message.contains("denied the request")
    {
        return permanent(
            "AdmissionDenied",
            format!("admission webhook {hook} denies these pods"),
        );
    }
    if message.contains("per Container is") || message.contains("per Pod is") {
        return permanent(
            "LimitRange",
            "the namespace's LimitRange forbids these pods' resources".to_string(),
        );
    }
    CreateFailure::Transient
}

/// The text after `marker` up to the first of `ends`.
fn after<'a>(message: &'a str, marker: &str, ends: &[char]) -> Option<&'a str> {
    let rest = &message[message.find(marker)? + marker.len()..];
    let end = rest.find(ends).unwrap_or(rest.len());
    Some(rest[..end].trim()).filter(|s| !s.is_empty())
}

/// The readiness of a controller that is `waiting` (for example "0 of 3 replicas are
/// available") and reports the pod-creation failure `(reason, message)`. A permanent failure
/// fails at once unless `old_pods_leaving` (pods of an older revision are still terminating,
/// and may free the quota they hold).
pub fn while_waiting(
    waiting: String,
    failure: Option<(Option<&str>, Option<&str>)>,
    old_pods_leaving: bool,
) -> Readiness {
    let Some((reason, message)) = failure else {
        return Readiness::in_progress(waiting);
    };
    if reason == Some("FailedCreate")
        && let Some(m) = message
        && let CreateFailure::Permanent { reason, message } = classify(m)
        && !(old_pods_leaving && reason == "QuotaExceeded")
    {
        return Readiness::failed(reason, message);
    }
    Readiness::in_progress(with_detail(waiting, reason, message))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reason_of(m: &str) -> Option<&'static str> {
        match classify(m) {
            CreateFailure::Permanent { reason, .. } => Some(reason),
            CreateFailure::Transient => None,
        }
    }

    #[test]
    fn quota_policy_and_webhook_denials_are_permanent_and_named() {
        let quota = "pods \"web-5d4f-abcde\" is forbidden: exceeded quota: compute, requested: requests.cpu=500m, used: requests.cpu=1, limited: requests.cpu=1";
        match classify(quota) {
            CreateFailure::Permanent { reason, message } => {
                assert_eq!(reason, "QuotaExceeded");
                assert!(
                    message.starts_with("pods would exceed ResourceQuota compute: "),
                    "{message}"
                );
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(
            reason_of(
                "pods \"x\" is forbidden: failed quota: compute: must specify limits.cpu for: app"
            ),
            Some("QuotaExceeded")
        );
        assert_eq!(
            reason_of(
                "pods \"x\" is forbidden: violates PodSecurity \"restricted:latest\": runAsNonRoot != true"
            ),
            Some("PodSecurity")
        );
        assert_eq!(
            reason_of(
                "pods \"x\" is forbidden: ValidatingAdmissionPolicy 'no-root' with binding 'b' denied request: no"
            ),
            Some("AdmissionDenied")
        );
        assert_eq!(
            reason_of(
                "admission webhook \"validate.kyverno.svc\" denied the request: policy require-labels"
            ),
            Some("AdmissionDenied")
        );
        assert_eq!(
            reason_of(
                "pods \"x\" is forbidden: maximum cpu usage per Container is 1, but limit is 2"
            ),
            Some("LimitRange")
        );
    }

    #[test]
    fn a_missing_service_account_may_still_appear() {
        assert_eq!(
            reason_of(
                "pods \"x\" is forbidden: error looking up service account shop/default: serviceaccount \"default\" not found"
            ),
            None
        );
    }

    #[test]
    fn quota_waits_while_old_pods_are_leaving() {
        let quota = Some((
            Some("FailedCreate"),
            Some("pods \"w\" is forbidden: exceeded quota: q, requested: pods=1"),
        ));
        assert!(while_waiting("0 of 1".into(), quota, false).is_failed());
        assert!(!while_waiting("0 of 1".into(), quota, true).is_failed());
        let sa = Some((
            Some("FailedCreate"),
            Some("serviceaccount \"default\" not found"),
        ));
        assert_eq!(
            while_waiting("0 of 1".into(), sa, false),
            Readiness::in_progress("0 of 1 (FailedCreate: serviceaccount \"default\" not found)")
        );
    }
}
