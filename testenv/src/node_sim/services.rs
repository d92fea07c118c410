//! The load-balancer stand-in: Services of type LoadBalancer get an ingress IP after a second.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::StreamExt;
use k8s_openapi::api::core::v1::Service;
use kube::api::{Patch, PatchParams};
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Api, ResourceExt};
use serde_json::json;

use super::Sim;
use super::events::{Involved, Source};

/// How long "provisioning" a load balancer takes.
const PROVISIONING: Duration = Duration::from_secs(1);

/// Runs forever; the watcher re-lists and re-watches by itself after errors.
pub async fn run(sim: Arc<Sim>) {
    let api: Api<Service> = Api::all(sim.client.clone());
    let mut stream = watcher(api, watcher::Config::default())
        .default_backoff()
        .boxed();
    let in_flight: Arc<Mutex<HashSet<String>>> = Arc::default();
    while let Some(event) = stream.next().await {
        match event {
            Ok(watcher::Event::Apply(svc) | watcher::Event::InitApply(svc)) => {
                reconcile(&sim, &in_flight, svc);
            }
            Ok(watcher::Event::Delete(svc)) => {
                if let Some(uid) = svc.uid() {
                    sim.lb_ips
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .release(&uid);
                }
            }
            Ok(_) => {}
            Err(e) => sim.log.line(format_args!("service watch: {e}")),
        }
    }
}

fn has_ingress(svc: &Service) -> bool {
    svc.status
        .as_ref()
        .and_then(|s| s.load_balancer.as_ref())
        .and_then(|lb| lb.ingress.as_ref())
        .is_some_and(|i| !i.is_empty())
}

fn reconcile(sim: &Arc<Sim>, in_flight: &Arc<Mutex<HashSet<String>>>, svc: Service) {
    let Some(uid) = svc.uid() else { return };
    let is_lb = svc.spec.as_ref().and_then(|s| s.type_.as_deref()) == Some("LoadBalancer");
    if svc.metadata.deletion_timestamp.is_some() {
        return;
    }
    if is_lb && !has_ingress(&svc) {
        if in_flight
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(uid.clone())
        {
            let sim = sim.clone();
            let in_flight = in_flight.clone();
            tokio::spawn(async move {
                provision(&sim, &svc).await;
                in_flight
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .remove(&uid);
            });
        }
    } else if !is_lb && has_ingress(&svc) {
        sim.lb_ips
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .release(&uid);
        let sim = sim.clone();
        tokio::spawn(async move {
            set_ingress(&sim, &svc, json!(null)).await;
        });
    }
}

async fn provision(sim: &Sim, svc: &Service) {
    let involved = Involved::service(svc);
    sim.recorder
        .record(
            &involved,
            Source::ServiceController,
            false,
            "EnsuringLoadBalancer",
            "Ensuring load balancer",
        )
        .await;
    tokio::time::sleep(PROVISIONING).await;
    let uid = svc.uid().unwrap_or_default();
    let ip = sim
        .lb_ips
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .allocate(&uid);
    let Some(ip) = ip else {
        sim.log.line("no load-balancer IP left");
        return;
    };
    if set_ingress(sim, svc, json!([{"ip": ip.to_string()}])).await {
        sim.recorder
            .record(
                &involved,
                Source::ServiceController,
                false,
                "EnsuredLoadBalancer",
                "Ensured load balancer",
            )
            .await;
    }
}

async fn set_ingress(sim: &Sim, svc: &Service, ingress: serde_json::Value) -> bool {
    let namespace = svc.namespace().unwrap_or_default();
    let name = svc.name_any();
    let api: Api<Service> = Api::namespaced(sim.client.clone(), &namespace);
    let patch = json!({"status": {"loadBalancer": {"ingress": ingress}}});
    match api
        .patch_status(&name, &PatchParams::default(), &Patch::Merge(&patch))
        .await
    {
        Ok(_) => true,
        Err(e) => {
            sim.log
                .line(format_args!("load balancer of {namespace}/{name}: {e}"));
            false
        }
    }
}
