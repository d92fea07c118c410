//! Whether a pod fits the node, with kube-scheduler's words for why not.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{
    NodeSelectorRequirement, NodeSelectorTerm, Pod, Taint, Toleration,
};

use super::resources::{Requests, pod_requests};

/// The node as the scheduler sees it.
#[derive(Debug, Clone, Default)]
pub struct NodeFacts {
    pub name: String,
    pub labels: BTreeMap<String, String>,
    pub taints: Vec<Taint>,
    pub unschedulable: bool,
    /// Allocatable resources in thousandths.
    pub allocatable: Requests,
}

/// Why the pod does not fit (empty when it does), in the order kube-scheduler's filters run:
/// only the first failing filter is reported, as kube-scheduler 1.20 does.
pub fn unfit_reasons(pod: &Pod, node: &NodeFacts, used: &Requests) -> Vec<String> {
    let tolerations: &[Toleration] = pod
        .spec
        .as_ref()
        .and_then(|s| s.tolerations.as_deref())
        .unwrap_or(&[]);
    if node.unschedulable {
        let taint = Taint {
            key: "node.kubernetes.io/unschedulable".into(),
            effect: "NoSchedule".into(),
            ..Taint::default()
        };
        if !tolerations.iter().any(|t| tolerates(t, &taint)) {
            return vec!["node(s) were unschedulable".into()];
        }
    }
    let resources = insufficient_resources(&pod_requests(pod), &node.allocatable, used);
    if !resources.is_empty() {
        return resources;
    }
    if !matches_node_selector(pod, node) {
        return vec!["node(s) didn't match node selector".into()];
    }
    for taint in &node.taints {
        if (taint.effect == "NoSchedule" || taint.effect == "NoExecute")
            && !tolerations.iter().any(|t| tolerates(t, taint))
        {
            return vec![format!(
                "node(s) had taint {{{}: {}}}, that the pod didn't tolerate",
                taint.key,
                taint.value.as_deref().unwrap_or("")
            )];
        }
    }
    Vec::new()
}

/// kube-scheduler's FailedScheduling message for a one-node cluster.
pub fn failure_message(reasons: &[String]) -> String {
    let mut counted: Vec<String> = reasons.iter().map(|r| format!("1 {r}")).collect();
    counted.sort();
    format!("0/1 nodes are available: {}.", counted.join(", "))
}

fn insufficient_resources(
    requests: &Requests,
    allocatable: &Requests,
    used: &Requests,
) -> Vec<String> {
    let mut reasons = Vec::new();
    for (name, want) in requests {
        if *want <= 0 {
            continue;
        }
        let free =
            allocatable.get(name).copied().unwrap_or(0) - used.get(name).copied().unwrap_or(0);
        if *want > free {
            reasons.push(if name == "pods" {
                "Too many pods".to_string()
            } else {
                format!("Insufficient {name}")
            });
        }
    }
    reasons
}

fn matches_node_selector(pod: &Pod, node: &NodeFacts) -> bool {
    let Some(spec) = pod.spec.as_ref() else {
        return true;
    };
    if let Some(selector) = &spec.node_selector
        && !selector.iter().all(|(k, v)| node.labels.get(k) == Some(v))
    {
        return false;
    }
    let required = spec
        .affinity
        .as_ref()
        .and_then(|a| a.node_affinity.as_ref())
        .and_then(|na| {
            na.required_during_scheduling_ignored_during_execution
                .as_ref()
        });
    match required {
        // Terms are ORed; an empty list matches nothing.
        Some(selector) => selector
            .node_selector_terms
            .iter()
            .any(|term| term_matches(term, node)),
        None => true,
    }
}

fn term_matches(term: &NodeSelectorTerm, node: &NodeFacts) -> bool {
    let expressions = term.match_expressions.as_deref().unwrap_or(&[]);
    let fields = term.match_fields.as_deref().unwrap_or(&[]);
    if expressions.is_empty() && fields.is_empty() {
        return false;
    }
    let mut node_fields = BTreeMap::new();
    node_fields.insert("metadata.name".to_string(), node.name.clone());
    expressions
        .iter()
        .all(|r| requirement_matches(r, &node.labels))
        && fields.iter().all(|r| requirement_matches(r, &node_fields))
}

fn requirement_matches(r: &NodeSelectorRequirement, labels: &BTreeMap<String, String>) -> bool {
    let values = r.values.as_deref().unwrap_or(&[]);
    let value = labels.get(&r.key);
    match r.operator.as_str() {
        "In" => value.is_some_and(|v| values.contains(v)),
        "NotIn" => value.is_none_or(|v| !values.contains(v)),
        "Exists" => value.is_some(),
        "DoesNotExist" => value.is_none(),
        "Gt" | "Lt" => {
            let (Some(v), Some(bound)) = (
                value.and_then(|v| v.parse::<i64>().ok()),
                values.first().and_then(|b| b.parse::<i64>().ok()),
            ) else {
                return false;
            };
            if r.operator == "Gt" {
                v > bound
            } else {
                v < bound
            }
        }
        _ => false,
    }
}

fn tolerates(t: &Toleration, taint: &Taint) -> bool {
    if let Some(effect) = t.effect.as_deref().filter(|e| !e.is_empty())
        && effect != taint.effect
    {
        return false;
    }
    match t.operator.as_deref().unwrap_or("Equal") {
        "Exists" => t
            .key
            .as_deref()
            .is_none_or(|k| k.is_empty() || k == taint.key),
        _ => {
            t.key.as_deref() == Some(taint.key.as_str())
                && t.value.as_deref().unwrap_or("") == taint.value.as_deref().unwrap_or("")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn node() -> NodeFacts {
        let mut allocatable = Requests::new();
        allocatable.insert("cpu".into(), 8000);
        allocatable.insert("memory".into(), 32 * (1i128 << 30) * 1000);
        allocatable.insert("pods".into(), 250_000);
        NodeFacts {
            name: "kpush-sim-node".into(),
            labels: [("kubernetes.io/os".to_string(), "linux".to_string())].into(),
            taints: vec![],
            unschedulable: false,
            allocatable,
        }
    }

    fn pod(spec: serde_json::Value) -> Pod {
        serde_json::from_value(json!({"metadata": {"name": "p"}, "spec": spec})).unwrap()
    }

    #[test]
    fn a_plain_pod_fits() {
        let p = pod(json!({"containers": [{"name": "a"}]}));
        assert!(unfit_reasons(&p, &node(), &Requests::new()).is_empty());
    }

    #[test]
    fn too_much_cpu_and_memory_are_both_reported() {
        let p = pod(
            json!({"containers": [{"name": "a", "resources": {"requests": {"cpu": "9", "memory": "64Gi"}}}]}),
        );
        let reasons = unfit_reasons(&p, &node(), &Requests::new());
        assert_eq!(
            failure_message(&reasons),
            "0/1 nodes are available: 1 Insufficient cpu, 1 Insufficient memory."
        );
    }

    #[test]
    fn used_resources_count() {
        let p =
            pod(json!({"containers": [{"name": "a", "resources": {"requests": {"cpu": "2"}}}]}));
        let used: Requests = [("cpu".to_string(), 7000)].into();
        assert_eq!(unfit_reasons(&p, &node(), &used), vec!["Insufficient cpu"]);
    }

    #[test]
    fn node_selector_must_match_labels() {
        let p = pod(json!({"containers": [{"name": "a"}], "nodeSelector": {"gpu": "true"}}));
        assert_eq!(
            failure_message(&unfit_reasons(&p, &node(), &Requests::new())),
            "0/1 nodes are available: 1 node(s) didn't match node selector."
        );
    }

    #[test]
    fn daemonset_affinity_on_node_name_matches() {
        let p = pod(
            json!({"containers": [{"name": "a"}], "affinity": {"nodeAffinity": {
            "requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [
                {"matchFields": [{"key": "metadata.name", "operator": "In", "values": ["kpush-sim-node"]}]}
            ]}}}}),
        );
        assert!(unfit_reasons(&p, &node(), &Requests::new()).is_empty());
        let other = pod(
            json!({"containers": [{"name": "a"}], "affinity": {"nodeAffinity": {
            "requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [
                {"matchFields": [{"key": "metadata.name", "operator": "In", "values": ["elsewhere"]}]}
            ]}}}}),
        );
        assert!(!unfit_reasons(&other, &node(), &Requests::new()).is_empty());
    }

    #[test]
    fn untolerated_taints_block() {
        let mut n = node();
        n.taints.push(Taint {
            key: "dedicated".into(),
            value: Some("db".into()),
            effect: "NoSchedule".into(),
            ..Taint::default()
        });
        let p = pod(json!({"containers": [{"name": "a"}]}));
        assert_eq!(
            unfit_reasons(&p, &n, &Requests::new()),
            vec!["node(s) had taint {dedicated: db}, that the pod didn't tolerate"]
        );
        let tolerant = pod(json!({"containers": [{"name": "a"}], "tolerations": [
            {"key": "dedicated", "operator": "Equal", "value": "db", "effect": "NoSchedule"}]}));
        assert!(unfit_reasons(&tolerant, &n, &Requests::new()).is_empty());
    }
}
