//! Faults between kpush and the API server, injected by `kpush_testenv::FaultProxy`: each run
//! must end as if nothing happened (exit 0, every object on the server, an exact summary), or,
//! when the server was never reachable, fail at once. The figures they print are the ones in
//! docs/reliability.md.

mod harness;

use std::time::{Duration, Instant};

use harness::binary::Run;
use harness::runs::{
    finish, spawn_apply, stored, stored_names, wait_until_stored, write_config_maps,
};
use kpush_testenv::{FaultProxy, HttpFault, TestCluster};

struct Setup {
    namespace: String,
    manifests: tempfile::TempDir,
    kubeconfig: tempfile::NamedTempFile,
    proxy: FaultProxy,
}

async fn setup(namespace: &str, objects: usize) -> Setup {
    let cluster = TestCluster::shared();
    cluster
        .create_namespace(namespace)
        .await
        .unwrap_or_else(|e| panic!("{e:#}"));
    let manifests = tempfile::tempdir().expect("temp dir");
    write_config_maps(manifests.path(), objects);
    let proxy = FaultProxy::start(cluster).unwrap_or_else(|e| panic!("{e:#}"));
    let kubeconfig = tempfile::NamedTempFile::new().expect("temp file");
    proxy
        .write_kubeconfig(cluster, "admin", kubeconfig.path())
        .expect("kubeconfig");
    Setup {
        namespace: namespace.to_string(),
        manifests,
        kubeconfig,
        proxy,
    }
}

/// Asserts the run succeeded, every object is stored and the summary counts them all.
async fn assert_nothing_lost(s: &Setup, run: &Run, objects: usize) {
    run.expect_code(0);
    assert_eq!(stored(&s.namespace).await, objects, "objects lost");
    let line = format!("{objects} objects: {objects} created");
    assert!(
        run.stderr.contains(&line),
        "summary is not exact, expected {line:?}\n{}",
        run.stderr
    );
}

#[tokio::test]
async fn a_3s_outage_while_applying_600_objects_loses_nothing() {
    let s = setup("fault-outage", 600).await;
    let mut child = spawn_apply(s.manifests.path(), s.kubeconfig.path(), &s.namespace, &[]);
    wait_until_stored(&s.namespace, 100, &mut child).await;
    let start = Instant::now();
    s.proxy.outage(Duration::from_secs(3));
    let run = finish(child);
    eprintln!(
        "outage 3 s at 100 of 600 objects: run ended {:.1}s after the outage began\n{}",
        start.elapsed().as_secs_f64(),
        run.stderr
    );
    assert_nothing_lost(&s, &run, 600).await;
    // Logged once when the outage began and once when it ended.
    assert_eq!(
        run.stderr.matches("retrying for up to").count(),
        1,
        "{}",
        run.stderr
    );
    assert_eq!(
        run.stderr.matches("answers again after").count(),
        1,
        "{}",
        run.stderr
    );
}

#[tokio::test]
async fn connection_resets_mid_run_are_retried() {
    let s = setup("fault-resets", 300).await;
    let mut child = spawn_apply(s.manifests.path(), s.kubeconfig.path(), &s.namespace, &[]);
    for at in [50, 150, 250] {
        wait_until_stored(&s.namespace, at, &mut child).await;
        // A load balancer reset: every open connection dies, new ones are accepted at once.
        s.proxy.outage(Duration::ZERO);
    }
    let run = finish(child);
    assert!(s.proxy.stats().connections_broken >= 3);
    assert_nothing_lost(&s, &run, 300).await;
}

#[tokio::test]
async fn a_server_that_stops_answering_is_cut_by_the_request_timeout_and_retried() {
    let s = setup("fault-stall", 300).await;
    let mut child = spawn_apply(
        s.manifests.path(),
        s.kubeconfig.path(),
        &s.namespace,
        &["--request-timeout", "2s"],
    );
    wait_until_stored(&s.namespace, 50, &mut child).await;
    // Connections are accepted, requests read, nothing answered: a hung load balancer.
    s.proxy.stall(true);
    let start = Instant::now();
    tokio::time::sleep(Duration::from_secs(4)).await;
    s.proxy.stall(false);
    let run = finish(child);
    eprintln!(
        "stall 4 s at 50 of 300 objects, --request-timeout 2s: run ended {:.1}s after the stall began\n{}",
        start.elapsed().as_secs_f64(),
        run.stderr
    );
    assert_nothing_lost(&s, &run, 300).await;
    // Requests sent before the stall time out after it began: one outage, or two when an
    // answer came in between.
    let outages = run.stderr.matches("retrying for up to").count();
    assert!((1..=2).contains(&outages), "{}", run.stderr);
}

#[tokio::test]
async fn connections_reset_after_a_few_kilobytes_and_a_distant_server_lose_nothing() {
    let s = setup("fault-bytes", 300).await;
    // 10 ms round trip throughout, and every connection reset once 16 KiB of answers went
    // through it for most of the run: each connection carries a few dozen answers, then dies
    // mid-answer.
    s.proxy.set_round_trip(Duration::from_millis(10));
    let mut child = spawn_apply(s.manifests.path(), s.kubeconfig.path(), &s.namespace, &[]);
    wait_until_stored(&s.namespace, 30, &mut child).await;
    s.proxy.reset_after_bytes(Some(16 * 1024));
    wait_until_stored(&s.namespace, 250, &mut child).await;
    s.proxy.reset_after_bytes(None);
    let run = finish(child);
    let broken = s.proxy.stats().connections_broken;
    eprintln!(
        "resets after 16 KiB at 10 ms: {broken} connections reset\n{}",
        run.stderr
    );
    assert!(broken >= 3, "only {broken} connections were reset");
    assert_nothing_lost(&s, &run, 300).await;
}

#[tokio::test]
async fn throttling_and_gateway_errors_are_ridden_out() {
    let s = setup("fault-http", 300).await;
    let mut child = spawn_apply(s.manifests.path(), s.kubeconfig.path(), &s.namespace, &[]);
    wait_until_stored(&s.namespace, 50, &mut child).await;
    s.proxy.http_fault(
        HttpFault::TooManyRequests {
            retry_after_seconds: 1,
        },
        20,
    );
    wait_until_stored(&s.namespace, 150, &mut child).await;
    s.proxy.http_fault(HttpFault::ServiceUnavailable, 20);
    let run = finish(child);
    assert_eq!(
        s.proxy.stats().http_faults,
        40,
        "every scripted fault was served"
    );
    assert_nothing_lost(&s, &run, 300).await;
}

#[tokio::test]
async fn an_outage_longer_than_the_budget_fails_with_an_exact_report_and_a_rerun_converges() {
    let s = setup("fault-budget", 300).await;
    let mut child = spawn_apply(
        s.manifests.path(),
        s.kubeconfig.path(),
        &s.namespace,
        &["--retry-budget", "2s", "-o", "json"],
    );
    wait_until_stored(&s.namespace, 50, &mut child).await;
    let start = Instant::now();
    s.proxy.outage(Duration::from_secs(8));
    let run = finish(child);
    assert_eq!(run.code, 6, "{}\n{}", run.stdout, run.stderr);
    assert!(
        start.elapsed() < Duration::from_secs(8),
        "{:?}",
        start.elapsed()
    );
    assert!(
        run.stderr.contains("--retry-budget is used up"),
        "{}",
        run.stderr
    );

    // Every object is accounted for, and what the report says matches the server.
    let doc: serde_json::Value = serde_json::from_str(&run.stdout).expect("JSON result");
    let objects = doc["objects"].as_array().expect("objects");
    assert_eq!(objects.len(), 300, "{}", run.stdout);
    let stored_names = stored_names(&s.namespace).await;
    let mut counts = std::collections::BTreeMap::new();
    for o in objects {
        let name = o["name"].as_str().expect("name");
        let action = o["action"].as_str().expect("action");
        *counts.entry(action.to_string()).or_insert(0) += 1;
        let is_stored = stored_names.contains(name);
        match action {
            "created" => assert!(is_stored, "{name} reported created but absent"),
            "skipped" => assert!(!is_stored, "{name} reported skipped (not sent) but stored"),
            "unknown" => {}
            other => panic!("{name}: unexpected action {other}"),
        }
    }
    eprintln!("outage past the budget at 50 of 300 objects: {counts:?}");

    // Once the server is back, the same run converges.
    while s.proxy.refusing() {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let rerun = finish(spawn_apply(
        s.manifests.path(),
        s.kubeconfig.path(),
        &s.namespace,
        &[],
    ));
    rerun.expect_code(0);
    assert_eq!(stored(&s.namespace).await, 300, "objects lost");
}

#[tokio::test]
async fn a_server_never_reached_fails_at_once() {
    let cluster = TestCluster::shared();
    let manifests = tempfile::tempdir().expect("temp dir");
    write_config_maps(manifests.path(), 3);
    let proxy = FaultProxy::start(cluster).unwrap_or_else(|e| panic!("{e:#}"));
    let kubeconfig = tempfile::NamedTempFile::new().expect("temp file");
    proxy
        .write_kubeconfig(cluster, "admin", kubeconfig.path())
        .expect("kubeconfig");
    proxy.outage(Duration::from_secs(60));
    let start = Instant::now();
    let run = finish(spawn_apply(
        manifests.path(),
        kubeconfig.path(),
        "default",
        &[],
    ));
    assert_eq!(run.code, 6, "{}\n{}", run.stdout, run.stderr);
    assert!(
        start.elapsed() < Duration::from_secs(5),
        "{:?}",
        start.elapsed()
    );
    assert!(!run.stderr.contains("retrying"), "{}", run.stderr);
}

#[tokio::test]
async fn the_insecure_tls_warning_is_printed_once_per_run() {
    let ctx = harness::binary::Ctx::new("fault-insecure").await;
    for i in 0..20 {
        ctx.write(
            &format!("cm-{i}.yaml"),
            &harness::binary::config_map(&format!("cm-{i}"), "x"),
        );
    }
    let run = ctx.kpush(&[
        "apply",
        &ctx.path().display().to_string(),
        "--insecure-skip-tls-verify",
    ]);
    run.expect_code(0);
    assert_eq!(
        run.stderr
            .matches("TLS certificate is not verified")
            .count(),
        1,
        "{}",
        run.stderr
    );
    assert!(
        !run.stderr.contains("Server cert bypassed"),
        "{}",
        run.stderr
    );
}
