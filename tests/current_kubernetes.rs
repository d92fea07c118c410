//! What only a current API server (the test control plane is Kubernetes 1.35) can show:
//! ValidatingAdmissionPolicy denials and CRD validation rules caught by the preflight with the
//! policy's message and the file:line, an `autoscaling/v2` HPA beside its Deployment, `batch/v1`
//! CronJobs, `policy/v1` PodDisruptionBudgets and gRPC probes.

mod harness;

use std::time::{Duration, Instant};

use harness::binary::{Ctx, config_map, deployment};
use kube::api::{Api, DynamicObject, PostParams};
use kube::core::{ApiResource, GroupVersionKind};
use serde_json::{Value, json};

/// Creates a cluster-scoped or namespaced object from JSON as admin.
async fn create(ctx: &Ctx, api_version: &str, kind: &str, plural: &str, object: Value) {
    let (group, version) = api_version.split_once('/').unwrap_or(("", api_version));
    let gvk = GroupVersionKind::gvk(group, version, kind);
    let resource = ApiResource::from_gvk_with_plural(&gvk, plural);
    let object: DynamicObject = serde_json::from_value(object).expect("object");
    let client = ctx.client().await;
    let api: Api<DynamicObject> = match object.metadata.namespace.as_deref() {
        Some(ns) => Api::namespaced_with(client, ns, &resource),
        None => Api::all_with(client, &resource),
    };
    api.create(&PostParams::default(), &object)
        .await
        .unwrap_or_else(|e| panic!("creating {kind}: {e}"));
}

/// Polls `check` every 200 ms until it is true or `limit` passes.
async fn eventually<F, Fut>(limit: Duration, what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + limit;
    while !check().await {
        assert!(Instant::now() < deadline, "{what} within {limit:?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// A server-side dry-run create of a ConfigMap; `Err` holds the API server's message.
async fn dry_run_config_map(ctx: &Ctx, data: Value) -> Result<(), String> {
    let api: Api<k8s_openapi::api::core::v1::ConfigMap> =
        Api::namespaced(ctx.client().await, &ctx.namespace);
    let cm = serde_json::from_value(json!({
        "apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": "probe"}, "data": data,
    }))
    .expect("config map");
    api.create(
        &PostParams {
            dry_run: true,
            ..Default::default()
        },
        &cm,
    )
    .await
    .map(|_| ())
    .map_err(|e| e.to_string())
}

#[tokio::test(flavor = "multi_thread")]
async fn validating_admission_policy_denial_is_caught_by_preflight_with_policy_message_and_file_line()
 {
    let ctx = Ctx::new("cel-admission-policy").await;
    let policy = format!("no-passwords-{}", ctx.namespace);
    create(
        &ctx,
        "admissionregistration.k8s.io/v1",
        "ValidatingAdmissionPolicy",
        "validatingadmissionpolicies",
        json!({
            "apiVersion": "admissionregistration.k8s.io/v1",
            "kind": "ValidatingAdmissionPolicy",
            "metadata": {"name": policy},
            "spec": {
                "failurePolicy": "Fail",
                "matchConstraints": {"resourceRules": [{
                    "apiGroups": [""], "apiVersions": ["v1"],
                    "operations": ["CREATE", "UPDATE"], "resources": ["configmaps"],
                }]},
                "validations": [{
                    "expression": "!has(object.data) || !('password' in object.data)",
                    "message": "ConfigMaps must not hold passwords: put them in a Secret",
                }],
            },
        }),
    )
    .await;
    create(
        &ctx,
        "admissionregistration.k8s.io/v1",
        "ValidatingAdmissionPolicyBinding",
        "validatingadmissionpolicybindings",
        json!({
            "apiVersion": "admissionregistration.k8s.io/v1",
            "kind": "ValidatingAdmissionPolicyBinding",
            "metadata": {"name": policy},
            "spec": {
                "policyName": policy,
                "validationActions": ["Deny"],
                "matchResources": {"namespaceSelector": {"matchLabels": {
                    "kubernetes.io/metadata.name": ctx.namespace,
                }}},
            },
        }),
    )
    .await;
    // Policies take effect once the API server's policy informers have seen them.
    eventually(Duration::from_secs(30), "the policy denies", || async {
        dry_run_config_map(&ctx, json!({"password": "x"}))
            .await
            .is_err()
    })
    .await;

    for i in 0..4 {
        ctx.write(
            &format!("cm-{i}.yaml"),
            &config_map(&format!("cm-{i}"), "v"),
        );
    }
    ctx.write(
        "db.yaml",
        "# settings of the database client\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: db\ndata:\n  host: db.internal\n  password: hunter2\n",
    );
    ctx.write("web.yaml", &deployment("web", "nginx:1.27", "web"));
    let run = ctx.kpush(&["apply", &ctx.path().display().to_string()]);
    run.expect_code(3);
    assert!(
        run.stderr.contains("db.yaml:2"),
        "file:line: {}",
        run.stderr
    );
    assert!(
        run.stderr.contains(&policy),
        "names the policy: {}",
        run.stderr
    );
    assert!(
        run.stderr
            .contains("ConfigMaps must not hold passwords: put them in a Secret"),
        "the policy's message: {}",
        run.stderr
    );
    assert!(run.stderr.contains("nothing was applied"), "{}", run.stderr);
    assert!(
        run.stderr.contains(&format!(
            "kubectl get validatingadmissionpolicy {policy} -o yaml"
        )),
        "advice on reading the policy, not on fixing a field: {}",
        run.stderr
    );
    assert!(
        !run.stderr.contains("correct the field named above"),
        "{}",
        run.stderr
    );
    assert!(
        !run.stderr.contains("hunter2") && !run.stdout.contains("hunter2"),
        "the value is not printed"
    );
    for name in ["cm-0", "cm-3", "db"] {
        assert!(
            ctx.get(&ctx.core("configmaps", name)).await.is_none(),
            "{name} must not exist"
        );
    }
    assert!(
        ctx.get(&ctx.grouped("apps/v1", "deployments", "web"))
            .await
            .is_none(),
        "web must not exist"
    );
}

const WIDGET_CRD: &str = "apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: widgets.cel.example.com
spec:
  group: cel.example.com
  scope: Namespaced
  names: {plural: widgets, singular: widget, kind: Widget}
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
              x-kubernetes-validations:
                - rule: self.minReplicas <= self.maxReplicas
                  message: minReplicas must not exceed maxReplicas
              properties:
                minReplicas: {type: integer}
                maxReplicas: {type: integer}
";

fn widget(name: &str, min: u32, max: u32) -> String {
    format!(
        "apiVersion: cel.example.com/v1\nkind: Widget\nmetadata:\n  name: {name}\nspec:\n  minReplicas: {min}\n  maxReplicas: {max}\n"
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn crd_validation_rule_violation_is_caught_by_preflight_with_rule_message_and_file_line() {
    let ctx = Ctx::new("cel-crd-rule").await;
    // The CRD is installed first (by a run of its own), as a platform team would.
    let crd_dir = tempfile::tempdir().expect("dir");
    std::fs::write(crd_dir.path().join("crd.yaml"), WIDGET_CRD).expect("write");
    ctx.kpush(&["apply", &crd_dir.path().display().to_string()])
        .expect_code(0);

    ctx.write("ok.yaml", &widget("small", 1, 3));
    ctx.write("cm.yaml", &config_map("settings", "v"));
    ctx.write(
        "bad.yaml",
        &format!("# max below min\n{}", widget("inverted", 5, 2)),
    );
    let run = ctx.kpush(&["apply", &ctx.path().display().to_string()]);
    run.expect_code(3);
    assert!(
        run.stderr.contains("bad.yaml:2"),
        "file:line: {}",
        run.stderr
    );
    assert!(
        run.stderr
            .contains("minReplicas must not exceed maxReplicas"),
        "the rule's message: {}",
        run.stderr
    );
    assert!(run.stderr.contains("nothing was applied"), "{}", run.stderr);
    assert!(
        ctx.get(&ctx.grouped("cel.example.com/v1", "widgets", "small"))
            .await
            .is_none(),
        "the valid widget must not exist"
    );
    assert!(
        ctx.get(&ctx.core("configmaps", "settings")).await.is_none(),
        "the config map must not exist"
    );

    // Fixed, the whole set applies.
    ctx.write("bad.yaml", &widget("inverted", 2, 5));
    ctx.kpush(&["apply", &ctx.path().display().to_string()])
        .expect_code(0);
}

const HPA: &str = "apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata:
  name: web
spec:
  scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: web}
  minReplicas: 3
  maxReplicas: 6
  metrics:
    - type: Resource
      resource:
        name: cpu
        target: {type: Utilization, averageUtilization: 70}
";

#[tokio::test(flavor = "multi_thread")]
async fn hpa_v2_scales_its_deployment_and_reapply_does_not_fight_it_over_replicas() {
    let ctx = Ctx::new("hpa-v2").await;
    // A Deployment meant for an HPA leaves `replicas` to it.
    let web = deployment("web", "nginx:1.27", "web").replace("  replicas: 1\n", "");
    ctx.write("web.yaml", &web);
    ctx.write("hpa.yaml", HPA);
    let path = ctx.path().display().to_string();
    ctx.kpush(&["apply", &path]).expect_code(0);

    let replicas = |v: Option<Value>| v.and_then(|d| d["spec"]["replicas"].as_i64());
    let deployment_path = ctx.grouped("apps/v1", "deployments", "web");
    // The HPA controller raises the Deployment to minReplicas (no metrics are needed for that).
    eventually(
        Duration::from_secs(60),
        "the HPA scales web to 3",
        || async { replicas(ctx.get(&deployment_path).await) == Some(3) },
    )
    .await;

    let again = ctx.kpush(&["apply", &path]);
    again.expect_code(0);
    assert_eq!(
        replicas(ctx.get(&deployment_path).await),
        Some(3),
        "a re-apply leaves the HPA's replicas alone:\n{}",
        again.stderr
    );
    let hpa = ctx
        .get(&ctx.grouped("autoscaling/v2", "horizontalpodautoscalers", "web"))
        .await
        .expect("hpa exists");
    assert_eq!(hpa["spec"]["minReplicas"], 3);
}

#[tokio::test(flavor = "multi_thread")]
async fn batch_v1_cronjob_policy_v1_pdb_and_grpc_probes_apply_and_roll_out() {
    let ctx = Ctx::new("current-apis").await;
    ctx.write(
        "cron.yaml",
        "apiVersion: batch/v1
kind: CronJob
metadata:
  name: nightly
spec:
  schedule: \"0 3 * * *\"
  timeZone: Europe/Amsterdam
  jobTemplate:
    spec:
      template:
        spec:
          restartPolicy: OnFailure
          containers:
            - name: report
              image: busybox:1.36
              args: [\"true\"]
",
    );
    ctx.write(
        "pdb.yaml",
        "apiVersion: policy/v1
kind: PodDisruptionBudget
metadata:
  name: api
spec:
  minAvailable: 1
  selector:
    matchLabels: {app: api}
",
    );
    let api = deployment("api", "registry.example/team/api:2.0", "api").replace(
        "          ports:\n            - containerPort: 8080\n",
        "          ports:\n            - containerPort: 9090\n          readinessProbe:\n            grpc: {port: 9090}\n          livenessProbe:\n            grpc: {port: 9090, service: liveness}\n",
    );
    ctx.write("api.yaml", &api);
    let run = ctx.kpush(&["apply", &ctx.path().display().to_string()]);
    run.expect_code(0);

    let cron = ctx
        .get(&ctx.grouped("batch/v1", "cronjobs", "nightly"))
        .await
        .expect("cronjob exists");
    assert_eq!(cron["spec"]["timeZone"], "Europe/Amsterdam");
    let deployment = ctx
        .get(&ctx.grouped("apps/v1", "deployments", "api"))
        .await
        .expect("deployment exists");
    let container = &deployment["spec"]["template"]["spec"]["containers"][0];
    assert_eq!(container["readinessProbe"]["grpc"]["port"], 9090);
    assert_eq!(container["livenessProbe"]["grpc"]["service"], "liveness");
    assert_eq!(deployment["status"]["availableReplicas"], 1, "rolled out");
    // The disruption controller counts the Deployment's pod.
    eventually(Duration::from_secs(30), "the PDB sees its pod", || async {
        ctx.get(&ctx.grouped("policy/v1", "poddisruptionbudgets", "api"))
            .await
            .is_some_and(|p| p["status"]["currentHealthy"] == 1)
    })
    .await;

    let again = ctx.kpush(&["apply", &ctx.path().display().to_string()]);
    again.expect_code(0);
    assert!(
        !again.stderr.contains("configured") && again.stderr.contains("unchanged"),
        "a re-apply changes nothing:\n{}",
        again.stderr
    );
}

#[tokio::test]
async fn pod_security_denial_is_caught_by_preflight_with_the_level_and_what_to_set() {
    let ctx = Ctx::new("pss-restricted").await;
    let namespaces: Api<k8s_openapi::api::core::v1::Namespace> = Api::all(ctx.client().await);
    namespaces
        .patch(
            &ctx.namespace,
            &kube::api::PatchParams::default(),
            &kube::api::Patch::Merge(json!({"metadata": {"labels": {
                "pod-security.kubernetes.io/enforce": "restricted",
            }}})),
        )
        .await
        .expect("label the namespace");
    ctx.write(
        "debug.yaml",
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: debug\nspec:\n  containers:\n    - name: shell\n      image: busybox:1.36\n",
    );
    let run = ctx.kpush(&["apply", &ctx.path().display().to_string()]);
    run.expect_code(3);
    for wanted in [
        "debug.yaml:1",
        "enforces Pod Security restricted:latest",
        "allowPrivilegeEscalation",
        "nothing was applied",
    ] {
        assert!(
            run.stderr.contains(wanted),
            "{wanted:?} in:\n{}",
            run.stderr
        );
    }
    assert!(
        !run.stderr.contains("RoleBinding"),
        "no permission advice for an admission denial:\n{}",
        run.stderr
    );
    assert!(ctx.get(&ctx.core("pods", "debug")).await.is_none());
}
