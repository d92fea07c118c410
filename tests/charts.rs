//! Helm charts deployed by `kpush apply` against the real control plane: hooks run in order
//! around the release with their delete policies, a failed hook stops the deploy, and a release
//! installed by real `helm install` is adopted without conflicts.

mod harness;

use harness::binary::Ctx;
use kpush_testenv::helm::{HelmMajor, helm};

fn helm_path(major: HelmMajor) -> String {
    helm(major)
        .unwrap_or_else(|e| panic!("{e:#}"))
        .display()
        .to_string()
}

fn job(name: &str, hook: &str, weight: i32, policy: Option<&str>, image: &str) -> String {
    let policy = policy
        .map(|p| format!("\n    helm.sh/hook-delete-policy: {p}"))
        .unwrap_or_default();
    format!(
        "apiVersion: batch/v1
kind: Job
metadata:
  name: {{{{ .Release.Name }}}}-{name}
  annotations:
    helm.sh/hook: {hook}
    helm.sh/hook-weight: \"{weight}\"{policy}
spec:
  backoffLimit: 0
  template:
    spec:
      restartPolicy: Never
      containers:
        - name: run
          image: {image}
"
    )
}

/// A chart with a Deployment and hooks around it.
fn write_chart(ctx: &Ctx, pre_image: &str) -> String {
    ctx.write(
        "app/Chart.yaml",
        "apiVersion: v2\nname: app\nversion: 1.0.0\n",
    );
    ctx.write("app/values.yaml", "replicas: 1\nimage: example.com/web:1\n");
    ctx.write(
        "app/templates/deployment.yaml",
        "apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ .Release.Name }}-web
  labels:
    app: web
spec:
  replicas: {{ .Values.replicas }}
  selector:
    matchLabels:
      app: web
  template:
    metadata:
      labels:
        app: web
    spec:
      containers:
        - name: web
          image: {{ .Values.image }}
",
    );
    // Weights: -5 runs before 0; migrate is deleted once it succeeded.
    ctx.write(
        "app/templates/migrate.yaml",
        &job(
            "migrate",
            "pre-install,pre-upgrade",
            -5,
            Some("hook-succeeded"),
            pre_image,
        ),
    );
    ctx.write(
        "app/templates/seed.yaml",
        &job(
            "seed",
            "pre-install",
            0,
            Some("before-hook-creation"),
            "example.com/seed:1",
        ),
    );
    ctx.write(
        "app/templates/notify.yaml",
        &job(
            "notify",
            "post-install,post-upgrade",
            0,
            None,
            "example.com/notify:1",
        ),
    );
    ctx.write(
        "app/templates/cleanup.yaml",
        &job("cleanup", "pre-delete", 0, None, "example.com/cleanup:1"),
    );
    ctx.path().join("app").display().to_string()
}

fn position(haystack: &str, needle: &str) -> usize {
    haystack
        .find(needle)
        .unwrap_or_else(|| panic!("{needle:?} not in:\n{haystack}"))
}

#[tokio::test(flavor = "multi_thread")]
async fn hooks_run_in_order_around_the_release_with_their_delete_policies() {
    let ctx = Ctx::new("chart-hooks").await;
    let chart = write_chart(&ctx, "example.com/migrate:1");
    let helm = helm_path(HelmMajor::V3);
    let run = ctx.kpush(&["apply", &chart, "--helm", &helm, "--applyset", "app"]);
    run.expect_code(0);
    // Object lines (created, configured, …) are on standard error.
    let out = &run.stderr;
    // Pre-install hooks by weight, then the release, then the post-install hook.
    let migrate = position(out, "Job chart-hooks/app-migrate");
    let seed = position(out, "Job chart-hooks/app-seed");
    let web = position(out, "Deployment chart-hooks/app-web");
    let notify = position(out, "Job chart-hooks/app-notify");
    assert!(migrate < seed && seed < web && web < notify, "{out}");
    assert!(
        run.stderr.contains("is a pre-delete hook and was not run"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("templates/cleanup.yaml:1"),
        "the hook's template is named: {}",
        run.stderr
    );
    // hook-succeeded: deleted; no policy (before-hook-creation): kept.
    let jobs = |n: &str| ctx.grouped("batch/v1", "jobs", n);
    assert!(
        ctx.get(&jobs("app-migrate")).await.is_none(),
        "migrate was deleted"
    );
    let seed_job = ctx.get(&jobs("app-seed")).await.expect("seed kept");
    assert_eq!(seed_job["status"]["succeeded"], 1, "{seed_job}");
    let notify_uid =
        ctx.get(&jobs("app-notify")).await.expect("notify kept")["metadata"]["uid"].clone();
    // Hooks are not members of the release's ApplySet.
    assert!(
        seed_job["metadata"]["labels"]["applyset.kubernetes.io/part-of"].is_null(),
        "{seed_job}"
    );

    // diff and status leave hooks out: the deployed chart has no differences and is ready.
    ctx.kpush(&["diff", &chart, "--helm", &helm, "--applyset", "app"])
        .expect_code(0);
    ctx.kpush(&["status", &chart, "--helm", &helm])
        .expect_code(0);

    // The second deploy is an upgrade: pre-upgrade and post-upgrade hooks run, pre-install-only
    // ones do not; notify is deleted and created again (before-hook-creation, Helm's default).
    let run = ctx.kpush(&[
        "apply",
        &chart,
        "--helm",
        &helm,
        "--applyset",
        "app",
        "-o",
        "json",
    ]);
    run.expect_code(0);
    // -o json: hooks and the release, each with its template and readiness.
    let doc: serde_json::Value = serde_json::from_str(&run.stdout).expect("JSON result");
    assert_eq!(doc["result"], "succeeded", "{doc}");
    for (name, file) in [
        ("app-migrate", "templates/migrate.yaml"),
        ("app-web", "templates/deployment.yaml"),
        ("app-notify", "templates/notify.yaml"),
    ] {
        let o = doc["objects"]
            .as_array()
            .expect("objects")
            .iter()
            .find(|o| o["name"] == name)
            .unwrap_or_else(|| panic!("{name} in {doc}"));
        assert_eq!(o["readiness"], "ready", "{o}");
        assert!(o["file"].as_str().is_some_and(|f| f.ends_with(file)), "{o}");
    }
    let applied = |name: &str| {
        run.stderr
            .lines()
            .any(|l| l.contains(name) && (l.contains("created") || l.contains("configured")))
    };
    assert!(applied("chart-hooks/app-migrate"), "{}", run.stderr);
    assert!(
        !applied("chart-hooks/app-seed"),
        "seed is pre-install only: {}",
        run.stderr
    );
    assert!(
        run.stderr
            .contains("templates/seed.yaml:1) is a pre-install hook and was not run"),
        "{}",
        run.stderr
    );
    let notify = ctx.get(&jobs("app-notify")).await.expect("notify again");
    assert_ne!(
        notify["metadata"]["uid"], notify_uid,
        "notify was created again"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_failed_pre_install_hook_stops_the_deploy_with_its_logs() {
    let ctx = Ctx::new("chart-hook-fails").await;
    let chart = write_chart(&ctx, "example.com/fail:1");
    let helm = helm_path(HelmMajor::V3);
    let run = ctx.kpush(&["apply", &chart, "--helm", &helm]);
    run.expect_code(4);
    let err = &run.stderr;
    assert!(err.contains("pre-deploy hook Job app-migrate"), "{err}");
    assert!(err.contains("templates/migrate.yaml"), "{err}");
    assert!(
        err.contains("the release's objects were not applied"),
        "{err}"
    );
    assert!(
        ctx.get(&ctx.grouped("apps/v1", "deployments", "app-web"))
            .await
            .is_none(),
        "the release was not deployed"
    );
    assert!(
        ctx.get(&ctx.grouped("batch/v1", "jobs", "app-seed"))
            .await
            .is_none(),
        "a later hook did not run"
    );
}

/// A chart without hooks: a Deployment and a ConfigMap whose keys come from values.
fn write_plain_chart(ctx: &Ctx) -> String {
    ctx.write(
        "web/Chart.yaml",
        "apiVersion: v2\nname: web\nversion: 1.0.0\n",
    );
    ctx.write(
        "web/values.yaml",
        "image: example.com/web:1\nsettings:\n  a: \"1\"\n  b: \"2\"\n",
    );
    ctx.write(
        "web/templates/config.yaml",
        "apiVersion: v1
kind: ConfigMap
metadata:
  name: {{ .Release.Name }}-config
data:
{{- toYaml .Values.settings | nindent 2 }}
",
    );
    ctx.write(
        "web/templates/deployment.yaml",
        "apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ .Release.Name }}
spec:
  replicas: 1
  selector:
    matchLabels:
      app: {{ .Release.Name }}
  template:
    metadata:
      labels:
        app: {{ .Release.Name }}
    spec:
      containers:
        - name: web
          image: {{ .Values.image }}
",
    );
    ctx.path().join("web").display().to_string()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_release_installed_by_helm_is_adopted_without_conflicts() {
    let ctx = Ctx::new("chart-adopt").await;
    let chart = write_plain_chart(&ctx);
    let helm = helm_path(HelmMajor::V3);
    let kubeconfig = ctx.cluster.kubeconfig_path("admin").display().to_string();
    let home = ctx.path().join("helm-home");
    let out = std::process::Command::new(&helm)
        .args(["install", "shop", &chart, "--namespace", &ctx.namespace])
        .args(["--kubeconfig", &kubeconfig])
        .env("HELM_CACHE_HOME", home.join("cache"))
        .env("HELM_CONFIG_HOME", home.join("config"))
        .env("HELM_DATA_HOME", home.join("data"))
        .output()
        .expect("run helm");
    assert!(
        out.status.success(),
        "helm install: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let cm = ctx
        .get(&ctx.core("configmaps", "shop-config"))
        .await
        .expect("helm made it");
    assert_eq!(cm["data"]["b"], "2");

    // The same release, now with a new image and without setting b: no --force-conflicts.
    let values = ctx.write(
        "new.yaml",
        "image: example.com/web:2\nsettings:\n  b: null\n",
    );
    let values = values.display().to_string();
    let run = ctx.kpush(&[
        "apply",
        &chart,
        "--helm",
        &helm,
        "--release",
        "shop",
        "--values",
        &values,
    ]);
    run.expect_code(0);
    assert!(
        run.stderr.contains("Helm release shop") && run.stderr.contains("`helm list`"),
        "says once that helm list is no longer current: {}",
        run.stderr
    );
    assert_eq!(
        run.stderr.matches("`helm list`").count(),
        1,
        "{}",
        run.stderr
    );
    let web = ctx
        .get(&ctx.grouped("apps/v1", "deployments", "shop"))
        .await
        .expect("web");
    assert_eq!(
        web["spec"]["template"]["spec"]["containers"][0]["image"],
        "example.com/web:2"
    );
    let cm = ctx
        .get(&ctx.core("configmaps", "shop-config"))
        .await
        .expect("config");
    assert_eq!(cm["data"]["a"], "1", "{cm}");
    assert!(
        cm["data"]["b"].is_null(),
        "the key removed from the chart is gone: {cm}"
    );
    let managers: Vec<&str> = cm["metadata"]["managedFields"]
        .as_array()
        .expect("managed fields")
        .iter()
        .filter_map(|e| e["manager"].as_str())
        .collect();
    assert!(!managers.contains(&"helm"), "{managers:?}");
    // Helm's release record is left alone.
    assert!(
        ctx.get(&ctx.core("secrets", "sh.helm.release.v1.shop.v1"))
            .await
            .is_some(),
        "Helm's release Secret stays"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn capabilities_are_the_target_clusters() {
    let ctx = Ctx::new("chart-capabilities").await;
    ctx.write(
        "caps/Chart.yaml",
        "apiVersion: v2\nname: caps\nversion: 1.0.0\n",
    );
    ctx.write(
        "caps/templates/cm.yaml",
        "apiVersion: v1
kind: ConfigMap
metadata:
  name: caps
data:
  kube: {{ .Capabilities.KubeVersion.Version | quote }}
  cronjob: {{ .Capabilities.APIVersions.Has \"batch/v1/CronJob\" | quote }}
  unserved: {{ .Capabilities.APIVersions.Has \"example.com/v1\" | quote }}
  namespace: {{ .Release.Namespace | quote }}
",
    );
    let chart = ctx.path().join("caps").display().to_string();
    let run = ctx.kpush(&["apply", &chart, "--helm", &helm_path(HelmMajor::V4)]);
    run.expect_code(0);
    let cm = ctx
        .get(&ctx.core("configmaps", "caps"))
        .await
        .expect("caps");
    let server = ctx
        .client()
        .await
        .apiserver_version()
        .await
        .expect("version");
    assert_eq!(cm["data"]["kube"], server.git_version.as_str(), "{cm}");
    assert_eq!(cm["data"]["cronjob"], "true", "{cm}");
    assert_eq!(cm["data"]["unserved"], "false", "{cm}");
    assert_eq!(cm["data"]["namespace"], "chart-capabilities", "{cm}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_chart_keeps_the_namespaces_its_templates_name_as_helm_install_does() {
    // A controller chart that grants itself access to the namespaces it watches: Roles and
    // RoleBindings whose template sets metadata.namespace. `helm install -n X` deploys them
    // there; kpush refused them ("is in namespace …, but --namespace is …").
    let ctx = Ctx::new("chart-ns").await;
    let watched = Ctx::new("chart-ns-watched").await;
    ctx.write(
        "op/Chart.yaml",
        "apiVersion: v2\nname: op\nversion: 1.0.0\n",
    );
    ctx.write(
        "op/values.yaml",
        &format!("watch: [{}]\n", watched.namespace),
    );
    ctx.write(
        "op/templates/config.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}-config\ndata:\n  a: \"1\"\n",
    );
    ctx.write(
        "op/templates/rbac.yaml",
        "{{- range .Values.watch }}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata:
  name: {{ $.Release.Name }}-watch
  namespace: {{ . }}
rules:
  - apiGroups: [\"\"]
    resources: [configmaps]
    verbs: [get, list, watch]
{{- end }}
",
    );
    let chart = ctx.path().join("op").display().to_string();
    let helm = helm_path(HelmMajor::V3);
    let run = ctx.kpush(&["apply", &chart, "--helm", &helm, "--release", "op"]);
    run.expect_code(0);
    assert!(
        ctx.get(&ctx.core("configmaps", "op-config"))
            .await
            .is_some(),
        "-n fills in the release namespace"
    );
    let role = format!(
        "/apis/rbac.authorization.k8s.io/v1/namespaces/{}/roles/op-watch",
        watched.namespace
    );
    assert!(
        ctx.get(&role).await.is_some(),
        "the Role is in the namespace its template names: {}",
        run.stderr
    );

    // RBAC derivation covers the other namespace too.
    let rbac = ctx.kpush(&[
        "rbac",
        &chart,
        "--helm",
        &helm,
        "--release",
        "op",
        "--offline",
    ]);
    rbac.expect_code(0);
    assert!(
        rbac.stdout
            .contains(&format!("namespace: {}", watched.namespace)),
        "{}",
        rbac.stdout
    );

    // Pruning follows the object into its namespace: without the watch list, the Role goes.
    let values = ctx.write("none.yaml", "watch: []\n").display().to_string();
    let run = ctx.kpush(&[
        "apply",
        &chart,
        "--helm",
        &helm,
        "--release",
        "op",
        "--values",
        &values,
        "--prune",
    ]);
    run.expect_code(0);
    assert!(ctx.get(&role).await.is_none(), "pruned: {}", run.stderr);
    assert!(
        ctx.get(&ctx.core("configmaps", "op-config"))
            .await
            .is_some()
    );
}
