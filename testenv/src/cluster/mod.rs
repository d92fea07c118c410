//! A real control plane (etcd, kube-apiserver, kube-controller-manager) in a temp dir.

pub mod binaries;
mod certs;
pub(crate) mod cleanup;
mod control_plane;
mod kubeconfig;
pub(crate) mod ports;
pub(crate) mod process;

use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::thread::JoinHandle;
use std::time::Duration;

use anyhow::{Context, Result, anyhow, bail};
use tempfile::TempDir;

use control_plane::{BootPlan, Layout, Ports};
use process::LogFiles;

pub use kubeconfig::CONTEXT;
pub(crate) use kubeconfig::render as render_kubeconfig;

/// What a test can ask the thread that owns a cluster's processes to do.
enum Command {
    /// Restart kube-apiserver after a pause; answers with the old and new pid.
    RestartApiserver {
        downtime: Duration,
        done: tokio::sync::oneshot::Sender<Result<(u32, u32)>>,
    },
}

/// The users of every test cluster and their groups. `admin` is in `system:masters`; the others
/// start with no rights beyond discovery.
pub const USERS: [(&str, &[&str]); 3] =
    [("admin", &["system:masters"]), ("alice", &[]), ("bob", &[])];

/// The name of the simulated node.
pub const NODE_NAME: &str = "kpush-sim-node";

/// Lines of each log that [`TestCluster::logs`] returns.
const LOG_TAIL_LINES: usize = 80;

/// How to start a [`TestCluster`].
#[derive(Debug, Clone)]
pub struct ClusterOptions {
    /// Appended to kube-apiserver's command line (later flags win); `{dir}` in an argument is
    /// replaced by the cluster's temp dir.
    pub extra_apiserver_args: Vec<String>,
    /// Appended to kube-controller-manager's command line (list flags such as `--controllers`
    /// add to the defaults).
    pub extra_controller_manager_args: Vec<String>,
    /// Run the node simulator (kubelet and scheduler stand-in). Default true.
    pub simulate_node: bool,
    /// Files written into the cluster's temp dir before start: `(relative path, contents)`,
    /// e.g. an OIDC CA for `--oidc-ca-file={dir}/oidc-ca.pem`.
    pub extra_files: Vec<(String, Vec<u8>)>,
}

impl Default for ClusterOptions {
    fn default() -> Self {
        Self {
            extra_apiserver_args: Vec::new(),
            extra_controller_manager_args: Vec::new(),
            simulate_node: true,
            extra_files: Vec::new(),
        }
    }
}

/// A running test cluster; dropping it kills its processes and removes its temp dir.
pub struct TestCluster {
    server: String,
    kubectl: Option<PathBuf>,
    ca_pem: Vec<u8>,
    ca_file: PathBuf,
    tokens: Vec<(String, String)>,
    layout: Layout,
    logs: LogFiles,
    node_name: String,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    commands: tokio::sync::mpsc::UnboundedSender<Command>,
    thread: Option<JoinHandle<()>>,
    cleanup_id: u64,
    dir: Option<TempDir>,
}

impl std::fmt::Debug for TestCluster {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestCluster")
            .field("server", &self.server)
            .field("dir", &self.layout.dir)
            .finish_non_exhaustive()
    }
}

const START_ATTEMPTS: usize = 3;

impl TestCluster {
    /// Starts a cluster and waits until it serves requests, controllers run and the node is Ready.
    ///
    /// Synchronous: the cluster runs its processes and the node simulator on a thread of its own.
    pub fn start(opts: ClusterOptions) -> Result<TestCluster> {
        let binaries = binaries::locate()?;
        let mut last_error = None;
        for _ in 0..START_ATTEMPTS {
            match Self::start_once(&opts, &binaries) {
                Ok(cluster) => return Ok(cluster),
                // Another process may take a port between our check and the bind: try new ports.
                Err(e) if format!("{e:#}").contains("address already in use") => {
                    last_error = Some(e)
                }
                Err(e) => return Err(e),
            }
        }
        Err(last_error.unwrap_or_else(|| anyhow!("the cluster did not start")))
    }

    /// The cluster of this test process, started on first use with default options.
    ///
    /// Panics, with the control plane's logs, when it cannot start.
    pub fn shared() -> &'static TestCluster {
        static SHARED: OnceLock<Result<TestCluster, String>> = OnceLock::new();
        match SHARED.get_or_init(|| {
            TestCluster::start(ClusterOptions::default()).map_err(|e| format!("{e:#}"))
        }) {
            Ok(cluster) => cluster,
            Err(e) => panic!("the shared test cluster could not start: {e}"),
        }
    }

    fn start_once(opts: &ClusterOptions, binaries: &binaries::Binaries) -> Result<TestCluster> {
        let dir = cleanup::new_cluster_dir()?;
        let layout = Layout {
            dir: dir.path().to_path_buf(),
        };
        write_extra_files(&layout.dir, &opts.extra_files)?;

        let mut tokens = Vec::new();
        let mut token_lines = Vec::new();
        for (user, groups) in USERS {
            let token = certs::random_token()?;
            token_lines.push(certs::token_file_line(&token, user, groups));
            tokens.push((user.to_string(), token));
        }
        std::fs::write(layout.tokens(), token_lines.join("\n") + "\n")
            .context("writing tokens.csv")?;
        certs::generate_service_account_key(&layout.service_account_key())?;

        let free = ports::free_ports(4)?;
        let ports = Ports {
            etcd_client: free[0],
            etcd_peer: free[1],
            apiserver: free[2],
            kubelet: free[3],
        };
        let server = format!("https://127.0.0.1:{}", ports.apiserver);
        let dir_text = layout.dir.display().to_string();
        let extra_apiserver_args = opts
            .extra_apiserver_args
            .iter()
            .map(|a| a.replace("{dir}", &dir_text))
            .collect();

        let mut logs = LogFiles::default();
        for name in ["etcd", "kube-apiserver", "kube-controller-manager"] {
            logs.add(name, layout.log(name));
        }
        if opts.simulate_node {
            logs.add("node-simulator", layout.log("node-simulator"));
        }

        let plan = BootPlan {
            binaries: binaries.clone(),
            layout: layout.clone(),
            ports,
            extra_apiserver_args,
            extra_controller_manager_args: opts.extra_controller_manager_args.clone(),
            simulate_node: opts.simulate_node,
            node_name: NODE_NAME.to_string(),
            server: server.clone(),
            tokens: tokens.clone(),
        };
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let (shutdown_tx, shutdown_rx) = tokio::sync::oneshot::channel();
        let (commands, commands_rx) = tokio::sync::mpsc::unbounded_channel();
        let thread = std::thread::Builder::new()
            .name(format!("kpush-testenv-{}", ports.apiserver))
            .spawn(move || run_cluster_thread(plan, ready_tx, shutdown_rx, commands_rx))
            .context("spawning the cluster thread")?;

        let booted = ready_rx
            .recv()
            .map_err(|_| anyhow!("the cluster thread ended before reporting"))
            .and_then(|r| r);
        let (ca_pem, pids) = match booted {
            Ok(b) => b,
            Err(e) => {
                drop(shutdown_tx);
                let _ = thread.join();
                return Err(e.context(format!(
                    "starting the test cluster in {}\n{}",
                    layout.dir.display(),
                    logs.tail(LOG_TAIL_LINES)
                )));
            }
        };
        let cleanup_id = cleanup::register(pids, layout.dir.clone());
        Ok(TestCluster {
            server,
            kubectl: binaries.kubectl.clone(),
            ca_pem,
            ca_file: layout.ca_file(),
            tokens,
            layout,
            logs,
            node_name: NODE_NAME.to_string(),
            shutdown: Some(shutdown_tx),
            commands,
            thread: Some(thread),
            cleanup_id,
            dir: Some(dir),
        })
    }

    /// The API server's URL, `https://127.0.0.1:PORT`.
    pub fn server(&self) -> &str {
        &self.server
    }

    /// PEM file of the CA that signed the API server's serving certificate.
    pub fn ca_file(&self) -> &Path {
        &self.ca_file
    }

    /// The CA certificate(s) clients trust, PEM.
    pub fn ca_pem(&self) -> Vec<u8> {
        self.ca_pem.clone()
    }

    /// The bearer token of `user` ("admin", "alice" or "bob"). Panics for other users.
    pub fn token(&self, user: &str) -> &str {
        self.find_token(user).unwrap_or_else(|e| panic!("{e}"))
    }

    fn find_token(&self, user: &str) -> Result<&str> {
        self.tokens
            .iter()
            .find(|(u, _)| u == user)
            .map(|(_, t)| t.as_str())
            .ok_or_else(|| {
                anyhow!(
                    "the test cluster has no user {user:?}; its users are {}",
                    USERS.map(|(u, _)| u).join(", ")
                )
            })
    }

    /// The kubeconfig text of `user`.
    pub fn kubeconfig(&self, user: &str) -> Result<String> {
        let token = self.find_token(user)?;
        Ok(kubeconfig::render(&self.server, &self.ca_pem, user, token))
    }

    /// Writes a kubeconfig for `user` (context "kpush-test", verified TLS, bearer token).
    pub fn write_kubeconfig(&self, user: &str, path: &Path) -> Result<()> {
        let text = self.kubeconfig(user)?;
        std::fs::write(path, text).with_context(|| format!("writing {}", path.display()))
    }

    /// The kubeconfig of `user` written into the temp dir at start. Panics for unknown users.
    pub fn kubeconfig_path(&self, user: &str) -> PathBuf {
        if let Err(e) = self.find_token(user) {
            panic!("{e}");
        }
        self.layout.kubeconfig(user)
    }

    /// A client for `user`, built for the caller's tokio runtime.
    pub async fn client(&self, user: &str) -> Result<kube::Client> {
        kubeconfig::client(&self.kubeconfig(user)?).await
    }

    /// Creates a namespace and waits until pods can be created and started in it: the
    /// ServiceAccount admission plugin rejects pods until the namespace's `default` service
    /// account exists, and their projected token volume needs the `kube-root-ca.crt` ConfigMap.
    pub async fn create_namespace(&self, name: &str) -> Result<()> {
        use k8s_openapi::api::core::v1::{ConfigMap, Namespace, ServiceAccount};
        let client = self.client("admin").await?;
        let namespaces: kube::Api<Namespace> = kube::Api::all(client.clone());
        let namespace: Namespace = serde_json::from_value(serde_json::json!({
            "apiVersion": "v1",
            "kind": "Namespace",
            "metadata": {"name": name},
        }))?;
        namespaces
            .create(&kube::api::PostParams::default(), &namespace)
            .await
            .with_context(|| format!("creating namespace {name}"))?;
        let accounts: kube::Api<ServiceAccount> = kube::Api::namespaced(client.clone(), name);
        let config_maps: kube::Api<ConfigMap> = kube::Api::namespaced(client, name);
        let deadline = std::time::Instant::now() + Duration::from_secs(60);
        loop {
            if let Ok(Some(_)) = accounts.get_opt("default").await
                && let Ok(Some(_)) = config_maps.get_opt("kube-root-ca.crt").await
            {
                return Ok(());
            }
            if std::time::Instant::now() > deadline {
                bail!(
                    "namespace {name} got no default service account or kube-root-ca.crt within 60s\n{}",
                    self.logs()
                );
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// The last lines of the etcd, kube-apiserver, kube-controller-manager and simulator logs.
    pub fn logs(&self) -> String {
        self.logs.tail(LOG_TAIL_LINES)
    }

    /// The cluster's temp dir.
    pub fn dir(&self) -> &Path {
        &self.layout.dir
    }

    /// The name of the simulated node.
    pub fn node_name(&self) -> &str {
        &self.node_name
    }

    /// Kills kube-apiserver, waits `downtime`, starts it again with the same flags, port,
    /// certificates and etcd, and returns once it is ready. Clients see refused connections
    /// meanwhile, as during a control-plane restart. Use a cluster of the test's own, not
    /// [`TestCluster::shared`].
    pub async fn restart_apiserver(&self, downtime: Duration) -> Result<()> {
        let (done, answer) = tokio::sync::oneshot::channel();
        self.commands
            .send(Command::RestartApiserver { downtime, done })
            .map_err(|_| anyhow!("the cluster thread has ended"))?;
        let (old, new) = answer
            .await
            .map_err(|_| anyhow!("the cluster thread ended during the restart"))?
            .map_err(|e| e.context(format!("restarting kube-apiserver\n{}", self.logs())))?;
        cleanup::replace_pid(self.cleanup_id, old, new);
        Ok(())
    }

    /// The kubectl built with the control plane (same version), if it was found.
    pub fn kubectl(&self) -> Option<&Path> {
        self.kubectl.as_deref()
    }
}

impl Drop for TestCluster {
    fn drop(&mut self) {
        drop(self.shutdown.take());
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
        cleanup::unregister(self.cleanup_id);
        drop(self.dir.take());
    }
}

/// Body of the thread that owns the cluster's processes and runs the node simulator.
fn run_cluster_thread(
    plan: BootPlan,
    ready: std::sync::mpsc::Sender<Result<(Vec<u8>, Vec<u32>)>>,
    mut shutdown: tokio::sync::oneshot::Receiver<()>,
    mut commands: tokio::sync::mpsc::UnboundedReceiver<Command>,
) {
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            let _ = ready.send(Err(
                anyhow!(e).context("building the cluster's tokio runtime")
            ));
            return;
        }
    };
    let mut procs = Vec::new();
    runtime.block_on(async {
        match control_plane::boot(&plan, &mut procs).await {
            Ok(booted) => {
                let pids = procs.iter().map(|p| p.pid()).collect();
                if ready.send(Ok((booted.ca_pem, pids))).is_err() {
                    return;
                }
                loop {
                    tokio::select! {
                        _ = &mut shutdown => break,
                        command = commands.recv() => match command {
                            Some(Command::RestartApiserver { downtime, done }) => {
                                let r = control_plane::restart_apiserver(&plan, &mut procs, downtime).await;
                                let _ = done.send(r);
                            }
                            None => {
                                let _ = (&mut shutdown).await;
                                break;
                            }
                        },
                    }
                }
            }
            Err(e) => {
                let _ = ready.send(Err(e));
            }
        }
    });
    // Stop the simulator before its API server goes away.
    runtime.shutdown_timeout(Duration::from_secs(1));
    for p in procs.iter_mut().rev() {
        p.kill();
    }
}

fn write_extra_files(dir: &Path, files: &[(String, Vec<u8>)]) -> Result<()> {
    for (name, contents) in files {
        let relative = Path::new(name);
        if relative.is_absolute()
            || relative
                .components()
                .any(|c| !matches!(c, std::path::Component::Normal(_)))
        {
            bail!("extra file {name:?} must be a plain relative path");
        }
        let path = dir.join(relative);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::write(&path, contents).with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(())
}
