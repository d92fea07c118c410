//! A real Kubernetes control plane for kpush's tests, plus a simulated node.
//!
//! [`TestCluster`] runs etcd, kube-apiserver and kube-controller-manager (Kubernetes 1.20.2,
//! built by `scripts/build-control-plane.sh`) as child processes, and a node simulator that plays
//! the kubelet and the scheduler for one node, `kpush-sim-node`. See `docs/testing.md`.
//!
//! ```no_run
//! # async fn demo() -> anyhow::Result<()> {
//! let cluster = kpush_testenv::TestCluster::shared();
//! let client = cluster.client("admin").await?;
//! # Ok(()) }
//! ```

mod cluster;
pub mod connect_proxy;
pub mod fault_proxy;
pub mod fleet;
pub mod helm;
pub mod node_sim;

pub use cluster::binaries::{Binaries, CONTROL_PLANE_DIR_ENV, build_script, locate};
pub use cluster::{CONTEXT, ClusterOptions, NODE_NAME, TestCluster, USERS};
pub use connect_proxy::{ConnectProxy, Tunnel};
pub use fault_proxy::{FaultProxy, HttpFault, ProxyStats};
pub use node_sim::behavior::{BEHAVIOR_ANNOTATION, START_SECONDS_ANNOTATION};
