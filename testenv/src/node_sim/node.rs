//! The simulated Node: registration, status, heartbeats, and what the scheduler knows of it.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::Node;
use kube::Api;
use kube::api::{Patch, PatchParams, PostParams};
use serde_json::{Value, json};

use super::Sim;
use super::fit::NodeFacts;
use super::resources::parse_milli;

const CPU: &str = "8";
const MEMORY: &str = "32Gi";
const PODS: &str = "250";
const EPHEMERAL_STORAGE: &str = "100Gi";
/// The node's pod CIDR; pod IPs come from it.
const POD_CIDR: &str = "10.244.0.0/16";
const HEARTBEAT: Duration = Duration::from_secs(10);

/// The node's labels.
pub fn labels(node_name: &str) -> BTreeMap<String, String> {
    [
        ("kubernetes.io/hostname", node_name),
        ("kubernetes.io/os", "linux"),
        ("kubernetes.io/arch", "amd64"),
        ("beta.kubernetes.io/os", "linux"),
        ("beta.kubernetes.io/arch", "amd64"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect()
}

fn capacity() -> Value {
    json!({"cpu": CPU, "memory": MEMORY, "pods": PODS, "ephemeral-storage": EPHEMERAL_STORAGE})
}

fn node_object(node_name: &str) -> Result<Node> {
    Ok(serde_json::from_value(json!({
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {"name": node_name, "labels": labels(node_name)},
        "spec": {"podCIDR": POD_CIDR, "podCIDRs": [POD_CIDR]},
    }))?)
}

fn condition(
    kind: &str,
    status: &str,
    reason: &str,
    message: &str,
    now: &str,
    since: &str,
) -> Value {
    json!({
        "type": kind,
        "status": status,
        "reason": reason,
        "message": message,
        "lastHeartbeatTime": now,
        "lastTransitionTime": since,
    })
}

/// The kubelet version the simulated node reports: the control plane's.
pub const KUBELET_VERSION: &str = "v1.35.4";

/// The node's status as a kubelet posts it: resources, conditions, addresses, versions.
fn status(sim: &Sim, since: &str) -> Value {
    let now = chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ").to_string();
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .map(|s| s.trim().to_string())
        .unwrap_or_else(|_| "unknown".into());
    json!({
        "status": {
            "capacity": capacity(),
            "allocatable": capacity(),
            "conditions": [
                condition("MemoryPressure", "False", "KubeletHasSufficientMemory", "kubelet has sufficient memory available", &now, since),
                condition("DiskPressure", "False", "KubeletHasNoDiskPressure", "kubelet has no disk pressure", &now, since),
                condition("PIDPressure", "False", "KubeletHasSufficientPID", "kubelet has sufficient PID available", &now, since),
                condition("Ready", "True", "KubeletReady", "kubelet is posting ready status", &now, since),
            ],
            "addresses": [{"type": "InternalIP", "address": "127.0.0.1"}],
            "daemonEndpoints": {"kubeletEndpoint": {"Port": sim.settings.kubelet_port}},
            // What containerd 2 tells a 1.35 kubelet it can do.
            "features": {"supplementalGroupsPolicy": true},
            "runtimeHandlers": [
                {"name": "", "features": {"recursiveReadOnlyMounts": true, "userNamespaces": true}},
                {"name": "runc", "features": {"recursiveReadOnlyMounts": true, "userNamespaces": true}},
            ],
            "nodeInfo": {
                "machineID": "6b7f2f4d8a0c4e1f9d3b5a7c9e1f3a5b",
                "systemUUID": "6b7f2f4d-8a0c-4e1f-9d3b-5a7c9e1f3a5b",
                "bootID": "0c9a4b52-3f5e-4c7d-8e1a-2b4d6f8a0c2e",
                "kernelVersion": kernel,
                "osImage": "kpush node simulator",
                "containerRuntimeVersion": "containerd://2.1.4",
                "kubeletVersion": KUBELET_VERSION,
                "operatingSystem": "linux",
                "architecture": "amd64",
            },
        }
    })
}

/// Creates the node (or takes over an existing one), marks it Ready and removes the
/// `node.kubernetes.io/not-ready` taint that admission put on it (the node lifecycle
/// controller, which would remove it, is not running).
pub async fn register(sim: &Sim) -> Result<()> {
    let api: Api<Node> = Api::all(sim.client.clone());
    let name = sim.node_name();
    match api
        .create(&PostParams::default(), &node_object(name)?)
        .await
    {
        Ok(_) => {}
        Err(kube::Error::Api(s)) if s.is_already_exists() => {}
        Err(e) => return Err(e).context("creating the node"),
    }
    let since = chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ").to_string();
    api.patch_status(
        name,
        &PatchParams::default(),
        &Patch::Merge(&status(sim, &since)),
    )
    .await
    .context("posting the node's status")?;
    api.patch(
        name,
        &PatchParams::default(),
        &Patch::Merge(&json!({"spec": {"taints": null}})),
    )
    .await
    .context("removing the node's not-ready taint")?;
    renew_lease(sim).await;
    Ok(())
}

/// Creates or renews the node's Lease in kube-node-lease, as the kubelet does.
async fn renew_lease(sim: &Sim) {
    let api: Api<Lease> = Api::namespaced(sim.client.clone(), "kube-node-lease");
    let name = sim.node_name();
    let now = chrono::Utc::now()
        .format("%Y-%m-%dT%H:%M:%S%.6fZ")
        .to_string();
    let renew = json!({"spec": {"renewTime": now}});
    match api
        .patch(name, &PatchParams::default(), &Patch::Merge(&renew))
        .await
    {
        Ok(_) => return,
        Err(kube::Error::Api(s)) if s.is_not_found() => {}
        Err(e) => {
            sim.log.line(format_args!("renewing the node lease: {e}"));
            return;
        }
    }
    let node_uid = Api::<Node>::all(sim.client.clone())
        .get_opt(name)
        .await
        .ok()
        .flatten()
        .and_then(|n| n.metadata.uid);
    let mut lease = json!({
        "apiVersion": "coordination.k8s.io/v1",
        "kind": "Lease",
        "metadata": {"name": name, "namespace": "kube-node-lease"},
        "spec": {"holderIdentity": name, "leaseDurationSeconds": 40, "renewTime": now},
    });
    if let Some(uid) = node_uid {
        lease["metadata"]["ownerReferences"] =
            json!([{"apiVersion": "v1", "kind": "Node", "name": name, "uid": uid}]);
    }
    let created = match serde_json::from_value::<Lease>(lease) {
        Ok(lease) => api.create(&PostParams::default(), &lease).await.map(|_| ()),
        Err(e) => {
            sim.log.line(format_args!("building the node lease: {e}"));
            return;
        }
    };
    if let Err(e) = created {
        sim.log.line(format_args!("creating the node lease: {e}"));
    }
}

/// Refreshes the node's heartbeat forever, re-registering the node if it was deleted.
pub async fn heartbeat(sim: Arc<Sim>) {
    let api: Api<Node> = Api::all(sim.client.clone());
    let since = chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ").to_string();
    loop {
        tokio::time::sleep(HEARTBEAT).await;
        let result = api
            .patch_status(
                sim.node_name(),
                &PatchParams::default(),
                &Patch::Merge(&status(&sim, &since)),
            )
            .await;
        match result {
            Ok(_) => renew_lease(&sim).await,
            Err(kube::Error::Api(s)) if s.is_not_found() => {
                sim.log.line("the node was deleted; registering it again");
                if let Err(e) = register(&sim).await {
                    sim.log.line(format_args!("re-registering the node: {e:#}"));
                }
            }
            Err(e) => sim.log.line(format_args!("node heartbeat: {e}")),
        }
    }
}

/// The node as the scheduler sees it now (its registered shape when it cannot be read).
pub async fn facts(sim: &Sim) -> NodeFacts {
    let api: Api<Node> = Api::all(sim.client.clone());
    let mut facts = NodeFacts {
        name: sim.node_name().to_string(),
        labels: labels(sim.node_name()),
        ..NodeFacts::default()
    };
    for (k, v) in capacity().as_object().into_iter().flatten() {
        if let Some(q) = v.as_str().and_then(parse_milli) {
            facts.allocatable.insert(k.clone(), q);
        }
    }
    match api.get_opt(sim.node_name()).await {
        Ok(Some(node)) => {
            facts.labels = node.metadata.labels.unwrap_or_default();
            if let Some(spec) = node.spec {
                facts.taints = spec.taints.unwrap_or_default();
                facts.unschedulable = spec.unschedulable.unwrap_or(false);
            }
            if let Some(allocatable) = node.status.and_then(|s| s.allocatable) {
                facts.allocatable = allocatable
                    .iter()
                    .filter_map(|(k, q)| parse_milli(&q.0).map(|v| (k.clone(), v)))
                    .collect();
            }
        }
        Ok(None) => {}
        Err(e) => sim.log.line(format_args!("reading the node: {e}")),
    }
    facts
}
