//! A repository is untrusted input, and so is what others with `edit` in a namespace can
//! write: nothing in them may run code, read the runner's secrets, or make kpush delete or
//! restore what the release does not own. Against the real control plane where Kubernetes is
//! involved: the deploy lock between a real `kpush` and a competing holder, forged revision
//! records, exec credential plugins in a targets file's kubeconfig; and, for rendering, the
//! environment helm gets and symlinks leaving the repository.

mod harness;

use std::io::{Read, Write};
use std::os::unix::fs::symlink;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine;
use harness::binary::{Ctx, Run, config_map, kpush_with_env};
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::MicroTime;
use k8s_openapi::jiff::{SignedDuration, Timestamp};
use kpush_testenv::helm::{HelmMajor, helm};
use kube::Api;
use kube::api::{ObjectMeta, PostParams};
use serde_json::{Value, json};

const LEASE: &str = "kpush.lock.app";

/// Runs `kpush` with `args` and only `env` besides the harness's clean environment.
fn kpush(args: &[&str], env: &[(&str, &str)]) -> Run {
    let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
    kpush_with_env(&args, env)
}

fn leases(ctx: &Ctx, client: kube::Client) -> Api<Lease> {
    Api::namespaced(client, &ctx.namespace)
}

/// A Lease held by `holder` whose renewTime reads `behind` in the past by this machine's clock.
fn foreign_lease(holder: &str, behind: SignedDuration) -> Lease {
    let then = MicroTime(Timestamp::now() - behind);
    Lease {
        metadata: ObjectMeta {
            name: Some(LEASE.into()),
            ..Default::default()
        },
        spec: Some(k8s_openapi::api::coordination::v1::LeaseSpec {
            holder_identity: Some(holder.into()),
            lease_duration_seconds: Some(30),
            acquire_time: Some(then.clone()),
            renew_time: Some(then),
            ..Default::default()
        }),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_runner_whose_clock_is_ahead_cannot_take_a_lock_that_is_still_renewed() {
    let ctx = Ctx::new("trust-lock-clock").await;
    let cm = ctx
        .write("cm.yaml", &config_map("c", "v1"))
        .display()
        .to_string();
    let api = leases(&ctx, ctx.client().await);
    // Another runner holds the lock and renews it every 3 s; its clock is an hour behind ours
    // (or ours an hour ahead), so every renewTime it writes looks long expired here.
    api.create(
        &PostParams::default(),
        &foreign_lease("runner-b", SignedDuration::from_hours(1)),
    )
    .await
    .expect("create lease");
    let renewer = {
        let api = api.clone();
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(Duration::from_secs(3)).await;
                let Ok(mut l) = api.get(LEASE).await else {
                    continue;
                };
                let spec = l.spec.as_mut().expect("spec");
                spec.renew_time = Some(MicroTime(Timestamp::now() - SignedDuration::from_hours(1)));
                let _ = api.replace(LEASE, &PostParams::default(), &l).await;
            }
        })
    };
    let started = Instant::now();
    let kubeconfig = ctx.cluster.kubeconfig_path("admin").display().to_string();
    let namespace = ctx.namespace.clone();
    // Longer than the lease duration: the renewals, not the clock, keep it held.
    let run = tokio::task::spawn_blocking(move || {
        let args = [
            "apply",
            &cm,
            "--release",
            "app",
            "--lock-timeout",
            "40s",
            "--kubeconfig",
            &kubeconfig,
            "-n",
            &namespace,
        ];
        kpush(&args, &[])
    });
    let run = run.await.expect("kpush ran");
    renewer.abort();
    run.expect_code(8);
    assert!(
        started.elapsed() >= Duration::from_secs(40),
        "{:?}",
        started.elapsed()
    );
    assert!(run.stderr.contains("runner-b"), "{}", run.stderr);
    let lease = api.get(LEASE).await.expect("lease still there");
    assert_eq!(
        lease.spec.and_then(|s| s.holder_identity).as_deref(),
        Some("runner-b")
    );
    assert!(ctx.get(&ctx.core("configmaps", "c")).await.is_none());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_lock_taken_over_mid_deploy_stops_kpush_before_pruning_and_recording() {
    let ctx = Ctx::new("trust-lock-lost").await;
    harness::runs::write_config_maps(ctx.path(), 150);
    ctx.write("old.yaml", &config_map("old", "v1"));
    let dir = ctx.path().display().to_string();
    ctx.kpush(&["apply", &dir, "--release", "app"])
        .expect_code(0);
    ctx.remove("old.yaml");

    let client = ctx.client().await;
    let api = leases(&ctx, client.clone());
    let secrets: Api<Secret> = Api::namespaced(client, &ctx.namespace);
    let run = harness::runs::spawn_apply(
        ctx.path(),
        &ctx.cluster.kubeconfig_path("admin"),
        &ctx.namespace,
        &["--release", "app"],
    );
    // Revision 2's pending record is written under the lock, before anything is applied:
    // another deploy takes the lock over right then.
    let started = Instant::now();
    while secrets
        .get_opt("kpush.release.v1.app.v2")
        .await
        .expect("get")
        .is_none()
    {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "never recorded"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    // The runner stalls (a paused VM, a starved container) past half a lease duration, so
    // kpush's own renewal is no longer fresh, and another deploy takes the lock over meanwhile.
    let pid = run.pid().to_string();
    let signal = |sig: &str| {
        let status = std::process::Command::new("kill")
            .args([sig, &pid])
            .status()
            .expect("kill");
        assert!(status.success(), "kill {sig} {pid}");
    };
    signal("-STOP");
    loop {
        let mut l = api.get(LEASE).await.expect("lease");
        l.spec.as_mut().expect("spec").holder_identity = Some("intruder".into());
        match api.replace(LEASE, &PostParams::default(), &l).await {
            Ok(_) => break,
            Err(kube::Error::Api(s)) if s.code == 409 => continue,
            Err(e) => panic!("take over: {e}"),
        }
    }
    tokio::time::sleep(Duration::from_secs(16)).await;
    signal("-CONT");
    let run = tokio::task::spawn_blocking(move || harness::runs::finish(run))
        .await
        .expect("kpush ended");
    run.expect_code(8);
    assert!(run.stderr.contains("took it over"), "{}", run.stderr);
    assert!(run.stderr.contains("intruder"), "{}", run.stderr);
    // Nothing pruned: the object that left the manifests is still there.
    assert!(
        ctx.get(&ctx.core("configmaps", "old")).await.is_some(),
        "{}",
        run.stderr
    );
    // The other deploy's Lease is left alone.
    let lease = api.get(LEASE).await.expect("the intruder's lease stays");
    assert_eq!(
        lease.spec.and_then(|s| s.holder_identity).as_deref(),
        Some("intruder")
    );
    // Nothing recorded over the other deploy's history: revision 2 stays pending.
    let history = ctx.kpush(&["history", "app", "-o", "json"]);
    history.expect_code(0);
    let h: Value = serde_json::from_str(&history.stdout).expect("json");
    assert_eq!(h["revisions"][1]["status"], "pending", "{h}");
}

/// The revision JSON of the record Secret `name`, and the Secret.
async fn record(ctx: &Ctx, name: &str) -> (Value, Secret) {
    let api: Api<Secret> = Api::namespaced(ctx.client().await, &ctx.namespace);
    let secret = api.get(name).await.expect("record");
    let data = &secret.data.as_ref().expect("data")["release"].0;
    let mut json = Vec::new();
    flate2::read::GzDecoder::new(&data[..])
        .read_to_end(&mut json)
        .expect("gzip");
    (serde_json::from_slice(&json).expect("json"), secret)
}

/// Rewrites record `name` with `revision`, keeping its other data (its signature) as it is:
/// what anyone with `edit` in the namespace can do.
async fn forge(ctx: &Ctx, name: &str, revision: &Value) {
    let api: Api<Secret> = Api::namespaced(ctx.client().await, &ctx.namespace);
    let (_, mut secret) = record(ctx, name).await;
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(&serde_json::to_vec(revision).expect("json"))
        .expect("gzip");
    secret.data.as_mut().expect("data").insert(
        "release".into(),
        k8s_openapi::ByteString(gz.finish().expect("gzip")),
    );
    api.replace(name, &PostParams::default(), &secret)
        .await
        .expect("forge");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_forged_record_is_not_restored_and_a_rollback_obeys_the_namespace_rules() {
    let ctx = Ctx::new("trust-records").await;
    let key = [("KPUSH_RECORD_KEY", "pipeline-secret-key")];
    let cm = ctx
        .write("cm.yaml", &config_map("c", "v1"))
        .display()
        .to_string();
    ctx.kpush_env("admin", &["apply", &cm, "--release", "app"], &key)
        .expect_code(0);
    let (_, secret) = record(&ctx, "kpush.release.v1.app.v1").await;
    assert!(
        secret
            .data
            .as_ref()
            .expect("data")
            .contains_key("signature"),
        "records are signed with KPUSH_RECORD_KEY"
    );
    ctx.write("cm.yaml", &config_map("c", "v2"));
    ctx.kpush_env("admin", &["apply", &cm, "--release", "app"], &key)
        .expect_code(0);

    // Someone with `edit` adds a ClusterRoleBinding to the succeeded revision 1.
    let binding = format!("trust-records-{}", std::process::id());
    let (mut forged, _) = record(&ctx, "kpush.release.v1.app.v1").await;
    forged["manifests"].as_array_mut().expect("manifests").push(json!({
        "file": "cm.yaml", "line": 1,
        "object": {
            "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
            "metadata": {"name": binding},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "cluster-admin"},
            "subjects": [{"kind": "ServiceAccount", "name": "default", "namespace": ctx.namespace}]
        }
    }));
    forge(&ctx, "kpush.release.v1.app.v1", &forged).await;
    let crb = format!("/apis/rbac.authorization.k8s.io/v1/clusterrolebindings/{binding}");

    let run = ctx.kpush_env("admin", &["rollback", "app"], &key);
    run.expect_code(2);
    assert!(
        run.stderr.contains("refusing to restore revision 1")
            && run.stderr.contains("does not match its content")
            && run.stderr.contains("--trust-unverified-records"),
        "{}",
        run.stderr
    );
    assert!(
        ctx.get(&crb).await.is_none(),
        "the forged binding was applied"
    );
    let value = ctx.get(&ctx.core("configmaps", "c")).await.expect("cm");
    assert_eq!(value["data"]["key"], "v2");

    // Overridden, a record whose objects leave the release's namespace is still refused.
    let (mut elsewhere, _) = record(&ctx, "kpush.release.v1.app.v1").await;
    elsewhere["manifests"] = json!([{
        "file": "cm.yaml", "line": 1,
        "object": {"apiVersion": "v1", "kind": "ConfigMap",
                   "metadata": {"name": "planted", "namespace": "default"}, "data": {"key": "x"}}
    }]);
    forge(&ctx, "kpush.release.v1.app.v1", &elsewhere).await;
    let run = ctx.kpush_env(
        "admin",
        &["rollback", "app", "--trust-unverified-records"],
        &key,
    );
    run.expect_code(2);
    assert!(
        run.stderr.contains("namespace rules")
            && run
                .stderr
                .contains("ConfigMap planted is in namespace default"),
        "{}",
        run.stderr
    );
    assert!(
        ctx.get("/api/v1/namespaces/default/configmaps/planted")
            .await
            .is_none()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn records_written_before_the_key_need_the_override_once() {
    let ctx = Ctx::new("trust-migrate").await;
    let key = [("KPUSH_RECORD_KEY", "pipeline-secret-key")];
    let cm = ctx
        .write("cm.yaml", &config_map("c", "v1"))
        .display()
        .to_string();
    // Written by a kpush without the key (or an older version): not signed.
    ctx.kpush(&["apply", &cm, "--release", "app"])
        .expect_code(0);
    ctx.write("cm.yaml", &config_map("c", "v2"));
    ctx.kpush_env("admin", &["apply", &cm, "--release", "app"], &key)
        .expect_code(0);
    let run = ctx.kpush_env("admin", &["rollback", "app"], &key);
    run.expect_code(2);
    assert!(run.stderr.contains("it is not signed"), "{}", run.stderr);
    let run = ctx.kpush_env(
        "admin",
        &["rollback", "app", "--trust-unverified-records"],
        &key,
    );
    run.expect_code(0);
    let value = ctx.get(&ctx.core("configmaps", "c")).await.expect("cm");
    assert_eq!(value["data"]["key"], "v1");
    // The rollback's own record is signed: the next rollback to it needs no override.
    let (_, secret) = record(&ctx, "kpush.release.v1.app.v3").await;
    assert!(secret.data.expect("data").contains_key("signature"));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_failed_deploy_is_not_rolled_back_to_a_record_that_does_not_verify() {
    let ctx = Ctx::new("trust-no-rollback").await;
    let key = [("KPUSH_RECORD_KEY", "pipeline-secret-key")];
    ctx.write("cm.yaml", &config_map("c", "v1"));
    let dir = ctx.path().display().to_string();
    // Revision 1, written without the key.
    ctx.kpush(&["apply", &dir, "--release", "app"])
        .expect_code(0);
    // Pods that become ready only after two minutes (node simulator).
    let slow = harness::binary::deployment("web", "registry.example/team/web:1.0", "web").replace(
        "      labels:\n        app:",
        "      annotations:\n        sim.kpush.dev/behavior: slow-start\n        \
         sim.kpush.dev/start-seconds: \"120\"\n      labels:\n        app:",
    );
    ctx.write("web.yaml", &slow);
    let run = ctx.kpush_env(
        "admin",
        &[
            "apply",
            &dir,
            "--release",
            "app",
            "--rollback-on-failure",
            "--timeout",
            "5s",
        ],
        &key,
    );
    run.expect_code(5);
    assert!(
        run.stderr.contains("not rolled back")
            && run.stderr.contains("refusing to restore revision 1")
            && run.stderr.contains("it is not signed"),
        "{}",
        run.stderr
    );
    // The Deployment revision 2 added is still there: nothing was restored (and pruned).
    assert!(
        ctx.get(&ctx.grouped("apps/v1", "deployments", "web"))
            .await
            .is_some()
    );
    let history = ctx.kpush(&["history", "app", "-o", "json"]);
    let h: Value = serde_json::from_str(&history.stdout).expect("json");
    assert_eq!(h["revisions"].as_array().map(Vec::len), Some(2), "{h}");
    assert_eq!(h["revisions"][1]["status"], "timed-out", "{h}");
}

/// A kubeconfig for the shared cluster whose user runs `script` as an exec credential plugin.
fn exec_kubeconfig(ctx: &Ctx, script: &str) -> String {
    let ca = base64::engine::general_purpose::STANDARD.encode(ctx.cluster.ca_pem());
    serde_json::to_string_pretty(&json!({
        "apiVersion": "v1", "kind": "Config", "current-context": "c",
        "clusters": [{"name": "k", "cluster": {"server": ctx.cluster.server(), "certificate-authority-data": ca}}],
        "contexts": [{"name": "c", "context": {"cluster": "k", "user": "u"}}],
        "users": [{"name": "u", "user": {"exec": {
            "apiVersion": "client.authentication.k8s.io/v1beta1",
            "command": "/bin/sh", "args": ["-c", script]
        }}}]
    }))
    .expect("json")
}

#[tokio::test(flavor = "multi_thread")]
async fn a_targets_files_kubeconfig_may_not_run_programs_unless_allowed() {
    let ctx = Ctx::new("trust-exec").await;
    let marker = ctx.path().join("plugin-ran");
    let credential = json!({
        "apiVersion": "client.authentication.k8s.io/v1beta1", "kind": "ExecCredential",
        "status": {"token": ctx.cluster.token("admin")}
    });
    let script = format!("touch '{}'; echo '{credential}'", marker.display());
    ctx.write("repo/kc", &exec_kubeconfig(&ctx, &script));
    let targets = ctx.write(
        "repo/targets.yaml",
        &format!(
            "targets:\n  - name: t\n    kubeconfig: kc\n    namespace: {}\n",
            ctx.namespace
        ),
    );
    let deploy = ctx.write("repo/deploy/cm.yaml", &config_map("c", "v1"));
    let (targets, deploy) = (
        targets.display().to_string(),
        deploy.parent().expect("dir").display().to_string(),
    );
    let args = ["apply", deploy.as_str(), "--targets", targets.as_str()];

    let run = kpush(&args, &[]);
    run.expect_code(2);
    assert!(
        run.stderr.contains("runs the program \"/bin/sh\"")
            && run.stderr.contains("--allow-exec-credentials"),
        "{}",
        run.stderr
    );
    assert!(!marker.exists(), "the repository's plugin ran");
    assert!(ctx.get(&ctx.core("configmaps", "c")).await.is_none());

    let run = kpush(&args, &[("KPUSH_ALLOW_EXEC_CREDENTIALS", "true")]);
    run.expect_code(0);
    assert!(marker.exists(), "allowed, the plugin signs in");
    assert!(ctx.get(&ctx.core("configmaps", "c")).await.is_some());

    // A token file of the runner's (outside the repository) would go to the kubeconfig's
    // server, which the repository chooses.
    let runner_token = ctx.write("runner-token", ctx.cluster.token("admin"));
    let mut kc: Value = serde_json::from_str(&exec_kubeconfig(&ctx, "")).expect("json");
    kc["users"][0]["user"] = json!({"tokenFile": runner_token.display().to_string()});
    ctx.write("repo/kc", &kc.to_string());
    let run = kpush(&args, &[]);
    run.expect_code(2);
    assert!(
        run.stderr.contains("sends the token file"),
        "{}",
        run.stderr
    );
}

/// A chart `c` in `dir` with one ConfigMap template holding `data`.
fn chart(dir: &Path, data: &str) -> String {
    let c = dir.join("c");
    std::fs::create_dir_all(c.join("templates")).expect("mkdir");
    std::fs::write(
        c.join("Chart.yaml"),
        "apiVersion: v2\nname: c\nversion: 0.1.0\n",
    )
    .expect("write");
    std::fs::write(
        c.join("templates/cm.yaml"),
        format!("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\ndata:\n{data}\n"),
    )
    .expect("write");
    c.display().to_string()
}

const SECRETS: [(&str, &str); 4] = [
    ("AZURE_CLIENT_SECRET", "topsecret-azure"),
    ("ACTIONS_ID_TOKEN_REQUEST_TOKEN", "topsecret-oidc"),
    ("SYSTEM_ACCESSTOKEN", "topsecret-ado"),
    ("KPUSH_RECORD_KEY", "topsecret-key"),
];

#[test]
fn helm_runs_without_kpushs_secrets_in_its_environment() {
    let dir = tempfile::tempdir().expect("dir");
    let dump = dir.path().join("helm-env");
    let fake = dir.path().join("fake-helm");
    std::fs::write(
        &fake,
        format!(
            "#!/bin/sh\nif [ \"$1\" = version ]; then printf v3.99.0; exit 0; fi\nenv > '{}'\n\
             printf -- '---\\n# Source: c/templates/cm.yaml\\napiVersion: v1\\nkind: ConfigMap\\n\
             metadata:\\n  name: c\\n'\n",
            dump.display()
        ),
    )
    .expect("write");
    std::fs::set_permissions(&fake, std::os::unix::fs::PermissionsExt::from_mode(0o755))
        .expect("chmod");
    let c = chart(dir.path(), "  k: v");
    let mut env = SECRETS.to_vec();
    env.push(("HELM_CACHE_HOME", "/tmp/helm-cache"));
    let run = kpush(&["render", &c, "--helm", &fake.display().to_string()], &env);
    run.expect_code(0);
    let seen = std::fs::read_to_string(&dump).expect("helm ran");
    assert!(!seen.contains("topsecret"), "{seen}");
    assert!(seen.contains("HELM_CACHE_HOME=/tmp/helm-cache"), "{seen}");
}

#[test]
fn a_helm_in_a_relative_path_entry_is_not_run() {
    let dir = tempfile::tempdir().expect("dir");
    let marker = dir.path().join("planted-helm-ran");
    // A `helm` planted in the repository, found through `.` in PATH.
    let planted = dir.path().join("helm");
    std::fs::write(
        &planted,
        format!("#!/bin/sh\ntouch '{}'\nprintf v3.99.0\n", marker.display()),
    )
    .expect("write");
    std::fs::set_permissions(
        &planted,
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .expect("chmod");
    let c = chart(dir.path(), "  k: v");
    let out = Command::new(env!("CARGO_BIN_EXE_kpush"))
        .args(["render", &c])
        .current_dir(dir.path())
        .env_clear()
        .env("PATH", ".:/usr/bin:/bin")
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .output()
        .expect("run kpush");
    assert_eq!(out.status.code(), Some(2));
    assert!(!marker.exists(), "the planted helm ran");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("not on PATH"), "{stderr}");
}

#[test]
fn a_chart_file_linking_to_the_process_environment_is_refused() {
    let helm = helm(HelmMajor::V3).unwrap_or_else(|e| panic!("{e:#}"));
    let dir = tempfile::tempdir().expect("dir");
    let c = chart(dir.path(), "  env: {{ .Files.Get \"leak\" | quote }}");
    symlink("/proc/self/environ", Path::new(&c).join("leak")).expect("symlink");
    let run = kpush(
        &["render", &c, "--helm", &helm.display().to_string()],
        &SECRETS,
    );
    run.expect_code(2);
    assert!(
        run.stderr.contains("leak is a symlink to /proc/")
            && run.stderr.contains("outside the repository"),
        "{}",
        run.stderr
    );
    assert!(!run.stdout.contains("topsecret"), "{}", run.stdout);
    assert!(!run.stderr.contains("topsecret"), "{}", run.stderr);
}

#[test]
fn a_directory_walk_stays_in_the_repository_and_survives_a_link_loop() {
    let dir = tempfile::tempdir().expect("dir");
    let outside = dir.path().join("outside.yaml");
    std::fs::write(&outside, config_map("outside", "secret")).expect("write");
    let deploy = dir.path().join("deploy");
    std::fs::create_dir_all(&deploy).expect("mkdir");
    std::fs::write(deploy.join("cm.yaml"), config_map("c", "v1")).expect("write");
    symlink(&outside, deploy.join("borrowed.yaml")).expect("symlink");
    let run = kpush(&["render", &deploy.display().to_string()], &[]);
    run.expect_code(2);
    assert!(
        run.stderr.contains("borrowed.yaml is a symlink to")
            && run.stderr.contains("outside the repository"),
        "{}",
        run.stderr
    );
    assert!(!run.stdout.contains("secret"), "{}", run.stdout);

    std::fs::remove_file(deploy.join("borrowed.yaml")).expect("rm");
    symlink(".", deploy.join("again")).expect("symlink");
    let run = kpush(&["render", &deploy.display().to_string()], &[]);
    run.expect_code(2);
    assert!(
        run.stderr.contains("again leads back to") && run.stderr.contains("symlink loop"),
        "{}",
        run.stderr
    );
}
