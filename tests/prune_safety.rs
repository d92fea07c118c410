//! Pruning never deletes what it cannot be sure of: a member kind that cannot be discovered
//! fails the prune step (and stays recorded), deletes carry the listed uid as a precondition,
//! and a parent no tool claims is refused, as kubectl refuses it.

mod harness;

use harness::binary::{Ctx, config_map};
use kube::api::{Patch, PatchParams};
use kube::core::ApiResource;
use serde_json::json;

use kpush::cluster::{self, RetryPolicy, Target};

fn parent_kinds(parent: &serde_json::Value) -> String {
    parent["metadata"]["annotations"]["applyset.kubernetes.io/contains-group-kinds"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

async fn merge_patch(ctx: &Ctx, path: &str, patch: serde_json::Value) {
    let client = ctx.client().await;
    let req = http::Request::patch(path)
        .header("Content-Type", "application/merge-patch+json")
        .body(serde_json::to_vec(&patch).expect("json"))
        .expect("request");
    client
        .request::<serde_json::Value>(req)
        .await
        .unwrap_or_else(|e| panic!("PATCH {path}: {e}"));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_member_kind_that_cannot_be_discovered_fails_the_prune_and_stays_recorded() {
    let ctx = Ctx::new("prune-discovery").await;
    ctx.write("keep.yaml", &config_map("keep", "v"));
    let path = ctx.path().display().to_string();
    ctx.kpush(&["apply", &path, "--applyset", "shop", "--prune"])
        .expect_code(0);

    // An aggregated API whose backend is down: discovery of its group answers 503.
    let client = ctx.client().await;
    let api_services: kube::Api<kube::core::DynamicObject> = kube::Api::all_with(
        client.clone(),
        &ApiResource {
            group: "apiregistration.k8s.io".into(),
            version: "v1".into(),
            api_version: "apiregistration.k8s.io/v1".into(),
            kind: "APIService".into(),
            plural: "apiservices".into(),
        },
    );
    let service: kube::core::DynamicObject = serde_json::from_value(json!({
        "apiVersion": "apiregistration.k8s.io/v1",
        "kind": "APIService",
        "metadata": {"name": "v1.widgets.prune.example.com"},
        "spec": {
            "group": "widgets.prune.example.com",
            "version": "v1",
            "service": {"namespace": "prune-discovery", "name": "nowhere", "port": 443},
            "insecureSkipTLSVerify": true,
            "groupPriorityMinimum": 1000,
            "versionPriority": 15
        }
    }))
    .expect("APIService");
    api_services
        .patch(
            "v1.widgets.prune.example.com",
            &PatchParams::apply("test").force(),
            &Patch::Apply(&service),
        )
        .await
        .expect("create APIService");
    // The parent says the set had Widgets of that group.
    let recorded = format!(
        "{},Widget.widgets.prune.example.com",
        parent_kinds(&ctx.get(&ctx.core("secrets", "shop")).await.expect("parent"))
    );
    merge_patch(
        &ctx,
        &ctx.core("secrets", "shop"),
        json!({"metadata": {"annotations": {
            "applyset.kubernetes.io/contains-group-kinds": recorded
        }}}),
    )
    .await;

    let run = ctx.kpush(&[
        "apply",
        &path,
        "--applyset",
        "shop",
        "--prune",
        "--retry-budget",
        "2s",
    ]);
    let _ = api_services
        .delete("v1.widgets.prune.example.com", &Default::default())
        .await;
    assert_ne!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    assert!(
        run.stderr
            .contains("cannot discover Widget.widgets.prune.example.com"),
        "{}",
        run.stderr
    );
    let parent = ctx.get(&ctx.core("secrets", "shop")).await.expect("parent");
    assert!(
        parent_kinds(&parent).contains("Widget.widgets.prune.example.com"),
        "the kind was dropped from the parent: {}",
        parent_kinds(&parent)
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_parent_without_the_tooling_annotation_is_refused() {
    let ctx = Ctx::new("prune-tooling").await;
    ctx.write("keep.yaml", &config_map("keep", "v"));
    let path = ctx.path().display().to_string();
    ctx.kpush(&["apply", &path, "--applyset", "shop", "--prune"])
        .expect_code(0);
    merge_patch(
        &ctx,
        &ctx.core("secrets", "shop"),
        json!({"metadata": {"annotations": {"applyset.kubernetes.io/tooling": null}}}),
    )
    .await;
    ctx.remove("keep.yaml");
    ctx.write("other.yaml", &config_map("other", "v"));
    let run = ctx.kpush(&["apply", &path, "--applyset", "shop", "--prune"]);
    assert_ne!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    assert!(
        run.stderr
            .contains("has no applyset.kubernetes.io/tooling annotation"),
        "{}",
        run.stderr
    );
    assert!(
        ctx.get(&ctx.core("configmaps", "keep")).await.is_some(),
        "a member was pruned under a parent no tool claims"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_delete_with_a_stale_uid_deletes_nothing() {
    let ctx = Ctx::new("prune-uid").await;
    ctx.write("cm.yaml", &config_map("cm", "v"));
    ctx.kpush(&["apply", &ctx.path().display().to_string()])
        .expect_code(0);
    let live = ctx.get(&ctx.core("configmaps", "cm")).await.expect("cm");
    let uid = live["metadata"]["uid"].as_str().expect("uid").to_string();
    let client = ctx.client().await;
    let target = Target {
        resource: ApiResource {
            group: String::new(),
            version: "v1".into(),
            api_version: "v1".into(),
            kind: "ConfigMap".into(),
            plural: "configmaps".into(),
        },
        namespace: Some(ctx.namespace.clone()),
        has_status: false,
    };
    let policy = RetryPolicy::default();
    let stale = cluster::delete(
        &client,
        policy,
        &target,
        "cm",
        Some("00000000-0000-0000-0000-000000000000"),
    )
    .await
    .expect("delete");
    assert!(!stale, "a stale uid must delete nothing");
    assert!(ctx.get(&ctx.core("configmaps", "cm")).await.is_some());
    let deleted = cluster::delete(&client, policy, &target, "cm", Some(&uid))
        .await
        .expect("delete");
    assert!(deleted);
}
