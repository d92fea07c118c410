//! `track()` against the real control plane and the node simulator.

mod harness;

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::json;
use tokio::net::{TcpListener, TcpStream};

use harness::track::{apply, deployment, manifest, options, setup};
use kpush::event::{Event, NullSink as NullReporter, RecordingSink as RecordingReporter};
use kpush::track::{Logs, ObjectState, Readiness, RunState, TrackOptions, TrackOutcome, track};

async fn run(
    client: &kube::Client,
    targets: Vec<kpush::track::TrackTarget>,
    opts: &TrackOptions,
) -> TrackOutcome {
    track(client, targets, opts, &NullReporter, std::future::pending()).await
}

fn failure_of(outcome: &TrackOutcome) -> &kpush::track::Explanation {
    outcome
        .objects
        .iter()
        .find_map(|o| o.explanation.as_ref())
        .unwrap_or_else(|| panic!("no explanation in {outcome:#?}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn healthy_deployment_stateful_set_daemon_set_and_job_become_ready() {
    let ns = "track-healthy";
    let (_, client) = setup(ns).await;
    let manifests = vec![
        manifest(
            "deploy/web.yaml",
            1,
            deployment(ns, "web", "nginx:1.25", 3, json!({})),
        ),
        manifest(
            "deploy/db.yaml",
            1,
            json!({
                "apiVersion": "apps/v1", "kind": "StatefulSet",
                "metadata": {"name": "db", "namespace": ns},
                "spec": {"replicas": 2, "serviceName": "db", "selector": {"matchLabels": {"app": "db"}},
                         "template": {"metadata": {"labels": {"app": "db"}},
                                      "spec": {"containers": [{"name": "db", "image": "postgres:16"}]}}}
            }),
        ),
        manifest(
            "deploy/agent.yaml",
            1,
            json!({
                "apiVersion": "apps/v1", "kind": "DaemonSet",
                "metadata": {"name": "agent", "namespace": ns},
                "spec": {"selector": {"matchLabels": {"app": "agent"}},
                         "template": {"metadata": {"labels": {"app": "agent"}},
                                      "spec": {"containers": [{"name": "agent", "image": "fluent-bit:3"}]}}}
            }),
        ),
        manifest(
            "deploy/migrate.yaml",
            1,
            json!({
                "apiVersion": "batch/v1", "kind": "Job",
                "metadata": {"name": "migrate", "namespace": ns},
                "spec": {"backoffLimit": 0, "template": {"spec": {"restartPolicy": "Never",
                         "containers": [{"name": "migrate", "image": "migrate:1"}]}}}
            }),
        ),
        manifest(
            "deploy/config.yaml",
            1,
            json!({
                "apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "settings", "namespace": ns},
                "data": {"a": "b"}
            }),
        ),
    ];
    let targets = apply(&client, &manifests).await;
    let recorder = RecordingReporter::default();
    let outcome = track(
        &client,
        targets,
        &options(),
        &recorder,
        std::future::pending(),
    )
    .await;
    assert_eq!(outcome.state, RunState::Ready, "{outcome:#?}");
    assert!(
        outcome
            .objects
            .iter()
            .all(|o| o.state == ObjectState::Ready)
    );
    let events = recorder.events();
    assert!(
        events
            .iter()
            .any(|e| matches!(e, Event::TrackStarted { objects, .. } if objects.len() == 5))
    );
    assert!(
        events
            .iter()
            .any(|e| matches!(e, Event::TrackFinished { .. }))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rolling_update_is_waited_for_not_declared_ready_on_stale_status() {
    let ns = "track-rolling";
    let (_, client) = setup(ns).await;
    let v1 = manifest("web.yaml", 1, deployment(ns, "web", "web:1", 2, json!({})));
    let outcome = run(&client, apply(&client, &[v1]).await, &options()).await;
    assert_eq!(outcome.state, RunState::Ready, "{outcome:#?}");

    // v2's pods take 3 s to become ready: the old, ready status must not count.
    let slow = json!({"sim.kpush.dev/behavior": "slow-start", "sim.kpush.dev/start-seconds": "3"});
    let v2 = manifest("web.yaml", 1, deployment(ns, "web", "web:2", 2, slow));
    let targets = apply(&client, &[v2]).await;
    assert_eq!(targets[0].generation, Some(2));
    let started = Instant::now();
    let outcome = run(&client, targets, &options()).await;
    assert_eq!(outcome.state, RunState::Ready, "{outcome:#?}");
    assert!(
        started.elapsed() >= Duration::from_millis(2800),
        "declared ready after {:?}, before the new pods could be ready",
        started.elapsed()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_image_fails_within_seconds_naming_the_pod_event_and_file_line() {
    let ns = "track-bad-image";
    let (_, client) = setup(ns).await;
    let m = manifest(
        "deploy/web.yaml",
        7,
        deployment(ns, "web", "registry.example/bad-image:1", 2, json!({})),
    );
    let targets = apply(&client, &[m]).await;
    let started = Instant::now();
    let outcome = run(&client, targets, &options()).await;
    let took = started.elapsed();
    assert_eq!(outcome.state, RunState::Failed, "{outcome:#?}");
    assert!(took < Duration::from_secs(10), "took {took:?}");
    let o = &outcome.objects[0];
    assert_eq!(o.object.location().as_deref(), Some("deploy/web.yaml:7"));
    let e = failure_of(&outcome);
    assert!(
        e.reason == "ImagePullBackOff" || e.reason == "ErrImagePull",
        "{e:#?}"
    );
    let pod = e.pod.as_deref().expect("the failing pod is named");
    assert!(pod.starts_with("web-"), "{pod}");
    assert_eq!(e.container.as_deref(), Some("app"));
    assert!(
        e.events
            .iter()
            .any(|ev| ev.object == format!("Pod {pod}") && ev.reason == "Failed"),
        "{:#?}",
        e.events
    );
    assert!(
        e.logs.is_none(),
        "a container that never ran has no logs: {:?}",
        e.logs
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crash_loop_fails_naming_crash_loop_back_off_and_the_restart_count() {
    let ns = "track-crashloop";
    let (_, client) = setup(ns).await;
    let m = manifest(
        "app.yaml",
        1,
        deployment(ns, "app", "example/crashloop:1", 1, json!({})),
    );
    let outcome = run(&client, apply(&client, &[m]).await, &options()).await;
    assert_eq!(outcome.state, RunState::Failed, "{outcome:#?}");
    let e = failure_of(&outcome);
    assert_eq!(e.reason, "CrashLoopBackOff", "{e:#?}");
    assert!(e.restart_count.is_some_and(|n| n >= 2), "{e:#?}");
    // No kubelet serves logs here: one line says so, and the explanation is complete anyway.
    match &e.logs {
        Some(Logs::Unavailable { container, reason }) => {
            assert_eq!(container, "app");
            assert!(!reason.contains('\n') && !reason.is_empty(), "{reason}");
        }
        other => panic!("expected unreadable logs, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oom_killed_container_fails_naming_oom_killed() {
    let ns = "track-oom";
    let (_, client) = setup(ns).await;
    let m = manifest(
        "app.yaml",
        1,
        deployment(ns, "app", "example/oomkill:1", 1, json!({})),
    );
    let outcome = run(&client, apply(&client, &[m]).await, &options()).await;
    assert_eq!(outcome.state, RunState::Failed, "{outcome:#?}");
    let e = failure_of(&outcome);
    assert!(
        e.reason == "OOMKilled" || e.message.contains("OOMKilled"),
        "{e:#?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unschedulable_pod_fails_after_the_grace() {
    let ns = "track-unschedulable";
    let (_, client) = setup(ns).await;
    let mut d = deployment(ns, "big", "big:1", 1, json!({}));
    d["spec"]["template"]["spec"]["containers"][0]["resources"] =
        json!({"requests": {"cpu": "64"}});
    let outcome = run(
        &client,
        apply(&client, &[manifest("big.yaml", 1, d)]).await,
        &options(),
    )
    .await;
    assert_eq!(outcome.state, RunState::Failed, "{outcome:#?}");
    let e = failure_of(&outcome);
    assert_eq!(e.reason, "Unschedulable", "{e:#?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failing_readiness_probe_fails_past_its_grace() {
    let ns = "track-unready";
    let (_, client) = setup(ns).await;
    let mut d = deployment(ns, "web", "example/unready:1", 1, json!({}));
    d["spec"]["template"]["spec"]["containers"][0]["readinessProbe"] = json!({
        "httpGet": {"path": "/ready", "port": 8080}, "periodSeconds": 1, "failureThreshold": 2
    });
    let outcome = run(
        &client,
        apply(&client, &[manifest("web.yaml", 1, d)]).await,
        &options(),
    )
    .await;
    assert_eq!(outcome.state, RunState::Failed, "{outcome:#?}");
    let e = failure_of(&outcome);
    assert_eq!(e.reason, "ReadinessProbeFailed", "{e:#?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_job_fails_with_its_reason() {
    let ns = "track-job-fails";
    let (_, client) = setup(ns).await;
    let job = json!({
        "apiVersion": "batch/v1", "kind": "Job",
        "metadata": {"name": "migrate", "namespace": ns},
        "spec": {"backoffLimit": 0, "template": {"spec": {"restartPolicy": "Never",
                 "containers": [{"name": "migrate", "image": "example/fail:1"}]}}}
    });
    let outcome = run(
        &client,
        apply(&client, &[manifest("job.yaml", 1, job)]).await,
        &options(),
    )
    .await;
    assert_eq!(outcome.state, RunState::Failed, "{outcome:#?}");
    let e = failure_of(&outcome);
    assert_eq!(e.reason, "BackoffLimitExceeded", "{e:#?}");
    assert!(
        e.pod.as_deref().is_some_and(|p| p.starts_with("migrate-")),
        "{e:#?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn custom_resource_with_stale_status_is_not_declared_ready() {
    let ns = "track-stale-cr";
    let (cluster, client) = setup(ns).await;
    let crd = json!({
        "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
        "metadata": {"name": "widgets.stale.example.com"},
        "spec": {"group": "stale.example.com", "scope": "Namespaced",
                 "names": {"plural": "widgets", "singular": "widget", "kind": "Widget"},
                 "versions": [{"name": "v1", "served": true, "storage": true,
                               "subresources": {"status": {}},
                               "schema": {"openAPIV3Schema": {"type": "object",
                                   "x-kubernetes-preserve-unknown-fields": true}}}]}
    });
    let crd_targets = apply(&client, &[manifest("crd.yaml", 1, crd)]).await;
    assert_eq!(
        run(&client, crd_targets, &options()).await.state,
        RunState::Ready
    );

    let widget = |size: i64| {
        json!({
            "apiVersion": "stale.example.com/v1", "kind": "Widget",
            "metadata": {"name": "w", "namespace": ns}, "spec": {"size": size}
        })
    };
    let mut found = None;
    for _ in 0..50 {
        // The new kind may take a moment to be served.
        match kpush::track::resolve(&client, &[manifest("w.yaml", 1, widget(1))]).await {
            Ok(_) => {
                found = Some(());
                break;
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(200)).await,
        }
    }
    assert!(found.is_some(), "Widget never served\n{}", cluster.logs());
    apply(&client, &[manifest("w.yaml", 1, widget(1))]).await;
    // The controller (here: the test) reports Ready for generation 1 ...
    let ar = kube::discovery::ApiResource::from_gvk_with_plural(
        &kube::core::GroupVersionKind::gvk("stale.example.com", "v1", "Widget"),
        "widgets",
    );
    let api: kube::Api<kube::api::DynamicObject> =
        kube::Api::namespaced_with(client.clone(), ns, &ar);
    let status = json!({"status": {"observedGeneration": 1,
        "conditions": [{"type": "Ready", "status": "True", "reason": "Done"}]}});
    api.patch_status(
        "w",
        &kube::api::PatchParams::default(),
        &kube::api::Patch::Merge(&status),
    )
    .await
    .expect("status");
    // ... then the spec changes: generation 2, status still about generation 1.
    let targets = apply(&client, &[manifest("w.yaml", 1, widget(2))]).await;
    assert_eq!(targets[0].generation, Some(2));
    assert!(
        targets[0].expects_status,
        "a CRD with a status subresource reports status"
    );
    let opts = TrackOptions {
        timeout: Duration::from_secs(3),
        ..options()
    };
    let outcome = run(&client, targets, &opts).await;
    assert_eq!(outcome.state, RunState::TimedOut, "{outcome:#?}");
    assert!(
        matches!(&outcome.objects[0].readiness, Readiness::InProgress { message } if message.contains("generation")),
        "{outcome:#?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn timeout_names_what_was_still_pending() {
    let ns = "track-timeout";
    let (_, client) = setup(ns).await;
    let slow = json!({"sim.kpush.dev/behavior": "slow-start", "sim.kpush.dev/start-seconds": "60"});
    let m = manifest("slow.yaml", 4, deployment(ns, "slow", "slow:1", 1, slow));
    let fast = manifest(
        "fast.yaml",
        1,
        deployment(ns, "fast", "fast:1", 1, json!({})),
    );
    let opts = TrackOptions {
        timeout: Duration::from_secs(4),
        ..options()
    };
    let started = Instant::now();
    let outcome = run(&client, apply(&client, &[m, fast]).await, &opts).await;
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(outcome.state, RunState::TimedOut, "{outcome:#?}");
    assert_eq!(
        kpush::exit::of_outcome(kpush::deploy::Verdict::of_run_state(outcome.state).outcome()),
        kpush::exit::TIMED_OUT
    );
    let slow = &outcome.objects[0];
    assert_eq!(slow.state, ObjectState::TimedOut);
    assert_eq!(outcome.objects[1].state, ObjectState::Ready);
    let e = slow.explanation.as_ref().expect("explained");
    assert_eq!(e.reason, "Timeout");
    assert!(e.message.contains("0 of 1"), "{e:#?}");
    assert!(
        e.pod.as_deref().is_some_and(|p| p.starts_with("slow-")),
        "{e:#?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn object_that_stops_progressing_times_out_early() {
    let ns = "track-no-progress";
    let (_, client) = setup(ns).await;
    let slow = json!({"sim.kpush.dev/behavior": "slow-start", "sim.kpush.dev/start-seconds": "60"});
    let m = manifest("slow.yaml", 1, deployment(ns, "slow", "slow:1", 1, slow));
    let opts = TrackOptions {
        no_progress_timeout: Duration::from_secs(3),
        ..options()
    };
    let outcome = run(&client, apply(&client, &[m]).await, &opts).await;
    assert_eq!(outcome.state, RunState::TimedOut, "{outcome:#?}");
    assert_eq!(failure_of(&outcome).reason, "NoProgress");
}

/// A TCP proxy that can cut every connection through it, like an API server restart.
struct Proxy {
    port: u16,
    cut: tokio::sync::broadcast::Sender<()>,
    cuts: Arc<std::sync::atomic::AtomicUsize>,
}

impl Proxy {
    async fn start(upstream: String) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let (cut, _) = tokio::sync::broadcast::channel(4);
        let cuts = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let tx = cut.clone();
        let counter = cuts.clone();
        tokio::spawn(async move {
            while let Ok((mut inbound, _)) = listener.accept().await {
                let mut stop = tx.subscribe();
                let upstream = upstream.clone();
                let counter = counter.clone();
                tokio::spawn(async move {
                    let Ok(mut outbound) = TcpStream::connect(&upstream).await else {
                        return;
                    };
                    tokio::select! {
                        _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound) => {}
                        _ = stop.recv() => { counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst); }
                    }
                });
            }
        });
        Proxy { port, cut, cuts }
    }

    fn cut_all(&self) {
        let _ = self.cut.send(());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watch_survives_the_api_server_closing_connections_and_reaches_the_right_verdict() {
    let ns = "track-conn-drop";
    let (cluster, client) = setup(ns).await;
    let upstream = cluster.server().trim_start_matches("https://").to_string();
    let proxy = Proxy::start(upstream.clone()).await;
    let text = cluster.kubeconfig("admin").expect("kubeconfig").replace(
        cluster.server(),
        &format!("https://127.0.0.1:{}", proxy.port),
    );
    let kubeconfig = kube::config::Kubeconfig::from_yaml(&text).expect("parse kubeconfig");
    let config = kube::Config::from_custom_kubeconfig(kubeconfig, &Default::default())
        .await
        .expect("config");
    let proxied = kube::Client::try_from(config).expect("client");

    let slow = json!({"sim.kpush.dev/behavior": "slow-start", "sim.kpush.dev/start-seconds": "5"});
    let good = manifest("good.yaml", 1, deployment(ns, "good", "good:1", 2, slow));
    let targets = apply(&client, &[good]).await;
    let recorder = RecordingReporter::default();
    let opts = options();
    let tracking = track(&proxied, targets, &opts, &recorder, std::future::pending());
    let cutting = async {
        for _ in 0..3 {
            tokio::time::sleep(Duration::from_millis(1500)).await;
            proxy.cut_all();
        }
    };
    let (outcome, ()) = tokio::join!(tracking, cutting);
    assert!(
        proxy.cuts.load(std::sync::atomic::Ordering::SeqCst) >= 3,
        "connections were cut"
    );
    assert_eq!(outcome.state, RunState::Ready, "{outcome:#?}");
    assert!(
        outcome.objects[0].duration >= Duration::from_secs(4),
        "{outcome:#?}"
    );

    // And a failure is still found through the cuts.
    let bad = manifest(
        "bad.yaml",
        1,
        deployment(ns, "bad", "example/crashloop:1", 1, json!({})),
    );
    let targets = apply(&client, &[bad]).await;
    let tracking = track(
        &proxied,
        targets,
        &opts,
        &NullReporter,
        std::future::pending(),
    );
    let cutting = async {
        tokio::time::sleep(Duration::from_millis(700)).await;
        proxy.cut_all();
    };
    let (outcome, ()) = tokio::join!(tracking, cutting);
    assert_eq!(outcome.state, RunState::Failed, "{outcome:#?}");
    assert_eq!(failure_of(&outcome).reason, "CrashLoopBackOff");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wait_false_annotation_skips_the_object() {
    let ns = "track-skip";
    let (_, client) = setup(ns).await;
    let mut d = deployment(ns, "web", "registry.example/bad-image:1", 1, json!({}));
    d["metadata"]["annotations"] = json!({"kpush.dev/wait": "false"});
    let outcome = run(
        &client,
        apply(&client, &[manifest("web.yaml", 1, d)]).await,
        &options(),
    )
    .await;
    assert_eq!(outcome.state, RunState::Ready, "{outcome:#?}");
    assert_eq!(outcome.objects[0].state, ObjectState::Skipped);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn objects_ready_together_are_judged_as_their_watches_answer_not_on_a_tick() {
    let ns = "track-no-tick";
    let (_, client) = setup(ns).await;
    let service = |name: &str| {
        json!({"apiVersion": "v1", "kind": "Service",
            "metadata": {"name": name, "namespace": ns},
            "spec": {"clusterIP": "None", "selector": {"app": name},
                "ports": [{"port": 80, "protocol": "TCP"}]}})
    };
    let manifests = [
        manifest("svc.yaml", 1, service("svc")),
        manifest(
            "web.yaml",
            1,
            deployment(ns, "web", "registry.example/app:1", 0, json!({})),
        ),
    ];
    let targets = apply(&client, &manifests).await;
    // Both objects are ready before tracking starts: the Deployment's controller has seen it.
    let deployments: kube::Api<k8s_openapi::api::apps::v1::Deployment> =
        kube::Api::namespaced(client.clone(), ns);
    for _ in 0..200 {
        let d = deployments.get("web").await.expect("get");
        if d.status.and_then(|s| s.observed_generation) == d.metadata.generation {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // What the two lists tracking starts with cost right now (the machine may be loaded).
    let services: kube::Api<k8s_openapi::api::core::v1::Service> =
        kube::Api::namespaced(client.clone(), ns);
    let lp = kube::api::ListParams::default();
    let listing = Instant::now();
    let (s, d) = tokio::join!(services.list(&lp), deployments.list(&lp));
    s.expect("list services");
    d.expect("list deployments");
    let lists = listing.elapsed();

    let outcome = run(&client, targets, &options()).await;
    assert_eq!(outcome.state, RunState::Ready, "{outcome:#?}");
    let ready: Vec<Duration> = outcome.objects.iter().map(|o| o.duration).collect();
    // Ready as soon as the watches' first lists are in (judged on a 100 ms tick, they were
    // reported after 103 ms while their lists took 6 ms), and the verdict right after.
    let allowed = Duration::from_millis(60).max(lists * 3);
    assert!(
        ready.iter().all(|d| *d < allowed),
        "ready after {ready:?}, lists take {lists:?}: judged on a tick"
    );
    let last = *ready.iter().max().expect("objects");
    assert!(
        outcome.elapsed - last < Duration::from_millis(30),
        "last ready after {last:?}, verdict after {:?}",
        outcome.elapsed
    );
}
