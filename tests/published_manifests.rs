//! Manifests as projects publish them deploy without editing: CRD bundles that carry a `status:`
//! block apply and re-apply cleanly (status is never applied).

mod harness;

use harness::binary::Ctx;

/// A CRD as operator release bundles publish it: with the `status` the API server wrote when
/// the bundle was generated; and a custom resource carrying a `status`. The CRD has no status
/// subresource, so an applied `status` would be written as it stands.
fn crd_with_status(group: &str) -> String {
    format!(
        "apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: widgets.{group}
spec:
  group: {group}
  names:
    kind: Widget
    listKind: WidgetList
    plural: widgets
    singular: widget
  scope: Namespaced
  versions:
    - name: v1
      served: true
      storage: true
      schema:
        openAPIV3Schema:
          type: object
          properties:
            spec:
              type: object
              x-kubernetes-preserve-unknown-fields: true
            status:
              type: object
              x-kubernetes-preserve-unknown-fields: true
status:
  acceptedNames:
    kind: \"\"
    plural: \"\"
  conditions: []
  storedVersions: []
---
apiVersion: {group}/v1
kind: Widget
metadata:
  name: w
spec:
  size: 1
status:
  ready: true
"
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn a_crd_bundle_carrying_status_applies_and_reapplies_unchanged() {
    let ctx = Ctx::new("crd-with-status").await;
    let group = format!("{}.kpush.test", ctx.namespace);
    ctx.write("bundle.yaml", &crd_with_status(&group));
    let dir = ctx.path().display().to_string();
    // No controller writes the Widget's status here, so do not wait for it.
    let first = ctx.kpush(&["apply", &dir, "--wait=false"]);
    first.expect_code(0);
    assert!(
        first.stderr.contains("created    CustomResourceDefinition"),
        "{}",
        first.stderr
    );
    let again = ctx.kpush(&["apply", &dir, "--wait=false"]);
    again.expect_code(0);
    assert!(
        again.stderr.contains("2 objects: 2 unchanged"),
        "the second apply must neither conflict on .status nor change anything:\n{}",
        again.stderr
    );
    let diff = ctx.kpush(&["diff", &dir]);
    diff.expect_code(0);
    let widget = ctx
        .get(&ctx.grouped(&format!("{group}/v1"), "widgets", "w"))
        .await
        .expect("widget exists");
    assert!(
        widget.get("status").is_none(),
        "status from the manifest must not be written: {widget}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_long_server_message_is_cut_and_shown_whole_with_verbose() {
    let ctx = Ctx::new("long-rejection").await;
    let value = "v".repeat(5000);
    ctx.write(
        "cm.yaml",
        &format!(
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\n  labels:\n    big: {value}\n"
        ),
    );
    let dir = ctx.path().display().to_string();
    let run = ctx.kpush(&["apply", &dir]);
    run.expect_code(3);
    assert!(
        run.stderr
            .contains("more characters; -v shows the whole message"),
        "{}",
        run.stderr
    );
    assert!(!run.stderr.contains(&value), "cut: {}", run.stderr.len());
    let verbose = ctx.kpush(&["apply", &dir, "-v"]);
    verbose.expect_code(3);
    assert!(verbose.stderr.contains(&value), "whole with -v");
}

#[tokio::test(flavor = "multi_thread")]
async fn an_api_version_the_cluster_no_longer_serves_names_the_one_it_does() {
    let ctx = Ctx::new("old-api-version").await;
    ctx.write(
        "hpa.yaml",
        "apiVersion: autoscaling/v2beta2
kind: HorizontalPodAutoscaler
metadata:
  name: web
spec:
  scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: web}
  minReplicas: 1
  maxReplicas: 3
",
    );
    ctx.write(
        "cron.yaml",
        "apiVersion: batch/v1beta1
kind: CronJob
metadata:
  name: nightly
spec:
  schedule: \"@daily\"
  jobTemplate:
    spec:
      template:
        spec:
          restartPolicy: OnFailure
          containers: [{name: c, image: busybox}]
",
    );
    let run = ctx.kpush(&["apply", &ctx.path().display().to_string()]);
    run.expect_code(3);
    for expected in [
        "the cluster does not serve apiVersion autoscaling/v2beta2 (the cluster runs Kubernetes v1.35",
        "change apiVersion to autoscaling/v2",
        "the cluster does not serve apiVersion batch/v1beta1",
        "change apiVersion to batch/v1",
    ] {
        assert!(run.stderr.contains(expected), "{expected}:\n{}", run.stderr);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_field_the_cluster_does_not_know_is_named_with_what_to_do() {
    let ctx = Ctx::new("unknown-field").await;
    ctx.write(
        "cm.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\ndata:\n  a: b\nbinaryDataz:\n  x: eA==\n",
    );
    let run = ctx.kpush(&["apply", &ctx.path().display().to_string()]);
    run.expect_code(3);
    assert!(
        run.stderr.contains("does not know .binaryDataz")
            && run.stderr.contains("written for a newer Kubernetes"),
        "{}",
        run.stderr
    );
}
