//! Taking over from other deploy tools: objects last written by real `kubectl apply` (client
//! side) or `kubectl set image` deploy with kpush without `--force-conflicts`, and fields
//! removed from the manifest leave the cluster; controllers' fields still conflict.

mod harness;

use std::process::Command;

use harness::binary::Ctx;
use serde_json::Value;

const TWO_CONTAINERS: &str = "apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  replicas: 1
  selector:
    matchLabels:
      app: web
  template:
    metadata:
      labels:
        app: web
    spec:
      containers:
        - name: app
          image: nginx:1.26
        - name: sidecar
          image: busybox:1.36
          command: [\"sleep\", \"3600\"]
";

const ONE_CONTAINER: &str = "apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  replicas: 1
  selector:
    matchLabels:
      app: web
  template:
    metadata:
      labels:
        app: web
    spec:
      containers:
        - name: app
          image: nginx:1.27
";

/// Runs the test cluster's kubectl as admin in the test's namespace.
fn kubectl(ctx: &Ctx, args: &[&str]) -> String {
    let bin = ctx
        .cluster
        .kubectl()
        .expect("kubectl is built beside the test control plane");
    let out = Command::new(bin)
        .args(args)
        .arg("--kubeconfig")
        .arg(ctx.cluster.kubeconfig_path("admin"))
        .args(["-n", &ctx.namespace])
        .output()
        .expect("run kubectl");
    assert!(
        out.status.success(),
        "kubectl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn managers(obj: &Value) -> Vec<String> {
    obj["metadata"]["managedFields"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|e| {
            format!(
                "{}/{}",
                e["manager"].as_str().unwrap_or(""),
                e["operation"].as_str().unwrap_or("")
            )
        })
        .collect()
}

fn containers(obj: &Value) -> Vec<(String, String)> {
    obj["spec"]["template"]["spec"]["containers"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|c| {
            (
                c["name"].as_str().unwrap_or("").to_string(),
                c["image"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn takes_over_from_client_side_kubectl_apply_and_removes_a_dropped_container() {
    let ctx = Ctx::new("adopt-kubectl-apply").await;
    let file = ctx.write("web.yaml", TWO_CONTAINERS);
    kubectl(&ctx, &["apply", "-f", &file.display().to_string()]);
    let path = ctx.grouped("apps/v1", "deployments", "web");
    let before = ctx.get(&path).await.expect("deployment");
    assert!(
        managers(&before).contains(&"kubectl-client-side-apply/Update".to_string()),
        "{:?}",
        managers(&before)
    );

    ctx.write("web.yaml", ONE_CONTAINER);
    // -v shows the take-over note (CI logs show it always).
    let run = ctx.kpush(&[
        "apply",
        &ctx.path().display().to_string(),
        "--wait=false",
        "-v",
    ]);
    run.expect_code(0);
    assert!(
        run.stderr
            .contains("configured Deployment adopt-kubectl-apply/web"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr
            .contains("took over the fields of kubectl-client-side-apply and removed the kubectl.kubernetes.io/last-applied-configuration annotation"),
        "the take-over is reported: {}",
        run.stderr
    );

    let after = ctx.get(&path).await.expect("deployment");
    assert_eq!(
        containers(&after),
        vec![("app".to_string(), "nginx:1.27".to_string())],
        "the container removed from the manifest is gone"
    );
    assert!(
        after["metadata"]["annotations"]
            .get("kubectl.kubernetes.io/last-applied-configuration")
            .is_none(),
        "{}",
        after["metadata"]
    );
    assert!(
        !managers(&after)
            .iter()
            .any(|m| m.starts_with("kubectl-client-side-apply")),
        "{:?}",
        managers(&after)
    );

    let again = ctx.kpush(&["apply", &ctx.path().display().to_string(), "--wait=false"]);
    again.expect_code(0);
    assert!(
        again.stderr.contains("1 objects: 1 unchanged")
            || again.stderr.contains("1 object: 1 unchanged"),
        "{}",
        again.stderr
    );
    ctx.kpush(&["diff", &ctx.path().display().to_string()])
        .expect_code(0);
}

#[tokio::test(flavor = "multi_thread")]
async fn takes_back_an_image_changed_with_kubectl_set_image() {
    let ctx = Ctx::new("adopt-kubectl-set").await;
    ctx.write("web.yaml", ONE_CONTAINER);
    let dir = ctx.path().display().to_string();
    ctx.kpush(&["apply", &dir, "--wait=false"]).expect_code(0);
    kubectl(&ctx, &["set", "image", "deployment/web", "app=nginx:1.25"]);
    let path = ctx.grouped("apps/v1", "deployments", "web");
    let hotfixed = ctx.get(&path).await.expect("deployment");
    assert_eq!(containers(&hotfixed)[0].1, "nginx:1.25");
    assert!(managers(&hotfixed).contains(&"kubectl-set/Update".to_string()));

    // diff shows the change back, and does not call it a conflict.
    let diff = ctx.kpush(&["diff", &dir]);
    diff.expect_code(1);
    assert!(diff.stdout.contains("nginx:1.27"), "{}", diff.stdout);

    let run = ctx.kpush(&["apply", &dir, "--wait=false", "-v"]);
    run.expect_code(0);
    assert!(
        run.stderr.contains("took over the fields of kubectl-set"),
        "{}",
        run.stderr
    );
    let after = ctx.get(&path).await.expect("deployment");
    assert_eq!(containers(&after)[0].1, "nginx:1.27");
    assert!(
        !managers(&after)
            .iter()
            .any(|m| m.starts_with("kubectl-set"))
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn with_no_adopt_the_other_tools_fields_still_conflict() {
    let ctx = Ctx::new("adopt-opt-out").await;
    let file = ctx.write("web.yaml", TWO_CONTAINERS);
    kubectl(&ctx, &["apply", "-f", &file.display().to_string()]);
    ctx.write("web.yaml", ONE_CONTAINER);
    let run = ctx.kpush(&[
        "apply",
        &ctx.path().display().to_string(),
        "--wait=false",
        "--no-adopt",
    ]);
    run.expect_code(3);
    assert!(
        run.stderr.contains("kubectl-client-side-apply")
            || run.stdout.contains("kubectl-client-side-apply"),
        "the conflict names the other manager:\n{}\n{}",
        run.stdout,
        run.stderr
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_controllers_field_is_still_a_conflict() {
    let ctx = Ctx::new("adopt-controller").await;
    ctx.write("web.yaml", ONE_CONTAINER);
    let dir = ctx.path().display().to_string();
    ctx.kpush(&["apply", &dir, "--wait=false"]).expect_code(0);
    // An autoscaler-like controller takes `replicas` with its own field manager.
    kubectl(
        &ctx,
        &[
            "patch",
            "deployment/web",
            "--type=merge",
            "--field-manager=replica-controller",
            "-p",
            "{\"spec\":{\"replicas\":3}}",
        ],
    );
    let run = ctx.kpush(&["apply", &dir, "--wait=false"]);
    run.expect_code(3);
    let all = format!("{}\n{}", run.stdout, run.stderr);
    assert!(
        all.contains(".spec.replicas") && all.contains("replica-controller"),
        "{all}"
    );
}
