//! The real kube-apiserver process is killed and started again while kpush applies 1,000
//! objects: the run rides out the restart (refused connections, then a server warming up) and
//! ends with every object stored and an exact summary. A file of its own: the restart would
//! disturb other tests sharing this binary's cluster.

mod harness;

use std::time::{Duration, Instant};

use harness::runs::{finish, spawn_apply, stored, wait_until_stored, write_config_maps};
use kpush_testenv::TestCluster;

const OBJECTS: usize = 1000;

#[tokio::test]
async fn apiserver_restart_while_applying_1000_objects_loses_nothing() {
    let cluster = TestCluster::shared();
    let namespace = "restart";
    cluster
        .create_namespace(namespace)
        .await
        .unwrap_or_else(|e| panic!("{e:#}"));
    let manifests = tempfile::tempdir().expect("temp dir");
    write_config_maps(manifests.path(), OBJECTS);
    let kubeconfig = cluster.kubeconfig_path("admin");
    let mut child = spawn_apply(
        manifests.path(),
        &kubeconfig,
        namespace,
        // The default --retry-budget (30 s): kube-apiserver 1.35 serves again 5–10 s after a
        // restart on a loaded 2-core machine.
        &["--wait=false"],
    );
    wait_until_stored(namespace, 200, &mut child).await;
    let start = Instant::now();
    cluster
        .restart_apiserver(Duration::from_secs(1))
        .await
        .unwrap_or_else(|e| panic!("{e:#}"));
    let down = start.elapsed();
    let run = finish(child);
    eprintln!(
        "kube-apiserver restart at 200 of {OBJECTS} objects: down {:.1}s, run ended {:.1}s after\n{}",
        down.as_secs_f64(),
        start.elapsed().as_secs_f64(),
        run.stderr
    );
    run.expect_code(0);
    assert_eq!(stored(namespace).await, OBJECTS, "objects lost");
    let line = format!("{OBJECTS} objects: {OBJECTS} created");
    assert!(
        run.stderr.contains(&line),
        "expected {line:?}\n{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("answers again after"),
        "the restart went unnoticed: {}",
        run.stderr
    );
}
