//! `kpush apply` waits for rollouts by default: healthy sets succeed, a broken one fails fast
//! with the reason and file:line, `--wait=false` returns at once, `-o json` describes the run.

mod harness;

use std::time::{Duration, Instant};

use harness::binary::Ctx;

const GUESTBOOK: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/guestbook");

#[tokio::test(flavor = "multi_thread")]
async fn apply_waits_until_the_guestbook_is_ready() {
    let ctx = Ctx::new("wait-guestbook").await;
    let run = ctx.kpush(&["apply", GUESTBOOK]);
    run.expect_code(0);
    assert!(
        run.stderr.contains("waiting up to 5m for 6 objects"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("6 objects ready"), "{}", run.stderr);
    // Really ready: the Deployment reports its replicas available.
    let web = ctx
        .get(&ctx.grouped("apps/v1", "deployments", "web"))
        .await
        .expect("web exists");
    assert_eq!(web["status"]["availableReplicas"], 3, "{web}");
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_image_fails_the_apply_within_seconds_naming_reason_pod_and_file_line() {
    let ctx = Ctx::new("wait-bad-image").await;
    let started = Instant::now();
    let run = ctx.kpush(&[
        "apply",
        GUESTBOOK,
        "--image",
        "redis=registry.example/does-not-exist/redis:1",
    ]);
    let took = started.elapsed();
    run.expect_code(4);
    let err = &run.stderr;
    assert!(
        err.contains("ErrImagePull") || err.contains("ImagePullBackOff"),
        "{err}"
    );
    assert!(
        err.contains("redis.yaml:2"),
        "file:line of the Deployment: {err}"
    );
    assert!(
        err.contains("pod redis-"),
        "the failing pod is named: {err}"
    );
    assert!(
        err.contains("Failed to pull image"),
        "the kubelet's event is shown: {err}"
    );
    // Not a timing assertion on speed, only a guard that it did not wait out the 5m timeout.
    assert!(took < Duration::from_secs(120), "took {took:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn wait_false_returns_after_applying() {
    let ctx = Ctx::new("wait-false").await;
    let run = ctx.kpush(&[
        "apply",
        GUESTBOOK,
        "--wait=false",
        "--image",
        "redis=registry.example/does-not-exist/redis:1",
    ]);
    run.expect_code(0);
    assert!(!run.stderr.contains("waiting up to"), "{}", run.stderr);
    assert!(
        run.stderr.contains("6 objects: 6 created"),
        "{}",
        run.stderr
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn json_output_describes_each_object_action_and_readiness() {
    let ctx = Ctx::new("wait-json").await;
    let run = ctx.kpush(&["apply", GUESTBOOK, "-o", "json"]);
    run.expect_code(0);
    let doc: serde_json::Value =
        serde_json::from_str(&run.stdout).unwrap_or_else(|e| panic!("{e}: {}", run.stdout));
    assert_eq!(doc["result"], "succeeded", "{doc}");
    assert_eq!(doc["exitCode"], 0);
    let objects = doc["objects"].as_array().expect("objects");
    assert_eq!(objects.len(), 6, "{doc}");
    let web = objects
        .iter()
        .find(|o| o["kind"] == "Deployment" && o["name"] == "web")
        .expect("web");
    assert_eq!(web["action"], "created");
    assert_eq!(web["readiness"], "ready");
    assert_eq!(
        web["file"].as_str().map(|f| f.ends_with("web.yaml")),
        Some(true)
    );
    assert_eq!(web["line"], 14);
    // Human output went to standard error.
    assert!(
        run.stderr.contains("created    Deployment wait-json/web"),
        "{}",
        run.stderr
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn create_namespace_creates_a_missing_target_namespace_first() {
    let ctx = Ctx::new("wait-create-ns-holder").await;
    let kubeconfig = ctx.cluster.kubeconfig_path("admin").display().to_string();
    let args = |extra: &[&str]| {
        let mut a: Vec<String> = ["apply", GUESTBOOK, "-n", "wait-created-ns", "--kubeconfig"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        a.push(kubeconfig.clone());
        a.extend(extra.iter().map(|s| s.to_string()));
        a
    };
    let without = harness::binary::kpush(&args(&[]));
    without.expect_code(3);
    assert!(
        without
            .stderr
            .contains("namespace wait-created-ns does not exist"),
        "{}",
        without.stderr
    );
    let with = harness::binary::kpush(&args(&["--create-namespace"]));
    with.expect_code(0);
    assert!(
        with.stderr
            .starts_with("created    Namespace wait-created-ns (--create-namespace)\n"),
        "{}",
        with.stderr
    );
    assert!(
        ctx.get("/api/v1/namespaces/wait-created-ns")
            .await
            .is_some()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_no_op_re_apply_names_each_object_on_at_most_three_lines() {
    let ctx = Ctx::new("wait-no-op").await;
    ctx.kpush(&["apply", GUESTBOOK]).expect_code(0);
    let again = ctx.kpush(&["apply", GUESTBOOK]);
    again.expect_code(0);
    let err = &again.stderr;
    let labels: Vec<String> = err
        .lines()
        .filter_map(|l| l.strip_prefix("unchanged  "))
        .filter_map(|l| l.split(" (").next())
        .map(str::to_string)
        .collect();
    assert_eq!(labels.len(), 6, "{err}");
    for label in &labels {
        let lines = err
            .lines()
            .filter(|l| {
                format!("{l} ").contains(&format!("{label} ")) || l.contains(&format!("{label}:"))
            })
            .count();
        assert!(lines <= 3, "{label} named on {lines} lines:\n{err}");
    }
    assert!(
        err.contains("kpush apply: success: 6 objects: 6 unchanged"),
        "{err}"
    );
    assert!(
        again.stdout.is_empty(),
        "human output is on stderr: {}",
        again.stdout
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_failed_rollout_prints_its_message_once_and_its_short_reason_in_the_table() {
    let ctx = Ctx::new("wait-once").await;
    let run = ctx.kpush(&[
        "apply",
        GUESTBOOK,
        "-o",
        "json",
        "--image",
        "redis=registry.example/does-not-exist/redis:1",
    ]);
    run.expect_code(4);
    let doc: serde_json::Value =
        serde_json::from_str(&run.stdout).unwrap_or_else(|e| panic!("{e}: {}", run.stdout));
    let redis = doc["objects"]
        .as_array()
        .and_then(|o| {
            o.iter()
                .find(|o| o["kind"] == "Deployment" && o["name"] == "redis")
        })
        .unwrap_or_else(|| panic!("redis in {doc}"));
    let message = redis["failure"]["message"].as_str().expect("message");
    let reason = redis["failure"]["reason"].as_str().expect("reason");
    let err = &run.stderr;
    assert_eq!(err.matches(message).count(), 1, "{message}\n{err}");
    let row = err
        .lines()
        .find(|l| l.starts_with("Deployment wait-once/redis ") && l.contains(" failed "))
        .unwrap_or_else(|| panic!("table row:\n{err}"));
    assert!(row.trim_end().ends_with(reason), "{row}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_failed_rollout_is_explained_by_its_own_events_not_by_earlier_rollouts() {
    let ctx = Ctx::new("wait-own-events").await;
    // Two good rollouts leave ScalingReplicaSet events on the Deployment...
    ctx.kpush(&["apply", GUESTBOOK, "--image", "redis=redis:7.0"])
        .expect_code(0);
    ctx.kpush(&["apply", GUESTBOOK, "--image", "redis=redis:7.2"])
        .expect_code(0);
    let old_sets: Vec<String> = ctx
        .get(&format!(
            "/apis/apps/v1/namespaces/{}/replicasets",
            ctx.namespace
        ))
        .await
        .expect("replicasets")["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter_map(|rs| rs["metadata"]["name"].as_str())
        .filter(|n| n.starts_with("redis-"))
        .map(str::to_string)
        .collect();
    assert_eq!(old_sets.len(), 2, "{old_sets:?}");
    // ...which say nothing about a third one, seconds later (beyond the clock-skew margin).
    tokio::time::sleep(Duration::from_secs(7)).await;
    let run = ctx.kpush(&[
        "apply",
        GUESTBOOK,
        "--image",
        "redis=registry.example/does-not-exist/redis:1",
    ]);
    run.expect_code(4);
    let err = &run.stderr;
    assert!(err.contains("Failed to pull image"), "{err}");
    assert!(
        err.contains("ScalingReplicaSet"),
        "this rollout's own scaling is shown: {err}"
    );
    let first = &old_sets.iter().min().expect("two sets");
    let stale: Vec<&str> = err
        .lines()
        .filter(|l| l.contains("ScalingReplicaSet") && l.contains("from 0 to 1"))
        .filter(|l| old_sets.iter().any(|s| l.contains(s.as_str())))
        .collect();
    assert!(
        stale.is_empty(),
        "events of earlier rollouts ({first} and its successor scaled up) are left out: {stale:?}\n{err}"
    );
}
