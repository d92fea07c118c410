//! Smoothing over server-side-apply pitfalls before anything is sent.
//!
//! Service ports and container ports are associative lists keyed by port *and protocol*; an
//! element without `protocol` is rejected by API servers without the fix for
//! kubernetes-sigs/structured-merge-diff#130 ("associative list with keys has an element that
//! omits key field protocol"). Kubernetes 1.35 defaults the key itself, but older clusters in
//! AKS's long-term support may not: kpush writes the API's own default, `TCP`, where it is
//! missing, which changes nothing where the server would default it.

use serde_json::Value;

/// Built-in kinds whose objects hold pod specs (at any depth).
const POD_HOLDERS: &[&str] = &[
    "Pod",
    "PodTemplate",
    "Deployment",
    "ReplicaSet",
    "StatefulSet",
    "DaemonSet",
    "Job",
    "CronJob",
    "ReplicationController",
];

/// Defaults `protocol: TCP` on Service ports and on container ports of built-in workloads.
pub fn default_protocols(group: &str, kind: &str, object: &mut Value) {
    let builtin = group.is_empty() || matches!(group, "apps" | "batch" | "extensions");
    if !builtin {
        return;
    }
    if group.is_empty() && kind == "Service" {
        if let Some(Value::Array(ports)) = object.pointer_mut("/spec/ports") {
            ports.iter_mut().for_each(default_protocol);
        }
    } else if POD_HOLDERS.contains(&kind) {
        containers_ports(object);
    }
}

fn default_protocol(port: &mut Value) {
    if let Value::Object(p) = port
        && !p.contains_key("protocol")
    {
        p.insert("protocol".into(), Value::String("TCP".into()));
    }
}

/// Walks the object and defaults ports of every `containers` / `initContainers` /
/// `ephemeralContainers` entry.
fn containers_ports(v: &mut Value) {
    match v {
        Value::Object(map) => {
            for (k, child) in map.iter_mut() {
                if matches!(
                    k.as_str(),
                    "containers" | "initContainers" | "ephemeralContainers"
                ) && let Value::Array(list) = child
                {
                    for c in list.iter_mut() {
                        if let Some(Value::Array(ports)) = c.get_mut("ports") {
                            ports.iter_mut().for_each(default_protocol);
                        }
                    }
                } else {
                    containers_ports(child);
                }
            }
        }
        Value::Array(list) => list.iter_mut().for_each(containers_ports),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn service_and_container_ports_get_tcp_unless_set() {
        let mut svc = json!({"spec":{"ports":[{"port":80},{"port":53,"protocol":"UDP"}]}});
        default_protocols("", "Service", &mut svc);
        assert_eq!(svc["spec"]["ports"][0]["protocol"], "TCP");
        assert_eq!(svc["spec"]["ports"][1]["protocol"], "UDP");

        let mut cj = json!({"spec":{"jobTemplate":{"spec":{"template":{"spec":{
            "containers":[{"name":"a","ports":[{"containerPort":8080}]}],
            "initContainers":[{"name":"i","ports":[{"containerPort":1}]}]}}}}}});
        default_protocols("batch", "CronJob", &mut cj);
        let spec = &cj["spec"]["jobTemplate"]["spec"]["template"]["spec"];
        assert_eq!(spec["containers"][0]["ports"][0]["protocol"], "TCP");
        assert_eq!(spec["initContainers"][0]["ports"][0]["protocol"], "TCP");
    }

    #[test]
    fn custom_resources_are_left_alone() {
        let mut cr = json!({"spec":{"ports":[{"port":80}]}});
        default_protocols("example.com", "Service", &mut cr);
        assert!(cr["spec"]["ports"][0].get("protocol").is_none());
    }
}
