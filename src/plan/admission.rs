//! Refusals by the cluster's admission control, told apart from schema and permission errors:
//! a ValidatingAdmissionPolicy, an admission webhook (Gatekeeper, hence Azure Policy for AKS,
//! Kyverno, ...) or Pod Security admission. Each has its own remedy, and none is "fix the field"
//! or "grant a permission", which is what the HTTP code alone (422, 400 or 403) suggests.
//!
//! The API server words them (k8s.io/apiserver 1.35):
//! - `ValidatingAdmissionPolicy 'NAME' with binding 'BINDING' denied request: MESSAGE`
//!   (`plugin/policy/validating/dispatcher.go`; code 422 unless the policy sets a reason);
//! - `admission webhook "NAME" denied the request: MESSAGE` (`admission/plugin/webhook/errors`;
//!   the webhook's code, 400 by default); Gatekeeper prefixes each violation with
//!   `[CONSTRAINT]`, and Azure Policy's constraints are named `azurepolicy-…`;
//! - `violates PodSecurity "LEVEL:VERSION": …` (`pod-security-admission/admission`; 403).

/// Which admission control refused an object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Denial {
    /// A ValidatingAdmissionPolicy, through one of its bindings.
    Policy {
        /// The policy's name.
        name: String,
        /// The binding's name.
        binding: String,
    },
    /// A validating or mutating admission webhook.
    Webhook {
        /// The webhook's name (`validation.gatekeeper.sh`).
        name: String,
        /// Gatekeeper constraints named in the message (`[azurepolicy-…]`), if any.
        constraints: Vec<String>,
    },
    /// Pod Security admission, at this level (`restricted:latest`).
    PodSecurity {
        /// `LEVEL:VERSION` as the message names it.
        level: String,
    },
}

impl Denial {
    /// The admission control named by an API server's refusal `message`, if any.
    pub fn of(message: &str) -> Option<Self> {
        if let Some(rest) = after(message, "ValidatingAdmissionPolicy '") {
            let (name, rest) = rest.split_once('\'')?;
            let binding = after(rest, "with binding '")
                .and_then(|b| b.split_once('\''))
                .map(|(b, _)| b.to_string())
                .unwrap_or_default();
            return Some(Denial::Policy {
                name: name.to_string(),
                binding,
            });
        }
        if let Some(rest) = after(message, "admission webhook \"") {
            let (name, rest) = rest.split_once('"')?;
            if !rest.trim_start().starts_with("denied") {
                return None;
            }
            let constraints = rest
                .split('[')
                .skip(1)
                .filter_map(|s| s.split_once(']').map(|(c, _)| c.trim()))
                .filter(|c| !c.is_empty() && !c.contains(' '))
                .map(str::to_string)
                .collect();
            return Some(Denial::Webhook {
                name: name.to_string(),
                constraints,
            });
        }
        if let Some(rest) = after(message, "violates PodSecurity \"") {
            let (level, _) = rest.split_once('"')?;
            return Some(Denial::PodSecurity {
                level: level.to_string(),
            });
        }
        None
    }

    /// What `by` in a refusal's short reason says: `ValidatingAdmissionPolicy require-team`.
    pub fn by(&self) -> String {
        match self {
            Denial::Policy { name, .. } => format!("ValidatingAdmissionPolicy {name}"),
            Denial::Webhook { name, .. } => format!("admission webhook {name}"),
            Denial::PodSecurity { level } => format!("Pod Security ({level})"),
        }
    }

    /// What to do, for an object in `namespace` (if namespaced).
    pub fn advice(&self, namespace: Option<&str>) -> String {
        match self {
            Denial::Policy { name, binding } => {
                let binding = match binding.is_empty() {
                    true => String::new(),
                    false => format!(" (binding {binding})"),
                };
                format!(
                    "the cluster's ValidatingAdmissionPolicy {name}{binding} refuses this object: \
                     change the manifest as its message says (`kubectl get \
                     validatingadmissionpolicy {name} -o yaml` shows the rule), or ask the \
                     cluster's administrators to exclude it from the binding"
                )
            }
            Denial::Webhook { constraints, .. }
                if constraints.iter().any(|c| c.starts_with("azurepolicy-")) =>
            {
                format!(
                    "Azure Policy for AKS refuses this object (Gatekeeper constraint {}): change \
                     the manifest to comply, or ask for a policy exemption{} (Azure Policy → \
                     the assignment → Exemptions); `kubectl get constraints` lists them",
                    constraints.join(", "),
                    namespace
                        .map(|ns| format!(" or an excluded namespace instead of {ns}"))
                        .unwrap_or_default()
                )
            }
            Denial::Webhook { name, constraints } if !constraints.is_empty() => format!(
                "the policy engine behind admission webhook {name} refuses this object \
                 (constraint {}): change the manifest to comply, or ask its owners for an \
                 exception; `kubectl get constraints` lists Gatekeeper's",
                constraints.join(", ")
            ),
            Denial::Webhook { name, .. } => format!(
                "admission webhook {name} refuses this object: change the manifest as its message \
                 says, or ask its owners (`kubectl get validatingwebhookconfigurations,\
                 mutatingwebhookconfigurations` shows which service runs it)"
            ),
            Denial::PodSecurity { level } => format!(
                "the namespace{} enforces Pod Security {level}: set the securityContext fields \
                 the message names (runAsNonRoot, allowPrivilegeEscalation: false, capabilities \
                 drop [ALL], seccompProfile RuntimeDefault), or, if the workload truly needs \
                 them, deploy it to a namespace whose pod-security.kubernetes.io/enforce label \
                 allows them",
                namespace.map(|ns| format!(" {ns}")).unwrap_or_default()
            ),
        }
    }
}

/// The rest of `s` after the first `marker`.
fn after<'a>(s: &'a str, marker: &str) -> Option<&'a str> {
    s.find(marker).map(|i| &s[i + marker.len()..])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_validating_admission_policy_is_named_with_its_binding() {
        let m = "configmaps \"db\" is forbidden: ValidatingAdmissionPolicy 'no-passwords' with \
                 binding 'no-passwords-b' denied request: ConfigMaps must not hold passwords";
        let d = Denial::of(m).expect("recognised");
        assert_eq!(
            d,
            Denial::Policy {
                name: "no-passwords".into(),
                binding: "no-passwords-b".into()
            }
        );
        assert!(
            d.advice(Some("shop"))
                .contains("validatingadmissionpolicy no-passwords")
        );
        assert!(d.advice(None).contains("(binding no-passwords-b)"));
    }

    #[test]
    fn azure_policy_through_gatekeeper_is_recognised_by_its_constraint_names() {
        let m = "admission webhook \"validation.gatekeeper.sh\" denied the request: \
                 [azurepolicy-k8sazurev3noprivilegeescalation-8b1d5a0b] Privilege escalation \
                 container is not allowed: app";
        let d = Denial::of(m).expect("recognised");
        assert_eq!(
            d,
            Denial::Webhook {
                name: "validation.gatekeeper.sh".into(),
                constraints: vec!["azurepolicy-k8sazurev3noprivilegeescalation-8b1d5a0b".into()]
            }
        );
        let advice = d.advice(Some("shop"));
        assert!(advice.starts_with("Azure Policy for AKS"), "{advice}");
        assert!(advice.contains("instead of shop"), "{advice}");
    }

    #[test]
    fn other_webhooks_and_pod_security_get_their_own_advice() {
        let kyverno = Denial::of(
            "admission webhook \"validate.kyverno.svc-fail\" denied the request: \n\nresource \
             Deployment/shop/web was blocked due to the following policies",
        )
        .expect("recognised");
        assert_eq!(kyverno.by(), "admission webhook validate.kyverno.svc-fail");
        assert!(
            kyverno
                .advice(None)
                .contains("validatingwebhookconfigurations")
        );
        let pss = Denial::of(
            "pods \"web\" is forbidden: violates PodSecurity \"restricted:latest\": \
             allowPrivilegeEscalation != false (container \"app\" must set \
             securityContext.allowPrivilegeEscalation=false)",
        )
        .expect("recognised");
        assert_eq!(
            pss,
            Denial::PodSecurity {
                level: "restricted:latest".into()
            }
        );
        assert!(pss.advice(Some("shop")).contains("namespace shop enforces"));
    }

    #[test]
    fn schema_and_permission_errors_are_not_admission_denials() {
        for m in [
            "Deployment.apps \"web\" is invalid: spec.replicas: Invalid value: -1",
            "deployments.apps \"web\" is forbidden: User \"ci\" cannot patch resource",
            "admission webhook \"x\" does not support dry run",
        ] {
            assert_eq!(Denial::of(m), None, "{m}");
        }
    }
}
