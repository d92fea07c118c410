//! `-n/--namespace`: setting the namespace of namespaced objects, and the scope of known kinds.

use std::collections::HashSet;

use serde_json::Value;

use super::problem::{Problem, ProblemKind};
use crate::manifest::Manifest;

/// Built-in kinds that are cluster-scoped, by (group, kind).
const CLUSTER_SCOPED: &[(&str, &str)] = &[
    ("", "Namespace"),
    ("", "Node"),
    ("", "PersistentVolume"),
    ("", "ComponentStatus"),
    ("rbac.authorization.k8s.io", "ClusterRole"),
    ("rbac.authorization.k8s.io", "ClusterRoleBinding"),
    ("apiextensions.k8s.io", "CustomResourceDefinition"),
    ("apiregistration.k8s.io", "APIService"),
    ("storage.k8s.io", "StorageClass"),
    ("storage.k8s.io", "CSIDriver"),
    ("storage.k8s.io", "CSINode"),
    ("storage.k8s.io", "VolumeAttachment"),
    ("scheduling.k8s.io", "PriorityClass"),
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
    ("node.k8s.io", "RuntimeClass"),
    ("policy", "PodSecurityPolicy"),
    ("certificates.k8s.io", "CertificateSigningRequest"),
    ("networking.k8s.io", "IngressClass"),
    ("flowcontrol.apiserver.k8s.io", "FlowSchema"),
    ("flowcontrol.apiserver.k8s.io", "PriorityLevelConfiguration"),
];

/// Whether a kind is known to be cluster-scoped: built in, or declared so by a CRD in `crds`.
pub fn is_cluster_scoped(
    group: &str,
    kind: &str,
    crd_cluster_kinds: &HashSet<(String, String)>,
) -> bool {
    CLUSTER_SCOPED
        .iter()
        .any(|(g, k)| *g == group && *k == kind)
        || crd_cluster_kinds.contains(&(group.to_string(), kind.to_string()))
}

/// (group, kind) of every cluster-scoped custom resource defined by a CRD among the manifests.
pub fn crd_cluster_kinds(manifests: &[Manifest]) -> HashSet<(String, String)> {
    manifests
        .iter()
        .filter(|m| m.group() == "apiextensions.k8s.io" && m.kind() == "CustomResourceDefinition")
        .filter(|m| m.object.pointer("/spec/scope").and_then(Value::as_str) == Some("Cluster"))
        .filter_map(|m| {
            let g = m.object.pointer("/spec/group")?.as_str()?;
            let k = m.object.pointer("/spec/names/kind")?.as_str()?;
            Some((g.to_string(), k.to_string()))
        })
        .collect()
}

/// Sets `namespace` on namespaced objects that have none; flags objects in other namespaces,
/// except objects rendered from Helm charts (`origin.chart`): as `helm install`, a chart's
/// explicit namespace is kept and `-n` only fills in missing ones.
pub fn apply(
    manifests: &mut [Manifest],
    namespace: &str,
    allow_other: bool,
    problems: &mut Vec<Problem>,
) {
    let cluster_kinds = crd_cluster_kinds(manifests);
    for m in manifests.iter_mut() {
        if is_cluster_scoped(m.group(), m.kind(), &cluster_kinds) {
            continue;
        }
        let allow_other = allow_other || m.origin.chart;
        match m.namespace() {
            None => {
                m.metadata_mut()
                    .insert("namespace".into(), Value::String(namespace.to_string()));
            }
            Some(ns) if ns != namespace && !allow_other => {
                problems.push(Problem::error(
                    ProblemKind::Namespace,
                    &m.origin,
                    format!(
                        "{} {} is in namespace {ns}, but --namespace is {namespace}; remove its \
                         metadata.namespace, or pass --allow-other-namespaces if deploying to \
                         several namespaces is intended",
                        m.kind(),
                        m.name()
                    ),
                ));
            }
            Some(_) => {}
        }
    }
}

/// Checks that a namespace name is a valid DNS-1123 label.
pub fn validate_name(ns: &str) -> Result<(), String> {
    let ok = !ns.is_empty()
        && ns.len() <= 63
        && ns
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && !ns.starts_with('-')
        && !ns.ends_with('-');
    if ok {
        Ok(())
    } else {
        Err(format!(
            "--namespace `{ns}` is not a valid namespace name (lower-case letters, digits and `-`, at most 63 characters)"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manifest::Origin;
    use serde_json::json;

    fn m(v: Value) -> Manifest {
        Manifest::new(Origin::new("f", 1), v)
    }

    #[test]
    fn sets_namespace_only_on_namespaced_objects() {
        let mut ms = vec![
            m(json!({"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"a"}})),
            m(json!({"apiVersion":"v1","kind":"Namespace","metadata":{"name":"x"}})),
            m(
                json!({"apiVersion":"apiextensions.k8s.io/v1","kind":"CustomResourceDefinition","metadata":{"name":"ws.ex.com"},
                "spec":{"group":"ex.com","scope":"Cluster","names":{"kind":"W"}}}),
            ),
            m(json!({"apiVersion":"ex.com/v1","kind":"W","metadata":{"name":"w"}})),
        ];
        let mut p = Vec::new();
        apply(&mut ms, "prod", false, &mut p);
        assert!(p.is_empty());
        assert_eq!(ms[0].namespace(), Some("prod"));
        assert_eq!(ms[1].namespace(), None);
        assert_eq!(ms[3].namespace(), None);
    }

    #[test]
    fn other_namespace_is_an_error_unless_allowed() {
        let mut ms = vec![m(
            json!({"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"a","namespace":"dev"}}),
        )];
        let mut p = Vec::new();
        apply(&mut ms, "prod", false, &mut p);
        assert_eq!(p.len(), 1);
        let mut p = Vec::new();
        apply(&mut ms, "prod", true, &mut p);
        assert!(p.is_empty());
    }

    #[test]
    fn namespace_names_are_validated() {
        assert!(validate_name("team-a").is_ok());
        assert!(validate_name("Team").is_err());
    }
}
