//! AKS clusters with local accounts, end to end through the real `kpush` binary: ARM (the
//! emulator, signed in with a client secret) returns kubeconfigs holding client certificates,
//! and a real kube-apiserver trusts their CA (`--client-ca-file`). RBAC gives the user
//! certificate `edit` in one namespace; the admin certificate is in `system:masters`.
//!
//! Every run logs at trace level, and every run's output is checked for certificates, keys,
//! secrets and tokens.

mod harness;

use std::process::Command;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use harness::azure::*;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::rbac::v1::{RoleBinding, RoleRef, Subject};
use kpush_azure_emulator::{Cluster, Role, RoleAssignment};
use kpush_testenv::{ClusterOptions, TestCluster};
use kube::api::{Api, PostParams};
use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair, KeyUsagePurpose,
};

/// A cluster without Entra integration: its user credentials are a client certificate.
const LEGACY: &str = "aks-legacy";
/// The Kubernetes user (certificate CN) of the legacy cluster's user credentials.
const LEGACY_USER: &str = "legacy-deployer";
/// The namespace the legacy user may write to.
const TEAM: &str = "legacy-team";
/// A namespace it may not touch.
const OTHER: &str = "other-team";
/// Where the admin certificate deploys.
const ADMIN_NS: &str = "admin-deploys";
/// Object id of the client-secret app's service principal (signs in to ARM).
const SECRET_APP_OID: &str = "aaaaaaaa-0000-4000-8000-000000000001";

/// A client certificate and its key, both PEM.
struct Issued {
    cert: String,
    key: String,
}

/// A CA for client certificates, and the user and admin certificates it issued.
struct ClientPki {
    ca: String,
    user: Issued,
    admin: Issued,
}

fn client_pki() -> ClientPki {
    let ca_key = KeyPair::generate().expect("CA key");
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).expect("CA params");
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, "kpush test client CA");
    ca_params.distinguished_name = dn;
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    let ca = ca_params.self_signed(&ca_key).expect("CA").pem();
    let issuer = Issuer::new(ca_params, ca_key);
    let issue = |common_name: &str, group: Option<&str>| {
        let key = KeyPair::generate().expect("client key");
        let mut params = CertificateParams::new(Vec::<String>::new()).expect("params");
        let mut dn = DistinguishedName::new();
        dn.push(DnType::CommonName, common_name);
        if let Some(group) = group {
            dn.push(DnType::OrganizationName, group);
        }
        params.distinguished_name = dn;
        params.key_usages = vec![
            KeyUsagePurpose::DigitalSignature,
            KeyUsagePurpose::KeyEncipherment,
        ];
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        let cert = params.signed_by(&key, &issuer).expect("client certificate");
        Issued {
            cert: cert.pem(),
            key: key.serialize_pem(),
        }
    };
    ClientPki {
        user: issue(LEGACY_USER, None),
        admin: issue("clusterAdmin", Some("system:masters")),
        ca,
    }
}

/// The DER inside a PEM certificate or key, as lowercase hex (how TLS traces show bytes).
fn hex_der(pem: &str) -> String {
    use rustls_pki_types::pem::PemObject;
    use rustls_pki_types::{CertificateDer, PrivateKeyDer};
    let der = match PrivateKeyDer::from_pem_slice(pem.as_bytes()) {
        Ok(key) => key.secret_der().to_vec(),
        Err(_) => CertificateDer::from_pem_slice(pem.as_bytes())
            .expect("a certificate or a key")
            .to_vec(),
    };
    der.iter().map(|b| format!("{b:02x}")).collect()
}

/// The emulator, the cluster and the certificates, shared by this file's tests.
struct Env {
    f: Fixture,
    cluster: TestCluster,
    pki: ClientPki,
}

static ENV: tokio::sync::OnceCell<Env> = tokio::sync::OnceCell::const_new();

async fn env() -> &'static Env {
    ENV.get_or_init(setup).await
}

async fn setup() -> Env {
    let pki = client_pki();
    let f = start(std::time::Duration::from_secs(3600));
    let cluster = TestCluster::start(ClusterOptions {
        extra_apiserver_args: vec!["--client-ca-file={dir}/client-ca.pem".into()],
        extra_files: vec![("client-ca.pem".into(), pki.ca.as_bytes().to_vec())],
        ..ClusterOptions::default()
    })
    .expect("control plane starts");
    let (server, ca) = (
        cluster.server().to_string(),
        String::from_utf8(cluster.ca_pem()).expect("PEM is text"),
    );
    let (user, admin) = (
        (pki.user.cert.clone(), pki.user.key.clone()),
        (pki.admin.cert.clone(), pki.admin.key.clone()),
    );
    f.emulator.configure(|c| {
        // aks-prod (Entra, local accounts enabled) hands out the admin certificate with
        // --admin; aks-locked (local accounts disabled) refuses --admin.
        for aks in c.clusters.iter_mut() {
            aks.server = server.clone();
            aks.ca_pem = ca.clone();
            if aks.name == CLUSTER {
                aks.admin_client_cert = Some(admin.clone());
            }
        }
        c.clusters.push(Cluster {
            subscription: SUB.into(),
            resource_group: RG.into(),
            name: LEGACY.into(),
            server: server.clone(),
            ca_pem: ca.clone(),
            entra_enabled: false,
            local_accounts_disabled: false,
            admin_client_cert: Some(admin.clone()),
            user_client_cert: Some(user.clone()),
            tenant: TENANT.into(),
        });
        // The deploying app may also list admin credentials.
        c.role_assignments.push(RoleAssignment {
            principal_id: SECRET_APP_OID.into(),
            role: Role::ClusterAdmin,
            scope: format!("/subscriptions/{SUB}/resourceGroups/{RG}"),
        });
    });
    for ns in [TEAM, OTHER, ADMIN_NS] {
        cluster
            .create_namespace(ns)
            .await
            .unwrap_or_else(|e| panic!("{e:#}"));
    }
    let admin = cluster.client("admin").await.expect("admin client");
    Api::<RoleBinding>::namespaced(admin, TEAM)
        .create(
            &PostParams::default(),
            &RoleBinding {
                metadata: kube::api::ObjectMeta {
                    name: Some("legacy-deployer".into()),
                    namespace: Some(TEAM.into()),
                    ..Default::default()
                },
                role_ref: RoleRef {
                    api_group: "rbac.authorization.k8s.io".into(),
                    kind: "ClusterRole".into(),
                    name: "edit".into(),
                },
                subjects: Some(vec![Subject {
                    kind: "User".into(),
                    name: LEGACY_USER.into(),
                    api_group: Some("rbac.authorization.k8s.io".into()),
                    ..Default::default()
                }]),
            },
        )
        .await
        .expect("role binding");
    Env { f, cluster, pki }
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

impl Env {
    /// Flags that point kpush at the emulated Azure and name `cluster`.
    fn aks_flags(&self, cluster: &str) -> Vec<String> {
        let url = self.f.emulator.url();
        [
            "--aks-cluster",
            cluster,
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
            "--auth",
            "client-secret",
            "--log-level",
            "trace",
        ]
        .map(str::to_string)
        .to_vec()
    }

    /// Text that must never appear in kpush's output: the keys and certificates (as PEM, as
    /// the base64 of the kubeconfig, line by line, and as hex DER), PEM armour, and the client
    /// secret.
    fn never_shown(&self) -> Vec<String> {
        let mut out = vec![
            "-----BEGIN".to_string(),
            "PRIVATE KEY".to_string(),
            // The base64 of "-----BEGIN": any PEM as kubeconfig data.
            "LS0tLS1CRUdJTi".to_string(),
            SECRET.to_string(),
        ];
        for pem in [
            &self.pki.user.key,
            &self.pki.user.cert,
            &self.pki.admin.key,
            &self.pki.admin.cert,
        ] {
            out.push(STANDARD.encode(pem));
            out.push(hex_der(pem));
            out.extend(
                pem.lines()
                    .filter(|l| !l.starts_with("-----") && l.len() >= 16)
                    .map(str::to_string),
            );
        }
        out
    }

    /// Runs the real kpush with only the client secret's variables (and PATH) in its
    /// environment, and checks that nothing secret reached its output.
    fn kpush(&self, args: &[String]) -> Run {
        let home = tempfile::tempdir().expect("temp home");
        let output = Command::new(env!("CARGO_BIN_EXE_kpush"))
            .args(args)
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", home.path())
            .env("AZURE_CLIENT_ID", SECRET_APP)
            .env("AZURE_TENANT_ID", TENANT)
            .env("AZURE_CLIENT_SECRET", SECRET)
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .output()
            .expect("kpush runs");
        let run = Run {
            code: output.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        };
        for (stream, text) in [
            ("standard output", &run.stdout),
            ("standard error", &run.stderr),
        ] {
            for secret in self.never_shown() {
                assert!(
                    !text.contains(&secret),
                    "{secret:?} appeared on {stream} of kpush {args:?}"
                );
            }
            assert!(
                !has_jwt(text),
                "a token appeared on {stream} of kpush {args:?}"
            );
        }
        run
    }

    /// `kpush apply --aks-cluster CLUSTER … examples/guestbook -n NS` with `extra` flags.
    fn apply_guestbook(&self, cluster: &str, ns: &str, extra: &[&str]) -> Run {
        let mut args = vec!["apply".to_string()];
        args.extend(self.aks_flags(cluster));
        args.extend(["examples/guestbook", "-n", ns].map(str::to_string));
        args.extend(extra.iter().map(|s| s.to_string()));
        self.kpush(&args)
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

#[tokio::test]
async fn a_non_entra_clusters_user_certificate_deploys_into_its_namespace() {
    let e = env().await;
    let run = e.apply_guestbook(LEGACY, TEAM, &[]);
    run.expect_code(0);
    assert!(run.stderr.contains("TRACE"), "the run logs at trace level");
    assert!(run.stderr.contains("6 objects"), "{}", run.stderr);
    assert!(
        run.stderr
            .contains("signing in with the cluster's local-account client certificate"),
        "the certificate sign-in is logged:\n{}",
        tail(&run.stderr)
    );
    assert!(
        run.stderr.contains("CN=legacy-deployer"),
        "the certificate's user is logged:\n{}",
        tail(&run.stderr)
    );
    assert!(
        !run.stderr
            .contains("signed in to Entra ID for the AKS API server"),
        "no Entra token is used for the cluster"
    );
    assert!(e.deployment_exists(TEAM, "web").await);
    assert!(e.deployment_exists(TEAM, "redis").await);
}

#[tokio::test]
async fn the_user_certificate_is_refused_outside_its_namespace_as_its_own_user() {
    let e = env().await;
    let run = e.apply_guestbook(LEGACY, OTHER, &[]);
    run.expect_code(kpush::exit::APPLY_REJECTED);
    // The access check refuses before any change, naming the certificate's user (as the API
    // server knows it), what it lacks, and the grant for exactly that user.
    for expected in [
        format!("\"{LEGACY_USER}\" lacks"),
        format!("cannot patch deployments.apps in namespace {OTHER}"),
        format!("--subject user:{LEGACY_USER}"),
    ] {
        assert!(
            run.stderr.contains(&expected),
            "missing {expected:?} in:\n{}",
            tail(&run.stderr)
        );
    }
    assert!(!e.deployment_exists(OTHER, "web").await);
}

#[tokio::test]
async fn admin_deploys_with_the_clusters_admin_certificate() {
    let e = env().await;
    let run = e.apply_guestbook(CLUSTER, ADMIN_NS, &["--admin"]);
    run.expect_code(0);
    assert!(
        run.stderr.contains("listClusterAdminCredential"),
        "{}",
        tail(&run.stderr)
    );
    assert!(
        run.stderr.contains("CN=clusterAdmin, O=system:masters"),
        "{}",
        tail(&run.stderr)
    );
    assert!(e.deployment_exists(ADMIN_NS, "web").await);
}

#[tokio::test]
async fn admin_on_a_cluster_with_local_accounts_disabled_exits_6_naming_the_cause_and_the_fix() {
    let e = env().await;
    let run = e.apply_guestbook(LOCKED, ADMIN_NS, &["--admin"]);
    run.expect_code(kpush::exit::CLUSTER_UNREACHABLE);
    let message = run
        .stderr
        .lines()
        .skip_while(|l| !l.starts_with("error:"))
        .collect::<Vec<_>>()
        .join("\n");
    for expected in [
        "cannot connect to AKS cluster aks-locked",
        "400 BadRequest",
        "this cluster is set to disable local accounts",
        "fix: drop --admin",
        "accepts only Entra ID sign-ins",
        "without --admin kpush signs in with Entra ID",
    ] {
        assert!(
            message.contains(expected),
            "missing {expected:?} in:\n{message}"
        );
    }
}

#[tokio::test]
async fn kpush_kubeconfig_refuses_a_cluster_without_entra_integration() {
    let e = env().await;
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("kubeconfig");
    let mut args = vec!["kubeconfig".to_string()];
    args.extend(e.aks_flags(LEGACY));
    args.extend(["-o".to_string(), path.display().to_string()]);
    let run = e.kpush(&args);
    run.expect_code(kpush::exit::CLUSTER_UNREACHABLE);
    assert!(
        run.stderr
            .contains("the cluster has no Microsoft Entra ID integration"),
        "{}",
        tail(&run.stderr)
    );
    assert!(!path.exists(), "no kubeconfig is written");
}

#[tokio::test]
async fn kpush_kubeconfig_still_refuses_admin_credentials() {
    let e = env().await;
    let mut args = vec!["kubeconfig".to_string()];
    args.extend(e.aks_flags(CLUSTER));
    args.push("--admin".into());
    let run = e.kpush(&args);
    run.expect_code(kpush::exit::BAD_INPUT);
    assert!(
        run.stderr
            .contains("kpush kubeconfig does not write admin credentials"),
        "{}",
        run.stderr
    );
}
