//! Watches every pod and hands each to the scheduler, the kubelet or the deleter.

use std::collections::hash_map::Entry;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use futures::StreamExt;
use k8s_openapi::api::core::v1::Pod;
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Api, ResourceExt};
use tokio::task::AbortHandle;

use super::Sim;
use super::kubelet;
use super::resources::pod_requests;
use super::scheduler::{self, Message};

const DEFAULT_SCHEDULER: &str = "default-scheduler";

/// What the dispatcher tracks per pod uid.
#[derive(Default)]
struct Tracked {
    /// Kubelet tasks of pods on the node.
    kubelets: HashMap<String, Kubelet>,
    /// Pods whose deletion is being finished.
    deleting: HashSet<String>,
    /// Pods whose resources were released (finished).
    released: HashSet<String>,
}

/// The kubelet task of one pod, and the images it was started with.
struct Kubelet {
    task: AbortHandle,
    images: Vec<String>,
}

/// The pod's images; changing one (allowed on a live pod) restarts its containers.
fn images(pod: &Pod) -> Vec<String> {
    pod.spec
        .iter()
        .flat_map(|s| s.init_containers.iter().flatten().chain(&s.containers))
        .map(|c| c.image.clone().unwrap_or_default())
        .collect()
}

/// Runs forever; the watcher re-lists and re-watches by itself after errors.
pub async fn run(sim: Arc<Sim>, scheduler: scheduler::Sender) {
    let api: Api<Pod> = Api::all(sim.client.clone());
    let mut stream = watcher(api, watcher::Config::default())
        .default_backoff()
        .boxed();
    let mut tracked = Tracked::default();
    while let Some(event) = stream.next().await {
        match event {
            Ok(watcher::Event::Apply(pod) | watcher::Event::InitApply(pod)) => {
                dispatch(&sim, &scheduler, &mut tracked, pod);
            }
            Ok(watcher::Event::Delete(pod)) => forget(&sim, &scheduler, &mut tracked, &pod),
            Ok(watcher::Event::Init | watcher::Event::InitDone) => {}
            Err(e) => sim.log.line(format_args!("pod watch: {e}")),
        }
    }
    sim.log.line("pod watch ended");
}

fn dispatch(sim: &Arc<Sim>, scheduler: &scheduler::Sender, tracked: &mut Tracked, pod: Pod) {
    let Some(uid) = pod.uid() else { return };
    let spec = pod.spec.as_ref();
    let node = spec.and_then(|s| s.node_name.as_deref()).unwrap_or("");

    if pod.metadata.deletion_timestamp.is_some() {
        if node.is_empty() {
            // Held back by finalizers: stop trying to schedule it.
            let _ = scheduler.send(Message::Released { uid });
        } else if tracked.deleting.insert(uid.clone()) {
            if let Some(running) = tracked.kubelets.remove(&uid) {
                running.task.abort();
            }
            tokio::spawn(kubelet::force_delete(sim.clone(), pod));
        }
        return;
    }

    if node.is_empty() {
        let scheduler_name = spec
            .and_then(|s| s.scheduler_name.as_deref())
            .unwrap_or(DEFAULT_SCHEDULER);
        if scheduler_name == DEFAULT_SCHEDULER {
            let _ = scheduler.send(Message::Schedule(Box::new(pod)));
        }
        return;
    }
    if node != sim.node_name() {
        return;
    }

    let phase = pod.status.as_ref().and_then(|s| s.phase.as_deref());
    if matches!(phase, Some("Succeeded" | "Failed")) {
        if tracked.released.insert(uid.clone()) {
            let _ = scheduler.send(Message::Released { uid });
        }
        return;
    }
    let images = images(&pod);
    match tracked.kubelets.entry(uid) {
        Entry::Vacant(slot) => {
            let _ = scheduler.send(Message::Bound {
                uid: slot.key().clone(),
                requests: pod_requests(&pod),
            });
            let task = tokio::spawn(kubelet::run_pod(sim.clone(), pod)).abort_handle();
            slot.insert(Kubelet { task, images });
        }
        Entry::Occupied(mut slot) if slot.get().images != images => {
            sim.log.line(format_args!(
                "kubelet: images of {}/{} changed; restarting its containers",
                pod.namespace().unwrap_or_default(),
                pod.name_any()
            ));
            slot.get().task.abort();
            let task = tokio::spawn(kubelet::run_pod(sim.clone(), pod)).abort_handle();
            slot.insert(Kubelet { task, images });
        }
        Entry::Occupied(_) => {}
    }
}

fn forget(sim: &Sim, scheduler: &scheduler::Sender, tracked: &mut Tracked, pod: &Pod) {
    let Some(uid) = pod.uid() else { return };
    if let Some(running) = tracked.kubelets.remove(&uid) {
        running.task.abort();
    }
    tracked.deleting.remove(&uid);
    tracked.released.remove(&uid);
    sim.pod_ips
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .release(&uid);
    sim.recorder.forget(&uid);
    let _ = scheduler.send(Message::Released { uid });
}
