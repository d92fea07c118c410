//! The test cluster against real workloads: every controller involved is the real
//! kube-controller-manager; only kubelet and scheduler decisions come from the node simulator.

use std::collections::BTreeMap;
use std::future::Future;
use std::time::{Duration, Instant};

use futures::StreamExt;
use k8s_openapi::api::apps::v1::{DaemonSet, Deployment, StatefulSet};
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{Event, Pod, Service};
use kube::api::{ListParams, LogParams, PostParams};
use kube::runtime::watcher;
use kube::{Api, Client, ResourceExt};
use serde::de::DeserializeOwned;
use serde_json::json;

use kpush_testenv::TestCluster;

/// Generous: a loaded CI machine must not fail these; healthy runs take about a second.
const TIMEOUT: Duration = Duration::from_secs(60);

/// A namespace of its own for one test, and an admin client.
async fn setup(namespace: &str) -> (&'static TestCluster, Client) {
    let cluster = TestCluster::shared();
    cluster
        .create_namespace(namespace)
        .await
        .unwrap_or_else(|e| panic!("{e:#}"));
    let client = cluster
        .client("admin")
        .await
        .unwrap_or_else(|e| panic!("{e:#}"));
    (cluster, client)
}

/// Polls `check` until it returns `Some`, panicking with the cluster's logs after [`TIMEOUT`].
async fn eventually<T, F, Fut>(cluster: &TestCluster, what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, String>>,
{
    let start = Instant::now();
    loop {
        let last = match check().await {
            Ok(value) => {
                eprintln!("{what}: after {:.2}s", start.elapsed().as_secs_f64());
                return value;
            }
            Err(state) => state,
        };
        if start.elapsed() > TIMEOUT {
            panic!(
                "timed out after {TIMEOUT:?} waiting until {what}; last seen: {last}\n\n{}",
                cluster.logs()
            );
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn object<K: DeserializeOwned>(value: serde_json::Value) -> K {
    serde_json::from_value(value).expect("test object matches its schema")
}

fn deployment(name: &str, image: &str, replicas: i32) -> Deployment {
    object(json!({
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {"containers": [{"name": "app", "image": image}]}
            }
        }
    }))
}

fn pod(name: &str, image: &str) -> Pod {
    object(json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name},
        "spec": {"containers": [{"name": "app", "image": image}]}
    }))
}

fn job(name: &str, annotations: BTreeMap<&str, &str>, backoff_limit: i32) -> Job {
    object(json!({
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": name},
        "spec": {
            "backoffLimit": backoff_limit,
            "template": {
                "metadata": {"annotations": annotations},
                "spec": {
                    "restartPolicy": "Never",
                    "containers": [{"name": "task", "image": "registry.example/team/migrate:1.0"}]
                }
            }
        }
    }))
}

async fn create<K>(api: &Api<K>, obj: &K) -> K
where
    K: kube::Resource + Clone + DeserializeOwned + serde::Serialize + std::fmt::Debug,
{
    api.create(&PostParams::default(), obj)
        .await
        .unwrap_or_else(|e| panic!("creating {}: {e}", obj.name_any()))
}

fn deployment_complete(d: &Deployment, replicas: i32) -> Result<(), String> {
    let generation = d.metadata.generation.unwrap_or(0);
    let status = d.status.clone().unwrap_or_default();
    let done = status.observed_generation.unwrap_or(0) >= generation
        && status.updated_replicas == Some(replicas)
        && status.replicas == Some(replicas)
        && status.available_replicas == Some(replicas);
    if done {
        Ok(())
    } else {
        Err(format!("{status:?}"))
    }
}

async fn pod_events(client: &Client, namespace: &str, pod: &str) -> Vec<Event> {
    let api: Api<Event> = Api::namespaced(client.clone(), namespace);
    let lp = ListParams::default().fields(&format!("involvedObject.name={pod}"));
    api.list(&lp).await.map(|l| l.items).unwrap_or_default()
}

fn waiting_reason(pod: &Pod) -> Option<String> {
    pod.status
        .as_ref()?
        .container_statuses
        .as_ref()?
        .first()?
        .state
        .as_ref()?
        .waiting
        .as_ref()?
        .reason
        .clone()
}

fn is_ready(pod: &Pod) -> bool {
    pod.status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .is_some_and(|cs| cs.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
}

#[tokio::test]
async fn deployment_with_three_replicas_becomes_available() {
    let ns = "deploy-available";
    let (cluster, client) = setup(ns).await;
    let api: Api<Deployment> = Api::namespaced(client, ns);
    let started = Instant::now();
    create(&api, &deployment("web", "registry.example/team/web:1.0", 3)).await;
    eventually(cluster, "the deployment is available", || async {
        let d = api.get("web").await.map_err(|e| e.to_string())?;
        deployment_complete(&d, 3)
    })
    .await;
    assert!(
        started.elapsed() < Duration::from_secs(15),
        "a healthy deployment should be available within seconds, took {:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn rolling_update_replaces_every_pod_with_the_new_image() {
    let ns = "rolling-update";
    let (cluster, client) = setup(ns).await;
    let deployments: Api<Deployment> = Api::namespaced(client.clone(), ns);
    let pods: Api<Pod> = Api::namespaced(client, ns);
    create(
        &deployments,
        &deployment("web", "registry.example/team/web:1.0", 3),
    )
    .await;
    eventually(cluster, "version 1 is available", || async {
        deployment_complete(&deployments.get("web").await.map_err(|e| e.to_string())?, 3)
    })
    .await;

    let mut current = deployments.get("web").await.unwrap();
    let spec = current.spec.as_mut().unwrap();
    spec.template.spec.as_mut().unwrap().containers[0].image =
        Some("registry.example/team/web:2.0".into());
    deployments
        .replace("web", &PostParams::default(), &current)
        .await
        .unwrap();

    eventually(cluster, "version 2 replaced every pod", || async {
        deployment_complete(&deployments.get("web").await.map_err(|e| e.to_string())?, 3)?;
        let list = pods
            .list(&ListParams::default().labels("app=web"))
            .await
            .map_err(|e| e.to_string())?;
        let images: Vec<String> = list
            .items
            .iter()
            .map(|p| {
                p.spec.as_ref().unwrap().containers[0]
                    .image
                    .clone()
                    .unwrap_or_default()
            })
            .collect();
        if images.len() == 3 && images.iter().all(|i| i.ends_with(":2.0")) {
            Ok(())
        } else {
            Err(format!("pod images {images:?}"))
        }
    })
    .await;
}

#[tokio::test]
async fn statefulset_creates_each_pod_only_after_the_previous_one_is_ready() {
    let ns = "statefulset-ordered";
    let (cluster, client) = setup(ns).await;
    let pods: Api<Pod> = Api::namespaced(client.clone(), ns);
    let sets: Api<StatefulSet> = Api::namespaced(client, ns);
    // Watch before creating, so the stream sees every change in resourceVersion order.
    let mut stream = watcher(pods, watcher::Config::default()).boxed();
    create(
        &sets,
        &object(json!({
            "apiVersion": "apps/v1",
            "kind": "StatefulSet",
            "metadata": {"name": "db"},
            "spec": {
                "serviceName": "db",
                "replicas": 3,
                "selector": {"matchLabels": {"app": "db"}},
                "template": {
                    "metadata": {"labels": {"app": "db"}},
                    "spec": {"containers": [{"name": "db", "image": "registry.example/team/db:1.0"}]}
                }
            }
        })),
    )
    .await;

    let mut ready = [false; 3];
    let observe = async {
        while let Some(event) = stream.next().await {
            let pod = match event {
                Ok(watcher::Event::Apply(p) | watcher::Event::InitApply(p)) => p,
                _ => continue,
            };
            let name = pod.name_any();
            let Some(ordinal) = name
                .strip_prefix("db-")
                .and_then(|n| n.parse::<usize>().ok())
            else {
                continue;
            };
            if ordinal > 0 {
                assert!(
                    ready[ordinal - 1],
                    "{name} exists before db-{} is Ready",
                    ordinal - 1
                );
            }
            if is_ready(&pod) {
                ready[ordinal] = true;
            }
            if ready.iter().all(|r| *r) {
                return;
            }
        }
    };
    if tokio::time::timeout(TIMEOUT, observe).await.is_err() {
        panic!(
            "the statefulset did not roll out within {TIMEOUT:?}: ready {ready:?}\n\n{}",
            cluster.logs()
        );
    }
}

#[tokio::test]
async fn daemonset_runs_one_pod_on_the_node() {
    let ns = "daemonset";
    let (cluster, client) = setup(ns).await;
    let sets: Api<DaemonSet> = Api::namespaced(client.clone(), ns);
    let pods: Api<Pod> = Api::namespaced(client, ns);
    create(
        &sets,
        &object(json!({
            "apiVersion": "apps/v1",
            "kind": "DaemonSet",
            "metadata": {"name": "agent"},
            "spec": {
                "selector": {"matchLabels": {"app": "agent"}},
                "template": {
                    "metadata": {"labels": {"app": "agent"}},
                    "spec": {"containers": [{"name": "agent", "image": "registry.example/team/agent:1.0"}]}
                }
            }
        })),
    )
    .await;
    eventually(cluster, "the daemonset covers the node", || async {
        let ds = sets.get("agent").await.map_err(|e| e.to_string())?;
        let s = ds.status.unwrap_or_default();
        if s.desired_number_scheduled == 1 && s.number_available == Some(1) {
            Ok(())
        } else {
            Err(format!("{s:?}"))
        }
    })
    .await;
    let list = pods.list(&ListParams::default()).await.unwrap();
    assert_eq!(list.items.len(), 1);
    assert_eq!(
        list.items[0].spec.as_ref().unwrap().node_name.as_deref(),
        Some(cluster.node_name())
    );
}

fn job_condition(job: &Job, kind: &str) -> Option<(String, Option<String>)> {
    job.status
        .as_ref()?
        .conditions
        .as_ref()?
        .iter()
        .find(|c| c.type_ == kind && c.status == "True")
        .map(|c| (c.type_.clone(), c.reason.clone()))
}

#[tokio::test]
async fn job_runs_to_completion() {
    let ns = "job-complete";
    let (cluster, client) = setup(ns).await;
    let jobs: Api<Job> = Api::namespaced(client, ns);
    create(&jobs, &job("migrate", BTreeMap::new(), 6)).await;
    eventually(cluster, "the job is complete", || async {
        let j = jobs.get("migrate").await.map_err(|e| e.to_string())?;
        job_condition(&j, "Complete")
            .map(|_| assert_eq!(j.status.as_ref().unwrap().succeeded, Some(1)))
            .ok_or_else(|| format!("{:?}", j.status))
    })
    .await;
}

#[tokio::test]
async fn failing_job_fails_once_its_backoff_limit_is_reached() {
    let ns = "job-failed";
    let (cluster, client) = setup(ns).await;
    let jobs: Api<Job> = Api::namespaced(client, ns);
    let annotations = BTreeMap::from([(kpush_testenv::BEHAVIOR_ANNOTATION, "fail")]);
    create(&jobs, &job("migrate", annotations, 0)).await;
    let reason = eventually(cluster, "the job has failed", || async {
        let j = jobs.get("migrate").await.map_err(|e| e.to_string())?;
        job_condition(&j, "Failed").ok_or_else(|| format!("{:?}", j.status))
    })
    .await;
    assert_eq!(reason.1.as_deref(), Some("BackoffLimitExceeded"));
}

#[tokio::test]
async fn bad_image_shows_image_pull_back_off_with_a_failed_event() {
    let ns = "bad-image";
    let (cluster, client) = setup(ns).await;
    let pods: Api<Pod> = Api::namespaced(client.clone(), ns);
    create(
        &pods,
        &pod("web", "registry.example/team/does-not-exist:1.0"),
    )
    .await;
    eventually(cluster, "the pod is in ImagePullBackOff", || async {
        let p = pods.get("web").await.map_err(|e| e.to_string())?;
        match waiting_reason(&p).as_deref() {
            Some("ImagePullBackOff") => Ok(()),
            other => Err(format!("waiting reason {other:?}")),
        }
    })
    .await;
    let events = pod_events(&client, ns, "web").await;
    let failed = events
        .iter()
        .find(|e| {
            e.reason.as_deref() == Some("Failed")
                && e.type_.as_deref() == Some("Warning")
                && e.message
                    .as_deref()
                    .is_some_and(|m| m.starts_with("Failed to pull image"))
        })
        .unwrap_or_else(|| panic!("no Failed event among {events:#?}"));
    assert_eq!(
        failed.source.as_ref().and_then(|s| s.component.as_deref()),
        Some("kubelet")
    );
    assert_eq!(
        failed.involved_object.field_path.as_deref(),
        Some("spec.containers{app}")
    );
}

#[tokio::test]
async fn crashloop_pod_shows_crash_loop_back_off_and_counts_restarts() {
    let ns = "crashloop";
    let (cluster, client) = setup(ns).await;
    let pods: Api<Pod> = Api::namespaced(client.clone(), ns);
    create(&pods, &pod("web", "registry.example/team/crashloop:1.0")).await;
    let status = eventually(cluster, "the pod crash-loops", || async {
        let p = pods.get("web").await.map_err(|e| e.to_string())?;
        let status = p
            .status
            .and_then(|s| s.container_statuses)
            .and_then(|mut c| c.pop())
            .ok_or("no container status")?;
        let waiting = status
            .state
            .as_ref()
            .and_then(|s| s.waiting.as_ref())
            .and_then(|w| w.reason.as_deref());
        if waiting == Some("CrashLoopBackOff") && status.restart_count >= 2 {
            Ok(status)
        } else {
            Err(format!(
                "waiting {waiting:?}, restarts {}",
                status.restart_count
            ))
        }
    })
    .await;
    let last = status
        .last_state
        .and_then(|s| s.terminated)
        .expect("last state terminated");
    assert_eq!(last.exit_code, 1);
    assert_eq!(last.reason.as_deref(), Some("Error"));
    let events = pod_events(&client, ns, "web").await;
    assert!(
        events.iter().any(|e| e.reason.as_deref() == Some("BackOff")
            && e.message.as_deref() == Some("Back-off restarting failed container")),
        "{events:#?}"
    );
}

#[tokio::test]
async fn unschedulable_pod_reports_failed_scheduling() {
    let ns = "unschedulable";
    let (cluster, client) = setup(ns).await;
    let pods: Api<Pod> = Api::namespaced(client.clone(), ns);
    create(
        &pods,
        &object(json!({
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": "huge"},
            "spec": {"containers": [{
                "name": "app",
                "image": "registry.example/team/web:1.0",
                "resources": {"requests": {"cpu": "64"}}
            }]}
        })),
    )
    .await;
    let message = eventually(cluster, "the pod is unschedulable", || async {
        let p = pods.get("huge").await.map_err(|e| e.to_string())?;
        let condition = p
            .status
            .and_then(|s| s.conditions)
            .and_then(|cs| cs.into_iter().find(|c| c.type_ == "PodScheduled"))
            .ok_or("no PodScheduled condition")?;
        if condition.status == "False" && condition.reason.as_deref() == Some("Unschedulable") {
            Ok(condition.message.unwrap_or_default())
        } else {
            Err(format!("{condition:?}"))
        }
    })
    .await;
    assert_eq!(message, "0/1 nodes are available: 1 Insufficient cpu.");
    let events = eventually(cluster, "FailedScheduling is recorded", || async {
        let events = pod_events(&client, ns, "huge").await;
        if events
            .iter()
            .any(|e| e.reason.as_deref() == Some("FailedScheduling"))
        {
            Ok(events)
        } else {
            Err(format!("{events:?}"))
        }
    })
    .await;
    let event = events
        .iter()
        .find(|e| e.reason.as_deref() == Some("FailedScheduling"))
        .unwrap();
    assert_eq!(event.type_.as_deref(), Some("Warning"));
    assert_eq!(
        event.source.as_ref().and_then(|s| s.component.as_deref()),
        Some("default-scheduler")
    );
}

#[tokio::test]
async fn load_balancer_service_gets_an_ingress_ip() {
    let ns = "load-balancer";
    let (cluster, client) = setup(ns).await;
    let services: Api<Service> = Api::namespaced(client, ns);
    create(
        &services,
        &object(json!({
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": "web"},
            "spec": {
                "type": "LoadBalancer",
                "selector": {"app": "web"},
                "ports": [{"port": 80, "protocol": "TCP", "targetPort": 8080}]
            }
        })),
    )
    .await;
    let ip = eventually(cluster, "the service has an ingress IP", || async {
        let svc = services.get("web").await.map_err(|e| e.to_string())?;
        svc.status
            .and_then(|s| s.load_balancer)
            .and_then(|lb| lb.ingress)
            .and_then(|i| i.into_iter().next())
            .and_then(|i| i.ip)
            .ok_or_else(|| "no ingress yet".to_string())
    })
    .await;
    assert!(ip.starts_with("127.0.0."), "{ip}");
}

#[tokio::test]
async fn ordinary_user_is_forbidden_to_list_pods() {
    let ns = "rbac";
    let (cluster, _) = setup(ns).await;
    let alice = cluster.client("alice").await.unwrap();
    let pods: Api<Pod> = Api::namespaced(alice, ns);
    match pods.list(&ListParams::default()).await {
        Err(kube::Error::Api(status)) => assert!(status.is_forbidden(), "{status:?}"),
        other => panic!("alice should be forbidden, got {other:?}"),
    }
}

#[tokio::test]
async fn pod_logs_fail_fast_because_there_is_no_kubelet() {
    let ns = "no-kubelet";
    let (cluster, client) = setup(ns).await;
    let pods: Api<Pod> = Api::namespaced(client, ns);
    create(&pods, &pod("web", "registry.example/team/web:1.0")).await;
    eventually(cluster, "the pod is ready", || async {
        let p = pods.get("web").await.map_err(|e| e.to_string())?;
        if is_ready(&p) {
            Ok(())
        } else {
            Err(format!("{:?}", p.status))
        }
    })
    .await;
    let started = Instant::now();
    let result = pods.logs("web", &LogParams::default()).await;
    assert!(result.is_err(), "{result:?}");
    assert!(started.elapsed() < Duration::from_secs(10));
}

#[tokio::test]
async fn kubectl_trusts_the_written_kubeconfig() {
    let cluster = TestCluster::shared();
    let Some(kubectl) = cluster.kubectl() else {
        eprintln!("no kubectl next to the control plane; skipping");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("kubeconfig");
    cluster.write_kubeconfig("admin", &path).unwrap();
    let output = std::process::Command::new(kubectl)
        .arg("--kubeconfig")
        .arg(&path)
        .args(["get", "node", cluster.node_name(), "-o", "name"])
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&output.stdout).trim(),
        format!("node/{}", cluster.node_name())
    );
    assert!(cluster.kubeconfig_path("bob").exists());
}

#[tokio::test]
async fn private_cluster_takes_extra_files_and_apiserver_flags_and_cleans_up() {
    use k8s_openapi::api::core::v1::Node;
    use kpush_testenv::ClusterOptions;

    let options = ClusterOptions {
        extra_apiserver_args: vec!["--service-node-port-range=30000-30010".into()],
        simulate_node: false,
        extra_files: vec![("conf/note.txt".into(), b"hello".to_vec())],
        ..ClusterOptions::default()
    };
    let cluster = tokio::task::spawn_blocking(|| TestCluster::start(options))
        .await
        .unwrap()
        .unwrap_or_else(|e| panic!("{e:#}"));
    let dir = cluster.dir().to_path_buf();
    assert_eq!(std::fs::read(dir.join("conf/note.txt")).unwrap(), b"hello");

    let client = cluster.client("admin").await.unwrap();
    let nodes: Api<Node> = Api::all(client.clone());
    assert!(
        nodes
            .list(&ListParams::default())
            .await
            .unwrap()
            .items
            .is_empty()
    );

    let services: Api<Service> = Api::namespaced(client, "default");
    let outside_range: Service = object(json!({
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "np"},
        "spec": {"type": "NodePort", "ports": [{"port": 80, "protocol": "TCP", "nodePort": 30500}]}
    }));
    match services
        .create(&PostParams::default(), &outside_range)
        .await
    {
        Err(kube::Error::Api(status)) => assert!(status.is_invalid(), "{status:?}"),
        other => panic!("nodePort 30500 should be outside the range, got {other:?}"),
    }

    tokio::task::spawn_blocking(move || drop(cluster))
        .await
        .unwrap();
    assert!(!dir.exists(), "{} should be removed", dir.display());
}
