//! Rollouts that waiting cannot cure fail at once with the cause: pods refused by a
//! ResourceQuota or by Pod Security admission (the ReplicaSet's `FailedCreate`).

mod harness;

use std::process::Command;
use std::time::{Duration, Instant};

use harness::binary::{Ctx, deployment};

const QUOTA: &str = "apiVersion: v1
kind: ResourceQuota
metadata:
  name: no-pods
spec:
  hard:
    pods: \"0\"
";

#[tokio::test(flavor = "multi_thread")]
async fn pods_over_a_resource_quota_fail_the_rollout_fast_naming_the_quota() {
    let ctx = Ctx::new("fail-quota").await;
    ctx.write("quota.yaml", QUOTA);
    ctx.write("web.yaml", &deployment("web", "nginx:1.27", "web"));
    let started = Instant::now();
    let run = ctx.kpush(&[
        "apply",
        &ctx.path().display().to_string(),
        "--timeout",
        "90s",
    ]);
    let took = started.elapsed();
    run.expect_code(4);
    assert!(
        run.stderr.contains("QuotaExceeded") && run.stderr.contains("ResourceQuota no-pods"),
        "names the quota: {}",
        run.stderr
    );
    assert!(run.stderr.contains("web.yaml:1"), "{}", run.stderr);
    assert!(
        took < Duration::from_secs(45),
        "failed fast, not at the timeout: took {took:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn pods_forbidden_by_pod_security_fail_the_rollout_fast_naming_the_level() {
    let ctx = Ctx::new("fail-pod-security").await;
    let kubectl = ctx
        .cluster
        .kubectl()
        .expect("kubectl beside the control plane");
    let out = Command::new(kubectl)
        .args([
            "label",
            "namespace",
            &ctx.namespace,
            "pod-security.kubernetes.io/enforce=restricted",
            "--kubeconfig",
        ])
        .arg(ctx.cluster.kubeconfig_path("admin"))
        .output()
        .expect("kubectl");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    ctx.write("web.yaml", &deployment("web", "nginx:1.27", "web"));
    let started = Instant::now();
    let run = ctx.kpush(&[
        "apply",
        &ctx.path().display().to_string(),
        "--timeout",
        "90s",
    ]);
    let took = started.elapsed();
    run.expect_code(4);
    assert!(
        run.stderr.contains("PodSecurity") && run.stderr.contains("restricted:latest"),
        "names the Pod Security level: {}",
        run.stderr
    );
    assert!(
        took < Duration::from_secs(45),
        "failed fast, not at the timeout: took {took:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_kind_the_cluster_does_not_serve_exits_3_from_apply_and_from_status() {
    let ctx = Ctx::new("unserved-kind").await;
    ctx.write(
        "gadget.yaml",
        "apiVersion: example.com/v1\nkind: Gadget\nmetadata:\n  name: g\n",
    );
    let dir = ctx.path().display().to_string();
    let apply = ctx.kpush(&["apply", &dir]);
    apply.expect_code(3);
    let status = ctx.kpush(&["status", &dir]);
    status.expect_code(3);
    for run in [&apply, &status] {
        assert!(
            run.stderr.contains("gadget.yaml:1") && run.stderr.contains("example.com/v1"),
            "{}",
            run.stderr
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_claim_of_a_storage_class_that_does_not_exist_says_so_while_waiting() {
    let ctx = Ctx::new("claim-no-class").await;
    ctx.write(
        "data.yaml",
        "apiVersion: v1
kind: PersistentVolumeClaim
metadata:
  name: data
spec:
  accessModes: [ReadWriteOnce]
  storageClassName: does-not-exist
  resources:
    requests:
      storage: 1Gi
",
    );
    let run = ctx.kpush(&[
        "apply",
        &ctx.path().display().to_string(),
        "--timeout",
        "20s",
    ]);
    run.expect_code(5);
    assert!(
        run.stderr
            .contains("storageclass.storage.k8s.io \"does-not-exist\" not found")
            && run.stderr.contains("create that StorageClass"),
        "the controller's reason and what to do: {}",
        run.stderr
    );
}

const RC: &str = "apiVersion: v1
kind: ReplicationController
metadata:
  name: legacy
spec:
  replicas: 2
  selector:
    app: legacy
  template:
    metadata:
      labels:
        app: legacy
    spec:
      containers:
        - name: app
          image: nginx:IMAGE
";

#[tokio::test(flavor = "multi_thread")]
async fn a_replication_controller_whose_pods_keep_the_old_image_is_not_ready() {
    let ctx = Ctx::new("rc-image").await;
    ctx.write("rc.yaml", &RC.replace("IMAGE", "1.26"));
    let dir = ctx.path().display().to_string();
    ctx.kpush(&["apply", &dir, "--timeout", "60s"])
        .expect_code(0);
    ctx.write("rc.yaml", &RC.replace("IMAGE", "1.27"));
    let run = ctx.kpush(&["apply", &dir, "--timeout", "60s"]);
    run.expect_code(4);
    assert!(
        run.stderr.contains("PodsNotReplaced") && run.stderr.contains("does not replace its pods"),
        "{}",
        run.stderr
    );
}

/// A Deployment whose pods the simulated node pulls with CRI-O's wording.
fn crio_deployment(name: &str, image: &str) -> String {
    format!(
        "apiVersion: apps/v1
kind: Deployment
metadata:
  name: {name}
spec:
  replicas: 1
  selector:
    matchLabels: {{app: {name}}}
  template:
    metadata:
      labels: {{app: {name}}}
      annotations: {{sim.kpush.dev/runtime: cri-o}}
    spec:
      containers:
        - name: app
          image: {image}
"
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn a_cri_o_signature_rejection_fails_at_once_with_the_kubelet_reason() {
    let ctx = Ctx::new("fail-crio-unsigned").await;
    ctx.write(
        "signed.yaml",
        &crio_deployment("signed", "quay.io/shop/pull-unsigned:1.0"),
    );
    let run = ctx.kpush(&[
        "apply",
        &ctx.path().display().to_string(),
        "--timeout",
        "90s",
        "--progress",
        "plain",
    ]);
    run.expect_code(4);
    assert!(
        run.stderr.contains("SignatureValidationFailed")
            && run
                .stderr
                .contains("A signature was required, but no signature exists")
            && !run.stderr.contains("ImagePullBackOff"),
        "fails on the first pull, naming the policy's reason: {}",
        run.stderr
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_cri_o_refused_connection_waits_for_the_back_off_then_quotes_the_registry() {
    let ctx = Ctx::new("fail-crio-refused").await;
    ctx.write(
        "mirror.yaml",
        &crio_deployment("mirror", "quay.io/shop/pull-refused:1.0"),
    );
    let run = ctx.kpush(&[
        "apply",
        &ctx.path().display().to_string(),
        "--timeout",
        "90s",
        "--progress",
        "plain",
    ]);
    run.expect_code(4);
    // RegistryUnavailable may pass on the kubelet's next try; the verdict is the back-off.
    assert!(
        run.stderr.contains("ImagePullBackOff")
            && run.stderr.contains("connect: connection refused")
            && run.stderr.contains("pinging container registry quay.io"),
        "{}",
        run.stderr
    );
}
