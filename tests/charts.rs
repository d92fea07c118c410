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
    // It lists the hook objects the next deploy would delete (notify: before-hook-creation).
    let diff = ctx.kpush(&["diff", &chart, "--helm", &helm, "--applyset", "app"]);
    diff.expect_code(0);
    assert!(
        diff.stdout.lines().any(|l| l.starts_with("Job chart-hooks/app-notify (")
            && l.ends_with("would be deleted and created again (Helm hook, helm.sh/hook-delete-policy: before-hook-creation)")),
        "{}",
        diff.stdout
    );
    assert!(
        !diff.stdout.contains("app-seed"),
        "pre-install only: {}",
        diff.stdout
    );
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

/// Creates ConfigMap `name` as another team's tool would (field manager `other-team`); its uid.
async fn foreign_config_map(ctx: &Ctx, name: &str) -> String {
    use k8s_openapi::api::core::v1::ConfigMap;
    use kube::api::{Api, PostParams};
    let cm: ConfigMap = serde_json::from_value(serde_json::json!({
        "apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": name},
        "data": {"owner": "other-team"}
    }))
    .expect("config map");
    let params = PostParams {
        field_manager: Some("other-team".into()),
        ..Default::default()
    };
    let created = Api::<ConfigMap>::namespaced(ctx.client().await, &ctx.namespace)
        .create(&params, &cm)
        .await
        .expect("create the foreign ConfigMap");
    created.metadata.uid.expect("uid")
}

async fn uid_of(ctx: &Ctx, api_path: &str) -> Option<String> {
    ctx.get(api_path)
        .await
        .and_then(|o| o["metadata"]["uid"].as_str().map(str::to_string))
}

#[tokio::test(flavor = "multi_thread")]
async fn a_hook_annotation_outside_a_chart_deletes_nothing() {
    let ctx = Ctx::new("hook-plain-manifest").await;
    let uid = foreign_config_map(&ctx, "shared").await;
    // A plain manifest naming the other team's object, annotated as a Helm hook (default
    // policy: before-hook-creation), with --prune off.
    let file = ctx.write(
        "shared.yaml",
        "apiVersion: v1
kind: ConfigMap
metadata:
  name: shared
  annotations:
    helm.sh/hook: pre-install
data:
  owner: other-team
",
    );
    let run = ctx.kpush(&["apply", &file.display().to_string()]);
    run.expect_code(0);
    assert_eq!(
        uid_of(&ctx, &ctx.core("configmaps", "shared")).await,
        Some(uid),
        "the other team's ConfigMap was not deleted: {}",
        run.stderr
    );
    assert!(
        run.stderr
            .contains("is annotated helm.sh/hook but is not from a Helm chart"),
        "{}",
        run.stderr
    );
    // Nor may a manifest put kpush's hook marker on it, which a later hook would trust.
    let file = ctx.write(
        "marker.yaml",
        "apiVersion: v1
kind: ConfigMap
metadata:
  name: shared
  annotations:
    kpush.dev/hook-of: \"-\"
data:
  owner: other-team
",
    );
    let run = ctx.kpush(&["apply", &file.display().to_string()]);
    run.expect_code(2);
    assert!(
        run.stderr.contains("sets the annotation kpush.dev/hook-of"),
        "{}",
        run.stderr
    );
    let cm = ctx
        .get(&ctx.core("configmaps", "shared"))
        .await
        .expect("still there");
    assert!(
        cm["metadata"]["annotations"]["kpush.dev/hook-of"].is_null(),
        "{cm}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_chart_hook_never_deletes_an_object_the_release_does_not_own() {
    let ctx = Ctx::new("hook-foreign").await;
    let helm = helm_path(HelmMajor::V3);
    let uid = foreign_config_map(&ctx, "shared").await;
    ctx.write(
        "grab/Chart.yaml",
        "apiVersion: v2\nname: grab\nversion: 1.0.0\n",
    );
    ctx.write(
        "grab/templates/hook.yaml",
        // No field of its own: nothing for server-side apply to conflict on.
        "apiVersion: v1
kind: ConfigMap
metadata:
  name: shared
  annotations:
    helm.sh/hook: pre-install,pre-upgrade
",
    );
    ctx.write(
        "grab/templates/app.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: grab-app\ndata:\n  a: \"1\"\n",
    );
    let chart = ctx.path().join("grab").display().to_string();

    // diff shows the deletion the hook asks for, and that kpush would refuse it.
    let diff = ctx.kpush(&["diff", &chart, "--helm", &helm, "--release", "grab"]);
    diff.expect_code(1);
    assert!(
        diff.stdout.contains(&format!(
            "ConfigMap hook-foreign/shared ({chart}/templates/hook.yaml:1) would NOT be deleted"
        )),
        "{}\n{}",
        diff.stdout,
        diff.stderr
    );

    let run = ctx.kpush(&["apply", &chart, "--helm", &helm, "--release", "grab"]);
    run.expect_code(3);
    assert!(
        run.stderr
            .contains("kpush will not delete ConfigMap hook-foreign/shared"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("managed by other-team"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("nothing was applied"), "{}", run.stderr);
    let cm = ctx
        .get(&ctx.core("configmaps", "shared"))
        .await
        .expect("still there");
    assert_eq!(cm["metadata"]["uid"], uid.as_str(), "not deleted");
    assert_eq!(cm["data"]["owner"], "other-team", "not changed");
    assert!(
        ctx.get(&ctx.core("configmaps", "grab-app")).await.is_none(),
        "nothing was applied"
    );

    // A hook no policy deletes is not applied over the object either (it would become the
    // release's, and a later policy could delete it).
    ctx.write(
        "grab/templates/hook.yaml",
        "apiVersion: v1
kind: ConfigMap
metadata:
  name: shared
  annotations:
    helm.sh/hook: pre-install,pre-upgrade
    helm.sh/hook-delete-policy: keep
",
    );
    let run = ctx.kpush(&["apply", &chart, "--helm", &helm, "--release", "grab"]);
    run.expect_code(3);
    assert!(
        run.stderr.contains(
            "kpush will not run the Helm hook of that name over ConfigMap hook-foreign/shared"
        ),
        "{}",
        run.stderr
    );
    let cm = ctx
        .get(&ctx.core("configmaps", "shared"))
        .await
        .expect("still there");
    assert!(
        cm["metadata"]["annotations"]["kpush.dev/hook-of"].is_null(),
        "{cm}"
    );

    // Namespace, CRD and PersistentVolumeClaim hooks are refused outright.
    ctx.write(
        "grab/templates/hook.yaml",
        "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: hook-foreign\n  annotations:\n    helm.sh/hook: pre-install\n",
    );
    let run = ctx.kpush(&["apply", &chart, "--helm", &helm, "--release", "grab"]);
    run.expect_code(2);
    assert!(
        run.stderr.contains("kpush refuses Namespace hooks"),
        "{}",
        run.stderr
    );
    assert!(
        ctx.get("/api/v1/namespaces/hook-foreign").await.is_some(),
        "the namespace stays"
    );
}

/// The webhook-certificate chart (tests/fixtures/charts/webhook-certgen).
fn certgen_chart() -> String {
    concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/charts/webhook-certgen"
    )
    .to_string()
}

/// Where each of the chart's objects of release `name` is: `true` when it exists.
async fn certgen_objects(ctx: &Ctx, name: &str) -> Vec<(String, bool)> {
    let ns = &ctx.namespace;
    let paths = [
        ctx.grouped("apps/v1", "deployments", &format!("{name}-controller")),
        ctx.core("services", &format!("{name}-admission")),
        format!(
            "/apis/admissionregistration.k8s.io/v1/validatingwebhookconfigurations/{name}-{ns}-admission"
        ),
        ctx.core("serviceaccounts", &format!("{name}-admission")),
        ctx.grouped(
            "rbac.authorization.k8s.io/v1",
            "roles",
            &format!("{name}-admission"),
        ),
        ctx.grouped(
            "rbac.authorization.k8s.io/v1",
            "rolebindings",
            &format!("{name}-admission"),
        ),
        format!("/apis/rbac.authorization.k8s.io/v1/clusterroles/{name}-{ns}-admission"),
        format!("/apis/rbac.authorization.k8s.io/v1/clusterrolebindings/{name}-{ns}-admission"),
        ctx.grouped("batch/v1", "jobs", &format!("{name}-admission-create")),
        ctx.grouped("batch/v1", "jobs", &format!("{name}-admission-patch")),
    ];
    let mut out = Vec::new();
    for p in paths {
        let present = ctx.get(&p).await.is_some();
        out.push((p.replace(name, "RELEASE"), present));
    }
    out
}

fn run_helm(ctx: &Ctx, helm: &str, args: &[&str]) {
    let kubeconfig = ctx.cluster.kubeconfig_path("admin").display().to_string();
    let home = ctx.path().join("helm-home");
    let out = std::process::Command::new(helm)
        .args(args)
        .args(["--namespace", &ctx.namespace, "--kubeconfig", &kubeconfig])
        .args(["--timeout", "2m"])
        .env("HELM_CACHE_HOME", home.join("cache"))
        .env("HELM_CONFIG_HOME", home.join("config"))
        .env("HELM_DATA_HOME", home.join("data"))
        .output()
        .expect("run helm");
    assert!(
        out.status.success(),
        "helm {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

async fn hooks_in_several_phases_run_in_each_like(major: HelmMajor, ns: &str) {
    let ctx = Ctx::new(ns).await;
    let chart = certgen_chart();
    let helm = helm_path(major);
    let apply = |what: &str| {
        let run = ctx.kpush(&[
            "apply",
            &chart,
            "--helm",
            &helm,
            "--release",
            "kp",
            "--timeout",
            "90s",
        ]);
        run.expect_code(0);
        // The shared RBAC hooks run before the release and again after it, before the patch
        // Job that needs them.
        let err = &run.stderr;
        let sa = format!("created    ServiceAccount {ns}/kp-admission ");
        assert_eq!(err.matches(&sa).count(), 2, "{err}");
        let release = position(err, &format!("Deployment {ns}/kp-controller"));
        let sa_again = err.rfind(&sa).unwrap_or_default();
        let patch = position(err, &format!("created    Job {ns}/kp-admission-patch"));
        assert!(release < sa_again && sa_again < patch, "{what}: {err}");
        assert!(
            position(err, &format!("created    Job {ns}/kp-admission-create")) < release,
            "{err}"
        );
        run
    };
    apply("install");
    let kpush_installed = certgen_objects(&ctx, "kp").await;
    apply("upgrade");
    let kpush_upgraded = certgen_objects(&ctx, "kp").await;

    // The oracle: the same chart installed, then upgraded, by helm.
    run_helm(&ctx, &helm, &["install", "hm", &chart]);
    let helm_installed = certgen_objects(&ctx, "hm").await;
    run_helm(&ctx, &helm, &["upgrade", "hm", &chart]);
    let helm_upgraded = certgen_objects(&ctx, "hm").await;

    assert_eq!(kpush_installed, helm_installed);
    assert_eq!(kpush_upgraded, helm_upgraded);
    // hook-succeeded left none of the hooks; the release's objects are there.
    let present: Vec<&str> = kpush_upgraded
        .iter()
        .filter(|(_, p)| *p)
        .map(|(path, _)| path.as_str())
        .collect();
    assert_eq!(present.len(), 3, "{present:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn hooks_listed_for_several_phases_run_in_each_as_with_helm_3() {
    hooks_in_several_phases_run_in_each_like(HelmMajor::V3, "hook-phases-v3").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn hooks_listed_for_several_phases_run_in_each_as_with_helm_4() {
    hooks_in_several_phases_run_in_each_like(HelmMajor::V4, "hook-phases-v4").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_hook_job_without_its_service_account_fails_quickly_naming_it() {
    let ctx = Ctx::new("hook-no-sa").await;
    ctx.write(
        "nosa/Chart.yaml",
        "apiVersion: v2\nname: nosa\nversion: 1.0.0\n",
    );
    ctx.write(
        "nosa/templates/job.yaml",
        "apiVersion: batch/v1
kind: Job
metadata:
  name: migrate
  annotations:
    helm.sh/hook: pre-install
spec:
  backoffLimit: 0
  template:
    spec:
      restartPolicy: Never
      serviceAccountName: missing-sa
      containers:
        - name: run
          image: example.com/migrate:1
",
    );
    let chart = ctx.path().join("nosa").display().to_string();
    let started = std::time::Instant::now();
    let run = ctx.kpush(&[
        "apply",
        &chart,
        "--helm",
        &helm_path(HelmMajor::V3),
        "--timeout",
        "3m",
    ]);
    run.expect_code(4);
    assert!(
        started.elapsed() < std::time::Duration::from_secs(90),
        "failed after {:?}, not at the timeout",
        started.elapsed()
    );
    assert!(run.stderr.contains("FailedCreate"), "{}", run.stderr);
    assert!(
        run.stderr
            .contains("serviceaccount \"missing-sa\" not found"),
        "{}",
        run.stderr
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_hook_job_left_by_the_last_deploy_is_replaced_even_when_its_template_changed() {
    let ctx = Ctx::new("hook-job-changed").await;
    let helm = helm_path(HelmMajor::V3);
    ctx.write(
        "mig/Chart.yaml",
        "apiVersion: v2\nname: mig\nversion: 1.0.0\n",
    );
    ctx.write("mig/values.yaml", "image: example.com/migrate:1\n");
    // No delete policy: Helm's default, before-hook-creation, keeps the Job until the next run.
    ctx.write(
        "mig/templates/migrate.yaml",
        "apiVersion: batch/v1
kind: Job
metadata:
  name: migrate
  annotations:
    helm.sh/hook: pre-install,pre-upgrade
spec:
  backoffLimit: 0
  template:
    spec:
      restartPolicy: Never
      containers:
        - name: run
          image: {{ .Values.image }}
",
    );
    ctx.write(
        "mig/templates/cm.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: mig\ndata:\n  a: \"1\"\n",
    );
    let chart = ctx.path().join("mig").display().to_string();
    let args = ["apply", &chart, "--helm", &helm, "--release", "mig"];
    ctx.kpush(&args).expect_code(0);
    let job = ctx.grouped("batch/v1", "jobs", "migrate");
    let first = uid_of(&ctx, &job).await.expect("the Job stays");
    // The next release changes the Job's template (immutable): Helm deletes and creates it.
    let mut next = args.to_vec();
    next.extend(["--set", "image=example.com/migrate:2"]);
    ctx.kpush(&next).expect_code(0);
    let now = ctx.get(&job).await.expect("created again");
    assert_ne!(now["metadata"]["uid"], first.as_str());
    assert_eq!(
        now["spec"]["template"]["spec"]["containers"][0]["image"],
        "example.com/migrate:2"
    );
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
