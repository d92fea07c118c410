//! Output order: kustomize's `legacy` sort (the default of `kubectl kustomize` when the
//! kustomization has no `sortOptions`), or `fifo` (input order).

use std::cmp::Ordering;
use std::collections::HashMap;

use super::resource::Resource;

/// kinds first, in this order (`api/internal/builtins/SortOrderTransformer.go`).
pub const ORDER_FIRST: &[&str] = &[
    "Namespace",
    "ResourceQuota",
    "StorageClass",
    "CustomResourceDefinition",
    "ServiceAccount",
    "PodSecurityPolicy",
    "Role",
    "ClusterRole",
    "RoleBinding",
    "ClusterRoleBinding",
    "ConfigMap",
    "Secret",
    "Endpoints",
    "Service",
    "LimitRange",
    "PriorityClass",
    "PersistentVolume",
    "PersistentVolumeClaim",
    "Deployment",
    "StatefulSet",
    "CronJob",
    "PodDisruptionBudget",
];

/// kinds last, in this order.
pub const ORDER_LAST: &[&str] = &[
    "MutatingWebhookConfiguration",
    "ValidatingWebhookConfiguration",
];

/// Sorts as kustomize's legacy order does with the given first and last kinds.
pub fn legacy(res: &mut [Resource], first: &[String], last: &[String]) {
    let mut rank: HashMap<&str, i64> = HashMap::new();
    for (i, k) in first.iter().enumerate() {
        rank.insert(k, i as i64 - first.len() as i64);
    }
    for (i, k) in last.iter().enumerate() {
        rank.insert(k, 1 + i as i64);
    }
    res.sort_by(|a, b| compare(a, b, &rank));
}

fn compare(a: &Resource, b: &Resource, rank: &HashMap<&str, i64>) -> Ordering {
    let (ga, gb) = (a.gvk(), b.gvk());
    if ga != gb {
        let (ra, rb) = (
            rank.get(ga.kind.as_str()).copied().unwrap_or(0),
            rank.get(gb.kind.as_str()).copied().unwrap_or(0),
        );
        if ra != rb {
            return ra.cmp(&rb);
        }
        let (sa, sb) = (
            gvk_sort(&ga.group, &ga.version, &ga.kind),
            gvk_sort(&gb.group, &gb.version, &gb.kind),
        );
        if ga.kind == "Namespace"
            && gb.kind == "Namespace"
            && (ga.group.is_empty() || gb.group.is_empty())
        {
            return sb.cmp(&sa);
        }
        return sa.cmp(&sb);
    }
    id_sort(a).cmp(&id_sort(b))
}

fn or(s: &str, d: &'static str) -> String {
    if s.is_empty() {
        d.to_string()
    } else {
        s.to_string()
    }
}

fn gvk_sort(g: &str, v: &str, k: &str) -> String {
    format!("{}_{}_{}", or(g, "~G"), or(v, "~V"), or(k, "~K"))
}

fn id_sort(r: &Resource) -> String {
    let g = r.gvk();
    format!(
        "{}.{}.{}|{}|{}",
        or(&g.kind, "[noKind]"),
        or(&g.version, "[noVer]"),
        or(&g.group, "[noGrp]"),
        or(r.namespace(), "~X"),
        or(r.name(), "~N")
    )
}

/// The default first/last kinds as owned strings.
pub fn defaults() -> (Vec<String>, Vec<String>) {
    (
        ORDER_FIRST.iter().map(|s| s.to_string()).collect(),
        ORDER_LAST.iter().map(|s| s.to_string()).collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manifest::Origin;
    use serde_json::json;

    fn r(api: &str, kind: &str, name: &str) -> Resource {
        Resource::new(
            json!({"apiVersion":api,"kind":kind,"metadata":{"name":name}}),
            Origin::new("f", 1),
        )
    }

    #[test]
    fn namespaces_first_webhooks_last_others_by_gvk_then_name() {
        let mut v = vec![
            r(
                "admissionregistration.k8s.io/v1",
                "ValidatingWebhookConfiguration",
                "w",
            ),
            r("apps/v1", "Deployment", "b"),
            r("example.com/v1", "Thing", "t"),
            r("apps/v1", "Deployment", "a"),
            r("v1", "Namespace", "n"),
            r("v1", "ConfigMap", "c"),
        ];
        let (f, l) = defaults();
        legacy(&mut v, &f, &l);
        let names: Vec<&str> = v.iter().map(|r| r.name()).collect();
        assert_eq!(names, ["n", "c", "a", "b", "t", "w"]);
    }
}
