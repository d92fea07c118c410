//! The scheduler stand-in: binds pending pods to the node, or says why it cannot.
//!
//! It runs as one task fed by the pod dispatcher, so its bookkeeping of reserved resources
//! (what kube-scheduler calls its cache of assumed pods) needs no locks and never races.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::core::v1::Pod;
use kube::api::{Patch, PatchParams, PostParams};
use kube::{Api, ResourceExt};
use serde_json::json;
use tokio::sync::mpsc;

use super::Sim;
use super::events::{Involved, Source};
use super::fit::{failure_message, unfit_reasons};
use super::node;
use super::resources::{Requests, pod_requests};

/// What the dispatcher tells the scheduler.
#[derive(Debug)]
pub enum Message {
    /// A pod without a node that `default-scheduler` should place.
    Schedule(Box<Pod>),
    /// A pod on the node (bound by us or by anyone) that holds resources.
    Bound { uid: String, requests: Requests },
    /// A pod that is gone or finished: its resources are free.
    Released { uid: String },
}

pub type Sender = mpsc::UnboundedSender<Message>;

/// How often unschedulable pods are tried again.
const RETRY: Duration = Duration::from_secs(2);

/// Starts the scheduler task.
pub fn spawn(sim: Arc<Sim>) -> Sender {
    let (tx, rx) = mpsc::unbounded_channel();
    tokio::spawn(run(sim, rx));
    tx
}

#[derive(Default)]
struct State {
    reserved: HashMap<String, Requests>,
    pending: HashMap<String, Pod>,
    /// The FailedScheduling message last reported per pod.
    reported: HashMap<String, String>,
}

impl State {
    fn used(&self) -> Requests {
        let mut used = Requests::new();
        for requests in self.reserved.values() {
            for (k, v) in requests {
                *used.entry(k.clone()).or_insert(0) += v;
            }
        }
        used
    }
}

async fn run(sim: Arc<Sim>, mut rx: mpsc::UnboundedReceiver<Message>) {
    let mut state = State::default();
    let mut retry = tokio::time::interval(RETRY);
    loop {
        tokio::select! {
            message = rx.recv() => {
                let Some(message) = message else { return };
                match message {
                    Message::Schedule(pod) => schedule(&sim, &mut state, *pod).await,
                    Message::Bound { uid, requests } => {
                        state.pending.remove(&uid);
                        state.reported.remove(&uid);
                        state.reserved.insert(uid, requests);
                    }
                    Message::Released { uid } => {
                        state.pending.remove(&uid);
                        state.reported.remove(&uid);
                        if state.reserved.remove(&uid).is_some() {
                            retry_pending(&sim, &mut state).await;
                        }
                    }
                }
            }
            _ = retry.tick() => retry_pending(&sim, &mut state).await,
        }
    }
}

async fn retry_pending(sim: &Sim, state: &mut State) {
    let pods: Vec<Pod> = state.pending.values().cloned().collect();
    for pod in pods {
        schedule(sim, state, pod).await;
    }
}

async fn schedule(sim: &Sim, state: &mut State, pod: Pod) {
    let Some(uid) = pod.uid() else { return };
    if state.reserved.contains_key(&uid) {
        return;
    }
    let facts = node::facts(sim).await;
    let reasons = unfit_reasons(&pod, &facts, &state.used());
    if reasons.is_empty() {
        match bind(sim, &pod).await {
            Ok(true) => {
                state.pending.remove(&uid);
                state.reported.remove(&uid);
                state.reserved.insert(uid, pod_requests(&pod));
            }
            // Keep it pending; the periodic retry binds it later.
            Ok(false) => {
                state.pending.insert(uid, pod);
            }
            Err(Gone) => {
                state.pending.remove(&uid);
                state.reported.remove(&uid);
            }
        }
    } else {
        let message = failure_message(&reasons);
        if state.reported.get(&uid) != Some(&message) {
            report_unschedulable(sim, &pod, &message).await;
            state.reported.insert(uid.clone(), message);
        }
        state.pending.insert(uid, pod);
    }
}

/// The pod no longer needs scheduling (deleted, or bound elsewhere).
struct Gone;

/// `Ok(true)` once bound, `Ok(false)` when binding failed for a reason worth retrying.
async fn bind(sim: &Sim, pod: &Pod) -> Result<bool, Gone> {
    let namespace = pod.namespace().unwrap_or_default();
    let name = pod.name_any();
    let api: Api<Pod> = Api::namespaced(sim.client.clone(), &namespace);
    let binding = json!({
        "apiVersion": "v1",
        "kind": "Binding",
        "metadata": {"name": name, "namespace": namespace, "uid": pod.uid()},
        "target": {"apiVersion": "v1", "kind": "Node", "name": sim.node_name()},
    });
    let result: Result<serde_json::Value, kube::Error> = api
        .create_subresource("binding", &name, &PostParams::default(), &binding)
        .await;
    match result {
        Ok(_) => {
            sim.recorder
                .record(
                    &Involved::pod(pod),
                    Source::Scheduler,
                    false,
                    "Scheduled",
                    &format!(
                        "Successfully assigned {namespace}/{name} to {}",
                        sim.node_name()
                    ),
                )
                .await;
            Ok(true)
        }
        Err(kube::Error::Api(s)) if s.is_not_found() || s.is_conflict() => Err(Gone),
        Err(e) => {
            sim.log
                .line(format_args!("binding {namespace}/{name}: {e}"));
            Ok(false)
        }
    }
}

async fn report_unschedulable(sim: &Sim, pod: &Pod, message: &str) {
    let namespace = pod.namespace().unwrap_or_default();
    let name = pod.name_any();
    let api: Api<Pod> = Api::namespaced(sim.client.clone(), &namespace);
    let now = chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ").to_string();
    let patch = json!({"status": {"conditions": [{
        "type": "PodScheduled",
        "status": "False",
        "reason": "Unschedulable",
        "message": message,
        "lastProbeTime": null,
        "lastTransitionTime": now,
    }]}});
    match api
        .patch_status(&name, &PatchParams::default(), &Patch::Strategic(&patch))
        .await
    {
        Ok(_) => {}
        Err(kube::Error::Api(s)) if s.is_not_found() => return,
        Err(e) => sim.log.line(format_args!(
            "marking {namespace}/{name} unschedulable: {e}"
        )),
    }
    sim.recorder
        .record(
            &Involved::pod(pod),
            Source::Scheduler,
            true,
            "FailedScheduling",
            message,
        )
        .await;
}
