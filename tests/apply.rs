//! `kpush apply` against the real control plane (kube-apiserver 1.35): one namespace per test,
//! the real binary, its output and exit codes, and the cluster's state read back through the API.

mod harness;

use std::path::Path;

use harness::binary::{Ctx, config_map, deployment};

const GUESTBOOK: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/guestbook");

fn lines_with<'a>(out: &'a str, word: &str) -> Vec<&'a str> {
    out.lines().filter(|l| l.starts_with(word)).collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn guestbook_applies_then_reapply_is_unchanged_and_a_new_image_configures() {
    let ctx = Ctx::new("apply-guestbook").await;
    let first = ctx.kpush(&["apply", GUESTBOOK]);
    first.expect_code(0);
    assert_eq!(
        lines_with(&first.stderr, "created").len(),
        6,
        "{}",
        first.stderr
    );
    assert!(
        first
            .stderr
            .contains("created    Deployment apply-guestbook/web"),
        "{}",
        first.stderr
    );
    assert!(
        first.stderr.contains("web.yaml:14)"),
        "origin is shown: {}",
        first.stderr
    );
    // Service ports without protocol were accepted (defaulted to TCP before sending).
    let svc = ctx
        .get(&ctx.core("services", "redis"))
        .await
        .expect("service exists");
    assert_eq!(svc["spec"]["ports"][0]["protocol"], "TCP");
    let web = ctx
        .get(&ctx.grouped("apps/v1", "deployments", "web"))
        .await
        .expect("deployment exists");
    assert_eq!(web["metadata"]["managedFields"][0]["manager"], "kpush");
    // Controllers never write ConfigMaps: its resourceVersion shows whether kpush did.
    let config = ctx
        .get(&ctx.core("configmaps", "web-config"))
        .await
        .expect("configmap exists");

    let again = ctx.kpush(&["apply", GUESTBOOK]);
    again.expect_code(0);
    assert_eq!(
        lines_with(&again.stderr, "unchanged").len(),
        6,
        "{}",
        again.stderr
    );
    assert!(
        again.stderr.contains("6 objects: 6 unchanged"),
        "{}",
        again.stderr
    );
    let config_again = ctx
        .get(&ctx.core("configmaps", "web-config"))
        .await
        .expect("exists");
    assert_eq!(
        config["metadata"]["resourceVersion"], config_again["metadata"]["resourceVersion"],
        "nothing was written"
    );

    let changed = ctx.kpush(&[
        "apply",
        GUESTBOOK,
        "--image",
        "ghcr.io/kpush-dev/guestbook-web=:2.0.0",
    ]);
    changed.expect_code(0);
    assert_eq!(
        lines_with(&changed.stderr, "configured"),
        vec![
            "configured Deployment apply-guestbook/web (".to_string() + GUESTBOOK + "/web.yaml:14)"
        ],
        "{}",
        changed.stderr
    );
    assert!(
        changed.stderr.contains("1 configured, 5 unchanged"),
        "{}",
        changed.stderr
    );
    let web = ctx
        .get(&ctx.grouped("apps/v1", "deployments", "web"))
        .await
        .expect("exists");
    assert_eq!(
        web["spec"]["template"]["spec"]["containers"][0]["image"],
        "ghcr.io/kpush-dev/guestbook-web:2.0.0"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn ci_run_annotations_alone_do_not_make_objects_configured() {
    let ctx = Ctx::new("apply-run-annotations").await;
    ctx.write("cm.yaml", &config_map("settings", "one"));
    let ci = |sha: &'static str| {
        vec![
            ("GITHUB_ACTIONS", "true"),
            ("GITHUB_REPOSITORY", "o/r"),
            ("GITHUB_RUN_ID", "7"),
            ("GITHUB_SHA", sha),
            // Plain output: this test is about run annotations, not the GitHub log dialect.
            ("KPUSH_CI", "none"),
        ]
    };
    let path = ctx.path().display().to_string();
    ctx.kpush_env("admin", &["apply", &path], &ci("aaa"))
        .expect_code(0);
    let second = ctx.kpush_env("admin", &["apply", &path], &ci("bbb"));
    second.expect_code(0);
    assert!(
        second
            .stderr
            .starts_with("unchanged  ConfigMap apply-run-annotations/settings"),
        "{}",
        second.stderr
    );
    let cm = ctx
        .get(&ctx.core("configmaps", "settings"))
        .await
        .expect("exists");
    assert_eq!(
        cm["metadata"]["annotations"]["kpush.dev/commit"], "aaa",
        "annotations name the run that last changed it"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_crd_and_a_custom_resource_of_it_apply_in_one_run() {
    let ctx = Ctx::new("apply-crd").await;
    ctx.write(
        "crontab.yaml",
        "apiVersion: stable.example.com/v1
kind: CronTab
metadata:
  name: nightly
spec:
  cronSpec: \"0 3 * * *\"
",
    );
    ctx.write(
        "crd.yaml",
        "apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: crontabs.stable.example.com
spec:
  group: stable.example.com
  scope: Namespaced
  names: {plural: crontabs, singular: crontab, kind: CronTab}
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
              properties:
                cronSpec: {type: string}
",
    );
    let run = ctx.kpush(&["apply", &ctx.path().display().to_string()]);
    run.expect_code(0);
    let crd_line = run
        .stderr
        .find("CustomResourceDefinition")
        .expect("crd reported");
    let cr_line = run
        .stderr
        .find("CronTab apply-crd/nightly")
        .expect("cr reported");
    assert!(crd_line < cr_line, "the CRD goes first: {}", run.stderr);
    let cr = ctx
        .get(&ctx.grouped("stable.example.com/v1", "crontabs", "nightly"))
        .await
        .expect("custom resource exists");
    assert_eq!(cr["spec"]["cronSpec"], "0 3 * * *");
}

#[tokio::test(flavor = "multi_thread")]
async fn preflight_rejection_of_one_object_leaves_the_cluster_untouched_and_names_file_line() {
    let ctx = Ctx::new("apply-preflight").await;
    for i in 0..8 {
        ctx.write(
            &format!("cm-{i}.yaml"),
            &config_map(&format!("cm-{i}"), "v"),
        );
    }
    // Line 1 is a comment: the object starts at line 2.
    ctx.write(
        "web.yaml",
        &format!(
            "# broken on purpose\n{}",
            deployment("web", "nginx:1.25", "web").replace("replicas: 1", "replicas: -1")
        ),
    );
    let run = ctx.kpush(&["apply", &ctx.path().display().to_string()]);
    run.expect_code(3);
    assert!(
        run.stderr.contains("web.yaml:2"),
        "names file:line: {}",
        run.stderr
    );
    assert!(
        run.stderr.contains("spec.replicas"),
        "names the field: {}",
        run.stderr
    );
    assert!(run.stderr.contains("nothing was applied"), "{}", run.stderr);
    for i in 0..8 {
        assert!(
            ctx.get(&ctx.core("configmaps", &format!("cm-{i}")))
                .await
                .is_none(),
            "cm-{i} must not exist"
        );
    }
}

/// Server-side apply answers a value of the wrong type (a YAML boolean where a string belongs:
/// `value: yes` of an environment variable) with a 500: the object's error, not an outage. It
/// is a preflight rejection with the field and the fix, exit 3, at once (not after
/// `--retry-budget` of retries and "cluster unreachable, check VPN/firewall", exit 6).
#[tokio::test(flavor = "multi_thread")]
async fn a_boolean_where_a_string_belongs_is_rejected_at_preflight_with_the_fix_and_no_retry() {
    let ctx = Ctx::new("apply-typed-500").await;
    ctx.write("cm-ok.yaml", &config_map("cm-ok", "v"));
    let web = deployment("web", "nginx:1.27", "web");
    let web = web.replace(
        "image: nginx:1.27\n",
        "image: nginx:1.27\n          env:\n            - name: FEATURE\n              value: yes\n",
    );
    assert!(web.contains("value: yes"), "{web}");
    ctx.write("web.yaml", &format!("# env values are strings\n{web}"));
    let started = std::time::Instant::now();
    let run = ctx.kpush(&[
        "apply",
        &ctx.path().display().to_string(),
        "--retry-budget",
        "20s",
    ]);
    let took = started.elapsed();
    run.expect_code(3);
    assert!(
        took < std::time::Duration::from_secs(15),
        "retried as an outage ({took:?}): {}",
        run.stderr
    );
    for expected in [
        "web.yaml:2",
        "env[name=\"FEATURE\"].value must be a string",
        "value: \"true\"",
        "nothing was applied",
    ] {
        assert!(run.stderr.contains(expected), "{expected}: {}", run.stderr);
    }
    for wrong in ["retrying", "cannot reach", "VPN"] {
        assert!(!run.stderr.contains(wrong), "{wrong}: {}", run.stderr);
    }
    assert!(ctx.get(&ctx.core("configmaps", "cm-ok")).await.is_none());
}

#[tokio::test(flavor = "multi_thread")]
async fn prune_deletes_an_object_removed_from_the_manifests_and_nothing_else() {
    let ctx = Ctx::new("apply-prune").await;
    for n in ["keep", "drop"] {
        ctx.write(&format!("{n}.yaml"), &config_map(n, "v"));
    }
    let outsider = Ctx {
        cluster: ctx.cluster,
        namespace: ctx.namespace.clone(),
        dir: tempfile::tempdir().expect("dir"),
    };
    outsider.write("outsider.yaml", &config_map("outsider", "v"));
    outsider
        .kpush(&["apply", &outsider.path().display().to_string()])
        .expect_code(0);

    let path = ctx.path().display().to_string();
    ctx.kpush(&["apply", &path, "--applyset", "shop", "--prune"])
        .expect_code(0);
    let parent = ctx
        .get(&ctx.core("secrets", "shop"))
        .await
        .expect("applyset parent");
    let id = parent["metadata"]["labels"]["applyset.kubernetes.io/id"]
        .as_str()
        .expect("id label")
        .to_string();
    assert!(id.starts_with("applyset-") && id.ends_with("-v1"), "{id}");
    assert_eq!(
        parent["metadata"]["annotations"]["applyset.kubernetes.io/tooling"],
        format!("kpush/v{}", env!("CARGO_PKG_VERSION"))
    );
    assert_eq!(
        parent["metadata"]["annotations"]["applyset.kubernetes.io/contains-group-kinds"],
        "ConfigMap"
    );
    let keep = ctx
        .get(&ctx.core("configmaps", "keep"))
        .await
        .expect("member");
    assert_eq!(
        keep["metadata"]["labels"]["applyset.kubernetes.io/part-of"],
        id.as_str()
    );

    ctx.remove("drop.yaml");
    let run = ctx.kpush(&["apply", &path, "--applyset", "shop", "--prune"]);
    run.expect_code(0);
    assert!(
        run.stderr.contains("pruned     ConfigMap apply-prune/drop"),
        "{}",
        run.stderr
    );
    assert!(
        ctx.get(&ctx.core("configmaps", "drop")).await.is_none(),
        "drop was pruned"
    );
    assert!(
        ctx.get(&ctx.core("configmaps", "keep")).await.is_some(),
        "keep survives"
    );
    assert!(
        ctx.get(&ctx.core("configmaps", "outsider")).await.is_some(),
        "objects outside the set survive"
    );
    assert!(
        ctx.get(&ctx.core("configmaps", "kube-root-ca.crt"))
            .await
            .is_some()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_conflict_names_the_field_and_its_manager_and_force_conflicts_takes_it() {
    let ctx = Ctx::new("apply-conflict").await;
    let path = ctx
        .write("cm.yaml", &config_map("shared", "mine"))
        .display()
        .to_string();
    // Another team owns data.key through server-side apply (a manager kpush does not take
    // over from: not a deploy tool of the adoption table).
    let other = ctx
        .write("other/cm.yaml", &config_map("shared", "theirs"))
        .display()
        .to_string();
    ctx.kpush(&["apply", &other, "--field-manager", "platform-team"])
        .expect_code(0);

    let run = ctx.kpush(&["apply", &path]);
    run.expect_code(3);
    assert!(run.stderr.contains("cm.yaml:1"), "{}", run.stderr);
    assert!(
        run.stderr
            .contains(".data.key (owned by \"platform-team\")"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("--force-conflicts"), "{}", run.stderr);
    let cm = ctx
        .get(&ctx.core("configmaps", "shared"))
        .await
        .expect("exists");
    assert_eq!(cm["data"]["key"], "theirs");

    ctx.kpush(&["apply", &path, "--force-conflicts"])
        .expect_code(0);
    let cm = ctx
        .get(&ctx.core("configmaps", "shared"))
        .await
        .expect("exists");
    assert_eq!(cm["data"]["key"], "mine");
}

#[tokio::test(flavor = "multi_thread")]
async fn an_immutable_selector_change_is_rejected_then_recreated_with_the_flag() {
    let ctx = Ctx::new("apply-immutable").await;
    let path = ctx
        .write("web.yaml", &deployment("web", "nginx:1.25", "web"))
        .display()
        .to_string();
    ctx.kpush(&["apply", &path]).expect_code(0);
    let before = ctx
        .get(&ctx.grouped("apps/v1", "deployments", "web"))
        .await
        .expect("exists");

    ctx.write("web.yaml", &deployment("web", "nginx:1.25", "web-v2"));
    let run = ctx.kpush(&["apply", &path]);
    run.expect_code(3);
    assert!(run.stderr.contains("web.yaml:1"), "{}", run.stderr);
    assert!(
        run.stderr.contains("spec.selector cannot change"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("--recreate-on-immutable"),
        "{}",
        run.stderr
    );

    let run = ctx.kpush(&["apply", &path, "--recreate-on-immutable"]);
    run.expect_code(0);
    assert!(
        run.stderr
            .contains("recreated  Deployment apply-immutable/web"),
        "{}",
        run.stderr
    );
    let after = ctx
        .get(&ctx.grouped("apps/v1", "deployments", "web"))
        .await
        .expect("exists");
    assert_ne!(
        before["metadata"]["uid"], after["metadata"]["uid"],
        "a new object"
    );
    assert_eq!(after["spec"]["selector"]["matchLabels"]["app"], "web-v2");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_user_bound_in_one_namespace_is_forbidden_in_another_with_advice() {
    let ctx = Ctx::new("apply-forbidden").await;
    let allowed = Ctx::new("apply-forbidden-ok").await;
    allowed.write(
        "rb.yaml",
        "apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata:
  name: alice-edit
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: edit}
subjects: [{apiGroup: rbac.authorization.k8s.io, kind: User, name: alice}]
",
    );
    allowed
        .kpush(&["apply", &allowed.path().display().to_string()])
        .expect_code(0);

    let cm = ctx
        .write("cm.yaml", &config_map("settings", "v"))
        .display()
        .to_string();
    let ok = Ctx {
        cluster: allowed.cluster,
        namespace: allowed.namespace.clone(),
        dir: tempfile::tempdir().expect("dir"),
    };
    ok.kpush_as("alice", &["apply", &cm]).expect_code(0);

    // The access check would refuse first (tests/rbac.rs); this is about the API server's 403.
    let run = ctx.kpush_as("alice", &["apply", &cm, "--no-rbac-check"]);
    run.expect_code(3);
    assert!(run.stderr.contains("cm.yaml:1"), "{}", run.stderr);
    assert!(
        run.stderr.contains("Forbidden (403)")
            && run.stderr.contains("User \"alice\" cannot patch"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("RoleBinding") && run.stderr.contains("namespace apply-forbidden"),
        "{}",
        run.stderr
    );
    assert!(ctx.get(&ctx.core("configmaps", "settings")).await.is_none());
}

#[tokio::test(flavor = "multi_thread")]
async fn an_unreachable_server_exits_6_with_advice() {
    let ctx = Ctx::new("apply-unreachable").await;
    let cm = ctx
        .write("cm.yaml", &config_map("settings", "v"))
        .display()
        .to_string();
    // A port that was just free: nothing listens there.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("port")
        .port();
    let kubeconfig = ctx
        .cluster
        .kubeconfig("admin")
        .expect("kubeconfig")
        .replace(ctx.cluster.server(), &format!("https://127.0.0.1:{port}"));
    let kc = ctx.write("closed.kubeconfig", &kubeconfig);
    let run = harness::binary::kpush(&[
        "apply".into(),
        cm,
        "--kubeconfig".into(),
        kc.display().to_string(),
        "-n".into(),
        ctx.namespace.clone(),
    ]);
    run.expect_code(6);
    assert!(
        run.stderr.contains(&format!(
            "cannot reach the API server at https://127.0.0.1:{port}"
        )),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("Connection refused"), "{}", run.stderr);
    assert!(run.stderr.contains("nothing was applied"), "{}", run.stderr);
    assert!(!Path::new(&run.stderr).exists());
}

#[tokio::test(flavor = "multi_thread")]
async fn one_object_in_two_api_versions_from_a_kustomization_is_refused_before_applying() {
    // kubectl kustomize renders both samples (kustomize keys objects by version too), but on the
    // server they are one object: applying both would keep whichever came last.
    let ctx = Ctx::new("apply-two-versions").await;
    ctx.write(
        "k/kustomization.yaml",
        "resources:\n- cm.yaml\n- v1.yaml\n- v2.yaml\n",
    );
    ctx.write("k/cm.yaml", &config_map("first", "v"));
    for v in ["v1", "v2"] {
        ctx.write(
            &format!("k/{v}.yaml"),
            &format!(
                "apiVersion: crew.example.org/{v}\nkind: FirstMate\nmetadata:\n  name: sample\n"
            ),
        );
    }
    let dir = ctx.path().join("k").display().to_string();
    // Rendering keeps both, as kubectl kustomize does.
    let render = harness::binary::kpush(&["render".into(), dir.clone()]);
    render.expect_code(0);
    assert!(
        render.stdout.contains("crew.example.org/v1")
            && render.stdout.contains("crew.example.org/v2"),
        "{}",
        render.stdout
    );
    let run = ctx.kpush(&["apply", &dir]);
    run.expect_code(2);
    assert!(
        run.stderr.contains(
            "v2.yaml:1: FirstMate apply-two-versions/sample is defined twice, as \
             crew.example.org/v2 here and as crew.example.org/v1 at"
        ) && run.stderr.contains("v1.yaml:1"),
        "{}",
        run.stderr
    );
    assert!(
        ctx.get(&ctx.core("configmaps", "first")).await.is_none(),
        "nothing is applied"
    );
}
