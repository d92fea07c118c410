//! Command lines of etcd, kube-apiserver and kube-controller-manager, and booting them in order.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, Result, anyhow, bail};
use k8s_openapi::api::core::v1::{ConfigMap, ServiceAccount};
use kube::Api;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::time::{Instant, sleep};

use super::binaries::Binaries;
use super::certs;
use super::kubeconfig;
use super::process::Supervised;
use crate::node_sim;

/// Where a cluster keeps its files inside its temp dir.
#[derive(Debug, Clone)]
pub struct Layout {
    pub dir: PathBuf,
}

impl Layout {
    pub fn etcd_data(&self) -> PathBuf {
        self.dir.join("etcd")
    }
    pub fn cert_dir(&self) -> PathBuf {
        self.dir.join("certs")
    }
    pub fn serving_cert(&self) -> PathBuf {
        self.cert_dir().join("apiserver.crt")
    }
    pub fn ca_file(&self) -> PathBuf {
        self.dir.join("ca.crt")
    }
    pub fn tokens(&self) -> PathBuf {
        self.dir.join("tokens.csv")
    }
    pub fn service_account_key(&self) -> PathBuf {
        self.dir.join("sa.key")
    }
    pub fn kubeconfig(&self, user: &str) -> PathBuf {
        self.dir.join(format!("kubeconfig-{user}.yaml"))
    }
    pub fn log(&self, name: &str) -> PathBuf {
        self.dir.join(format!("{name}.log"))
    }
}

/// Loopback ports of one cluster.
#[derive(Debug, Clone, Copy)]
pub struct Ports {
    pub etcd_client: u16,
    pub etcd_peer: u16,
    pub apiserver: u16,
    /// Advertised as the kubelet's port; nothing listens there, so log and exec requests fail fast.
    pub kubelet: u16,
}

/// Admission plugins AKS enables beyond Kubernetes' defaults (AKS FAQ, "Which admission
/// controllers does AKS support?").
pub const AKS_EXTRA_ADMISSION_PLUGINS: [&str; 4] = [
    "NodeRestriction",
    "PodNodeSelector",
    "PodTolerationRestriction",
    "ExtendedResourceToleration",
];

/// Issuer and audience of service-account tokens.
pub const SERVICE_ACCOUNT_ISSUER: &str = "https://kubernetes.default.svc.cluster.local";

pub fn etcd_args(layout: &Layout, ports: &Ports) -> Vec<String> {
    let client = format!("http://127.0.0.1:{}", ports.etcd_client);
    let peer = format!("http://127.0.0.1:{}", ports.etcd_peer);
    vec![
        "--name=default".into(),
        format!("--data-dir={}", layout.etcd_data().display()),
        format!("--listen-client-urls={client}"),
        format!("--advertise-client-urls={client}"),
        format!("--listen-peer-urls={peer}"),
        format!("--initial-advertise-peer-urls={peer}"),
        format!("--initial-cluster=default={peer}"),
        "--initial-cluster-state=new".into(),
        "--logger=zap".into(),
        "--log-level=warn".into(),
        // A test cluster's data is thrown away: no fsync per write (etcd 3.5+).
        "--unsafe-no-fsync".into(),
    ]
}

pub fn apiserver_args(layout: &Layout, ports: &Ports, extra: &[String]) -> Vec<String> {
    let key = layout.service_account_key();
    let mut args = vec![
        format!("--etcd-servers=http://127.0.0.1:{}", ports.etcd_client),
        "--bind-address=127.0.0.1".into(),
        "--advertise-address=127.0.0.1".into(),
        format!("--secure-port={}", ports.apiserver),
        format!("--cert-dir={}", layout.cert_dir().display()),
        format!("--token-auth-file={}", layout.tokens().display()),
        // As on AKS: the Node authorizer for kubelets, RBAC for everyone else.
        "--authorization-mode=Node,RBAC".into(),
        // Kubernetes' default admission plugins (NamespaceLifecycle, LimitRanger, ServiceAccount,
        // PodSecurity, Priority, DefaultTolerationSeconds, DefaultStorageClass, DefaultIngressClass,
        // RuntimeClass, ResourceQuota, MutatingAdmissionWebhook, ValidatingAdmissionWebhook,
        // ValidatingAdmissionPolicy, …) plus the ones AKS turns on beside them.
        format!(
            "--enable-admission-plugins={}",
            AKS_EXTRA_ADMISSION_PLUGINS.join(",")
        ),
        format!("--service-account-key-file={}", key.display()),
        format!("--service-account-signing-key-file={}", key.display()),
        format!("--service-account-issuer={SERVICE_ACCOUNT_ISSUER}"),
        format!("--api-audiences={SERVICE_ACCOUNT_ISSUER}"),
        "--service-cluster-ip-range=10.0.0.0/24".into(),
        "--allow-privileged=true".into(),
        // The advertised address is loopback, which Endpoints reject; nothing needs them.
        "--endpoint-reconciler-type=none".into(),
        "--kubelet-preferred-address-types=InternalIP".into(),
        "--kubelet-timeout=5s".into(),
        "--profiling=false".into(),
    ];
    args.extend(extra.iter().cloned());
    args
}

pub fn controller_manager_args(layout: &Layout) -> Vec<String> {
    vec![
        format!("--kubeconfig={}", layout.kubeconfig("admin").display()),
        format!(
            "--service-account-private-key-file={}",
            layout.service_account_key().display()
        ),
        format!("--root-ca-file={}", layout.ca_file().display()),
        // No kubelets post leases and nothing needs pod garbage collection by node.
        "--controllers=*,-nodelifecycle,-podgc".into(),
        "--leader-elect=false".into(),
        "--secure-port=0".into(),
        "--use-service-account-credentials=false".into(),
        // Throughput like a production control plane rather than client-go's defaults: each
        // controller's client is otherwise limited to 20 requests/s (burst 30), so 150 pods of
        // 50 Deployments take the ReplicaSet controller alone 7 s to create, whatever deploys
        // them. The API server's CPU is then the limit, as it is on a real cluster. See
        // docs/testing.md ("Controller throughput").
        format!("--kube-api-qps={CONTROLLER_API_QPS}"),
        format!("--kube-api-burst={CONTROLLER_API_BURST}"),
        "--concurrent-deployment-syncs=20".into(),
        "--concurrent-replicaset-syncs=20".into(),
        "--concurrent-statefulset-syncs=10".into(),
        "--concurrent-service-syncs=2".into(),
        "--concurrent-gc-syncs=30".into(),
        "--profiling=false".into(),
    ]
}

/// Requests per second each controller of kube-controller-manager may send (client-go: 20).
pub const CONTROLLER_API_QPS: u32 = 300;
/// Burst above [`CONTROLLER_API_QPS`] (client-go: 30).
pub const CONTROLLER_API_BURST: u32 = 500;

/// Everything a booting cluster needs, prepared before its thread starts.
pub struct BootPlan {
    pub binaries: Binaries,
    pub layout: Layout,
    pub ports: Ports,
    pub extra_apiserver_args: Vec<String>,
    pub extra_controller_manager_args: Vec<String>,
    pub simulate_node: bool,
    pub node_name: String,
    pub server: String,
    /// `(user, token)` pairs.
    pub tokens: Vec<(String, String)>,
}

/// What booting produced.
pub struct Booted {
    pub ca_pem: Vec<u8>,
}

const ETCD_TIMEOUT: Duration = Duration::from_secs(30);
const APISERVER_TIMEOUT: Duration = Duration::from_secs(60);
const CONTROLLERS_TIMEOUT: Duration = Duration::from_secs(60);
const POLL: Duration = Duration::from_millis(50);

/// Starts etcd, kube-apiserver, kube-controller-manager and the node simulator, waiting for each.
///
/// Processes are pushed onto `procs` as they start so the caller can kill them on any outcome.
/// Must run on the thread that owns the cluster (see [`Supervised::spawn`]).
pub async fn boot(plan: &BootPlan, procs: &mut Vec<Supervised>) -> Result<Booted> {
    let layout = &plan.layout;

    procs.push(Supervised::spawn(
        "etcd",
        &plan.binaries.etcd,
        &etcd_args(layout, &plan.ports),
        &layout.log("etcd"),
    )?);
    wait_for_etcd(plan.ports.etcd_client, procs).await?;

    procs.push(Supervised::spawn(
        "kube-apiserver",
        &plan.binaries.kube_apiserver,
        &apiserver_args(layout, &plan.ports, &plan.extra_apiserver_args),
        &layout.log("kube-apiserver"),
    )?);
    let ca_pem = wait_for_serving_ca(&layout.serving_cert(), procs).await?;
    std::fs::write(layout.ca_file(), &ca_pem).context("writing ca.crt")?;
    for (user, token) in &plan.tokens {
        let text = kubeconfig::render(&plan.server, ca_pem.as_bytes(), user, token);
        std::fs::write(layout.kubeconfig(user), text)
            .with_context(|| format!("writing the kubeconfig of {user}"))?;
    }
    let admin_token = plan
        .tokens
        .iter()
        .find(|(u, _)| u == "admin")
        .map(|(_, t)| t.as_str())
        .ok_or_else(|| anyhow!("no admin token"))?;
    let admin = kubeconfig::client(&kubeconfig::render(
        &plan.server,
        ca_pem.as_bytes(),
        "admin",
        admin_token,
    ))
    .await?;
    wait_for_readyz(&admin, procs).await?;

    procs.push(Supervised::spawn(
        "kube-controller-manager",
        &plan.binaries.kube_controller_manager,
        &[
            controller_manager_args(layout),
            plan.extra_controller_manager_args.clone(),
        ]
        .concat(),
        &layout.log("kube-controller-manager"),
    )?);

    if plan.simulate_node {
        node_sim::start(
            admin.clone(),
            node_sim::Settings {
                node_name: plan.node_name.clone(),
                kubelet_port: plan.ports.kubelet,
                log_path: layout.log("node-simulator"),
            },
        )
        .await
        .context("starting the node simulator")?;
    }

    wait_for_default_service_account(&admin, procs).await?;
    Ok(Booted {
        ca_pem: ca_pem.into_bytes(),
    })
}

/// Kills kube-apiserver (as a crash or a node restart would), waits `downtime`, starts it again
/// with the same command line and waits until it is ready. Returns the old and new pid.
pub async fn restart_apiserver(
    plan: &BootPlan,
    procs: &mut [Supervised],
    downtime: Duration,
) -> Result<(u32, u32)> {
    let slot = procs
        .iter_mut()
        .find(|p| p.name == "kube-apiserver")
        .ok_or_else(|| anyhow!("kube-apiserver is not running"))?;
    let old = slot.pid();
    slot.kill();
    sleep(downtime).await;
    *slot = Supervised::spawn(
        "kube-apiserver",
        &plan.binaries.kube_apiserver,
        &apiserver_args(&plan.layout, &plan.ports, &plan.extra_apiserver_args),
        &plan.layout.log("kube-apiserver"),
    )?;
    let new = slot.pid();
    let ca_pem = std::fs::read(plan.layout.ca_file()).context("reading ca.crt")?;
    let admin_token = plan
        .tokens
        .iter()
        .find(|(u, _)| u == "admin")
        .map(|(_, t)| t.as_str())
        .ok_or_else(|| anyhow!("no admin token"))?;
    let admin = kubeconfig::client(&kubeconfig::render(
        &plan.server,
        &ca_pem,
        "admin",
        admin_token,
    ))
    .await?;
    wait_for_readyz(&admin, procs).await?;
    Ok((old, new))
}

fn check_alive(procs: &mut [Supervised]) -> Result<()> {
    for p in procs.iter_mut() {
        if let Some(exit) = p.exited() {
            bail!("{exit}");
        }
    }
    Ok(())
}

async fn wait_for_etcd(port: u16, procs: &mut [Supervised]) -> Result<()> {
    let deadline = Instant::now() + ETCD_TIMEOUT;
    loop {
        check_alive(procs)?;
        if let Ok(body) = http_get_plain(port, "/health").await
            && body.contains("\"health\":\"true\"")
        {
            return Ok(());
        }
        if Instant::now() > deadline {
            bail!("etcd was not healthy within {ETCD_TIMEOUT:?}");
        }
        sleep(POLL).await;
    }
}

/// A plain-HTTP GET against 127.0.0.1 (etcd's health endpoint), returning the whole response.
async fn http_get_plain(port: u16, path: &str) -> std::io::Result<String> {
    let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", port)).await?;
    stream
        .write_all(format!("GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n").as_bytes())
        .await?;
    let mut response = String::new();
    tokio::time::timeout(Duration::from_secs(2), stream.read_to_string(&mut response))
        .await
        .map_err(|_| std::io::Error::new(std::io::ErrorKind::TimedOut, "no answer"))??;
    Ok(response)
}

async fn wait_for_serving_ca(cert: &Path, procs: &mut [Supervised]) -> Result<String> {
    let deadline = Instant::now() + APISERVER_TIMEOUT;
    loop {
        check_alive(procs)?;
        if let Ok(text) = std::fs::read_to_string(cert)
            && text.contains("-----END CERTIFICATE-----")
            && let Some(ca) = certs::serving_ca(&text)
        {
            return Ok(ca);
        }
        if Instant::now() > deadline {
            bail!(
                "kube-apiserver wrote no serving certificate to {} within {APISERVER_TIMEOUT:?}",
                cert.display()
            );
        }
        sleep(POLL).await;
    }
}

async fn wait_for_readyz(admin: &kube::Client, procs: &mut [Supervised]) -> Result<()> {
    let deadline = Instant::now() + APISERVER_TIMEOUT;
    loop {
        check_alive(procs)?;
        let request = http::Request::get("/readyz").body(Vec::new())?;
        let last = match admin.request_text(request).await {
            Ok(body) if body.trim() == "ok" => return Ok(()),
            Ok(body) => body,
            Err(e) => format!("{e}"),
        };
        if Instant::now() > deadline {
            bail!(
                "kube-apiserver was not ready within {APISERVER_TIMEOUT:?}; last /readyz answer: {last}"
            );
        }
        sleep(Duration::from_millis(100)).await;
    }
}

/// The controller manager works once the service-account controller created `default/default`
/// and the root CA publisher `kube-root-ca.crt` (pods' projected token volumes need both).
async fn wait_for_default_service_account(
    admin: &kube::Client,
    procs: &mut [Supervised],
) -> Result<()> {
    let api: Api<ServiceAccount> = Api::namespaced(admin.clone(), "default");
    let root_ca: Api<ConfigMap> = Api::namespaced(admin.clone(), "default");
    let deadline = Instant::now() + CONTROLLERS_TIMEOUT;
    loop {
        check_alive(procs)?;
        if let Ok(Some(_)) = api.get_opt("default").await
            && let Ok(Some(_)) = root_ca.get_opt("kube-root-ca.crt").await
        {
            return Ok(());
        }
        if Instant::now() > deadline {
            bail!(
                "kube-controller-manager did not create the default service account and kube-root-ca.crt within {CONTROLLERS_TIMEOUT:?}"
            );
        }
        sleep(Duration::from_millis(100)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn layout() -> Layout {
        Layout {
            dir: PathBuf::from("/tmp/c"),
        }
    }

    const PORTS: Ports = Ports {
        etcd_client: 1,
        etcd_peer: 2,
        apiserver: 3,
        kubelet: 4,
    };

    #[test]
    fn extra_apiserver_args_come_last() {
        let args = apiserver_args(&layout(), &PORTS, &["--v=4".into()]);
        assert_eq!(args.last().unwrap(), "--v=4");
        assert!(args.contains(&"--secure-port=3".to_string()));
        assert!(args.contains(&"--etcd-servers=http://127.0.0.1:1".to_string()));
    }

    #[test]
    fn controllers_are_not_throttled_by_client_go_defaults() {
        let args = controller_manager_args(&layout());
        assert!(args.contains(&"--kube-api-qps=300".to_string()));
        assert!(args.contains(&"--kube-api-burst=500".to_string()));
    }

    #[test]
    fn etcd_peers_with_itself() {
        let args = etcd_args(&layout(), &PORTS);
        assert!(args.contains(&"--initial-cluster=default=http://127.0.0.1:2".to_string()));
    }
}
