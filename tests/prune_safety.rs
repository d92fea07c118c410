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

// ---- Guards: a deploy never destroys what it was not asked to (issue 22) ----

fn secret(name: &str) -> String {
    format!(
        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: {name}\nstringData:\n  password: hunter2\n"
    )
}

/// Writes ConfigMaps `cm-0` … `cm-{n-1}` (one file each) and a Secret `db`.
fn write_release(ctx: &Ctx, n: usize) {
    for i in 0..n {
        ctx.write(
            &format!("cm-{i}.yaml"),
            &config_map(&format!("cm-{i}"), "v"),
        );
    }
    ctx.write("db.yaml", &secret("db"));
}

async fn exists(ctx: &Ctx, plural: &str, name: &str) -> bool {
    ctx.get(&ctx.core(plural, name)).await.is_some()
}

#[tokio::test(flavor = "multi_thread")]
async fn an_empty_render_prunes_nothing_unless_allowed() {
    let ctx = Ctx::new("guard-empty").await;
    write_release(&ctx, 2);
    let path = ctx.path().display().to_string();
    ctx.kpush(&["apply", &path, "--release", "shop"])
        .expect_code(0);

    // `kustomize build | kpush apply -` without pipefail: standard input is empty.
    let run = ctx.kpush(&["apply", "-", "--release", "shop"]);
    run.expect_code(2);
    assert!(
        run.stderr.contains("rendered no objects"),
        "no warning about the empty render:\n{}",
        run.stderr
    );
    assert!(run.stderr.contains("--allow-empty"), "{}", run.stderr);
    assert!(
        run.stderr.contains("Secret guard-empty/db"),
        "{}",
        run.stderr
    );
    assert!(!run.stderr.contains("hunter2"), "{}", run.stderr);
    for (plural, name) in [
        ("configmaps", "cm-0"),
        ("configmaps", "cm-1"),
        ("secrets", "db"),
    ] {
        assert!(
            exists(&ctx, plural, name).await,
            "{plural}/{name} was deleted by an empty render"
        );
    }

    // diff shows the same verdict.
    let diff = ctx.kpush(&["diff", "-", "--release", "shop"]);
    diff.expect_code(2);
    assert!(diff.stderr.contains("--allow-empty"), "{}", diff.stderr);

    // An empty directory is an empty render too.
    let empty = tempfile::tempdir().expect("temp dir");
    let run = ctx.kpush(&[
        "apply",
        &empty.path().display().to_string(),
        "--release",
        "shop",
    ]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(exists(&ctx, "secrets", "db").await);

    // The Namespace --create-namespace adds is no rendered object.
    let run = ctx.kpush(&["apply", "-", "--release", "shop", "--create-namespace"]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(run.stderr.contains("--allow-empty"), "{}", run.stderr);
    assert!(exists(&ctx, "secrets", "db").await);

    // Asked for: the release is emptied.
    ctx.kpush(&["apply", "-", "--release", "shop", "--allow-empty"])
        .expect_code(0);
    assert!(!exists(&ctx, "secrets", "db").await);
    assert!(!exists(&ctx, "configmaps", "cm-0").await);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_prune_of_most_of_the_release_is_refused_unless_the_limit_allows_it() {
    let ctx = Ctx::new("guard-share").await;
    write_release(&ctx, 6);
    let path = ctx.path().display().to_string();
    ctx.kpush(&["apply", &path, "--release", "shop"])
        .expect_code(0);

    // A render that lost most of the release (a chart condition turned off): 6 of 7 go.
    for i in 0..6 {
        ctx.remove(&format!("cm-{i}.yaml"));
    }
    let run = ctx.kpush(&["apply", &path, "--release", "shop"]);
    run.expect_code(2);
    assert!(run.stderr.contains("6 of the 7"), "{}", run.stderr);
    assert!(run.stderr.contains("--prune-limit"), "{}", run.stderr);
    assert!(
        run.stderr.contains("ConfigMap guard-share/cm-0"),
        "{}",
        run.stderr
    );
    for i in 0..6 {
        assert!(
            exists(&ctx, "configmaps", &format!("cm-{i}")).await,
            "cm-{i} was pruned"
        );
    }
    let diff = ctx.kpush(&["diff", &path, "--release", "shop"]);
    diff.expect_code(2);
    assert!(diff.stderr.contains("--prune-limit"), "{}", diff.stderr);

    // A count above the prune, through the environment like every flag.
    ctx.kpush_env(
        "admin",
        &["apply", &path, "--release", "shop"],
        &[("KPUSH_PRUNE_LIMIT", "6")],
    )
    .expect_code(0);
    assert!(!exists(&ctx, "configmaps", "cm-0").await);
    assert!(exists(&ctx, "secrets", "db").await);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_small_prune_and_a_rollback_within_the_limit_go_ahead_but_a_large_rollback_does_not() {
    let ctx = Ctx::new("guard-rollback").await;
    ctx.write("db.yaml", &secret("db"));
    let path = ctx.path().display().to_string();
    ctx.kpush(&["apply", &path, "--release", "shop"])
        .expect_code(0);
    write_release(&ctx, 6);
    ctx.kpush(&["apply", &path, "--release", "shop"])
        .expect_code(0);
    // One of seven: an ordinary prune.
    ctx.remove("cm-5.yaml");
    ctx.kpush(&["apply", &path, "--release", "shop"])
        .expect_code(0);
    assert!(!exists(&ctx, "configmaps", "cm-5").await);

    // Revision 1 held the Secret alone: restoring it deletes 5 of 6.
    let run = ctx.kpush(&["rollback", "shop", "--to", "1"]);
    run.expect_code(2);
    assert!(run.stderr.contains("--prune-limit"), "{}", run.stderr);
    assert!(exists(&ctx, "configmaps", "cm-0").await);
    ctx.kpush(&["rollback", "shop", "--to", "1", "--prune-limit", "100%"])
        .expect_code(0);
    assert!(!exists(&ctx, "configmaps", "cm-0").await);
}

/// Requests `run` sent (kube's HTTP trace, `KPUSH_LOG=kube_client=debug`) whose URL contains
/// `fragment`.
fn requests_to(stderr: &str, fragment: &str) -> usize {
    stderr
        .lines()
        .filter(|l| l.trim_end().ends_with("requesting") && l.contains(fragment))
        .count()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_release_deploy_lists_its_members_once_and_prunes_what_the_guard_listed() {
    // The guard's preview lists the release's members before anything changes; the prune after
    // applying deletes those candidates instead of listing again (a round trip in sequence on
    // every release deploy, docs/benchmarks.md).
    let ctx = Ctx::new("guard-once").await;
    write_release(&ctx, 6);
    let path = ctx.path().display().to_string();
    let trace = [("KPUSH_LOG", "kube_client=debug")];
    let first = ctx.kpush_env("admin", &["apply", &path, "--release", "shop"], &trace);
    first.expect_code(0);
    let members = "configmaps?&labelSelector=applyset.kubernetes.io%2Fpart-of";
    assert_eq!(
        requests_to(&first.stderr, members),
        1,
        "first deploy: the release's ConfigMaps were not listed exactly once:\n{}",
        first.stderr
    );

    ctx.remove("cm-5.yaml");
    let run = ctx.kpush_env("admin", &["apply", &path, "--release", "shop"], &trace);
    run.expect_code(0);
    assert_eq!(
        requests_to(&run.stderr, members),
        1,
        "the release's ConfigMaps were not listed exactly once:\n{}",
        run.stderr
    );
    assert!(
        !exists(&ctx, "configmaps", "cm-5").await,
        "cm-5 was not pruned"
    );
    for i in 0..5 {
        assert!(exists(&ctx, "configmaps", &format!("cm-{i}")).await);
    }
    assert!(exists(&ctx, "secrets", "db").await);
    // The parent records exactly what is left.
    let parent = ctx.get(&ctx.core("secrets", "shop")).await.expect("parent");
    assert_eq!(parent_kinds(&parent), "ConfigMap,Secret");
    // An unchanged re-apply prunes nothing and still lists once.
    let again = ctx.kpush_env("admin", &["apply", &path, "--release", "shop"], &trace);
    again.expect_code(0);
    assert_eq!(requests_to(&again.stderr, members), 1, "{}", again.stderr);
    // The lock, freshly taken, is confirmed before the prune and before recording without
    // reading it again: its Lease is asked for only when taken and when released.
    let lease: Vec<_> = again
        .stderr
        .lines()
        .filter(|l| l.trim_end().ends_with("requesting") && l.contains("kpush.lock.shop"))
        .collect();
    assert_eq!(lease.len(), 3, "{}", lease.join("\n"));
    assert!(exists(&ctx, "configmaps", "cm-4").await);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_secret_named_like_the_release_is_refused_without_a_namespace_flag() {
    let ctx = Ctx::new("guard-parent").await;
    // The kubeconfig's context names the namespace; no -n is given (a chart's `fullname`
    // Secret has no namespace either).
    let kubeconfig = ctx
        .cluster
        .kubeconfig("admin")
        .expect("kubeconfig")
        .replace(
            "namespace: default",
            &format!("namespace: {}", ctx.namespace),
        );
    let config = ctx.write("kubeconfig", &kubeconfig);
    let manifests = tempfile::tempdir().expect("temp dir");
    std::fs::write(
        manifests.path().join("cm.yaml"),
        config_map("settings", "v"),
    )
    .expect("write");
    std::fs::write(manifests.path().join("secret.yaml"), secret("shop")).expect("write");
    let run = harness::binary::kpush(&[
        "apply".into(),
        manifests.path().display().to_string(),
        "--release".into(),
        "shop".into(),
        "--kubeconfig".into(),
        config.display().to_string(),
    ]);
    assert_eq!(run.code, 2, "{}\n{}", run.stdout, run.stderr);
    assert!(run.stderr.contains("secret.yaml:1"), "{}", run.stderr);
    assert!(run.stderr.contains("ApplySet parent"), "{}", run.stderr);
    assert!(
        !exists(&ctx, "configmaps", "settings").await,
        "something was applied"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn an_object_of_another_release_is_refused_unless_taken_over() {
    let ctx = Ctx::new("guard-owner").await;
    let a = tempfile::tempdir().expect("temp dir");
    std::fs::write(a.path().join("shared.yaml"), config_map("shared", "a")).expect("write");
    ctx.kpush(&[
        "apply",
        &a.path().display().to_string(),
        "--release",
        "alpha",
    ])
    .expect_code(0);
    let alpha_id = kpush::plan::ApplySet::new("alpha", &ctx.namespace).id();

    let b = ctx.path().display().to_string();
    ctx.write("own.yaml", &config_map("own", "b"));
    ctx.write("shared.yaml", &config_map("shared", "b"));
    let run = ctx.kpush(&["apply", &b, "--release", "beta"]);
    run.expect_code(3);
    assert!(run.stderr.contains("shared.yaml:1"), "{}", run.stderr);
    assert!(run.stderr.contains("release alpha"), "{}", run.stderr);
    assert!(
        run.stderr.contains("--take-over-from-releases"),
        "{}",
        run.stderr
    );
    let shared = ctx
        .get(&ctx.core("configmaps", "shared"))
        .await
        .expect("shared");
    assert_eq!(shared["data"]["key"], "a");
    assert_eq!(
        shared["metadata"]["labels"]["applyset.kubernetes.io/part-of"],
        alpha_id.as_str()
    );
    assert!(
        !exists(&ctx, "configmaps", "own").await,
        "something was applied"
    );
    // diff gives the same verdict.
    let diff = ctx.kpush(&["diff", &b, "--release", "beta"]);
    diff.expect_code(3);
    assert!(
        diff.stderr.contains("--take-over-from-releases"),
        "{}",
        diff.stderr
    );

    ctx.kpush(&[
        "apply",
        &b,
        "--release",
        "beta",
        "--take-over-from-releases",
    ])
    .expect_code(0);
    let shared = ctx
        .get(&ctx.core("configmaps", "shared"))
        .await
        .expect("shared");
    assert_eq!(shared["data"]["key"], "b");
    assert_eq!(
        shared["metadata"]["labels"]["applyset.kubernetes.io/part-of"],
        kpush::plan::ApplySet::new("beta", &ctx.namespace)
            .id()
            .as_str()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn drift_warns_when_restoring_its_revision_would_be_refused() {
    let ctx = Ctx::new("guard-drift").await;
    ctx.write("cm-0.yaml", &config_map("cm-0", "v"));
    let path = ctx.path().display().to_string();
    ctx.kpush(&["apply", &path, "--release", "shop"])
        .expect_code(0);
    // Members the revision does not hold (labelled by hand, or left by a failed deploy).
    let id = kpush::plan::ApplySet::new("shop", &ctx.namespace).id();
    let client = ctx.client().await;
    let config_maps: kube::Api<kube::core::DynamicObject> = kube::Api::namespaced_with(
        client,
        &ctx.namespace,
        &ApiResource {
            group: String::new(),
            version: "v1".into(),
            api_version: "v1".into(),
            kind: "ConfigMap".into(),
            plural: "configmaps".into(),
        },
    );
    for i in 1..7 {
        let name = format!("extra-{i}");
        let cm: kube::core::DynamicObject = serde_json::from_value(json!({
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": name, "labels": {"applyset.kubernetes.io/part-of": id}},
        }))
        .expect("ConfigMap");
        config_maps
            .patch(&name, &PatchParams::apply("someone"), &Patch::Apply(&cm))
            .await
            .expect("create ConfigMap");
    }
    let drift = ctx.kpush(&["drift", "shop"]);
    drift.expect_code(1);
    assert!(
        drift.stderr.contains("would be refused") && drift.stderr.contains("--prune-limit"),
        "{}\n{}",
        drift.stdout,
        drift.stderr
    );
    assert!(drift.stdout.contains("extra-1"), "{}", drift.stdout);
}
