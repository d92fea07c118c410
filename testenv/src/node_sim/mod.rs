//! The node simulator: one Node whose kubelet and scheduler decisions are played by this crate.
//!
//! Everything else is real: kube-apiserver stores and validates, kube-controller-manager runs the
//! Deployment, ReplicaSet, StatefulSet, DaemonSet, Job, endpoints, namespace, garbage-collector
//! and service-account controllers. The simulator watches pods and services and answers the way
//! kube-scheduler, the kubelet and a cloud load-balancer controller would, including their
//! failures (see [`behavior`] for the scripted ones).

mod addresses;
pub mod behavior;
mod config_refs;
mod events;
mod fit;
mod images;
mod kubelet;
mod log;
mod node;
mod pod_status;
mod pod_timeline;
mod pods;
pub mod pull_errors;
mod resources;
mod scheduler;
mod services;
mod timeline;

use std::collections::HashSet;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use anyhow::Result;

use addresses::AddressPool;
use events::EventRecorder;
use log::SimLog;

/// How to run the simulator.
#[derive(Debug, Clone)]
pub struct Settings {
    pub node_name: String,
    /// Advertised kubelet port; nothing listens there.
    pub kubelet_port: u16,
    pub log_path: PathBuf,
}

/// State shared by the simulator's tasks.
pub(crate) struct Sim {
    pub client: kube::Client,
    pub settings: Settings,
    pub log: Arc<SimLog>,
    pub recorder: EventRecorder,
    pub pod_ips: Mutex<AddressPool>,
    pub lb_ips: Mutex<AddressPool>,
    /// Images the node has pulled.
    pub images: Mutex<HashSet<String>>,
}

impl Sim {
    pub fn node_name(&self) -> &str {
        &self.settings.node_name
    }
}

/// Registers the node (Ready) and starts the simulator's tasks on the current tokio runtime.
pub async fn start(client: kube::Client, settings: Settings) -> Result<()> {
    let log = Arc::new(SimLog::open(&settings.log_path));
    let sim = Arc::new(Sim {
        recorder: EventRecorder::new(client.clone(), settings.node_name.clone(), log.clone()),
        client,
        log,
        pod_ips: Mutex::new(AddressPool::pod_network()),
        lb_ips: Mutex::new(AddressPool::load_balancers()),
        images: Mutex::new(HashSet::new()),
        settings,
    });
    node::register(&sim).await?;
    sim.log.line(format_args!(
        "node {} registered and Ready",
        sim.node_name()
    ));
    tokio::spawn(node::heartbeat(sim.clone()));
    let scheduler = scheduler::spawn(sim.clone());
    tokio::spawn(pods::run(sim.clone(), scheduler));
    tokio::spawn(services::run(sim));
    Ok(())
}
