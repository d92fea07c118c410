//! `--targets FILE`: one run against three real control planes at once (each trusting the
//! Entra ID / ARM emulator's tokens, so the same clusters also serve `aks:` targets), through
//! the real `kpush` binary. Every test works in a namespace of its own on every cluster.

mod harness;

use std::time::{Duration, Instant};

use harness::azure::*;
use harness::binary::{Run, config_map, deployment, kpush_with_env};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{ConfigMap, Pod};
use k8s_openapi::api::rbac::v1::{ClusterRoleBinding, RoleRef, Subject};
use kpush_testenv::{ClusterOptions, TestCluster};
use kube::api::{Api, ListParams, PostParams};
use serde_json::Value;

/// Object id of the client-secret app's service principal (the identity of `aks:` targets).
const SECRET_APP_OID: &str = "aaaaaaaa-0000-4000-8000-000000000001";
/// The emulated AKS clusters, one per control plane.
const AKS: [&str; 3] = ["aks-weu", "aks-neu", "aks-us"];

/// The emulator and three control planes, shared by this file's tests.
struct Env {
    f: Fixture,
    clusters: Vec<TestCluster>,
}

static ENV: tokio::sync::OnceCell<Env> = tokio::sync::OnceCell::const_new();

async fn env() -> &'static Env {
    ENV.get_or_init(setup).await
}

async fn setup() -> Env {
    let f = start(Duration::from_secs(600));
    let issuer = f.emulator.tenant_issuer(TENANT);
    let ca = f.emulator.ca_pem().as_bytes().to_vec();
    let options = ClusterOptions {
        extra_apiserver_args: vec![
            format!("--oidc-issuer-url={issuer}"),
            "--oidc-client-id=6dae42f8-4368-4678-94ff-3960e28e3630".into(),
            "--oidc-username-claim=oid".into(),
            "--oidc-username-prefix=-".into(),
            "--oidc-ca-file={dir}/entra-ca.pem".into(),
        ],
        extra_files: vec![("entra-ca.pem".into(), ca)],
        ..ClusterOptions::default()
    };
    // Three control planes start at once.
    let clusters: Vec<TestCluster> = std::thread::scope(|s| {
        let started: Vec<_> = (0..3)
            .map(|_| s.spawn(|| TestCluster::start(options.clone())))
            .collect();
        started
            .into_iter()
            .map(|h| {
                h.join()
                    .expect("start thread")
                    .unwrap_or_else(|e| panic!("control plane starts: {e:#}"))
            })
            .collect()
    });
    f.emulator.configure(|c| {
        let template = c.clusters[0].clone();
        while c.clusters.len() < AKS.len() {
            c.clusters.push(template.clone());
        }
        for ((aks, name), cluster) in c.clusters.iter_mut().zip(AKS).zip(&clusters) {
            aks.name = name.into();
            aks.server = cluster.server().to_string();
            aks.ca_pem = String::from_utf8(cluster.ca_pem()).expect("PEM is text");
            aks.local_accounts_disabled = false;
        }
    });
    for cluster in &clusters {
        let admin = cluster.client("admin").await.expect("admin client");
        let binding = ClusterRoleBinding {
            metadata: kube::api::ObjectMeta {
                name: Some("secret-app-deploys".into()),
                ..Default::default()
            },
            role_ref: RoleRef {
                api_group: "rbac.authorization.k8s.io".into(),
                kind: "ClusterRole".into(),
                name: "cluster-admin".into(),
            },
            subjects: Some(vec![Subject {
                kind: "User".into(),
                name: SECRET_APP_OID.into(),
                api_group: Some("rbac.authorization.k8s.io".into()),
                ..Default::default()
            }]),
        };
        Api::<ClusterRoleBinding>::all(admin)
            .create(&PostParams::default(), &binding)
            .await
            .expect("cluster role binding");
    }
    Env { f, clusters }
}

/// One test's namespace on every cluster, and its files.
struct Case {
    env: &'static Env,
    ns: String,
    dir: tempfile::TempDir,
}

impl Case {
    async fn new(ns: &str) -> Case {
        let env = env().await;
        for c in &env.clusters {
            c.create_namespace(ns)
                .await
                .unwrap_or_else(|e| panic!("{e:#}"));
        }
        let dir = tempfile::tempdir().expect("temp dir");
        // Each cluster's admin kubeconfig beside the targets file, named relatively there.
        for (i, c) in env.clusters.iter().enumerate() {
            c.write_kubeconfig("admin", &dir.path().join(format!("kc-{i}")))
                .expect("kubeconfig");
        }
        let manifests = dir.path().join("deploy");
        std::fs::create_dir_all(&manifests).expect("mkdir");
        std::fs::write(
            manifests.join("config.yaml"),
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\ndata:\n  region: ${REGION}\n",
        )
        .expect("write");
        std::fs::write(
            manifests.join("web.yaml"),
            deployment("web", "nginx:1.27", "web"),
        )
        .expect("write");
        Case {
            env,
            ns: ns.to_string(),
            dir,
        }
    }

    /// A kubeconfig target on cluster `i`, with a REGION variable and extra YAML lines.
    fn target(&self, name: &str, i: usize, extra: &str) -> String {
        format!(
            "  - name: {name}\n    kubeconfig: ./kc-{i}\n    namespace: {}\n    vars: {{REGION: {name}}}\n{extra}",
            self.ns
        )
    }

    /// Writes `targets.yaml` with `entries`; returns its path.
    fn targets(&self, entries: &[String]) -> String {
        let path = self.dir.path().join("targets.yaml");
        std::fs::write(&path, format!("targets:\n{}", entries.concat())).expect("write");
        path.display().to_string()
    }

    fn deploy(&self) -> String {
        self.dir.path().join("deploy").display().to_string()
    }

    /// `kpush <command> deploy/ --targets FILE <extra>`.
    fn kpush(&self, command: &str, targets: &str, extra: &[&str]) -> Run {
        self.kpush_env(command, targets, extra, &[])
    }

    fn kpush_env(&self, command: &str, targets: &str, extra: &[&str], env: &[(&str, &str)]) -> Run {
        let mut args: Vec<String> = vec![
            command.into(),
            self.deploy(),
            "--targets".into(),
            targets.into(),
        ];
        if command != "diff" {
            args.extend(["--timeout".into(), "90s".into()]);
        }
        args.extend(extra.iter().map(|s| s.to_string()));
        kpush_with_env(&args, env)
    }

    async fn config_map(&self, i: usize) -> Option<ConfigMap> {
        let c = self.env.clusters[i].client("admin").await.expect("client");
        Api::<ConfigMap>::namespaced(c, &self.ns)
            .get_opt("settings")
            .await
            .expect("get")
    }

    async fn region(&self, i: usize) -> Option<String> {
        self.config_map(i)
            .await
            .and_then(|c| c.data?.get("region").cloned())
    }

    async fn image(&self, i: usize) -> Option<String> {
        let c = self.env.clusters[i].client("admin").await.expect("client");
        let d = Api::<Deployment>::namespaced(c, &self.ns)
            .get_opt("web")
            .await
            .expect("get")?;
        d.spec?.template.spec?.containers[0].image.clone()
    }

    /// Whether cluster `i` holds anything kpush applies in this namespace.
    async fn untouched(&self, i: usize) -> bool {
        self.config_map(i).await.is_none() && self.image(i).await.is_none()
    }
}

const BAD_IMAGE: &str = "    images: [\"nginx=registry.example/does-not-exist/app:1\"]\n";

fn json(run: &Run) -> Value {
    serde_json::from_str(&run.stdout).unwrap_or_else(|e| panic!("{e}: {}", run.stdout))
}

/// The `targets` list of a `-o json` document, as (name, state, exit code).
fn states(doc: &Value) -> Vec<(String, String, i64)> {
    doc["targets"]
        .as_array()
        .expect("a targets list")
        .iter()
        .map(|t| {
            (
                t["name"].as_str().unwrap_or_default().to_string(),
                t["state"].as_str().unwrap_or_default().to_string(),
                t["exitCode"].as_i64().unwrap_or(-1),
            )
        })
        .collect()
}

fn s(name: &str, state: &str, code: i64) -> (String, String, i64) {
    (name.into(), state.into(), code)
}

#[tokio::test]
async fn every_target_gets_its_own_vars_and_images_one_after_another() {
    let case = Case::new("tg-seq").await;
    let targets = case.targets(&[
        case.target("weu", 0, "    images: [\"nginx=nginx:1.27.1\"]\n"),
        case.target("neu", 1, ""),
        case.target("us", 2, "    images: [\"nginx=nginx:1.27.3\"]\n"),
    ]);
    let summary = case.dir.path().join("summary.md");
    let run = case.kpush_env(
        "apply",
        &targets,
        &["-o", "json"],
        &[
            ("GITHUB_ACTIONS", "true"),
            ("GITHUB_STEP_SUMMARY", &summary.display().to_string()),
        ],
    );
    run.expect_code(0);
    for (i, region, image) in [
        (0, "weu", "nginx:1.27.1"),
        (1, "neu", "nginx:1.27"),
        (2, "us", "nginx:1.27.3"),
    ] {
        assert_eq!(case.region(i).await.as_deref(), Some(region), "cluster {i}");
        assert_eq!(case.image(i).await.as_deref(), Some(image), "cluster {i}");
    }
    let doc = json(&run);
    assert_eq!(
        states(&doc),
        vec![
            s("weu", "succeeded", 0),
            s("neu", "succeeded", 0),
            s("us", "succeeded", 0)
        ]
    );
    let weu = &doc["targets"][0];
    assert!(weu["cluster"].as_str().unwrap_or_default().contains("kc-0"));
    assert_eq!(weu["result"], "succeeded");
    assert_eq!(weu["objects"].as_array().map(Vec::len), Some(2), "{weu}");
    // Sequential: one target after the other, each named.
    let order: Vec<usize> = ["target weu:", "target neu:", "target us:"]
        .iter()
        .map(|t| {
            run.stderr
                .find(t)
                .unwrap_or_else(|| panic!("{t}\n{}", run.stderr))
        })
        .collect();
    assert!(order.windows(2).all(|w| w[0] < w[1]), "{}", run.stderr);
    assert!(
        run.stderr.contains("[neu] created    ConfigMap"),
        "{}",
        run.stderr
    );
    let md = std::fs::read_to_string(&summary).expect("summary written");
    assert!(md.contains("### Targets"), "{md}");
    for t in [
        "| weu | ✅ succeeded | 0 |",
        "| neu | ✅ succeeded | 0 |",
        "### us: Rollouts",
    ] {
        assert!(md.contains(t), "{t} in\n{md}");
    }
    assert!(md.contains("`nginx:1.27.3`"), "{md}");
}

#[tokio::test]
async fn a_failed_rollout_stops_a_sequential_run_and_later_targets_stay_untouched() {
    let case = Case::new("tg-stop").await;
    let targets = case.targets(&[
        case.target("weu", 0, ""),
        case.target("neu", 1, BAD_IMAGE),
        case.target("us", 2, ""),
    ]);
    let run = case.kpush("apply", &targets, &["-o", "json"]);
    run.expect_code(4);
    assert_eq!(case.region(0).await.as_deref(), Some("weu"));
    assert!(
        case.image(1)
            .await
            .is_some_and(|i| i.contains("does-not-exist"))
    );
    assert!(case.untouched(2).await, "the third cluster was changed");
    assert!(
        run.stderr
            .contains("target us: not started (an earlier target (neu) failed)"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("target neu: failed (exit code 4)"),
        "{}",
        run.stderr
    );
    let doc = json(&run);
    let st = states(&doc);
    assert_eq!(st[0], s("weu", "succeeded", 0));
    assert_eq!(st[1], s("neu", "failed", 4));
    assert_eq!((st[2].0.as_str(), st[2].1.as_str()), ("us", "notStarted"));
    let neu = &doc["targets"][1];
    assert_eq!(neu["result"], "failed");
    let failure = neu["objects"]
        .as_array()
        .and_then(|o| o.iter().find(|o| o["kind"] == "Deployment"))
        .map(|o| o["failure"]["reason"].clone());
    assert!(
        failure.is_some_and(|r| r.as_str().is_some_and(|r| r.contains("Image"))),
        "{neu}"
    );
    assert_eq!(
        doc["targets"][2]["objects"].as_array().map(Vec::len),
        Some(0)
    );
}

#[tokio::test]
async fn in_parallel_one_failing_target_does_not_stop_the_others() {
    let case = Case::new("tg-par").await;
    let targets = case.targets(&[
        case.target("weu", 0, BAD_IMAGE),
        case.target("neu", 1, ""),
        case.target("us", 2, ""),
    ]);
    let started = Instant::now();
    let run = case.kpush("apply", &targets, &["--parallel", "2", "-o", "json"]);
    run.expect_code(4);
    assert!(started.elapsed() < Duration::from_secs(90));
    assert_eq!(case.region(1).await.as_deref(), Some("neu"));
    assert_eq!(case.region(2).await.as_deref(), Some("us"));
    assert_eq!(
        states(&json(&run)),
        vec![
            s("weu", "failed", 4),
            s("neu", "succeeded", 0),
            s("us", "succeeded", 0)
        ]
    );
    // Interleaved lines say whose they are; the closing table has one row per target.
    assert!(run.stderr.contains("[weu] "), "{}", run.stderr);
    assert!(run.stderr.contains("[us] created"), "{}", run.stderr);
    let table = run
        .stderr
        .lines()
        .skip_while(|l| !l.starts_with("TARGET"))
        .take(4)
        .collect::<Vec<_>>();
    assert!(table.len() == 4 && table[1].starts_with("weu") && table[1].contains("failed"));
    assert!(table[3].starts_with("us") && table[3].contains("succeeded"));
}

#[tokio::test]
async fn an_unreachable_target_is_named_and_the_others_go_on_or_stay_untouched() {
    let case = Case::new("tg-down").await;
    // A cluster nobody listens for: the first cluster's kubeconfig, on a closed port.
    let kc = std::fs::read_to_string(case.dir.path().join("kc-0")).expect("kubeconfig");
    let server = case.env.clusters[0].server();
    std::fs::write(
        case.dir.path().join("kc-down"),
        kc.replace(server, "https://127.0.0.1:9"),
    )
    .expect("write");
    let down = format!(
        "  - name: down\n    kubeconfig: kc-down\n    namespace: {}\n",
        case.ns
    );
    let targets = case.targets(&[
        down.clone(),
        case.target("neu", 1, ""),
        case.target("us", 2, ""),
    ]);
    let run = case.kpush(
        "apply",
        &targets,
        &["--parallel", "3", "--retry-budget", "1s"],
    );
    run.expect_code(6);
    assert!(
        run.stderr
            .contains("target down: unreachable (exit code 6)"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("127.0.0.1:9"), "{}", run.stderr);
    assert_eq!(case.region(1).await.as_deref(), Some("neu"));
    assert_eq!(case.region(2).await.as_deref(), Some("us"));

    // One after another, the targets after it are left alone.
    let case = Case::new("tg-down-seq").await;
    std::fs::write(
        case.dir.path().join("kc-down"),
        kc.replace(server, "https://127.0.0.1:9"),
    )
    .expect("write");
    let down = down.replace("tg-down", "tg-down-seq");
    let targets = case.targets(&[down, case.target("neu", 1, "")]);
    let run = case.kpush("apply", &targets, &["--retry-budget", "1s"]);
    run.expect_code(6);
    assert!(
        run.stderr.contains("target neu: not started"),
        "{}",
        run.stderr
    );
    assert!(case.untouched(1).await);
}

#[tokio::test]
async fn diff_and_status_run_on_every_target() {
    let case = Case::new("tg-diff").await;
    let targets = case.targets(&[case.target("weu", 0, ""), case.target("neu", 1, "")]);
    case.kpush("apply", &targets, &[]).expect_code(0);
    let run = case.kpush("diff", &targets, &[]);
    run.expect_code(0);
    assert!(run.stdout.contains("# target weu") && run.stdout.contains("# target neu"));
    let run = case.kpush("status", &targets, &["-o", "json"]);
    run.expect_code(0);
    assert_eq!(
        states(&json(&run)),
        vec![s("weu", "succeeded", 0), s("neu", "succeeded", 0)]
    );
    // A changed variable on one target: that target differs, the other does not.
    let changed = case
        .target("neu", 1, "")
        .replace("{REGION: neu}", "{REGION: moved}");
    let targets = case.targets(&[case.target("weu", 0, ""), changed]);
    let run = case.kpush("diff", &targets, &[]);
    run.expect_code(1);
    let neu = run.stdout.split("# target neu").nth(1).unwrap_or_default();
    assert!(neu.contains("+  region: moved"), "{}", run.stdout);
    let weu = run.stdout.split("# target neu").next().unwrap_or_default();
    assert!(!weu.contains("moved"), "{}", run.stdout);
    assert!(
        run.stderr.contains("target neu: differences"),
        "{}",
        run.stderr
    );
}

#[tokio::test]
async fn a_bad_targets_file_exits_2_naming_its_line() {
    let dir = tempfile::tempdir().expect("temp dir");
    let deploy = dir.path().join("cm.yaml");
    std::fs::write(&deploy, config_map("a", "b")).expect("write");
    let cases = [
        (
            "targets:\n  - name: a\n    kubeconfig: kc\n    namespce: shop\n",
            ":4: ",
            "namespce",
        ),
        (
            "targets:\n  - name: a\n    kubeconfig: kc\n  - name: a\n    kubeconfig: kc\n",
            ":4: ",
            "used twice",
        ),
        (
            "targets:\n  - name: a\n    kubeconfig: kc\n  - name: b\n    namespace: shop\n",
            ":4: ",
            "neither `aks` nor `kubeconfig`",
        ),
    ];
    for (text, line, what) in cases {
        let file = dir.path().join("targets.yaml");
        std::fs::write(&file, text).expect("write");
        let run = kpush_with_env(
            &[
                "apply".into(),
                deploy.display().to_string(),
                "--targets".into(),
                file.display().to_string(),
            ],
            &[],
        );
        run.expect_code(2);
        let at = format!("{}{line}", file.display());
        assert!(run.stderr.contains(&at), "{at} in {}", run.stderr);
        assert!(run.stderr.contains(what), "{what} in {}", run.stderr);
    }
    // Standard input is read once: targets that render differently cannot share it.
    let file = dir.path().join("targets.yaml");
    std::fs::write(
        &file,
        "targets:\n  - name: a\n    kubeconfig: kc\n  - name: b\n    kubeconfig: kc\n    vars: {X: y}\n",
    )
    .expect("write");
    let run = kpush_with_env(
        &[
            "apply".into(),
            "-".into(),
            "--targets".into(),
            file.display().to_string(),
        ],
        &[],
    );
    run.expect_code(2);
    assert!(run.stderr.contains("standard input"), "{}", run.stderr);
    // --targets replaces the flags that name one cluster.
    let run = kpush_with_env(
        &[
            "apply".into(),
            deploy.display().to_string(),
            "--targets".into(),
            "t.yaml".into(),
            "--context".into(),
            "x".into(),
        ],
        &[],
    );
    run.expect_code(2);
}

/// Waits until kube-apiserver's OIDC authenticator accepts the emulator's tokens on `cluster`.
async fn wait_for_oidc(f: &Fixture, cluster: &TestCluster) {
    let token = f
        .emulator
        .mint_access_token(TENANT, SECRET_APP_OID, kpush::auth::AKS_SERVER_APP_ID, 600)
        .expect("token");
    let mut config = kube::Config::new(cluster.server().parse().expect("URL"));
    config.root_cert = Some(vec![
        rustls_pki_types::pem::PemObject::from_pem_slice(&cluster.ca_pem())
            .map(|c: rustls_pki_types::CertificateDer<'_>| c.as_ref().to_vec())
            .expect("CA"),
    ]);
    config.auth_info.token = Some(token.into());
    let client = kube::Client::try_from(config).expect("client");
    let pods = Api::<Pod>::namespaced(client, "default");
    let deadline = Instant::now() + Duration::from_secs(60);
    while pods.list(&ListParams::default()).await.is_err() {
        assert!(Instant::now() < deadline, "{}", cluster.logs());
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

#[tokio::test]
async fn aks_targets_sign_in_through_arm_and_entra_id_for_each_cluster() {
    let case = Case::new("tg-aks").await;
    let e = case.env;
    for c in &e.clusters {
        wait_for_oidc(&e.f, c).await;
    }
    let aks = |name: &str, cluster: &str| {
        format!(
            "  - name: {name}\n    aks: {{cluster: {cluster}, resourceGroup: {RG}, subscription: {SUB}}}\n    namespace: {}\n    vars: {{REGION: {name}}}\n",
            case.ns
        )
    };
    let targets = case.targets(&[
        aks("weu", AKS[0]),
        aks("neu", AKS[1]),
        case.target("us", 2, ""),
    ]);
    let url = e.f.emulator.url();
    let ca = e.f.emulator.ca_file().display().to_string();
    let home = tempfile::tempdir().expect("home");
    let home_dir = home.path().display().to_string();
    let run = case.kpush_env(
        "apply",
        &targets,
        &[
            "--parallel",
            "3",
            "--auth",
            "client-secret",
            "--authority-host",
            &url,
            "--arm-endpoint",
            &url,
            "--azure-ca-file",
            &ca,
            "-o",
            "json",
        ],
        &[
            ("AZURE_CLIENT_ID", SECRET_APP),
            ("AZURE_TENANT_ID", TENANT),
            ("AZURE_CLIENT_SECRET", SECRET),
            ("HOME", &home_dir),
            ("XDG_CACHE_HOME", &home_dir),
        ],
    );
    run.expect_code(0);
    assert!(!run.stderr.contains(SECRET) && !run.stdout.contains(SECRET));
    for (i, region) in [(0, "weu"), (1, "neu"), (2, "us")] {
        assert_eq!(case.region(i).await.as_deref(), Some(region), "cluster {i}");
    }
    let doc = json(&run);
    assert!(
        doc["targets"][0]["cluster"]
            .as_str()
            .is_some_and(|c| c.contains("AKS cluster aks-weu")),
        "{doc}"
    );
    // Each AKS cluster's address came from ARM.
    for cluster in &AKS[..2] {
        assert!(
            e.f.emulator
                .requests()
                .iter()
                .any(|r| r.path.contains(&format!("managedClusters/{cluster}/"))),
            "no ARM request for {cluster}"
        );
    }
}

#[tokio::test]
async fn releases_are_deployed_drift_checked_and_rolled_back_on_every_target() {
    let case = Case::new("tg-rel").await;
    let targets = case.targets(&[case.target("weu", 0, ""), case.target("neu", 1, "")]);
    case.kpush("apply", &targets, &["--release", "shop"])
        .expect_code(0);
    let release = |command: &str| {
        kpush_with_env(
            &[
                command.into(),
                "shop".into(),
                "--targets".into(),
                targets.clone(),
            ],
            &[],
        )
    };
    release("drift").expect_code(0);
    // A hand edit on one cluster is drift there only.
    let neu = case.env.clusters[1].client("admin").await.expect("client");
    let patch = serde_json::json!({"data": {"region": "edited"}});
    Api::<ConfigMap>::namespaced(neu, &case.ns)
        .patch(
            "settings",
            &kube::api::PatchParams::default(),
            &kube::api::Patch::Merge(&patch),
        )
        .await
        .expect("edit");
    let run = release("drift");
    run.expect_code(1);
    let (weu, neu) = run
        .stdout
        .split_once("# target neu")
        .unwrap_or_else(|| panic!("{}", run.stdout));
    assert!(!weu.contains("edited"), "{}", run.stdout);
    assert!(neu.contains("edited"), "{}", run.stdout);
    assert!(
        run.stderr.contains("target weu: succeeded"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("target neu: differences"),
        "{}",
        run.stderr
    );
    // A second revision, then back to the first everywhere.
    let moved: Vec<String> = [case.target("weu", 0, ""), case.target("neu", 1, "")]
        .iter()
        .map(|t| t.replace("{REGION: ", "{REGION: v2-"))
        .collect();
    let moved = case.targets(&moved);
    // The hand edit made another field manager own the value: take it back.
    case.kpush("apply", &moved, &["--release", "shop", "--force-conflicts"])
        .expect_code(0);
    assert_eq!(case.region(0).await.as_deref(), Some("v2-weu"));
    let run = kpush_with_env(
        &[
            "rollback".into(),
            "shop".into(),
            "--targets".into(),
            moved,
            "--parallel".into(),
            "2".into(),
        ],
        &[],
    );
    run.expect_code(0);
    assert_eq!(case.region(0).await.as_deref(), Some("weu"));
    assert_eq!(case.region(1).await.as_deref(), Some("neu"));
    // Each target's history: the two applies and the rollback.
    let run = kpush_with_env(
        &[
            "history".into(),
            "shop".into(),
            "--targets".into(),
            targets.clone(),
            "-o".into(),
            "json".into(),
        ],
        &[],
    );
    run.expect_code(0);
    let doc = json(&run);
    let revisions = |i: usize| {
        doc["targets"][i]["history"]["revisions"]
            .as_array()
            .map(|r| {
                r.iter()
                    .map(|r| r["status"].as_str().unwrap_or("").to_string())
                    .collect::<Vec<_>>()
            })
    };
    assert_eq!(doc["targets"][0]["name"], "weu");
    assert_eq!(revisions(0).map(|r| r.len()), Some(3), "{doc}");
    assert_eq!(revisions(1).map(|r| r.len()), Some(3), "{doc}");
    // Asked two at a time, the tables still come in the file's order.
    let run = kpush_with_env(
        &[
            "history".into(),
            "shop".into(),
            "--targets".into(),
            targets.clone(),
            "--parallel".into(),
            "2".into(),
        ],
        &[],
    );
    run.expect_code(0);
    assert!(
        run.stdout.starts_with("# target weu\nREVISION"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("# target neu\nREVISION"),
        "{}",
        run.stdout
    );

    // Each target's releases (in the target's namespace): a table after `# target NAME`,
    // a `targets` list in JSON.
    let list = |targets: &str, extra: &[&str]| {
        let mut args: Vec<String> = vec!["list".into(), "--targets".into(), targets.into()];
        args.extend(extra.iter().map(|s| s.to_string()));
        kpush_with_env(&args, &[])
    };
    let run = list(&targets, &["--parallel", "2"]);
    run.expect_code(0);
    let (weu, neu) = run
        .stdout
        .split_once("# target neu\n")
        .unwrap_or_else(|| panic!("{}", run.stdout));
    for table in [weu.trim_start_matches("# target weu\n"), neu] {
        let rows: Vec<&str> = table.lines().collect();
        assert_eq!(rows.len(), 2, "{}", run.stdout);
        assert!(rows[0].starts_with("NAMESPACE"), "{}", run.stdout);
        let row: Vec<&str> = rows[1].split_whitespace().collect();
        assert_eq!(row[..4], [case.ns.as_str(), "shop", "3", "succeeded"]);
    }
    let run = list(&targets, &["-o", "json"]);
    run.expect_code(0);
    let doc = json(&run);
    for (i, name) in ["weu", "neu"].into_iter().enumerate() {
        let t = &doc["targets"][i];
        assert_eq!(t["name"], name, "{doc}");
        assert_eq!(t["exitCode"], 0, "{doc}");
        assert_eq!(t["releases"][0]["release"], "shop", "{doc}");
        assert_eq!(t["releases"][0]["namespace"], case.ns.as_str(), "{doc}");
        assert_eq!(t["releases"][0]["revision"], 3, "{doc}");
        assert_eq!(t["skipped"], serde_json::json!([]), "{doc}");
    }
    // A target that cannot be asked is named with its line; the others still answer, and
    // the exit code is the worst target's.
    let with_bad = case.targets(&[
        case.target("weu", 0, ""),
        case.target("nowhere", 1, "    context: no-such-context\n"),
        case.target("neu", 1, ""),
    ]);
    let run = list(&with_bad, &["-o", "json"]);
    let doc = json(&run);
    let code = doc["targets"][1]["exitCode"].as_i64().unwrap_or(0);
    assert!(code > 0, "{doc}");
    run.expect_code(code as i32);
    assert_eq!(doc["targets"][0]["releases"][0]["release"], "shop", "{doc}");
    assert_eq!(doc["targets"][2]["releases"][0]["release"], "shop", "{doc}");
    assert!(
        run.stderr
            .contains(&format!("target nowhere: error (exit code {code})"))
            && run.stderr.contains("targets.yaml:"),
        "{}",
        run.stderr
    );
}
