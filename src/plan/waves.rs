//! The order objects are applied in: waves, each finishing before the next begins.
//!
//! 1. Namespaces and CRDs (then kpush waits for the CRDs to be Established and refreshes
//!    discovery, so custom resources of those CRDs can be resolved);
//! 2. configuration: RBAC, ServiceAccounts, ConfigMaps, Secrets, PVCs, Services, quotas, ...
//!    (every kind not named elsewhere);
//! 3. workloads, and what points at them: Deployments, StatefulSets, DaemonSets, Jobs, CronJobs,
//!    Pods, HPAs, Ingresses, and custom resources;
//! 4. admission webhooks and APIServices last, so a webhook whose backend is being deployed
//!    cannot block the objects before it.

use serde::Serialize;

/// One step of the apply order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Wave {
    /// Namespaces and CustomResourceDefinitions.
    Foundation,
    /// Configuration objects that workloads use.
    Config,
    /// Workloads, their routing and scaling, and custom resources.
    Workloads,
    /// Admission webhooks and aggregated APIs.
    Webhooks,
}

impl Wave {
    /// All waves in order.
    pub const ALL: [Wave; 4] = [
        Wave::Foundation,
        Wave::Config,
        Wave::Workloads,
        Wave::Webhooks,
    ];

    /// Short name for messages.
    pub fn name(self) -> &'static str {
        match self {
            Wave::Foundation => "namespaces and CRDs",
            Wave::Config => "configuration",
            Wave::Workloads => "workloads",
            Wave::Webhooks => "webhooks and API services",
        }
    }
}

const WORKLOADS: &[(&str, &str)] = &[
    ("apps", "Deployment"),
    ("apps", "StatefulSet"),
    ("apps", "DaemonSet"),
    ("apps", "ReplicaSet"),
    ("extensions", "Deployment"),
    ("extensions", "DaemonSet"),
    ("extensions", "ReplicaSet"),
    ("extensions", "Ingress"),
    ("", "ReplicationController"),
    ("", "Pod"),
    ("batch", "Job"),
    ("batch", "CronJob"),
    ("autoscaling", "HorizontalPodAutoscaler"),
    ("networking.k8s.io", "Ingress"),
];

const WEBHOOKS: &[(&str, &str)] = &[
    (
        "admissionregistration.k8s.io",
        "MutatingWebhookConfiguration",
    ),
    (
        "admissionregistration.k8s.io",
        "ValidatingWebhookConfiguration",
    ),
    ("admissionregistration.k8s.io", "ValidatingAdmissionPolicy"),
    (
        "admissionregistration.k8s.io",
        "ValidatingAdmissionPolicyBinding",
    ),
    ("apiregistration.k8s.io", "APIService"),
];

/// Groups whose kinds are built into Kubernetes (anything else is a custom resource).
pub fn is_builtin_group(group: &str) -> bool {
    group.is_empty() || !group.contains('.') || group.ends_with(".k8s.io")
}

/// The wave a kind belongs to.
pub fn wave_of(group: &str, kind: &str) -> Wave {
    let is = |list: &[(&str, &str)]| list.iter().any(|(g, k)| *g == group && *k == kind);
    if (group.is_empty() && kind == "Namespace")
        || (group == "apiextensions.k8s.io" && kind == "CustomResourceDefinition")
    {
        Wave::Foundation
    } else if is(WEBHOOKS) {
        Wave::Webhooks
    } else if is(WORKLOADS) || !is_builtin_group(group) {
        Wave::Workloads
    } else {
        Wave::Config
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_fall_into_the_documented_waves() {
        assert_eq!(wave_of("", "Namespace"), Wave::Foundation);
        assert_eq!(
            wave_of("apiextensions.k8s.io", "CustomResourceDefinition"),
            Wave::Foundation
        );
        assert_eq!(wave_of("", "ConfigMap"), Wave::Config);
        assert_eq!(
            wave_of("rbac.authorization.k8s.io", "RoleBinding"),
            Wave::Config
        );
        assert_eq!(wave_of("", "Service"), Wave::Config);
        assert_eq!(wave_of("apps", "Deployment"), Wave::Workloads);
        assert_eq!(wave_of("stable.example.com", "CronTab"), Wave::Workloads);
        assert_eq!(wave_of("policy", "PodDisruptionBudget"), Wave::Config);
        assert_eq!(
            wave_of(
                "admissionregistration.k8s.io",
                "ValidatingWebhookConfiguration"
            ),
            Wave::Webhooks
        );
        assert!(Wave::Foundation < Wave::Config && Wave::Workloads < Wave::Webhooks);
    }
}
