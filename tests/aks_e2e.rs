//! End to end through the real `kpush` binary: Entra ID, GitHub and Azure DevOps OIDC and ARM
//! emulated over TLS, a real kube-apiserver trusting the emulator's tokens (`--oidc-*`), and
//! Kubernetes RBAC giving the deploying identities `edit` in one namespace only.
//!
//! Every run logs at trace level, and every run's output is checked for tokens and secrets.

mod harness;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use harness::azure::*;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::api::rbac::v1::{RoleBinding, RoleRef, Subject};
use kpush_azure_emulator::{Mint, SignWith, TokenIssuer};
use kpush_testenv::{ClusterOptions, TestCluster};
use kube::api::{Api, ListParams, PostParams};

/// The namespace the deploying identities may write to.
const ALLOWED: &str = "allowed";
/// A namespace they may not touch.
const FORBIDDEN: &str = "forbidden";
/// Object id of the client-secret app's service principal.
const SECRET_APP_OID: &str = "aaaaaaaa-0000-4000-8000-000000000001";
/// Entra access tokens live this long, so every test crosses refreshes.
const TOKEN_LIFETIME: Duration = Duration::from_secs(30);

/// The emulator and the cluster, shared by this file's tests.
struct Env {
    f: Fixture,
    cluster: TestCluster,
}

static ENV: tokio::sync::OnceCell<Env> = tokio::sync::OnceCell::const_new();

async fn env() -> &'static Env {
    ENV.get_or_init(setup).await
}

fn binding(name: &str, user: &str) -> RoleBinding {
    RoleBinding {
        metadata: kube::api::ObjectMeta {
            name: Some(name.into()),
            namespace: Some(ALLOWED.into()),
            ..Default::default()
        },
        role_ref: RoleRef {
            api_group: "rbac.authorization.k8s.io".into(),
            kind: "ClusterRole".into(),
            name: "edit".into(),
        },
        subjects: Some(vec![Subject {
            kind: "User".into(),
            name: user.into(),
            api_group: Some("rbac.authorization.k8s.io".into()),
            ..Default::default()
        }]),
    }
}

async fn setup() -> Env {
    let f = start(TOKEN_LIFETIME);
    let issuer = f.emulator.tenant_issuer(TENANT);
    let cluster = TestCluster::start(ClusterOptions {
        extra_apiserver_args: vec![
            format!("--oidc-issuer-url={issuer}"),
            "--oidc-client-id=6dae42f8-4368-4678-94ff-3960e28e3630".into(),
            "--oidc-username-claim=oid".into(),
            "--oidc-username-prefix=-".into(),
            "--oidc-groups-claim=groups".into(),
            "--oidc-ca-file={dir}/entra-ca.pem".into(),
        ],
        extra_files: vec![(
            "entra-ca.pem".into(),
            f.emulator.ca_pem().as_bytes().to_vec(),
        )],
        ..ClusterOptions::default()
    })
    .expect("control plane starts");
    let (server, ca) = (
        cluster.server().to_string(),
        String::from_utf8(cluster.ca_pem()).expect("PEM is text"),
    );
    // ARM's kubeconfig for the cluster points at the real API server.
    f.emulator.configure(|c| {
        let aks = c
            .clusters
            .iter_mut()
            .find(|c| c.name == CLUSTER)
            .expect("the fixture has the cluster");
        aks.server = server.clone();
        aks.ca_pem = ca.clone();
    });
    for ns in [ALLOWED, FORBIDDEN] {
        cluster
            .create_namespace(ns)
            .await
            .unwrap_or_else(|e| panic!("{e:#}"));
    }
    let admin = cluster.client("admin").await.expect("admin client");
    let bindings = Api::<RoleBinding>::namespaced(admin, ALLOWED);
    for (name, oid) in [
        ("federated-deployer", FED_APP_OID),
        ("secret-deployer", SECRET_APP_OID),
    ] {
        bindings
            .create(&PostParams::default(), &binding(name, oid))
            .await
            .expect("role binding");
    }
    wait_for_oidc(&f, &cluster).await;
    Env { f, cluster }
}

/// kube-apiserver initializes its OIDC (JWT) authenticator in the background after it starts,
/// once it has fetched the issuer's discovery document; until then every Entra token gets 401.
async fn wait_for_oidc(f: &Fixture, cluster: &TestCluster) {
    let token = f
        .emulator
        .mint_access_token(TENANT, FED_APP_OID, kpush::auth::AKS_SERVER_APP_ID, 600)
        .expect("token");
    let mut config = kube::Config::new(cluster.server().parse().expect("URL"));
    config.root_cert = Some(vec![
        rustls_pki_types::pem::PemObject::from_pem_slice(&cluster.ca_pem())
            .map(|c: rustls_pki_types::CertificateDer<'_>| c.as_ref().to_vec())
            .expect("CA"),
    ]);
    config.auth_info.token = Some(token.into());
    let client = kube::Client::try_from(config).expect("client");
    let pods = Api::<Pod>::namespaced(client, ALLOWED);
    let deadline = Instant::now() + Duration::from_secs(60);
    while pods.list(&ListParams::default()).await.is_err() {
        assert!(
            Instant::now() < deadline,
            "the API server never accepted Entra tokens:\n{}",
            cluster.logs()
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// What a `kpush` run printed and returned.
#[derive(Debug)]
struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

impl Run {
    fn expect_code(&self, code: i32) -> &Self {
        assert_eq!(
            self.code,
            code,
            "exit code\nstdout:\n{}\nstderr:\n{}",
            self.stdout,
            tail(&self.stderr)
        );
        self
    }
}

/// The end of a long trace log, for assertion messages.
fn tail(text: &str) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(60)..].join("\n")
}

impl Env {
    /// Flags that point kpush at the emulated Azure and name the cluster.
    fn aks_flags(&self) -> Vec<String> {
        let url = self.f.emulator.url();
        [
            "--aks-cluster",
            CLUSTER,
            "--resource-group",
            RG,
            "--subscription",
            SUB,
            "--authority-host",
            &url,
            "--arm-endpoint",
            &url,
            "--azure-ca-file",
            &self.f.emulator.ca_file().display().to_string(),
        ]
        .map(str::to_string)
        .to_vec()
    }

    fn github(&self) -> Vec<(&'static str, String)> {
        self.f.github_env()
    }

    fn azure_devops(&self) -> Vec<(&'static str, String)> {
        let config = self.f.emulator.config();
        vec![
            ("SYSTEM_OIDCREQUESTURI", self.f.emulator.ado_oidc_url()),
            (
                "SYSTEM_ACCESSTOKEN",
                self.f.emulator.ado_system_access_token(),
            ),
            (
                "AZURE_SERVICE_CONNECTION_ID",
                config.ado.service_connections[0].id.clone(),
            ),
            ("AZURE_CLIENT_ID", FED_APP.into()),
            ("AZURE_TENANT_ID", TENANT.into()),
        ]
    }

    fn client_secret(&self) -> Vec<(&'static str, String)> {
        vec![
            ("AZURE_CLIENT_ID", SECRET_APP.into()),
            ("AZURE_TENANT_ID", TENANT.into()),
            ("AZURE_CLIENT_SECRET", SECRET.into()),
        ]
    }

    /// Workload identity with a federated token file holding `mint`'s token.
    fn workload(&self, dir: &Path, mint: Mint) -> Vec<(&'static str, String)> {
        let file = dir.join("federated-token");
        std::fs::write(&file, self.f.emulator.mint_token(mint)).expect("token file");
        vec![
            ("AZURE_FEDERATED_TOKEN_FILE", file.display().to_string()),
            ("AZURE_CLIENT_ID", FED_APP.into()),
            ("AZURE_TENANT_ID", TENANT.into()),
        ]
    }

    /// Every secret the environments hold; none may appear in kpush's output.
    fn secrets(&self) -> Vec<String> {
        vec![
            SECRET.to_string(),
            self.f.emulator.github_request_token(),
            self.f.emulator.ado_system_access_token(),
        ]
    }

    /// Runs the real kpush with only `vars` (and PATH) in its environment, logging at trace
    /// level, and checks that no token or secret reached its output (standard output too,
    /// unless `stdout_may_hold_a_token`, which only `kpush token` may).
    fn kpush_with(
        &self,
        args: &[String],
        vars: &[(&'static str, String)],
        stdout_may_hold_a_token: bool,
    ) -> Run {
        let home = tempfile::tempdir().expect("temp home");
        let output = Command::new(env!("CARGO_BIN_EXE_kpush"))
            .args(args)
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", home.path())
            .env("XDG_CACHE_HOME", home.path().join("cache"))
            .env("KPUSH_LOG", "trace")
            .envs(vars.iter().map(|(k, v)| (*k, v.as_str())))
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .output()
            .expect("kpush runs");
        let run = Run {
            code: output.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        };
        let mut checked = vec![("standard error", &run.stderr)];
        if !stdout_may_hold_a_token {
            checked.push(("standard output", &run.stdout));
        }
        for (stream, text) in checked {
            for secret in self.secrets() {
                assert!(
                    !text.contains(&secret),
                    "a secret appeared on {stream} of kpush {args:?}"
                );
            }
            assert!(
                !has_jwt(text),
                "a token appeared on {stream} of kpush {args:?}:\n{}",
                text.lines()
                    .filter(|l| has_jwt(l))
                    .map(|l| l.chars().take(160).collect::<String>())
                    .collect::<Vec<_>>()
                    .join("\n")
            );
        }
        run
    }

    fn kpush(&self, args: &[String], vars: &[(&'static str, String)]) -> Run {
        self.kpush_with(args, vars, false)
    }

    /// `kpush apply --aks-cluster … examples/guestbook -n NS` with `extra` flags.
    fn apply_guestbook(&self, ns: &str, vars: &[(&'static str, String)], extra: &[&str]) -> Run {
        let mut args = vec!["apply".to_string()];
        args.extend(self.aks_flags());
        args.extend(["examples/guestbook", "-n", ns].map(str::to_string));
        args.extend(extra.iter().map(|s| s.to_string()));
        self.kpush(&args, vars)
    }

    async fn deployment_exists(&self, ns: &str, name: &str) -> bool {
        let admin = self.cluster.client("admin").await.expect("admin client");
        Api::<Deployment>::namespaced(admin, ns)
            .get_opt(name)
            .await
            .expect("get deployment")
            .is_some()
    }
}

/// Whether `text` holds something shaped like a JWT (`eyJ….….…`).
fn has_jwt(text: &str) -> bool {
    text.match_indices("eyJ").any(|(i, _)| {
        let candidate: String = text[i..]
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
            .collect();
        candidate.split('.').filter(|p| !p.is_empty()).count() >= 3
    })
}

fn workload_mint() -> Mint {
    Mint::new(TokenIssuer::Workload)
        .claim("sub", WORKLOAD_SUBJECT)
        .claim("aud", "api://AzureADTokenExchange")
}

#[tokio::test]
async fn github_oidc_deploys_the_guestbook_through_arm_into_the_allowed_namespace() {
    let e = env().await;
    let run = e.apply_guestbook(ALLOWED, &e.github(), &[]);
    run.expect_code(0);
    assert!(run.stderr.contains("6 objects"), "{}", run.stderr);
    assert!(
        run.stderr.contains("signing in to Azure with github-oidc"),
        "the chosen method is logged"
    );
    assert!(
        run.stderr.contains(FED_APP_OID),
        "the identity is logged:\n{}",
        tail(&run.stderr)
    );
    assert!(e.deployment_exists(ALLOWED, "web").await);
}

#[tokio::test]
async fn azure_pipelines_service_connection_deploys_the_guestbook() {
    let e = env().await;
    e.apply_guestbook(ALLOWED, &e.azure_devops(), &["--auth", "azure-pipelines"])
        .expect_code(0);
    assert!(e.deployment_exists(ALLOWED, "redis").await);
}

#[tokio::test]
async fn workload_identity_token_file_deploys_the_guestbook() {
    let e = env().await;
    let dir = tempfile::tempdir().expect("temp dir");
    e.apply_guestbook(ALLOWED, &e.workload(dir.path(), workload_mint()), &[])
        .expect_code(0);
    assert!(e.deployment_exists(ALLOWED, "web").await);
}

#[tokio::test]
async fn client_secret_deploys_the_guestbook() {
    let e = env().await;
    let run = e.apply_guestbook(ALLOWED, &e.client_secret(), &["--auth", "client-secret"]);
    run.expect_code(0);
    assert!(e.deployment_exists(ALLOWED, "web").await);
}

#[tokio::test]
async fn the_same_identity_is_refused_in_another_namespace_with_the_grant_that_would_allow_it() {
    let e = env().await;
    let run = e.apply_guestbook(FORBIDDEN, &e.github(), &[]);
    run.expect_code(kpush::exit::APPLY_REJECTED);
    let err = &run.stderr;
    // The access check refuses before any request fails, naming the identity, each missing
    // permission, and the grants (`kpush rbac`, or Azure RBAC on the namespace).
    for expected in [
        format!("\"{FED_APP_OID}\" lacks"),
        "cannot patch deployments.apps in namespace forbidden".to_string(),
        format!("--subject user:{FED_APP_OID}"),
        "Azure Kubernetes Service RBAC Writer".to_string(),
        "/namespaces/forbidden".to_string(),
    ] {
        assert!(
            err.contains(&expected),
            "missing {expected:?} in:\n{}",
            tail(err)
        );
    }
    assert!(!e.deployment_exists(FORBIDDEN, "web").await);
}

#[tokio::test]
async fn a_federated_token_with_the_wrong_subject_is_explained_with_exit_code_6() {
    let e = env().await;
    let dir = tempfile::tempdir().expect("temp dir");
    let mint = Mint::new(TokenIssuer::Workload)
        .claim("sub", "system:serviceaccount:ci:intruder")
        .claim("aud", "api://AzureADTokenExchange");
    let run = e.apply_guestbook(ALLOWED, &e.workload(dir.path(), mint), &[]);
    run.expect_code(kpush::exit::CLUSTER_UNREACHABLE);
    assert!(run.stderr.contains("AADSTS700213"), "{}", tail(&run.stderr));
    assert!(
        run.stderr
            .contains("subject 'system:serviceaccount:ci:intruder'"),
        "{}",
        tail(&run.stderr)
    );
}

#[tokio::test]
async fn an_expired_federated_token_is_explained_with_exit_code_6() {
    let e = env().await;
    let dir = tempfile::tempdir().expect("temp dir");
    let run = e.apply_guestbook(
        ALLOWED,
        &e.workload(dir.path(), workload_mint().lifetime(-120)),
        &[],
    );
    run.expect_code(kpush::exit::CLUSTER_UNREACHABLE);
    assert!(run.stderr.contains("AADSTS700024"), "{}", tail(&run.stderr));
}

#[tokio::test]
async fn a_wrongly_signed_federated_token_is_explained_with_exit_code_6() {
    let e = env().await;
    let dir = tempfile::tempdir().expect("temp dir");
    let run = e.apply_guestbook(
        ALLOWED,
        &e.workload(dir.path(), workload_mint().signed_with(SignWith::WrongKey)),
        &[],
    );
    run.expect_code(kpush::exit::CLUSTER_UNREACHABLE);
    let last = run
        .stderr
        .lines()
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>();
    let message = last[last.len().saturating_sub(6)..].join("\n");
    assert!(message.contains("AADSTS"), "{message}");
    assert!(message.contains("fix:"), "{message}");
}

#[tokio::test]
async fn an_unreachable_arm_is_explained_with_exit_code_6() {
    let e = env().await;
    let mut args = vec!["apply".to_string()];
    args.extend(e.aks_flags());
    let i = args
        .iter()
        .position(|a| a == "--arm-endpoint")
        .expect("flag");
    args[i + 1] = "https://127.0.0.1:9".into();
    args.extend(["examples/guestbook", "-n", ALLOWED].map(str::to_string));
    let run = e.kpush(&args, &e.client_secret());
    run.expect_code(kpush::exit::CLUSTER_UNREACHABLE);
    assert!(
        run.stderr
            .contains("cannot reach Azure Resource Manager at https://127.0.0.1:9"),
        "{}",
        tail(&run.stderr)
    );
}

/// An unparsable `HTTPS_PROXY` is an error on the AKS path as on the kubeconfig path
/// (tests/proxies.rs): ignored, it would send Entra ID, ARM and cluster requests past the proxy.
#[tokio::test]
async fn an_unparsable_https_proxy_stops_the_aks_path_naming_it_without_its_password() {
    let e = env().await;
    let mut vars = e.client_secret();
    vars.push(("HTTPS_PROXY", "http://ci:pr0xy-pa55@bad host:3128".into()));
    let run = e.apply_guestbook(ALLOWED, &vars, &["--auth", "client-secret"]);
    run.expect_code(kpush::exit::BAD_INPUT);
    assert!(
        run.stderr
            .contains("HTTPS_PROXY=http://ci:***@bad host:3128 is not a proxy URL"),
        "{}",
        tail(&run.stderr)
    );
    assert!(run.stderr.contains("or unset it"), "{}", tail(&run.stderr));
    assert!(!run.stderr.contains("pr0xy-pa55"), "{}", run.stderr);
}

#[tokio::test]
async fn a_cluster_name_without_its_resource_group_is_bad_input() {
    let e = env().await;
    let args = [
        "apply",
        "--aks-cluster",
        CLUSTER,
        "--subscription",
        SUB,
        "examples/guestbook",
    ]
    .map(str::to_string);
    let run = e.kpush(&args, &e.client_secret());
    run.expect_code(kpush::exit::BAD_INPUT);
    assert!(
        run.stderr.contains("needs --resource-group"),
        "{}",
        run.stderr
    );
}

#[tokio::test]
async fn kpush_token_prints_an_exec_credential_for_aks() {
    let e = env().await;
    let url = e.f.emulator.url();
    let args = [
        "token",
        "--authority-host",
        &url,
        "--azure-ca-file",
        &e.f.emulator.ca_file().display().to_string(),
    ]
    .map(str::to_string);
    let run = e.kpush_with(&args, &e.client_secret(), true);
    run.expect_code(0);
    let credential: serde_json::Value = serde_json::from_str(&run.stdout).expect("JSON");
    assert_eq!(credential["kind"], "ExecCredential");
    assert_eq!(
        credential["apiVersion"],
        "client.authentication.k8s.io/v1beta1"
    );
    let token = credential["status"]["token"].as_str().expect("token");
    let claims = e.f.emulator.verify_entra_token(token).expect("valid token");
    assert_eq!(claims["aud"], kpush::auth::AKS_SERVER_APP_ID);
    assert_eq!(claims["oid"], SECRET_APP_OID);
    assert!(
        credential["status"]["expirationTimestamp"]
            .as_str()
            .is_some_and(|t| t.ends_with('Z'))
    );
}

#[tokio::test]
async fn kpush_token_in_github_actions_masks_the_token_before_printing_it() {
    let e = env().await;
    let url = e.f.emulator.url();
    let dir = tempfile::tempdir().expect("temp dir");
    let log = dir.path().join("log");
    let file = std::fs::File::create(&log).expect("log");
    // Standard output and error into one file, as a runner logs a step.
    let status = Command::new(env!("CARGO_BIN_EXE_kpush"))
        .args([
            "token",
            "--authority-host",
            &url,
            "--azure-ca-file",
            &e.f.emulator.ca_file().display().to_string(),
        ])
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", dir.path())
        .env("GITHUB_ACTIONS", "true")
        .envs(e.client_secret().iter().map(|(k, v)| (*k, v.as_str())))
        .stdout(file.try_clone().expect("clone"))
        .stderr(file)
        .status()
        .expect("kpush runs");
    assert_eq!(status.code(), Some(0));
    let text = std::fs::read_to_string(&log).expect("read log");
    let json_at = text.find("{").expect("the ExecCredential");
    let credential: serde_json::Value = serde_json::from_str(text[json_at..].trim()).expect("JSON");
    let token = credential["status"]["token"].as_str().expect("token");
    let mask = text
        .find(&format!("::add-mask::{token}"))
        .expect("the token is masked");
    assert!(mask < json_at, "masked before it is printed");
}

#[tokio::test]
async fn kubectl_uses_the_kpush_kubeconfig_to_list_pods_through_kpush_token() {
    let e = env().await;
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("kubeconfig");
    let mut args = vec!["kubeconfig".to_string()];
    args.extend(e.aks_flags());
    args.extend([
        "--auth".to_string(),
        "client-secret".to_string(),
        "-o".to_string(),
        path.display().to_string(),
        "--exec-command".to_string(),
        env!("CARGO_BIN_EXE_kpush").to_string(),
    ]);
    e.kpush(&args, &e.client_secret()).expect_code(0);
    let text = std::fs::read_to_string(&path).expect("kubeconfig written");
    assert!(text.contains(e.cluster.server()), "{text}");
    assert!(!text.contains(SECRET) && !has_jwt(&text), "{text}");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&path).expect("stat").permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }

    let kubectl = kubectl(&e.cluster);
    let run = |ns: &str, vars: &[(&str, String)]| {
        Command::new(&kubectl)
            .args(["--kubeconfig", &path.display().to_string()])
            .args(["get", "pods", "-n", ns])
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", dir.path())
            .envs(vars.iter().map(|(k, v)| (*k, v.as_str())))
            .output()
            .expect("kubectl runs")
    };
    // The secret comes from kubectl's environment, never from the file.
    let secret_env = [("AZURE_CLIENT_SECRET", SECRET.to_string())];
    let out = run(ALLOWED, &secret_env);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "kubectl failed:\n{stderr}");
    assert!(!stderr.contains(SECRET) && !has_jwt(&stderr));

    let out = run(FORBIDDEN, &secret_env);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        stderr.contains(&format!(
            "User \"{SECRET_APP_OID}\" cannot list resource \"pods\""
        )),
        "{stderr}"
    );

    // Without the secret, kpush token fails and kubectl says why.
    let out = run(ALLOWED, &[]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(stderr.contains("AZURE_CLIENT_SECRET"), "{stderr}");
}

fn kubectl(cluster: &TestCluster) -> PathBuf {
    cluster
        .kubectl()
        .map(Path::to_path_buf)
        .expect("the test control plane ships kubectl")
}

/// A Deployment whose one pod becomes Ready only after 90 seconds (node simulator behaviour).
const SLOW_DEPLOYMENT: &str = r#"apiVersion: apps/v1
kind: Deployment
metadata:
  name: slow
spec:
  replicas: 1
  selector:
    matchLabels: {app: slow}
  template:
    metadata:
      labels: {app: slow}
      annotations:
        sim.kpush.dev/behavior: slow-start
        sim.kpush.dev/start-seconds: "90"
    spec:
      containers:
        - name: app
          image: registry.example/slow:1.0
"#;

#[tokio::test]
async fn a_90_second_rollout_wait_outlives_30_second_tokens() {
    let e = env().await;
    let dir = tempfile::tempdir().expect("temp dir");
    let manifest = dir.path().join("slow.yaml");
    std::fs::write(&manifest, SLOW_DEPLOYMENT).expect("manifest");
    let manifest = manifest.display().to_string();
    let with = |command: &str, extra: &[&str]| {
        let mut args = vec![command.to_string()];
        args.extend(e.aks_flags());
        args.extend([manifest.as_str(), "-n", ALLOWED].map(str::to_string));
        args.extend(extra.iter().map(|s| s.to_string()));
        args
    };
    // `kpush apply` waits for the rollout by default: one command, one sign-in, 90 s of waiting.
    let started = Instant::now();
    let run = e.kpush(
        &with(
            "apply",
            &[
                "--timeout",
                "4m",
                "--no-progress-timeout",
                "4m",
                "--progress",
                "plain",
            ],
        ),
        &e.github(),
    );
    let waited = started.elapsed();
    run.expect_code(0);
    assert!(
        waited >= Duration::from_secs(80),
        "the rollout was ready after {waited:?}, before the pod's 90 s start:\n{}",
        tail(&run.stderr)
    );
    // Tokens living 30 s were replaced while waiting: each refresh asks GitHub for a new ID token.
    let refreshes = run
        .stderr
        .matches("access token near expiry, refreshing")
        .count();
    assert!(
        refreshes >= 2,
        "expected the AKS token to be refreshed during a {waited:?} wait, saw {refreshes} refreshes:\n{}",
        tail(&run.stderr)
    );
}
