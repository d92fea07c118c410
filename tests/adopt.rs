//! Taking over from `kubectl apply` (client side) and `kubectl set image`: the first kpush apply
//! meets no conflicts, and a field removed from the manifest is removed from the cluster.

mod harness;

use harness::binary::Ctx;

fn kubectl(ctx: &Ctx, args: &[&str]) {
    let kubectl = ctx
        .cluster
        .kubectl()
        .expect("kubectl is built with the control plane");
    let kubeconfig = ctx.cluster.kubeconfig_path("admin");
    let out = std::process::Command::new(kubectl)
        .args(args)
        .arg("--kubeconfig")
        .arg(&kubeconfig)
        .args(["-n", &ctx.namespace])
        .output()
        .expect("run kubectl");
    assert!(
        out.status.success(),
        "kubectl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn objects_kubectl_applied_and_set_are_taken_over_without_conflicts() {
    let ctx = Ctx::new("adopt-kubectl").await;
    let old = ctx.write(
        "old.yaml",
        "apiVersion: v1
kind: ConfigMap
metadata:
  name: settings
data:
  a: \"1\"
  b: \"2\"
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  replicas: 1
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
        - name: web
          image: example.com/web:1
",
    );
    kubectl(&ctx, &["apply", "-f", &old.display().to_string()]);
    kubectl(
        &ctx,
        &["set", "image", "deployment/web", "web=example.com/web:2"],
    );

    // The manifest kpush deploys: b removed, a changed, a new image.
    let new = ctx.write(
        "new/app.yaml",
        "apiVersion: v1
kind: ConfigMap
metadata:
  name: settings
data:
  a: \"10\"
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  replicas: 1
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
        - name: web
          image: example.com/web:3
",
    );
    // --no-adopt leaves the other tools their fields: the changed image conflicts.
    let refused = ctx.kpush(&["apply", &new.display().to_string(), "--no-adopt"]);
    refused.expect_code(3);
    assert!(refused.stderr.contains("kubectl-set"), "{}", refused.stderr);

    let run = ctx.kpush(&["apply", &new.display().to_string()]);
    run.expect_code(0);
    assert!(!run.stderr.contains("helm list"), "{}", run.stderr);

    let cm = ctx
        .get(&ctx.core("configmaps", "settings"))
        .await
        .expect("settings");
    assert_eq!(cm["data"]["a"], "10", "{cm}");
    assert!(cm["data"]["b"].is_null(), "the removed key is gone: {cm}");
    assert!(
        cm["metadata"]["annotations"]["kubectl.kubernetes.io/last-applied-configuration"].is_null(),
        "{cm}"
    );
    let web = ctx
        .get(&ctx.grouped("apps/v1", "deployments", "web"))
        .await
        .expect("web");
    assert_eq!(
        web["spec"]["template"]["spec"]["containers"][0]["image"],
        "example.com/web:3"
    );
    let managers: Vec<&str> = web["metadata"]["managedFields"]
        .as_array()
        .expect("managed fields")
        .iter()
        .filter_map(|e| e["manager"].as_str())
        .collect();
    assert!(
        !managers.contains(&"kubectl-client-side-apply") && !managers.contains(&"kubectl-set"),
        "{managers:?}"
    );

    // Taken over once: the next apply has nothing to do.
    let again = ctx.kpush(&["apply", &new.display().to_string()]);
    again.expect_code(0);
    assert!(again.stderr.contains("unchanged"), "{}", again.stderr);
}
