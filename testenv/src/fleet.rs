//! A real KubeFleet (Azure Kubernetes Fleet Manager) fleet: a hub control plane running the
//! fleet hub agent, and member control planes, each with a fleet member agent and the node
//! simulator. The agents are the real ones, built from the Go module `go.goms.io/fleet` by
//! `scripts/build-fleet.sh`; see docs/testing.md.
//!
//! ```no_run
//! # async fn demo() -> anyhow::Result<()> {
//! use kpush_testenv::fleet::{Fleet, FleetOptions, MemberSpec};
//! let fleet = Fleet::start(FleetOptions {
//!     members: vec![MemberSpec::new("member-1").label("env", "prod")],
//!     ..FleetOptions::default()
//! })
//! .await?;
//! let hub = fleet.hub().client("admin").await?;
//! # let _ = hub; Ok(()) }
//! ```

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail};
use kube::api::{Api, DynamicObject, Patch, PatchParams};
use kube::core::{ApiResource, GroupVersionKind};
use serde_json::{Value, json};

use crate::cluster::process::{LogFiles, Supervised, tail_file};
use crate::cluster::{ClusterOptions, TestCluster, cleanup, ports};

/// Environment variable naming a directory that already holds `hubagent`, `memberagent` and
/// `crds/` (skips `scripts/build-fleet.sh`).
pub const FLEET_DIR_ENV: &str = "KPUSH_FLEET_DIR";

/// Workload controllers a hub does not run.
const HUB_WITHOUT: [&str; 8] = [
    "-deployment",
    "-replicaset",
    "-statefulset",
    "-daemonset",
    "-job",
    "-cronjob",
    "-replicationcontroller",
    "-horizontalpodautoscaling",
];

/// The CRD the member agent needs on its own cluster.
const MEMBER_CRDS: [&str; 1] = ["placement.kubernetes-fleet.io_appliedworks.yaml"];

/// One member cluster to start and join.
#[derive(Debug, Clone)]
pub struct MemberSpec {
    /// The MemberCluster's name on the hub.
    pub name: String,
    /// Labels of the MemberCluster (what placements select on).
    pub labels: Vec<(String, String)>,
}

impl MemberSpec {
    /// A member named `name`, without labels.
    pub fn new(name: &str) -> Self {
        Self {
            name: name.to_string(),
            labels: Vec::new(),
        }
    }

    /// Adds a label.
    pub fn label(mut self, key: &str, value: &str) -> Self {
        self.labels.push((key.to_string(), value.to_string()));
        self
    }
}

/// How to start a [`Fleet`].
#[derive(Debug, Clone)]
pub struct FleetOptions {
    /// The member clusters.
    pub members: Vec<MemberSpec>,
    /// The hub's control plane (`simulate_node` is ignored: the hub runs no workloads). Extra
    /// API server flags go here, e.g. OIDC for Entra ID tokens.
    pub hub: ClusterOptions,
}

impl Default for FleetOptions {
    fn default() -> Self {
        Self {
            members: vec![MemberSpec::new("member-1"), MemberSpec::new("member-2")],
            hub: ClusterOptions::default(),
        }
    }
}

/// What the thread owning the agent processes is asked to do.
enum AgentCommand {
    Spawn {
        name: &'static str,
        program: PathBuf,
        args: Vec<String>,
        env: Vec<(&'static str, String)>,
        log: PathBuf,
        done: std::sync::mpsc::Sender<Result<u32>>,
    },
    Check(std::sync::mpsc::Sender<Option<String>>),
}

/// The agents run as children of a thread of their own, so they live as long as the fleet
/// (`PR_SET_PDEATHSIG` kills a child when the thread that spawned it ends), whichever thread
/// started it. Dropping this stops them.
struct Agents {
    commands: Option<std::sync::mpsc::Sender<AgentCommand>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Agents {
    fn start() -> Result<Self> {
        let (tx, rx) = std::sync::mpsc::channel::<AgentCommand>();
        let thread = std::thread::Builder::new()
            .name("kpush-fleet-agents".into())
            .spawn(move || {
                let mut running: Vec<Supervised> = Vec::new();
                while let Ok(command) = rx.recv() {
                    match command {
                        AgentCommand::Spawn {
                            name,
                            program,
                            args,
                            env,
                            log,
                            done,
                        } => {
                            let spawned =
                                Supervised::spawn_with_env(name, &program, &args, &env, &log);
                            let _ = done.send(spawned.map(|s| {
                                let pid = s.pid();
                                running.push(s);
                                pid
                            }));
                        }
                        AgentCommand::Check(answer) => {
                            let _ = answer.send(running.iter_mut().find_map(|a| a.exited()));
                        }
                    }
                }
                for mut agent in running {
                    agent.kill();
                }
            })
            .context("spawning the fleet agents' thread")?;
        Ok(Self {
            commands: Some(tx),
            thread: Some(thread),
        })
    }

    fn spawn(
        &self,
        name: &'static str,
        program: &Path,
        args: Vec<String>,
        env: Vec<(&'static str, String)>,
        log: &Path,
    ) -> Result<u32> {
        let (done, answer) = std::sync::mpsc::channel();
        self.send(AgentCommand::Spawn {
            name,
            program: program.to_path_buf(),
            args,
            env,
            log: log.to_path_buf(),
            done,
        })?;
        answer
            .recv()
            .map_err(|_| anyhow!("the fleet agents' thread ended"))?
    }

    /// `Some(description)` once an agent has exited.
    fn exited(&self) -> Option<String> {
        let (tx, rx) = std::sync::mpsc::channel();
        self.send(AgentCommand::Check(tx)).ok()?;
        rx.recv().ok().flatten()
    }

    fn send(&self, command: AgentCommand) -> Result<()> {
        self.commands
            .as_ref()
            .ok_or_else(|| anyhow!("the fleet agents were stopped"))?
            .send(command)
            .map_err(|_| anyhow!("the fleet agents' thread ended"))
    }
}

impl Drop for Agents {
    fn drop(&mut self) {
        drop(self.commands.take());
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// A running fleet; dropping it stops the agents and the control planes.
pub struct Fleet {
    // Agents stop before the clusters they talk to.
    agents: Agents,
    logs: LogFiles,
    hub: TestCluster,
    members: Vec<(String, TestCluster)>,
    cleanup_id: u64,
    _dir: tempfile::TempDir,
}

impl std::fmt::Debug for Fleet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Fleet")
            .field("hub", &self.hub.server())
            .field(
                "members",
                &self.members.iter().map(|(n, _)| n).collect::<Vec<_>>(),
            )
            .finish_non_exhaustive()
    }
}

impl Fleet {
    /// Starts the hub and the members, installs Fleet's CRDs, starts the agents, and returns
    /// once every member has joined (its MemberCluster says `Joined`).
    ///
    pub async fn start(opts: FleetOptions) -> Result<Fleet> {
        let bin = locate()?;
        let dir = tempfile::Builder::new()
            .prefix("kpush-fleet-")
            .tempdir()
            .context("creating the fleet's temp dir")?;
        // A Fleet hub runs no workloads: no controller turns its Deployments into ReplicaSets
        // and pods (which Fleet would otherwise place on the members too).
        let mut hub_controllers = opts.hub.extra_controller_manager_args.clone();
        hub_controllers.push(format!("--controllers={}", HUB_WITHOUT.join(",")));
        let hub = TestCluster::start(ClusterOptions {
            simulate_node: false,
            extra_controller_manager_args: hub_controllers,
            ..opts.hub.clone()
        })
        .context("starting the fleet hub's control plane")?;
        let mut members = Vec::new();
        for m in &opts.members {
            let cluster = TestCluster::start(ClusterOptions::default())
                .with_context(|| format!("starting member cluster {}", m.name))?;
            members.push((m.name.clone(), cluster));
        }

        let hub_client = hub.client("admin").await?;
        install_crds(&hub_client, &bin.join("crds"), None).await?;
        create_namespace(&hub_client, "fleet-system").await?;
        for (_, cluster) in &members {
            let client = cluster.client("admin").await?;
            install_crds(&client, &bin.join("crds"), Some(&MEMBER_CRDS)).await?;
        }

        let mut logs = LogFiles::default();
        let agents = Agents::start()?;
        let mut pids = Vec::new();
        let hub_ports = ports::free_ports(2)?;
        let hub_log = dir.path().join("hubagent.log");
        logs.add("hubagent", hub_log.clone());
        let mut hub_args = vec![
            "--enable-webhook=false".to_string(),
            "--enable-v1alpha1-apis=false".into(),
            "--enable-v1beta1-apis=true".into(),
            "--enable-staged-update-run-apis=true".into(),
            "--force-delete-wait-time=1m".into(),
            format!("--health-probe-bind-address=127.0.0.1:{}", hub_ports[0]),
            format!("--metrics-bind-address=127.0.0.1:{}", hub_ports[1]),
            format!("--kubeconfig={}", hub.kubeconfig_path("admin").display()),
            "-v=2".into(),
        ];
        hub_args.extend(kube_client_rates());
        pids.push(agents.spawn(
            "hubagent",
            &bin.join("hubagent"),
            hub_args,
            Vec::new(),
            &hub_log,
        )?);

        let token_file = dir.path().join("hub-token");
        std::fs::write(&token_file, hub.token("admin")).context("writing the hub token")?;
        for (spec, (name, cluster)) in opts.members.iter().zip(&members) {
            create_member_cluster(&hub_client, spec).await?;
            let p = ports::free_ports(4)?;
            let log = dir.path().join(format!("memberagent-{name}.log"));
            logs.add(&format!("memberagent {name}"), log.clone());
            let args = vec![
                "--enable-v1alpha1-apis=false".to_string(),
                "--enable-v1beta1-apis=true".into(),
                "--availability-check-interval=2".into(),
                format!("--hub-health-probe-bind-address=127.0.0.1:{}", p[0]),
                format!("--hub-metrics-bind-address=127.0.0.1:{}", p[1]),
                format!("--health-probe-bind-address=127.0.0.1:{}", p[2]),
                format!("--metrics-bind-address=127.0.0.1:{}", p[3]),
                format!(
                    "--kubeconfig={}",
                    cluster.kubeconfig_path("admin").display()
                ),
                "-v=2".into(),
            ];
            pids.push(agents.spawn(
                "memberagent",
                &bin.join("memberagent"),
                args,
                vec![
                    ("HUB_SERVER_URL", hub.server().to_string()),
                    ("CONFIG_PATH", token_file.display().to_string()),
                    ("CA_BUNDLE", hub.ca_file().display().to_string()),
                    ("MEMBER_CLUSTER_NAME", name.clone()),
                ],
                &log,
            )?);
        }
        let cleanup_id = cleanup::register(pids, dir.path().to_path_buf());
        let fleet = Fleet {
            agents,
            logs,
            hub,
            members,
            cleanup_id,
            _dir: dir,
        };
        fleet.wait_joined(Duration::from_secs(120)).await?;
        Ok(fleet)
    }

    /// The hub cluster (where placements are written).
    pub fn hub(&self) -> &TestCluster {
        &self.hub
    }

    /// The member cluster named `name`. Panics for unknown names.
    pub fn member(&self, name: &str) -> &TestCluster {
        self.members
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, c)| c)
            .unwrap_or_else(|| panic!("the fleet has no member {name:?}"))
    }

    /// The last lines of the agents' logs.
    pub fn agent_logs(&self) -> String {
        self.logs.tail(60)
    }

    /// The last `lines` lines of one agent's log (`hubagent`, `memberagent NAME`).
    pub fn agent_log(&self, agent: &str, lines: usize) -> String {
        self.logs
            .path(agent)
            .and_then(|p| tail_file(p, lines).ok())
            .unwrap_or_default()
    }

    async fn wait_joined(&self, limit: Duration) -> Result<()> {
        let client = self.hub.client("admin").await?;
        let api = Api::<DynamicObject>::all_with(client, &member_cluster_resource());
        let deadline = Instant::now() + limit;
        loop {
            self.check_agents()?;
            let mut waiting = Vec::new();
            for (name, _) in &self.members {
                let joined = api
                    .get_opt(name)
                    .await?
                    .map(|mc| condition_true(&mc.data, "Joined"))
                    .unwrap_or(false);
                if !joined {
                    waiting.push(name.clone());
                }
            }
            if waiting.is_empty() {
                return Ok(());
            }
            if Instant::now() > deadline {
                bail!(
                    "member clusters {} did not join the fleet within {limit:?}\n{}",
                    waiting.join(", "),
                    self.agent_logs()
                );
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }

    fn check_agents(&self) -> Result<()> {
        match self.agents.exited() {
            Some(exit) => bail!("{exit}\n{}", self.logs.tail(60)),
            None => Ok(()),
        }
    }
}

impl Drop for Fleet {
    fn drop(&mut self) {
        cleanup::unregister(self.cleanup_id);
    }
}

/// Client rate limits for the hub agent: its defaults suit a big fleet, not two cores.
fn kube_client_rates() -> Vec<String> {
    vec!["--hub-api-qps=100".into(), "--hub-api-burst=200".into()]
}

/// The MemberCluster resource (`cluster.kubernetes-fleet.io/v1beta1`).
pub fn member_cluster_resource() -> ApiResource {
    ApiResource::from_gvk_with_plural(
        &GroupVersionKind::gvk("cluster.kubernetes-fleet.io", "v1beta1", "MemberCluster"),
        "memberclusters",
    )
}

fn condition_true(object: &Value, kind: &str) -> bool {
    object["status"]["conditions"].as_array().is_some_and(|cs| {
        cs.iter()
            .any(|c| c["type"] == kind && c["status"] == "True")
    })
}

async fn create_member_cluster(hub: &kube::Client, spec: &MemberSpec) -> Result<()> {
    let labels: serde_json::Map<String, Value> = spec
        .labels
        .iter()
        .map(|(k, v)| (k.clone(), Value::String(v.clone())))
        .collect();
    let object = json!({
        "apiVersion": "cluster.kubernetes-fleet.io/v1beta1",
        "kind": "MemberCluster",
        "metadata": {"name": spec.name, "labels": labels},
        "spec": {
            "identity": {"kind": "User", "name": "admin", "apiGroup": "rbac.authorization.k8s.io"},
            "heartbeatPeriodSeconds": 5,
        },
    });
    let api = Api::<DynamicObject>::all_with(hub.clone(), &member_cluster_resource());
    api.patch(
        &spec.name,
        &PatchParams::apply("kpush-testenv").force(),
        &Patch::Apply(&object),
    )
    .await
    .with_context(|| format!("creating MemberCluster {}", spec.name))?;
    Ok(())
}

async fn create_namespace(client: &kube::Client, name: &str) -> Result<()> {
    use k8s_openapi::api::core::v1::Namespace;
    let api: Api<Namespace> = Api::all(client.clone());
    let ns = json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}});
    api.patch(
        name,
        &PatchParams::apply("kpush-testenv").force(),
        &Patch::Apply(&ns),
    )
    .await
    .with_context(|| format!("creating namespace {name}"))?;
    Ok(())
}

/// Applies the CRDs of `dir` (only the files named in `only`, when given) and waits until
/// each is Established.
async fn install_crds(client: &kube::Client, dir: &Path, only: Option<&[&str]>) -> Result<()> {
    use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
    let api: Api<CustomResourceDefinition> = Api::all(client.clone());
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .with_context(|| format!("reading {}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .filter(|p| {
            only.is_none_or(|names| {
                p.file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| names.contains(&n))
            })
        })
        .collect();
    files.sort();
    let mut names = Vec::new();
    for file in &files {
        let text = std::fs::read_to_string(file)?;
        let crd: Value =
            serde_saphyr::from_str(&text).with_context(|| format!("parsing {}", file.display()))?;
        let Some(name) = crd["metadata"]["name"].as_str().map(str::to_string) else {
            continue;
        };
        api.patch(
            &name,
            &PatchParams::apply("kpush-testenv").force(),
            &Patch::Apply(&crd),
        )
        .await
        .with_context(|| format!("installing CRD {name} from {}", file.display()))?;
        names.push(name);
    }
    let deadline = Instant::now() + Duration::from_secs(60);
    for name in names {
        loop {
            let crd = api.get(&name).await?;
            let established = crd
                .status
                .and_then(|s| s.conditions)
                .unwrap_or_default()
                .iter()
                .any(|c| c.type_ == "Established" && c.status == "True");
            if established {
                break;
            }
            if Instant::now() > deadline {
                bail!("CRD {name} was not Established within 60 s");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    Ok(())
}

/// The directory holding `hubagent`, `memberagent` and `crds/`: `$KPUSH_FLEET_DIR`, or the
/// cache `scripts/build-fleet.sh` fills (run at most once per process).
pub fn locate() -> Result<PathBuf> {
    static DIR: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    DIR.get_or_init(|| find_dir().map_err(|e| format!("{e:#}")))
        .clone()
        .map_err(|e| anyhow!("{e}"))
}

fn find_dir() -> Result<PathBuf> {
    if let Some(dir) = std::env::var_os(FLEET_DIR_ENV).filter(|d| !d.is_empty()) {
        return Ok(PathBuf::from(dir));
    }
    let script = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join("scripts")
        .join("build-fleet.sh");
    let output = Command::new("bash")
        .arg(&script)
        .stdin(Stdio::null())
        .stderr(Stdio::inherit())
        .output()
        .with_context(|| format!("running {}", script.display()))?;
    if !output.status.success() {
        bail!(
            "{} failed ({}); set {FLEET_DIR_ENV} to a directory holding hubagent, memberagent and crds/ to skip it",
            script.display(),
            output.status
        );
    }
    let stdout = String::from_utf8_lossy(&output.stdout);
    let last = stdout
        .lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .ok_or_else(|| anyhow!("{} printed no directory", script.display()))?;
    Ok(PathBuf::from(last.trim()))
}
