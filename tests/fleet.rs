//! `kpush apply` through an Azure Kubernetes Fleet Manager hub, against a real KubeFleet: a hub
//! control plane running Fleet's hub agent and two member control planes, each with Fleet's
//! member agent and the node simulator (`kpush_testenv::fleet`, built from go.goms.io/fleet).
//! The hub is reached once through the ARM emulator's `listCredentials` and Entra ID tokens.
//!
//! Members: `member-1` (label env=canary) and `member-2` (env=prod).

mod harness;

use std::time::{Duration, Instant};

use harness::azure::*;
use harness::binary::{Run, kpush_with_env};
use k8s_openapi::api::apps::v1::Deployment;
use kpush_testenv::ClusterOptions;
use kpush_testenv::fleet::{Fleet, FleetOptions, MemberSpec};
use kube::api::{Api, DynamicObject, Patch, PatchParams};
use kube::core::{ApiResource, GroupVersionKind};
use serde_json::json;

const FLEET: &str = "fleet-prod";

struct Env {
    f: Fixture,
    fleet: Fleet,
    dir: tempfile::TempDir,
}

static ENV: tokio::sync::OnceCell<Env> = tokio::sync::OnceCell::const_new();

async fn env() -> &'static Env {
    ENV.get_or_init(setup).await
}

async fn setup() -> Env {
    let f = start(Duration::from_secs(600));
    let issuer = f.emulator.tenant_issuer(TENANT);
    let fleet = Fleet::start(FleetOptions {
        members: vec![
            MemberSpec::new("member-1").label("env", "canary"),
            MemberSpec::new("member-2").label("env", "prod"),
        ],
        hub: ClusterOptions {
            extra_apiserver_args: vec![
                format!("--oidc-issuer-url={issuer}"),
                "--oidc-client-id=6dae42f8-4368-4678-94ff-3960e28e3630".into(),
                "--oidc-username-claim=oid".into(),
                "--oidc-username-prefix=-".into(),
                "--oidc-ca-file={dir}/entra-ca.pem".into(),
            ],
            extra_files: vec![(
                "entra-ca.pem".into(),
                f.emulator.ca_pem().as_bytes().to_vec(),
            )],
            ..ClusterOptions::default()
        },
    })
    .await
    .unwrap_or_else(|e| panic!("{e:#}"));
    let (server, ca) = (
        fleet.hub().server().to_string(),
        String::from_utf8(fleet.hub().ca_pem()).expect("PEM"),
    );
    f.emulator.configure(|c| {
        c.fleets.push(kpush_azure_emulator::Cluster {
            subscription: SUB.into(),
            resource_group: RG.into(),
            name: FLEET.into(),
            server: server.clone(),
            ca_pem: ca.clone(),
            entra_enabled: true,
            local_accounts_disabled: true,
            admin_client_cert: None,
            user_client_cert: None,
            tenant: TENANT.into(),
        });
    });
    // The federated app may deploy anything on the hub.
    let hub = fleet.hub().client("admin").await.expect("hub client");
    let bindings = Api::<k8s_openapi::api::rbac::v1::ClusterRoleBinding>::all(hub.clone());
    let binding = json!({
        "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
        "metadata": {"name": "deployer"},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "cluster-admin"},
        "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": FED_APP_OID}],
    });
    bindings
        .patch(
            "deployer",
            &PatchParams::apply("test"),
            &Patch::Apply(&binding),
        )
        .await
        .expect("binding");
    Env {
        f,
        fleet,
        dir: tempfile::tempdir().expect("temp dir"),
    }
}

impl Env {
    /// Writes a manifest file; returns its path.
    fn write(&self, name: &str, text: &str) -> String {
        let p = self.dir.path().join(name);
        std::fs::write(&p, text).expect("write");
        p.display().to_string()
    }

    /// `kpush apply FILE --kubeconfig HUB --fleet-hub ARGS` as the hub's admin.
    fn apply_on_hub(&self, file: &str, args: &[&str]) -> Run {
        let kubeconfig = self.fleet.hub().kubeconfig_path("admin");
        let mut all: Vec<String> = vec!["apply".into(), file.into()];
        all.extend(args.iter().map(|s| s.to_string()));
        all.extend([
            "--kubeconfig".into(),
            kubeconfig.display().to_string(),
            "--fleet-hub".into(),
            "--no-progress-timeout".into(),
            "10m".into(),
        ]);
        kpush_with_env(&all, &[])
    }

    async fn member_deployment(&self, member: &str, ns: &str, name: &str) -> Option<Deployment> {
        let client = self
            .fleet
            .member(member)
            .client("admin")
            .await
            .expect("client");
        Api::<Deployment>::namespaced(client, ns)
            .get_opt(name)
            .await
            .expect("get")
    }

    async fn hub_api(&self, version: &str, kind: &str, plural: &str) -> Api<DynamicObject> {
        let client = self.fleet.hub().client("admin").await.expect("client");
        Api::all_with(
            client,
            &ApiResource::from_gvk_with_plural(
                &GroupVersionKind::gvk("placement.kubernetes-fleet.io", version, kind),
                plural,
            ),
        )
    }
}

fn app(ns: &str, image: &str) -> String {
    format!(
        "apiVersion: v1
kind: Namespace
metadata:
  name: {ns}
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: {ns}
spec:
  replicas: 2
  selector:
    matchLabels: {{app: web}}
  template:
    metadata:
      labels: {{app: web}}
    spec:
      containers:
        - name: web
          image: {image}
"
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deploy_through_the_hub_rolls_out_on_every_member() {
    let env = env().await;
    let file = env.write("ok.yaml", &app("shop-ok", "nginx:1.27"));
    let run = env.apply_on_hub(
        &file,
        &["--placement", "all", "--timeout", "3m", "-o", "json"],
    );
    run.expect_code(0);
    for member in ["member-1", "member-2"] {
        assert!(
            run.stderr
                .contains(&format!("ClusterResourcePlacement shop-ok on {member}")),
            "{member} is reported:\n{}",
            run.stderr
        );
        let d = env
            .member_deployment(member, "shop-ok", "web")
            .await
            .unwrap_or_else(|| panic!("the Deployment reached {member}"));
        assert_eq!(
            d.status.and_then(|s| s.available_replicas),
            Some(2),
            "{member}"
        );
    }
    let doc: serde_json::Value = serde_json::from_str(&run.stdout).expect("JSON");
    let text = doc.to_string();
    assert!(text.contains("\"member\":\"member-1\""), "{text}");
    assert!(text.contains("\"member\":\"member-2\""), "{text}");

    // A second deploy of a new image waits for Fleet's new snapshot, not the old one's status.
    let file = env.write("ok.yaml", &app("shop-ok", "nginx:1.28"));
    let run = env.apply_on_hub(&file, &["--placement", "all", "--timeout", "3m"]);
    run.expect_code(0);
    for member in ["member-1", "member-2"] {
        let d = env
            .member_deployment(member, "shop-ok", "web")
            .await
            .expect("deployment");
        let image = d
            .spec
            .and_then(|s| s.template.spec)
            .map(|s| s.containers[0].image.clone());
        assert_eq!(image.flatten().as_deref(), Some("nginx:1.28"), "{member}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_member_times_out_naming_the_member_and_the_deployment() {
    let env = env().await;
    let file = env.write(
        "bad.yaml",
        &app("shop-bad", "registry.example/team/does-not-exist:1.0"),
    );
    let started = Instant::now();
    let run = env.apply_on_hub(
        &file,
        &["--placement", "clusters=member-1", "--timeout", "45s"],
    );
    run.expect_code(5);
    assert!(started.elapsed() < Duration::from_secs(120));
    assert!(
        run.stderr
            .contains("ClusterResourcePlacement shop-bad on member-1"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("Deployment shop-bad/web"),
        "{}",
        run.stderr
    );
    assert!(!run.stderr.contains("on member-2"), "{}", run.stderr);
    assert!(
        env.member_deployment("member-2", "shop-bad", "web")
            .await
            .is_none(),
        "member-2 was not selected"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_placement_selecting_no_member_fails_at_once() {
    let env = env().await;
    let file = env.write("none.yaml", &app("shop-none", "nginx:1.27"));
    let run = env.apply_on_hub(
        &file,
        &["--placement", "labels=env=nowhere", "--timeout", "2m"],
    );
    run.expect_code(4);
    assert!(
        run.stderr.contains("selects no member cluster"),
        "{}",
        run.stderr
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_external_placement_rolls_out_through_a_staged_update_run() {
    let env = env().await;
    let strategies = env
        .hub_api(
            "v1beta1",
            "ClusterStagedUpdateStrategy",
            "clusterstagedupdatestrategies",
        )
        .await;
    let strategy = json!({
        "apiVersion": "placement.kubernetes-fleet.io/v1beta1", "kind": "ClusterStagedUpdateStrategy",
        "metadata": {"name": "canary-then-prod"},
        "spec": {"stages": [
            {"name": "canary", "labelSelector": {"matchLabels": {"env": "canary"}}},
            {"name": "prod", "labelSelector": {"matchLabels": {"env": "prod"}}},
        ]},
    });
    strategies
        .patch(
            "canary-then-prod",
            &PatchParams::apply("test"),
            &Patch::Apply(&strategy),
        )
        .await
        .expect("strategy");
    let manifests = format!(
        "{}---
apiVersion: placement.kubernetes-fleet.io/v1beta1
kind: ClusterResourcePlacement
metadata:
  name: shop-staged
spec:
  resourceSelectors:
    - {{group: \"\", version: v1, kind: Namespace, name: shop-staged}}
  policy:
    placementType: PickAll
  strategy:
    type: External
",
        app("shop-staged", "nginx:1.27")
    );
    let file = env.write("staged.yaml", &manifests);
    let refused = env.apply_on_hub(&file, &["--timeout", "3m"]);
    refused.expect_code(2);
    assert!(
        refused.stderr.contains("--update-strategy"),
        "{}",
        refused.stderr
    );

    let run = env.apply_on_hub(
        &file,
        &[
            "--update-strategy",
            "canary-then-prod",
            "--timeout",
            "4m",
            "-v",
        ],
    );
    run.expect_code(0);
    assert!(
        run.stderr.contains("ClusterStagedUpdateRun shop-staged-"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("stage canary"), "{}", run.stderr);
    let runs = env
        .hub_api(
            "v1beta1",
            "ClusterStagedUpdateRun",
            "clusterstagedupdateruns",
        )
        .await;
    let list = runs.list(&Default::default()).await.expect("runs");
    let ours = list
        .items
        .iter()
        .find(|r| r.data["spec"]["placementName"] == "shop-staged")
        .expect("kpush created a run");
    assert_eq!(
        ours.data["spec"]["stagedRolloutStrategyName"],
        "canary-then-prod"
    );
    for member in ["member-1", "member-2"] {
        assert!(
            env.member_deployment(member, "shop-staged", "web")
                .await
                .is_some(),
            "{member} got the Deployment through the run"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_hub_is_found_through_arm_list_credentials_and_entra_id() {
    let env = env().await;
    let _guard = EnvGuard::set(&[]).await;
    let file = env.write("arm.yaml", &app("shop-arm", "nginx:1.27"));
    let url = env.f.emulator.url();
    let ca = env.f.emulator.ca_file().display().to_string();
    let args = |extra: &[&str]| -> Vec<String> {
        let mut a: Vec<String> = [
            "apply",
            &file,
            "--fleet",
            FLEET,
            "--resource-group",
            RG,
            "--subscription",
            SUB,
            "--authority-host",
            &url,
            "--arm-endpoint",
            &url,
            "--azure-ca-file",
            &ca,
            "--auth",
            "client-secret",
        ]
        .map(str::to_string)
        .to_vec();
        a.extend(extra.iter().map(|s| s.to_string()));
        a
    };
    let sp = [
        ("AZURE_CLIENT_ID", SECRET_APP),
        ("AZURE_TENANT_ID", TENANT),
        ("AZURE_CLIENT_SECRET", SECRET),
    ];
    // The deployers hold the AKS Cluster User role only: not enough for a fleet's credentials.
    let refused = kpush_with_env(&args(&["--placement", "all"]), &sp);
    refused.expect_code(6);
    assert!(
        refused.stderr.contains("fleets/listCredentials"),
        "{}",
        refused.stderr
    );
    assert!(
        refused
            .stderr
            .contains("Azure Kubernetes Fleet Manager Contributor Role"),
        "{}",
        refused.stderr
    );
    assert!(!refused.stderr.contains(SECRET));

    env.f.emulator.configure(|c| {
        c.role_assignments.push(kpush_azure_emulator::RoleAssignment {
            principal_id: FED_APP_OID.into(),
            role: kpush_azure_emulator::Role::FleetManagerContributor,
            scope: format!(
                "/subscriptions/{SUB}/resourceGroups/{RG}/providers/Microsoft.ContainerService/fleets/{FLEET}"
            ),
        })
    });
    let fed: Vec<(&str, String)> = env.f.github_env();
    let fed: Vec<(&str, &str)> = fed.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let mut github_args = args(&["--placement", "labels=env=prod", "--timeout", "3m"]);
    let at = github_args
        .iter()
        .position(|a| a == "client-secret")
        .expect("auth");
    github_args[at] = "github-oidc".into();
    let run = wait_for_oidc_then(|| kpush_with_env(&github_args, &fed));
    run.expect_code(0);
    assert!(
        run.stderr
            .contains("ClusterResourcePlacement shop-arm on member-2"),
        "{}",
        run.stderr
    );
    assert!(env.f.count("/fleets/fleet-prod/listCredentials", 200) >= 1);
    assert!(
        env.member_deployment("member-2", "shop-arm", "web")
            .await
            .is_some()
    );
    assert!(
        env.member_deployment("member-1", "shop-arm", "web")
            .await
            .is_none()
    );
}

/// kube-apiserver takes Entra tokens only once its OIDC authenticator fetched the issuer's
/// discovery document, in the background after start: retry a run refused for that (exit 6).
fn wait_for_oidc_then(run: impl Fn() -> Run) -> Run {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let r = run();
        if r.code != 6 || Instant::now() > deadline {
            return r;
        }
        std::thread::sleep(Duration::from_secs(2));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_object_fleet_cannot_apply_on_one_member_fails_that_member_naming_it() {
    let env = env().await;
    // On member-1 a ConfigMap of that name already exists, owned by another object: Fleet
    // refuses to take it over there (co-ownership is disallowed); member-2 has none.
    let member = env.fleet.member("member-1");
    member
        .create_namespace("shop-owned")
        .await
        .expect("namespace");
    let client = member.client("admin").await.expect("client");
    let maps = Api::<k8s_openapi::api::core::v1::ConfigMap>::namespaced(client, "shop-owned");
    let owner = maps
        .patch(
            "owner",
            &PatchParams::apply("someone-else"),
            &Patch::Apply(
                json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "owner"}}),
            ),
        )
        .await
        .expect("owner");
    let uid = owner.metadata.uid.expect("uid");
    maps.patch(
        "settings",
        &PatchParams::apply("someone-else"),
        &Patch::Apply(json!({
            "apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "settings", "ownerReferences": [
                {"apiVersion": "v1", "kind": "ConfigMap", "name": "owner", "uid": uid}
            ]},
            "data": {"mode": "theirs"},
        })),
    )
    .await
    .expect("owned ConfigMap");
    let file = env.write(
        "owned.yaml",
        "apiVersion: v1
kind: Namespace
metadata:
  name: shop-owned
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: settings
  namespace: shop-owned
data:
  mode: ours
",
    );
    let run = env.apply_on_hub(&file, &["--placement", "all", "--timeout", "2m"]);
    run.expect_code(4);
    assert!(
        run.stderr
            .contains("ClusterResourcePlacement shop-owned on member-1"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("ConfigMap shop-owned/settings"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("co-ownership"), "{}", run.stderr);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_staged_run_waiting_for_approval_says_so_and_goes_on_once_approved() {
    let env = env().await;
    let strategies = env
        .hub_api(
            "v1beta1",
            "ClusterStagedUpdateStrategy",
            "clusterstagedupdatestrategies",
        )
        .await;
    let strategy = json!({
        "apiVersion": "placement.kubernetes-fleet.io/v1beta1", "kind": "ClusterStagedUpdateStrategy",
        "metadata": {"name": "canary-approved"},
        "spec": {"stages": [
            {"name": "canary", "labelSelector": {"matchLabels": {"env": "canary"}},
             "afterStageTasks": [{"type": "Approval"}]},
            {"name": "prod", "labelSelector": {"matchLabels": {"env": "prod"}}},
        ]},
    });
    strategies
        .patch(
            "canary-approved",
            &PatchParams::apply("test"),
            &Patch::Apply(&strategy),
        )
        .await
        .expect("strategy");
    let manifests = format!(
        "{}---
apiVersion: placement.kubernetes-fleet.io/v1beta1
kind: ClusterResourcePlacement
metadata:
  name: shop-approved
spec:
  resourceSelectors:
    - {{group: \"\", version: v1, kind: Namespace, name: shop-approved}}
  policy:
    placementType: PickAll
  strategy:
    type: External
",
        app("shop-approved", "nginx:1.27")
    );
    let file = env.write("approved.yaml", &manifests);
    let kubeconfig = env.fleet.hub().kubeconfig_path("admin");
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_kpush"))
        .args(["apply", &file, "--kubeconfig"])
        .arg(&kubeconfig)
        .args([
            "--fleet-hub",
            "--update-strategy",
            "canary-approved",
            "--timeout",
            "4m",
            "-v",
            "--ci",
            "none",
        ])
        .env_remove("KUBECONFIG")
        .env("NO_COLOR", "1")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("kpush starts");
    // Read kpush's standard error as it comes, to approve only once kpush said it waits.
    let said = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
    let reader = {
        let said = said.clone();
        let stderr = child.stderr.take().expect("stderr");
        std::thread::spawn(move || {
            use std::io::BufRead;
            for line in std::io::BufReader::new(stderr)
                .lines()
                .map_while(Result::ok)
            {
                let mut s = said.lock().expect("lock");
                s.push_str(&line);
                s.push('\n');
            }
        })
    };
    let stderr_now = || said.lock().expect("lock").clone();
    // Approve the canary stage once Fleet asks and kpush said so.
    let requests = env
        .hub_api(
            "v1beta1",
            "ClusterApprovalRequest",
            "clusterapprovalrequests",
        )
        .await;
    let deadline = Instant::now() + Duration::from_secs(180);
    let request = loop {
        let list = requests.list(&Default::default()).await.expect("list");
        if let Some(r) = list
            .items
            .into_iter()
            .find(|r| r.data["spec"]["targetStage"] == "canary")
        {
            break r;
        }
        assert!(
            Instant::now() < deadline,
            "Fleet never asked for approval; kpush said:\n{}",
            stderr_now()
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    let name = request.metadata.name.clone().expect("name");
    let waits = format!("stage canary waits for approval: approve ClusterApprovalRequest {name}");
    while !stderr_now().contains(&waits) {
        assert!(
            Instant::now() < deadline,
            "kpush never said the run waits for approval:\n{}",
            stderr_now()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // Nobody approved yet: the member of the next stage has nothing.
    assert!(
        env.member_deployment("member-2", "shop-approved", "web")
            .await
            .is_none(),
        "the prod stage waited for the approval"
    );
    let generation = request.metadata.generation.unwrap_or(1);
    let status = json!({"status": {"conditions": [{
        "type": "Approved", "status": "True", "reason": "ApprovedByTest", "message": "approved",
        "observedGeneration": generation, "lastTransitionTime": "2026-01-01T00:00:00Z",
    }]}});
    requests
        .patch_status(&name, &PatchParams::default(), &Patch::Merge(&status))
        .await
        .expect("approve");
    let status = tokio::task::spawn_blocking(move || {
        let status = child.wait();
        let _ = reader.join();
        status
    })
    .await
    .expect("join")
    .expect("kpush ends");
    let stderr = stderr_now();
    assert_eq!(status.code(), Some(0), "{stderr}");
    assert!(
        stderr.contains("ClusterStagedUpdateRun shop-approved-"),
        "{stderr}"
    );
    assert!(
        env.member_deployment("member-2", "shop-approved", "web")
            .await
            .is_some(),
        "the prod stage ran after the approval"
    );
}

impl Env {
    /// Runs kubectl on the hub as its admin; panics when it fails.
    fn hub_kubectl(&self, args: &[&str]) -> String {
        let hub = self.fleet.hub();
        let kubectl = hub
            .kubectl()
            .expect("kubectl is built with the control plane");
        let out = std::process::Command::new(kubectl)
            .args(args)
            .arg("--kubeconfig")
            .arg(hub.kubeconfig_path("admin"))
            .output()
            .expect("run kubectl");
        assert!(
            out.status.success(),
            "kubectl {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// `kpush ARGS --kubeconfig HUB(user) --fleet-hub`.
    fn kpush_on_hub_as(&self, user: &str, args: &[&str]) -> Run {
        let kubeconfig = self.fleet.hub().kubeconfig_path(user);
        let mut all: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        all.extend([
            "--kubeconfig".into(),
            kubeconfig.display().to_string(),
            "--fleet-hub".into(),
        ]);
        kpush_with_env(&all, &[])
    }

    /// Prints the roles with `kpush rbac ARGS --subject user:USER --name NAME` (as the hub's
    /// admin) and applies them on the hub; returns what was printed and the file it is in.
    fn bind_printed_roles(&self, user: &str, name: &str, args: &[&str]) -> (String, String) {
        let mut all = vec!["rbac"];
        all.extend_from_slice(args);
        let subject = format!("user:{user}");
        all.extend(["--subject", &subject, "--name", name]);
        let printed = self.kpush_on_hub_as("admin", &all);
        printed.expect_code(0);
        let roles = self.write(&format!("{name}-roles.yaml"), &printed.stdout);
        self.hub_kubectl(&["apply", "-f", &roles]);
        (printed.stdout, roles)
    }

    /// Takes `verb` out of the rule for `resource` of ClusterRole `name` on the hub.
    fn remove_verb(&self, name: &str, resource: &str, verb: &str) {
        let role = self.hub_kubectl(&["get", "clusterrole", name, "-o", "json"]);
        let mut role: serde_json::Value = serde_json::from_str(&role).expect("role json");
        let mut removed = false;
        for rule in role["rules"].as_array_mut().expect("rules") {
            if rule["resources"][0] == resource
                && let Some(verbs) = rule["verbs"].as_array_mut()
            {
                let before = verbs.len();
                verbs.retain(|v| v != verb);
                removed |= verbs.len() < before;
            }
        }
        assert!(removed, "the printed ClusterRole grants {verb} {resource}");
        // A rule needs a verb: one left with none goes.
        if let Some(rules) = role["rules"].as_array_mut() {
            rules.retain(|r| r["verbs"].as_array().is_some_and(|v| !v.is_empty()));
        }
        let trimmed = self.write(
            &format!("{name}-trimmed.json"),
            &serde_json::to_string(&role).expect("json"),
        );
        self.hub_kubectl(&["replace", "-f", &trimmed]);
    }

    async fn hub_image(&self, ns: &str) -> Option<String> {
        let client = self.fleet.hub().client("admin").await.expect("client");
        let d = Api::<Deployment>::namespaced(client, ns)
            .get_opt("web")
            .await
            .expect("get")?;
        d.spec?.template.spec?.containers.first()?.image.clone()
    }
}

/// The printed roles without their header (which names where kinds were resolved).
fn roles_only(printed: &str) -> String {
    printed
        .lines()
        .filter(|l| !l.starts_with("# Permissions"))
        .collect::<Vec<_>>()
        .join("\n")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_user_bound_to_what_kpush_rbac_prints_deploys_through_the_fleet_and_one_fleet_verb_less_is_refused()
 {
    let env = env().await;
    let ns = "shop-rbac";
    let file = env.write("rbac.yaml", &app(ns, "nginx:1.27"));
    let (printed, roles) =
        env.bind_printed_roles("bob", "kpush-fleet-bob", &[&file, "--placement", "all"]);
    for rule in [
        "resources: [\"clusterresourceplacements\"]\n    verbs: [\"get\", \"create\", \"patch\"]",
        "resources: [\"clusterresourcesnapshots\"]\n    verbs: [\"list\"]",
    ] {
        assert!(printed.contains(rule), "`{rule}` in:\n{printed}");
    }
    assert!(
        printed.contains("# list: find the placement's newest resource snapshot"),
        "{printed}"
    );
    assert!(
        !printed.contains("\"pods\"") && !printed.contains("replicasets"),
        "the hub's copies are not tracked:\n{printed}"
    );
    // Offline, and with the ARM flag shape (`--fleet`), the placement kind is known too: the
    // same roles.
    let offline = kpush_with_env(
        &[
            "rbac".into(),
            file.clone(),
            "--offline".into(),
            "--fleet".into(),
            FLEET.into(),
            "--resource-group".into(),
            RG.into(),
            "--placement".into(),
            "all".into(),
            "--subject".into(),
            "user:bob".into(),
            "--name".into(),
            "kpush-fleet-bob".into(),
        ],
        &[],
    );
    offline.expect_code(0);
    assert_eq!(roles_only(&offline.stdout), roles_only(&printed));

    // The generated placement is generated before the check, so the check covers it: without
    // `create` on placements the deploy is refused before anything is applied.
    env.remove_verb("kpush-fleet-bob", "clusterresourceplacements", "create");
    let refused = env.kpush_on_hub_as(
        "bob",
        &["apply", &file, "--placement", "all", "--timeout", "1m"],
    );
    refused.expect_code(3);
    let said =
        "cannot create clusterresourceplacements.placement.kubernetes-fleet.io (cluster-wide)";
    assert!(
        refused.stderr.contains(said),
        "`{said}` in:\n{}",
        refused.stderr
    );
    assert_eq!(env.hub_image(ns).await, None, "nothing was applied");
    env.hub_kubectl(&["apply", "-f", &roles]);

    // As bob, with exactly these roles: the generated placement is applied and followed.
    let run = env.kpush_on_hub_as(
        "bob",
        &["apply", &file, "--placement", "all", "--timeout", "3m"],
    );
    run.expect_code(0);
    for member in ["member-1", "member-2"] {
        assert!(
            env.member_deployment(member, ns, "web").await.is_some(),
            "the Deployment reached {member}:\n{}",
            run.stderr
        );
    }

    // One Fleet verb less: listing the placement's snapshots. The next deploy is refused
    // before anything changes on the hub.
    env.remove_verb("kpush-fleet-bob", "clusterresourcesnapshots", "list");
    let crps = env
        .hub_api(
            "v1",
            "ClusterResourcePlacement",
            "clusterresourceplacements",
        )
        .await;
    let generation = |crp: DynamicObject| crp.metadata.generation;
    let before = generation(crps.get(ns).await.expect("placement"));
    env.write("rbac.yaml", &app(ns, "nginx:1.28"));
    let refused = env.kpush_on_hub_as(
        "bob",
        &["apply", &file, "--placement", "all", "--timeout", "1m"],
    );
    refused.expect_code(3);
    for said in [
        "cannot list clusterresourcesnapshots.placement.kubernetes-fleet.io (cluster-wide)",
        "find the placement's newest resource snapshot",
        "\"bob\" lacks 1 permission",
        "--subject user:bob",
        "the fleet flags included",
    ] {
        assert!(
            refused.stderr.contains(said),
            "`{said}` in:\n{}",
            refused.stderr
        );
    }
    assert_eq!(env.hub_image(ns).await.as_deref(), Some("nginx:1.27"));
    assert_eq!(generation(crps.get(ns).await.expect("placement")), before);
    env.hub_kubectl(&[
        "delete",
        "clusterrolebinding,clusterrole",
        "kpush-fleet-bob",
    ]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_staged_run_is_refused_before_anything_without_create_and_runs_with_the_printed_roles() {
    let env = env().await;
    let ns = "shop-staged-rbac";
    let strategies = env
        .hub_api(
            "v1beta1",
            "ClusterStagedUpdateStrategy",
            "clusterstagedupdatestrategies",
        )
        .await;
    let strategy = json!({
        "apiVersion": "placement.kubernetes-fleet.io/v1beta1", "kind": "ClusterStagedUpdateStrategy",
        "metadata": {"name": "rbac-canary-then-prod"},
        "spec": {"stages": [
            {"name": "canary", "labelSelector": {"matchLabels": {"env": "canary"}}},
            {"name": "prod", "labelSelector": {"matchLabels": {"env": "prod"}}},
        ]},
    });
    strategies
        .patch(
            "rbac-canary-then-prod",
            &PatchParams::apply("test"),
            &Patch::Apply(&strategy),
        )
        .await
        .expect("strategy");
    let manifests = format!(
        "{}---
apiVersion: placement.kubernetes-fleet.io/v1beta1
kind: ClusterResourcePlacement
metadata:
  name: {ns}
spec:
  resourceSelectors:
    - {{group: \"\", version: v1, kind: Namespace, name: {ns}}}
  policy:
    placementType: PickAll
  strategy:
    type: External
",
        app(ns, "nginx:1.27")
    );
    let file = env.write("staged-rbac.yaml", &manifests);
    let flags = ["--update-strategy", "rbac-canary-then-prod"];
    let mut args = vec![file.as_str()];
    args.extend(flags);
    let (printed, roles) = env.bind_printed_roles("alice", "kpush-fleet-alice", &args);
    let rule = "resources: [\"clusterstagedupdateruns\"]\n    verbs: [\"get\", \"create\"]";
    assert!(printed.contains(rule), "`{rule}` in:\n{printed}");
    assert!(
        printed.contains("# get, create: start and follow the staged update run"),
        "{printed}"
    );

    env.remove_verb("kpush-fleet-alice", "clusterstagedupdateruns", "create");
    let mut apply = vec!["apply", file.as_str(), "--timeout", "1m"];
    apply.extend(flags);
    let refused = env.kpush_on_hub_as("alice", &apply);
    refused.expect_code(3);
    for said in [
        "cannot create clusterstagedupdateruns.placement.kubernetes-fleet.io (cluster-wide)",
        "start and follow the staged update run",
        "\"alice\" lacks 1 permission",
    ] {
        assert!(
            refused.stderr.contains(said),
            "`{said}` in:\n{}",
            refused.stderr
        );
    }
    // Nothing was applied: no placement, no namespace, no Deployment on the hub.
    let crps = env
        .hub_api(
            "v1",
            "ClusterResourcePlacement",
            "clusterresourceplacements",
        )
        .await;
    assert!(crps.get_opt(ns).await.expect("get").is_none());
    assert_eq!(env.hub_image(ns).await, None);

    // With exactly the printed roles, alice's deploy starts the run and follows it through.
    env.hub_kubectl(&["apply", "-f", &roles]);
    let mut apply = vec!["apply", file.as_str(), "--timeout", "4m", "-v"];
    apply.extend(flags);
    let run = env.kpush_on_hub_as("alice", &apply);
    run.expect_code(0);
    assert!(
        run.stderr
            .contains(&format!("ClusterStagedUpdateRun {ns}-")),
        "{}",
        run.stderr
    );
    for member in ["member-1", "member-2"] {
        assert!(
            env.member_deployment(member, ns, "web").await.is_some(),
            "{member} got the Deployment through the run:\n{}",
            run.stderr
        );
    }
    env.hub_kubectl(&[
        "delete",
        "clusterrolebinding,clusterrole",
        "kpush-fleet-alice",
    ]);
}
