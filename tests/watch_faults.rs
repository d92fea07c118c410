//! Watches that fail while a rollout is tracked, injected by `kpush_testenv::FaultProxy`
//! between `track()` and the real API server: frozen (a load balancer forgot the flow: the
//! connection stays open and says nothing, ever), stalled (nothing moves on any connection for
//! a while), cut mid-stream, and down past the retry budget. The verdict must still be the
//! right one, within the run's timeout. The figures they print are in docs/reliability.md.

mod harness;

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use serde_json::json;

use harness::runs::{finish, spawn_apply};
use harness::track::{apply, deployment, manifest, options, setup};
use kpush::cluster::{RetryBudget, RetryPolicy};
use kpush::event::{Event, RecordingSink};
use kpush::track::{ObjectState, RunState, TrackOptions, TrackOutcome, track};
use kpush_testenv::{BEHAVIOR_ANNOTATION, FaultProxy, START_SECONDS_ANNOTATION, TestCluster};

/// A client whose every request goes through `proxy`.
async fn client_through(proxy: &FaultProxy, cluster: &TestCluster) -> kube::Client {
    let text = proxy.kubeconfig(cluster, "admin");
    let kubeconfig = kube::config::Kubeconfig::from_yaml(&text).expect("proxy kubeconfig");
    let config = kube::Config::from_custom_kubeconfig(
        kubeconfig,
        &kube::config::KubeConfigOptions::default(),
    )
    .await
    .expect("kube config");
    kube::Client::try_from(config).expect("client")
}

/// The "heard nothing … re-listed" notes, one per line.
fn stall_notes(recorder: &RecordingSink) -> Vec<String> {
    recorder
        .events()
        .into_iter()
        .filter_map(|e| match e {
            Event::Info { message } if message.contains("heard nothing") => Some(message),
            _ => None,
        })
        .collect()
}

/// Waits until tracking has judged its object once (its watches are open by then).
async fn wait_until_judged(recorder: &RecordingSink) {
    let start = Instant::now();
    while !recorder
        .events()
        .iter()
        .any(|e| matches!(e, Event::Progress { .. }))
    {
        assert!(start.elapsed() < Duration::from_secs(30), "never judged");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn slow_start(seconds: u32) -> serde_json::Value {
    json!({
        BEHAVIOR_ANNOTATION: "slow-start",
        START_SECONDS_ANNOTATION: seconds.to_string(),
    })
}

fn summary(outcome: &TrackOutcome) -> String {
    outcome
        .objects
        .iter()
        .map(|o| {
            let reason = o
                .explanation
                .as_ref()
                .map(|e| format!(" ({})", e.reason))
                .unwrap_or_default();
            format!("{} {:?}{reason}", o.object.label(), o.state)
        })
        .collect::<Vec<_>>()
        .join(", ")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn frozen_and_stalled_watches_are_re_established_and_the_rollout_still_succeeds() {
    let ns = "watch-frozen";
    let (cluster, admin) = setup(ns).await;
    let proxy = FaultProxy::start(cluster).unwrap_or_else(|e| panic!("{e:#}"));
    let client = client_through(&proxy, cluster).await;
    // Pods become ready 8 s after they start: after the watches froze.
    let m = manifest(
        "deploy/web.yaml",
        3,
        deployment(ns, "web", "web:1", 2, slow_start(8)),
    );
    let targets = apply(&admin, &[m]).await;
    let opts = TrackOptions {
        timeout: Duration::from_secs(60),
        watch_deadline: Duration::from_secs(3),
        ..options()
    };
    let recorder = RecordingSink::default();
    let started = Instant::now();
    let faults = async {
        wait_until_judged(&recorder).await;
        tokio::time::sleep(Duration::from_secs(1)).await;
        // Every open watch goes silent for good; then nothing at all moves for 5 s, so the
        // first attempts to re-establish hang too.
        let frozen = proxy.freeze_watches();
        proxy.stall(true);
        tokio::time::sleep(Duration::from_secs(5)).await;
        proxy.stall(false);
        frozen
    };
    let (outcome, frozen) = tokio::join!(
        track(&client, targets, &opts, &recorder, std::future::pending()),
        faults
    );
    let took = started.elapsed();
    let notes = stall_notes(&recorder);
    eprintln!(
        "froze {frozen} watches, stalled 5 s: {} after {:.1}s; notes:\n{}",
        summary(&outcome),
        took.as_secs_f64(),
        notes.join("\n")
    );
    assert!(frozen >= 2, "froze {frozen} watch connections");
    assert_eq!(outcome.state, RunState::Ready, "{outcome:#?}");
    assert_eq!(outcome.objects[0].state, ObjectState::Ready);
    assert!(took < opts.timeout, "took {took:?}");
    assert!(!notes.is_empty(), "the stall went unreported");
    // Each stalled watch is reported once, however many attempts re-establishing it took.
    let mut seen = std::collections::BTreeSet::new();
    for n in &notes {
        let what = n.split(" heard nothing").next().unwrap_or(n);
        assert!(seen.insert(what.to_string()), "reported twice: {notes:#?}");
    }
    assert!(
        notes
            .iter()
            .any(|n| n.contains("Deployment watch-frozen/web")),
        "{notes:#?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watches_cut_again_and_again_still_diagnose_a_bad_image() {
    let ns = "watch-cut";
    let (cluster, admin) = setup(ns).await;
    let proxy = FaultProxy::start(cluster).unwrap_or_else(|e| panic!("{e:#}"));
    let client = client_through(&proxy, cluster).await;
    let v1 = manifest(
        "deploy/web.yaml",
        5,
        deployment(ns, "web", "web:1", 2, json!({})),
    );
    let ready = track(
        &admin,
        apply(&admin, &[v1]).await,
        &options(),
        &kpush::event::NullSink,
        std::future::pending(),
    )
    .await;
    assert_eq!(ready.state, RunState::Ready, "{ready:#?}");
    // Tracking waits for generation 2, which is applied (with an image that does not exist)
    // only once the watches have been cut a few times: the new ReplicaSet, its failing pods
    // and their events reach kpush through re-established watches only.
    let v2 = manifest(
        "deploy/web.yaml",
        5,
        deployment(ns, "web", "registry.example/bad-image:2", 2, json!({})),
    );
    let mut targets = kpush::track::resolve(&admin, std::slice::from_ref(&v2))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    targets[0].generation = Some(2);
    let opts = TrackOptions {
        timeout: Duration::from_secs(60),
        watch_deadline: Duration::from_secs(3),
        ..options()
    };
    let recorder = RecordingSink::default();
    let done = AtomicBool::new(false);
    let started = Instant::now();
    let tracking = async {
        let outcome = track(&client, targets, &opts, &recorder, std::future::pending()).await;
        done.store(true, Ordering::SeqCst);
        outcome
    };
    let cutter = async {
        wait_until_judged(&recorder).await;
        let judged = Instant::now();
        let (mut cuts, mut rounds) = (0, 0);
        let mut applied_after = None;
        while !done.load(Ordering::SeqCst) {
            tokio::time::sleep(Duration::from_millis(300)).await;
            let n = proxy.cut_watches();
            cuts += n;
            rounds += usize::from(n > 0);
            if applied_after.is_none() && (rounds >= 5 || judged.elapsed() > Duration::from_secs(5))
            {
                let v2 = apply(&admin, std::slice::from_ref(&v2)).await;
                assert_eq!(v2[0].generation, Some(2));
                applied_after = Some(rounds);
            }
        }
        (cuts, applied_after)
    };
    let (outcome, (cuts, applied_after)) = tokio::join!(tracking, cutter);
    let took = started.elapsed();
    eprintln!(
        "cut {cuts} watch connections (the bad image applied after {applied_after:?} rounds): {} after {:.1}s",
        summary(&outcome),
        took.as_secs_f64()
    );
    assert_eq!(outcome.state, RunState::Failed, "{outcome:#?}");
    assert_eq!(
        applied_after,
        Some(5),
        "the bad image was applied after {applied_after:?} rounds of cuts"
    );
    let o = &outcome.objects[0];
    assert_eq!(o.state, ObjectState::Failed);
    let e = o.explanation.as_ref().expect("explained");
    assert!(
        e.reason == "ImagePullBackOff" || e.reason == "ErrImagePull",
        "{e:#?}"
    );
    assert!(
        e.pod.as_deref().is_some_and(|p| p.starts_with("web-")),
        "{e:#?}"
    );
    assert_eq!(e.container.as_deref(), Some("app"));
    assert!(e.message.contains("bad-image:2"), "{e:#?}");
    assert!(took < Duration::from_secs(30), "took {took:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_outage_past_the_retry_budget_ends_tracking_early_naming_the_lost_watch() {
    let ns = "watch-lost";
    let (cluster, admin) = setup(ns).await;
    let proxy = FaultProxy::start(cluster).unwrap_or_else(|e| panic!("{e:#}"));
    let client = client_through(&proxy, cluster).await;
    let m = manifest(
        "deploy/web.yaml",
        1,
        deployment(ns, "web", "web:1", 1, slow_start(30)),
    );
    let targets = apply(&admin, &[m]).await;
    let opts = TrackOptions {
        timeout: Duration::from_secs(60),
        retry: RetryPolicy::with_budget(RetryBudget::for_run(Duration::from_secs(2), None)),
        ..options()
    };
    let recorder = RecordingSink::default();
    let outage_began = async {
        wait_until_judged(&recorder).await;
        proxy.outage(Duration::from_secs(60));
        Instant::now()
    };
    let (outcome, began) = tokio::join!(
        track(&client, targets, &opts, &recorder, std::future::pending()),
        outage_began
    );
    let after = began.elapsed();
    eprintln!(
        "60 s outage, 2 s budget: {} {:.1}s after the outage began",
        summary(&outcome),
        after.as_secs_f64()
    );
    assert_eq!(outcome.state, RunState::Unreachable, "{outcome:#?}");
    assert_eq!(
        outcome.objects[0].state,
        ObjectState::Unknown,
        "{outcome:#?}"
    );
    let e = outcome.objects[0].explanation.as_ref().expect("explained");
    assert_eq!(e.reason, "WatchLost", "{e:#?}");
    assert!(e.message.contains("--retry-budget"), "{e:#?}");
    assert!(
        after < Duration::from_secs(15),
        "took {after:?} past the outage"
    );
}

/// A `kpush apply` of one Deployment through a fault proxy, under way.
struct CliApply {
    proxy: FaultProxy,
    child: harness::runs::Background,
    /// Kept until the run ends: kpush reads them.
    _files: (tempfile::NamedTempFile, tempfile::TempDir),
}

/// Starts `kpush apply` of `web` (a Deployment named web) in `ns` through a fault proxy with
/// `extra` flags, and returns once the Deployment exists and tracking has had two seconds to
/// start its watches.
async fn apply_through_proxy(ns: &str, web: &serde_json::Value, extra: &[&str]) -> CliApply {
    let (cluster, admin) = setup(ns).await;
    let proxy = FaultProxy::start(cluster).unwrap_or_else(|e| panic!("{e:#}"));
    let kubeconfig = tempfile::NamedTempFile::new().expect("temp file");
    proxy
        .write_kubeconfig(cluster, "admin", kubeconfig.path())
        .expect("kubeconfig");
    let manifests = tempfile::tempdir().expect("temp dir");
    std::fs::write(
        manifests.path().join("web.yaml"),
        serde_json::to_string_pretty(web).expect("json"),
    )
    .expect("write manifest");
    let child = spawn_apply(manifests.path(), kubeconfig.path(), ns, extra);
    let api: kube::Api<kube::api::DynamicObject> = kube::Api::namespaced_with(
        admin,
        ns,
        &kube::discovery::ApiResource::from_gvk(&kube::core::GroupVersionKind::gvk(
            "apps",
            "v1",
            "Deployment",
        )),
    );
    let start = Instant::now();
    while api.get_opt("web").await.ok().flatten().is_none() {
        assert!(start.elapsed() < Duration::from_secs(60), "never applied");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    CliApply {
        proxy,
        child,
        _files: (kubeconfig, manifests),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kpush_apply_rides_out_frozen_watches_and_says_so_once_per_watch() {
    let ns = "watch-frozen-cli";
    let web = deployment(ns, "web", "web:1", 2, slow_start(8));
    let CliApply { proxy, child, .. } = apply_through_proxy(
        ns,
        &web,
        &["-v", "--watch-deadline", "3s", "--timeout", "60s"],
    )
    .await;
    let frozen = proxy.freeze_watches();
    proxy.stall(true);
    tokio::time::sleep(Duration::from_secs(5)).await;
    proxy.stall(false);
    let run = tokio::task::spawn_blocking(move || finish(child))
        .await
        .expect("kpush run");
    let notes: Vec<&str> = run
        .stderr
        .lines()
        .filter(|l| l.contains("heard nothing"))
        .collect();
    eprintln!(
        "kpush apply, {frozen} watches frozen, 5 s stall: exit {}\n{}",
        run.code, run.stderr
    );
    run.expect_code(0);
    assert!(
        !notes.is_empty(),
        "the stall went unreported:\n{}",
        run.stderr
    );
    // Every stalled watch is named once, and watches that came back together share a line.
    let mut seen = std::collections::BTreeSet::new();
    for n in &notes {
        let list = n
            .split(" heard nothing")
            .next()
            .and_then(|s| s.split_once(" of ").map(|(_, l)| l))
            .unwrap_or(n);
        for what in list.split(", ").flat_map(|p| p.split(" and ")) {
            assert!(
                seen.insert(what.to_string()),
                "reported twice:\n{}",
                run.stderr
            );
        }
    }
    assert!(
        notes.len() < seen.len(),
        "{} watches stalled together, told in {} lines:\n{}",
        seen.len(),
        notes.len(),
        run.stderr
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kpush_apply_exits_6_with_the_outcome_unknown_when_the_cluster_stays_away() {
    let ns = "watch-lost-cli";
    let web = deployment(ns, "web", "web:1", 1, slow_start(30));
    let CliApply { proxy, child, .. } =
        apply_through_proxy(ns, &web, &["--retry-budget", "2s", "--timeout", "90s"]).await;
    proxy.outage(Duration::from_secs(120));
    let began = Instant::now();
    let run = tokio::task::spawn_blocking(move || finish(child))
        .await
        .expect("kpush run");
    eprintln!(
        "kpush apply, outage past a 2 s budget: exit {} after {:.1}s\n{}",
        run.code,
        began.elapsed().as_secs_f64(),
        run.stderr
    );
    run.expect_code(6);
    assert!(
        began.elapsed() < Duration::from_secs(30),
        "waited {:?}",
        began.elapsed()
    );
    let all = format!("{}{}", run.stdout, run.stderr);
    assert!(all.contains("lost sight of the rollout"), "{all}");
    assert!(all.contains("unknown"), "{all}");
    assert!(!all.contains("rollout failed"), "{all}");
}
