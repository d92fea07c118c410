//! The kubelet stand-in: one task per pod on the node, sampling the pod's timeline and posting
//! its status and events; plus force-deleting pods that are being deleted.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::core::v1::Pod;
use kube::api::{DeleteParams, Patch, PatchParams, Preconditions};
use kube::{Api, ResourceExt};
use serde_json::json;
use tokio::time::Instant;

use super::Sim;
use super::behavior::{self, Circumstances, ContainerSpec};
use super::config_refs::{self, Lookup};
use super::events::{Involved, Source};
use super::images::ImageRef;
use super::pod_status::{self, ConditionClock};
use super::pod_timeline::{PodPlan, pod_at};
use super::timeline::{ContainerKind, PodIdent, RestartPolicy, Startup};

/// How often a pod blocked on a missing Secret or ConfigMap looks again.
const RECHECK: Duration = Duration::from_secs(2);
/// Back-off after a failed status update.
const RETRY: Duration = Duration::from_secs(1);

/// Plays the kubelet for one pod until it is terminal, stable or gone.
pub async fn run_pod(sim: Arc<Sim>, pod: Pod) {
    let namespace = pod.namespace().unwrap_or_default();
    let name = pod.name_any();
    let api: Api<Pod> = Api::namespaced(sim.client.clone(), &namespace);
    let host_network = pod
        .spec
        .as_ref()
        .and_then(|s| s.host_network)
        .unwrap_or(false);
    let pod_ip = if host_network {
        "127.0.0.1".to_string()
    } else {
        let uid = pod.uid().unwrap_or_default();
        let ip = sim
            .pod_ips
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .allocate(&uid);
        match ip {
            Some(ip) => ip.to_string(),
            None => {
                sim.log
                    .line(format_args!("no pod IP left for {namespace}/{name}"));
                return;
            }
        }
    };
    let involved = Involved::pod(&pod);
    let spec = serde_json::to_value(&pod.spec).unwrap_or_default();
    let mut clock = ConditionClock::from_conditions(&existing_conditions(&pod));
    let start_time = chrono::Utc::now();
    let mut plan = plan_pod(&sim, &pod).await;
    let mut epoch = (Instant::now(), chrono::Utc::now());
    let mut emitted = 0;
    let mut posted: Option<serde_json::Value> = None;
    let mut last_check = Instant::now();
    sim.log.line(format_args!(
        "kubelet: running {namespace}/{name} ({})",
        describe(&plan)
    ));

    loop {
        let offset = epoch.0.elapsed();
        let snap = pod_at(&plan, offset);
        for event in snap.events.iter().skip(emitted) {
            sim.recorder
                .record(
                    &involved.with_field_path(event.field_path.clone()),
                    Source::Kubelet,
                    event.warning,
                    &event.reason,
                    &event.message,
                )
                .await;
        }
        emitted = snap.events.len();

        let ctx = pod_status::Context {
            plan: &plan,
            epoch: epoch.1,
            start_time,
            now: chrono::Utc::now(),
            host_ip: "127.0.0.1",
            pod_ip: &pod_ip,
            generation: pod.metadata.generation,
            spec: &spec,
        };
        let status = pod_status::render(&ctx, &snap, &mut clock);
        if posted.as_ref() != Some(&status) {
            let patch = json!({ "status": status });
            match api
                .patch_status(&name, &PatchParams::default(), &Patch::Merge(&patch))
                .await
            {
                Ok(_) => posted = Some(status),
                Err(kube::Error::Api(s)) if s.is_not_found() => return,
                Err(kube::Error::Api(s)) if s.is_invalid() || s.code == 400 => {
                    // Retrying the same status cannot help; leave the pod as it is.
                    sim.log
                        .line(format_args!("status of {namespace}/{name} rejected: {s}"));
                    return;
                }
                Err(e) => {
                    sim.log
                        .line(format_args!("status of {namespace}/{name}: {e}"));
                    tokio::time::sleep(RETRY).await;
                    continue;
                }
            }
        }
        if snap.phase.is_terminal() {
            return;
        }

        let blocked = waits_for_config(&plan);
        if blocked && last_check.elapsed() >= RECHECK {
            last_check = Instant::now();
            let fresh = match api.get_opt(&name).await {
                Ok(Some(p)) => p,
                _ => return,
            };
            let replanned = plan_pod(&sim, &fresh).await;
            if !waits_for_config(&replanned) {
                sim.log.line(format_args!(
                    "kubelet: {namespace}/{name} found its configuration; starting it"
                ));
                plan = replanned;
                epoch = (Instant::now(), chrono::Utc::now());
                emitted = 0;
                continue;
            }
        }
        let mut wait = snap.next_change.map(|t| t.saturating_sub(offset));
        if blocked {
            wait = Some(wait.map_or(RECHECK, |w| w.min(RECHECK)));
        }
        match wait {
            Some(w) => tokio::time::sleep(w.max(Duration::from_millis(5))).await,
            // Nothing will change any more: the pod runs (or waits) as it is.
            None => return,
        }
    }
}

fn existing_conditions(pod: &Pod) -> Vec<(String, String, Option<String>)> {
    pod.status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .into_iter()
        .flatten()
        .map(|c| {
            (
                c.type_.clone(),
                c.status.clone(),
                c.last_transition_time
                    .as_ref()
                    .and_then(|t| serde_json::to_value(t).ok())
                    .and_then(|v| v.as_str().map(str::to_string)),
            )
        })
        .collect()
}

fn waits_for_config(plan: &PodPlan) -> bool {
    plan.mount_error.is_some()
        || plan
            .init
            .iter()
            .chain(&plan.main)
            .any(|c| matches!(c.startup, Startup::ConfigError { .. }))
}

fn describe(plan: &PodPlan) -> String {
    plan.init
        .iter()
        .chain(&plan.main)
        .map(|c| format!("{}: {:?} / {:?}", c.name, c.startup, c.run))
        .collect::<Vec<_>>()
        .join("; ")
}

/// Decides how each container of the pod behaves.
async fn plan_pod(sim: &Sim, pod: &Pod) -> PodPlan {
    let namespace = pod.namespace().unwrap_or_default();
    let ident = PodIdent {
        namespace: namespace.clone(),
        name: pod.name_any(),
        uid: pod.uid().unwrap_or_default(),
    };
    let annotations: BTreeMap<String, String> = pod.annotations().clone();
    let Some(spec) = pod.spec.as_ref() else {
        return PodPlan {
            ident,
            policy: RestartPolicy::Always,
            init: Vec::new(),
            main: Vec::new(),
            mount_error: None,
        };
    };
    let policy = RestartPolicy::parse(spec.restart_policy.as_deref());
    let mut lookup = Lookup::new(sim.client.clone(), &namespace);
    let mount_error = lookup
        .volume_problem(&config_refs::volume_references(spec))
        .await;

    let mut init = Vec::new();
    let mut main = Vec::new();
    let containers = spec
        .init_containers
        .iter()
        .flatten()
        .map(|c| (c, ContainerKind::Init))
        .chain(spec.containers.iter().map(|c| (c, ContainerKind::Main)));
    for (c, kind) in containers {
        let image = c.image.clone().unwrap_or_default();
        let normalized = ImageRef::parse(&image).map(|r| r.normalized()).ok();
        let image_present = normalized.as_ref().is_some_and(|n| {
            sim.images
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .contains(n)
        });
        let circumstances = Circumstances {
            image_present,
            config_error: lookup.env_problem(&config_refs::env_references(c)).await,
        };
        let spec = ContainerSpec {
            name: &c.name,
            image: &image,
            kind,
            pull_policy: c.image_pull_policy.as_deref(),
        };
        let plan = behavior::plan(&spec, &annotations, policy, &circumstances);
        let pulled = matches!(plan.startup, Startup::Ok | Startup::ConfigError { .. });
        if pulled && let Some(n) = normalized {
            sim.images
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .insert(n);
        }
        match kind {
            ContainerKind::Init => init.push(plan),
            ContainerKind::Main => main.push(plan),
        }
    }
    PodPlan {
        ident,
        policy,
        init,
        main,
        mount_error,
    }
}

/// Finishes the deletion of a pod that has a deletionTimestamp, as the kubelet does once its
/// containers stopped: delete with grace period 0.
pub async fn force_delete(sim: Arc<Sim>, pod: Pod) {
    let namespace = pod.namespace().unwrap_or_default();
    let name = pod.name_any();
    let api: Api<Pod> = Api::namespaced(sim.client.clone(), &namespace);
    if pod.spec.as_ref().and_then(|s| s.node_name.as_deref()) == Some(sim.node_name()) {
        let involved = Involved::pod(&pod);
        for status in pod
            .status
            .as_ref()
            .and_then(|s| s.container_statuses.as_ref())
            .into_iter()
            .flatten()
        {
            if status.state.as_ref().is_some_and(|s| s.running.is_some()) {
                sim.recorder
                    .record(
                        &involved
                            .with_field_path(Some(format!("spec.containers{{{}}}", status.name))),
                        Source::Kubelet,
                        false,
                        "Killing",
                        &format!("Stopping container {}", status.name),
                    )
                    .await;
            }
        }
    }
    let params = DeleteParams {
        grace_period_seconds: Some(0),
        preconditions: Some(Preconditions {
            uid: pod.uid(),
            resource_version: None,
        }),
        ..DeleteParams::default()
    };
    // Keep trying: a pod left Terminating blocks rollouts and namespace deletion.
    let mut backoff = RETRY;
    for attempt in 1.. {
        match api.delete(&name, &params).await {
            Ok(_) => return,
            Err(kube::Error::Api(s)) if s.is_not_found() || s.is_conflict() => return,
            Err(e) => {
                sim.log.line(format_args!(
                    "force-deleting {namespace}/{name} (attempt {attempt}): {e}"
                ));
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_secs(10));
            }
        }
    }
}
