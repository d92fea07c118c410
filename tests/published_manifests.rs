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
