//! Least privilege against the real control plane (RBAC authorization on): `kpush rbac`'s
//! output, applied with kubectl and bound to a user with no other rights, is exactly enough for
//! `kpush apply` (tracking, release records, lock and prune included); without one of its rules
//! the apply's access check refuses before changing anything, naming the permission.

mod harness;

use harness::binary::{Ctx, Run, config_map, deployment};

/// Runs kubectl as admin.
fn kubectl(ctx: &Ctx, args: &[&str]) -> String {
    let kubectl = ctx
        .cluster
        .kubectl()
        .expect("kubectl is built with the control plane");
    let out = std::process::Command::new(kubectl)
        .args(args)
        .arg("--kubeconfig")
        .arg(ctx.cluster.kubeconfig_path("admin"))
        .output()
        .expect("run kubectl");
    assert!(
        out.status.success(),
        "kubectl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn priority_class(name: &str) -> String {
    format!(
        "apiVersion: scheduling.k8s.io/v1\nkind: PriorityClass\nmetadata:\n  name: {name}\nvalue: 1000\n"
    )
}

/// Secrets and Leases of release `release` in the test's namespace: (revision records, lock).
async fn release_state(ctx: &Ctx, release: &str) -> (usize, bool) {
    let secrets = ctx
        .get(&format!(
            "/api/v1/namespaces/{}/secrets?labelSelector=kpush.dev/release%3D{release}",
            ctx.namespace
        ))
        .await
        .expect("secrets list");
    let records = secrets["items"].as_array().map_or(0, Vec::len);
    let lease = ctx
        .get(&format!(
            "/apis/coordination.k8s.io/v1/namespaces/{}/leases/kpush.lock.{release}",
            ctx.namespace
        ))
        .await;
    (records, lease.is_some())
}

fn assert_names(run: &Run, what: &str) {
    assert!(
        run.stderr.contains(what),
        "expected `{what}` in:\n{}",
        run.stderr
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn rbac_output_is_enough_for_apply_with_release_prune_and_tracking_and_one_rule_less_is_refused()
 {
    let ctx = Ctx::new("rbac-least").await;
    let ns = ctx.namespace.clone();
    ctx.write(
        "web.yaml",
        &deployment("web", "registry.example/web:1", "web"),
    );
    ctx.write("settings.yaml", &config_map("settings", "v1"));
    ctx.write("priority.yaml", &priority_class("rbac-least-high"));
    let path = ctx.path().display().to_string();

    let rbac = ctx.kpush(&[
        "rbac",
        &path,
        "--release",
        "shop",
        "--subject",
        "user:bob",
        "--name",
        "rbac-least",
    ]);
    rbac.expect_code(0);
    // Files that are not manifests live beside the manifest dir.
    let side = tempfile::tempdir().expect("temp dir");
    let roles = side.path().join("roles.yaml");
    std::fs::write(&roles, &rbac.stdout).expect("write roles");
    kubectl(&ctx, &["apply", "-f", &roles.display().to_string()]);
    assert!(
        rbac.stdout.contains("kind: ClusterRole\n"),
        "{}",
        rbac.stdout
    );
    assert!(rbac.stdout.contains("priorityclasses"), "{}", rbac.stdout);

    // As bob, with exactly these roles: apply, track, record, lock.
    let first = ctx.kpush_as("bob", &["apply", &path, "--release", "shop"]);
    first.expect_code(0);
    assert!(
        ctx.get(&ctx.grouped("apps/v1", "deployments", "web"))
            .await
            .is_some()
    );
    assert_eq!(release_state(&ctx, "shop").await, (1, false));

    // Prune: the ConfigMap leaves the manifests and is deleted, as bob.
    ctx.remove("settings.yaml");
    let second = ctx.kpush_as("bob", &["apply", &path, "--release", "shop"]);
    second.expect_code(0);
    assert!(
        second.stderr.contains("pruned") && second.stderr.contains("settings"),
        "{}",
        second.stderr
    );
    assert!(ctx.get(&ctx.core("configmaps", "settings")).await.is_none());

    // One rule less: the Role no longer grants delete on Deployments (prune needs it).
    let role = kubectl(
        &ctx,
        &["get", "role", "rbac-least", "-n", &ns, "-o", "json"],
    );
    let mut role: serde_json::Value = serde_json::from_str(&role).expect("role json");
    for rule in role["rules"].as_array_mut().expect("rules") {
        if rule["resources"][0] == "deployments"
            && let Some(verbs) = rule["verbs"].as_array_mut()
        {
            verbs.retain(|v| v != "delete");
        }
    }
    let trimmed = side.path().join("trimmed.json");
    std::fs::write(&trimmed, serde_json::to_string(&role).expect("json")).expect("write role");
    kubectl(&ctx, &["replace", "-f", &trimmed.display().to_string()]);
    ctx.write(
        "web.yaml",
        &deployment("web", "registry.example/web:2", "web"),
    );
    ctx.write("settings.yaml", &config_map("settings", "v2"));
    let refused = ctx.kpush_as("bob", &["apply", &path, "--release", "shop"]);
    refused.expect_code(3);
    assert_names(
        &refused,
        &format!("cannot delete deployments.apps in namespace {ns}"),
    );
    assert_names(&refused, "prune the release's objects");
    assert_names(&refused, "lacks 1 permission this apply needs");
    assert_names(&refused, "\"bob\" lacks 1 permission");
    assert_names(&refused, "`kpush rbac`");
    assert_names(&refused, "--subject user:bob");
    // Nothing changed: no new image, no ConfigMap, no new revision, no lock left.
    let web = ctx
        .get(&ctx.grouped("apps/v1", "deployments", "web"))
        .await
        .expect("web");
    assert_eq!(
        web["spec"]["template"]["spec"]["containers"][0]["image"],
        "registry.example/web:1"
    );
    assert!(ctx.get(&ctx.core("configmaps", "settings")).await.is_none());
    assert_eq!(release_state(&ctx, "shop").await, (2, false));

    // The check can be turned off: the apply then goes ahead (prune has nothing to delete).
    let unchecked = ctx.kpush_as(
        "bob",
        &["apply", &path, "--release", "shop", "--no-rbac-check"],
    );
    unchecked.expect_code(0);
    assert_eq!(release_state(&ctx, "shop").await, (3, false));

    // A rollback is checked too, before its lock: the revision it restores still prunes.
    let rollback = ctx.kpush_as("bob", &["rollback", "shop"]);
    rollback.expect_code(3);
    assert_names(
        &rollback,
        &format!("cannot delete deployments.apps in namespace {ns}"),
    );
    assert_eq!(release_state(&ctx, "shop").await, (3, false));
    kubectl(
        &ctx,
        &["delete", "clusterrolebinding,clusterrole", "rbac-least"],
    );
    kubectl(&ctx, &["delete", "priorityclass", "rbac-least-high"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_user_without_rights_is_refused_before_any_change_with_every_missing_permission() {
    let ctx = Ctx::new("rbac-none").await;
    let ns = ctx.namespace.clone();
    ctx.write(
        "web.yaml",
        &deployment("web", "registry.example/web:1", "web"),
    );
    let path = ctx.path().display().to_string();
    let run = ctx.kpush_as("alice", &["apply", &path, "--release", "web", "-o", "json"]);
    run.expect_code(3);
    let doc: serde_json::Value = serde_json::from_str(&run.stdout).expect("one JSON document");
    let missing = doc["missingPermissions"]
        .as_array()
        .expect("missingPermissions");
    assert!(
        missing.iter().any(|p| p["verb"] == "create"
            && p["resource"] == "leases"
            && p["group"] == "coordination.k8s.io"
            && p["namespace"] == ns.as_str()
            && p["needs"][0] == "releaseLock"
            && p["optional"] == false),
        "{}",
        run.stdout
    );
    assert!(
        missing
            .iter()
            .any(|p| p["subresource"] == "log" && p["optional"] == true),
        "{}",
        run.stdout
    );
    for missing in [
        format!("cannot patch deployments.apps in namespace {ns} (needed to apply"),
        format!("cannot watch pods in namespace {ns}"),
        format!("cannot watch replicasets.apps in namespace {ns}"),
        format!("cannot create leases.coordination.k8s.io in namespace {ns}"),
        format!("cannot list secrets in namespace {ns} (needed to record the release's revisions"),
    ] {
        assert_names(&run, &missing);
    }
    assert!(
        run.stderr.contains("warning: cannot get pods/log"),
        "optional permissions are warnings: {}",
        run.stderr
    );
    assert!(
        ctx.get(&ctx.grouped("apps/v1", "deployments", "web"))
            .await
            .is_none()
    );
    assert_eq!(release_state(&ctx, "web").await, (0, false));

    // In GitHub Actions each missing permission is an annotation: errors and a warning.
    let github = ctx.kpush_as(
        "alice",
        &["apply", &path, "--release", "web", "--ci", "github"],
    );
    github.expect_code(3);
    assert_names(
        &github,
        &format!(
            "::error title=kpush%3A missing permission::cannot patch deployments.apps in namespace {ns}"
        ),
    );
    assert_names(
        &github,
        "::warning title=kpush%3A missing permission::cannot get pods/log",
    );
    assert_names(
        &github,
        "flags and `--subject user:alice`, and apply its output",
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn offline_rbac_for_built_in_kinds_equals_the_clusters() {
    let ctx = Ctx::new("rbac-offline").await;
    ctx.write(
        "web.yaml",
        &deployment("web", "registry.example/web:1", "web"),
    );
    ctx.write("settings.yaml", &config_map("settings", "v1"));
    ctx.write("priority.yaml", &priority_class("rbac-offline-high"));
    ctx.write(
        "policy.yaml",
        "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata:\n  name: deny\nspec:\n  podSelector: {}\n",
    );
    let path = ctx.path().display().to_string();
    let args = ["rbac", &path, "--release", "web", "--subject", "group:ops"];
    let online = ctx.kpush(&args);
    online.expect_code(0);
    let mut with_offline = args.to_vec();
    with_offline.push("--offline");
    let offline = ctx.kpush(&with_offline);
    offline.expect_code(0);
    let body = |s: &str| {
        s.lines()
            .filter(|l| !l.starts_with("# "))
            .collect::<Vec<_>>()
            .join("\n")
    };
    assert_eq!(body(&online.stdout), body(&offline.stdout));
    assert!(
        offline.stdout.contains("networkpolicies"),
        "{}",
        offline.stdout
    );

    let crd = ctx.write(
        "cr.yaml",
        "apiVersion: stable.example.com/v1\nkind: CronTab\nmetadata:\n  name: x\n",
    );
    let unknown = ctx.kpush(&["rbac", &crd.display().to_string(), "--offline"]);
    unknown.expect_code(2);
    assert_names(&unknown, "cr.yaml:1");
    assert_names(&unknown, "without --offline");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_namespace_the_apply_creates_is_granted_by_the_cluster_role_to_a_service_account() {
    let ctx = Ctx::new("rbac-sa").await;
    let target = "rbac-created";
    kubectl(
        &ctx,
        &["create", "serviceaccount", "deployer", "-n", &ctx.namespace],
    );
    let token = kubectl(
        &ctx,
        &[
            "create",
            "token",
            "deployer",
            "-n",
            &ctx.namespace,
            "--duration",
            "1h",
        ],
    );
    let admin = ctx.cluster.kubeconfig("admin").expect("kubeconfig");
    let side = tempfile::tempdir().expect("temp dir");
    let kubeconfig = side.path().join("deployer.kubeconfig");
    std::fs::write(
        &kubeconfig,
        admin.replace(ctx.cluster.token("admin"), token.trim()),
    )
    .expect("write kubeconfig");
    ctx.write("settings.yaml", &config_map("settings", "v1"));
    ctx.write(
        "web.yaml",
        &deployment("web", "registry.example/web:1", "web"),
    );
    let path = ctx.path().display().to_string();
    // (A release cannot live in a namespace the apply creates: its lock comes first.)
    let flags = ["-n", target, "--create-namespace"];

    let mut rbac_args = vec!["rbac", path.as_str()];
    rbac_args.extend(flags);
    rbac_args.extend([
        "--subject",
        "serviceaccount:rbac-sa/deployer",
        "--name",
        target,
    ]);
    let rbac = harness::binary::kpush(&with_admin(&ctx, &rbac_args));
    rbac.expect_code(0);
    assert!(
        !rbac.stdout.contains("kind: Role\n"),
        "no Role can exist before its namespace:\n{}",
        rbac.stdout
    );
    assert!(
        rbac.stdout.contains("cannot hold a Role before it runs")
            && rbac.stdout.contains("[in rbac-created]"),
        "{}",
        rbac.stdout
    );
    let roles = side.path().join("roles.yaml");
    std::fs::write(&roles, &rbac.stdout).expect("write roles");
    kubectl(&ctx, &["apply", "-f", &roles.display().to_string()]);

    let mut apply_args = vec!["apply".to_string(), path.clone()];
    apply_args.extend(flags.map(str::to_string));
    apply_args.extend(["--kubeconfig".into(), kubeconfig.display().to_string()]);
    let run = harness::binary::kpush(&apply_args);
    run.expect_code(0);
    assert!(
        ctx.get(&format!("/api/v1/namespaces/{target}/configmaps/settings"))
            .await
            .is_some()
    );
    kubectl(&ctx, &["delete", "clusterrolebinding,clusterrole", target]);
    kubectl(&ctx, &["delete", "namespace", target, "--wait=false"]);
}

/// `args` with the admin kubeconfig.
fn with_admin(ctx: &Ctx, args: &[&str]) -> Vec<String> {
    let mut all: Vec<String> = args.iter().map(|s| s.to_string()).collect();
    all.extend([
        "--kubeconfig".to_string(),
        ctx.cluster.kubeconfig_path("admin").display().to_string(),
    ]);
    all
}

#[tokio::test(flavor = "multi_thread")]
async fn the_offline_table_names_every_served_built_in_kinds_resource_and_scope() {
    use kpush::render::patch::schema;
    use kube::core::{ApiResource, GroupVersionKind};
    use kube::discovery::{Discovery, Scope};
    let client = kpush_testenv::TestCluster::shared()
        .client("admin")
        .await
        .expect("client");
    let discovery = Discovery::new(client).run().await.expect("discovery");
    let mut checked = 0;
    let mut wrong = Vec::new();
    for group in discovery.groups() {
        for (served, caps) in group.recommended_resources() {
            // Create-only review kinds (TokenReview, SelfSubjectReview, …) are never deployed.
            if !schema::is_builtin_kind(&served.api_version, &served.kind)
                || !caps.supports_operation("get")
            {
                continue;
            }
            let gvk = GroupVersionKind::gvk(&served.group, &served.version, &served.kind);
            let plural = ApiResource::from_gvk(&gvk).plural;
            let cluster = schema::is_cluster_scoped(&served.group, &served.kind);
            if plural != served.plural || cluster != matches!(caps.scope, Scope::Cluster) {
                wrong.push(format!(
                    "{} {}: table says {plural} cluster={cluster}, the cluster {} {:?}",
                    served.api_version, served.kind, served.plural, caps.scope
                ));
            }
            checked += 1;
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    assert!(checked > 50, "only {checked} built-in kinds served");
}

/// A hook Job of chart `app`.
fn hook_job(name: &str, hook: &str, policy: Option<&str>) -> String {
    let policy = policy
        .map(|p| format!("\n    helm.sh/hook-delete-policy: {p}"))
        .unwrap_or_default();
    format!(
        "apiVersion: batch/v1
kind: Job
metadata:
  name: {{{{ .Release.Name }}}}-{name}
  annotations:
    helm.sh/hook: {hook}{policy}
spec:
  backoffLimit: 0
  template:
    spec:
      restartPolicy: Never
      containers:
        - name: run
          image: example.com/{name}:1
"
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn a_charts_hooks_run_and_are_deleted_by_policy_with_exactly_the_printed_roles() {
    use kpush_testenv::helm::{HelmMajor, helm};
    let ctx = Ctx::new("rbac-chart").await;
    let helm = helm(HelmMajor::V3)
        .unwrap_or_else(|e| panic!("{e:#}"))
        .display()
        .to_string();
    ctx.write(
        "app/Chart.yaml",
        "apiVersion: v2\nname: app\nversion: 1.0.0\n",
    );
    ctx.write(
        "app/templates/web.yaml",
        &deployment("{{ .Release.Name }}-web", "example.com/web:1", "web"),
    );
    ctx.write(
        "app/templates/migrate.yaml",
        &hook_job("migrate", "pre-install,pre-upgrade", Some("hook-succeeded")),
    );
    ctx.write(
        "app/templates/notify.yaml",
        &hook_job("notify", "post-install,post-upgrade", None),
    );
    let chart = ctx.path().join("app").display().to_string();
    let common = ["--helm", helm.as_str(), "--release", "app"];
    let mut rbac_args = vec!["rbac", chart.as_str()];
    rbac_args.extend(common);
    rbac_args.extend(["--subject", "user:bob", "--name", "rbac-chart"]);
    let rbac = ctx.kpush(&rbac_args);
    rbac.expect_code(0);
    assert!(
        rbac.stdout.contains("delete chart hooks"),
        "{}",
        rbac.stdout
    );
    let side = tempfile::tempdir().expect("temp dir");
    let roles = side.path().join("roles.yaml");
    std::fs::write(&roles, &rbac.stdout).expect("write roles");
    kubectl(&ctx, &["apply", "-f", &roles.display().to_string()]);

    let mut apply_args = vec!["apply", chart.as_str()];
    apply_args.extend(common);
    // Install, then upgrade: hooks run, are tracked, and are deleted by their policies.
    for round in ["install", "upgrade"] {
        let run = ctx.kpush_as("bob", &apply_args);
        assert_eq!(run.code, 0, "{round}:\n{}", run.stderr);
        let jobs = |n: &str| ctx.grouped("batch/v1", "jobs", n);
        assert!(ctx.get(&jobs("app-migrate")).await.is_none(), "{round}");
        assert!(ctx.get(&jobs("app-notify")).await.is_some(), "{round}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn manifests_with_roles_and_bindings_deploy_with_escalate_and_bind_by_name() {
    let ctx = Ctx::new("rbac-grants").await;
    let ns = ctx.namespace.clone();
    // The app's own RBAC: a Role granting what the deployer itself never needs (get secrets,
    // delete pods), bound to its ServiceAccount, and the built-in `view` bound too.
    ctx.write(
        "app-rbac.yaml",
        "apiVersion: v1
kind: ServiceAccount
metadata:
  name: app
---
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata:
  name: app
rules:
  - apiGroups: [\"\"]
    resources: [\"secrets\"]
    verbs: [\"get\"]
  - apiGroups: [\"\"]
    resources: [\"pods\"]
    verbs: [\"delete\"]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata:
  name: app
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: app}
subjects: [{kind: ServiceAccount, name: app}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata:
  name: app-view
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: view}
subjects: [{kind: ServiceAccount, name: app}]
",
    );
    let path = ctx.path().display().to_string();
    let rbac = ctx.kpush(&[
        "rbac",
        &path,
        "--subject",
        "user:bob",
        "--name",
        "rbac-grants",
    ]);
    rbac.expect_code(0);
    for expected in [
        "resources: [\"roles\"]\n    resourceNames: [\"app\"]\n    verbs: [\"bind\", \"escalate\"]",
        "resources: [\"clusterroles\"]\n    resourceNames: [\"view\"]\n    verbs: [\"bind\"]",
    ] {
        assert!(
            rbac.stdout.contains(expected),
            "{expected}:\n{}",
            rbac.stdout
        );
    }
    let side = tempfile::tempdir().expect("temp dir");
    let roles = side.path().join("roles.yaml");
    std::fs::write(&roles, &rbac.stdout).expect("write roles");
    kubectl(&ctx, &["apply", "-f", &roles.display().to_string()]);
    ctx.kpush_as("bob", &["apply", &path]).expect_code(0);
    assert!(
        ctx.get(&ctx.grouped("rbac.authorization.k8s.io/v1", "rolebindings", "app-view"))
            .await
            .is_some()
    );

    // Without `bind` on view, the check warns (bob might hold all of view's permissions) and
    // the API server refuses the binding: RBAC allows no escalation.
    kubectl(&ctx, &["delete", "rolebinding", "app-view", "-n", &ns]);
    let role = kubectl(
        &ctx,
        &["get", "role", "rbac-grants", "-n", &ns, "-o", "json"],
    );
    let mut role: serde_json::Value = serde_json::from_str(&role).expect("role json");
    if let Some(rules) = role["rules"].as_array_mut() {
        rules.retain(|r| r["verbs"][0] != "bind" || r["resourceNames"][0] != "view");
    }
    let trimmed = side.path().join("trimmed.json");
    std::fs::write(&trimmed, serde_json::to_string(&role).expect("json")).expect("write role");
    kubectl(&ctx, &["replace", "-f", &trimmed.display().to_string()]);
    let refused = ctx.kpush_as("bob", &["apply", &path]);
    refused.expect_code(3);
    assert_names(
        &refused,
        &format!(
            "warning: cannot bind clusterroles.rbac.authorization.k8s.io view in namespace {ns}"
        ),
    );
    assert_names(&refused, "RoleBinding rbac-grants/app-view");
}
