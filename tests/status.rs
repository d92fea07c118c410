//! `kpush status` as users run it: the real binary against the real control plane.

mod harness;

use std::process::Output;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use harness::track::{apply, deployment, manifest, setup};
use kpush_testenv::TestCluster;

/// Writes the objects as one YAML file in a temp dir and runs `kpush status` on it.
async fn status(cluster: &TestCluster, objects: &[Value], extra: &[&str]) -> (Output, Duration) {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("app.yaml");
    let text: Vec<String> = objects
        .iter()
        .map(|o| serde_saphyr::to_string(o).expect("yaml"))
        .collect();
    std::fs::write(&file, text.join("---\n")).expect("write manifests");
    let kubeconfig = dir.path().join("kubeconfig");
    cluster
        .write_kubeconfig("admin", &kubeconfig)
        .expect("kubeconfig");
    let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_kpush"));
    cmd.arg("status")
        .arg(&file)
        .arg("--kubeconfig")
        .arg(&kubeconfig)
        .args(extra)
        .env_remove("KPUSH_OUTPUT")
        .env("KPUSH_NO_RUN_ANNOTATIONS", "true");
    let started = Instant::now();
    let out = cmd.output().await.expect("run kpush");
    assert!(
        !String::from_utf8_lossy(&out.stderr).contains("unrecognized subcommand 'status'"),
        "{} is not this worktree's build: another worktree sharing CARGO_TARGET_DIR rebuilt it; run the test again",
        env!("CARGO_BIN_EXE_kpush")
    );
    (out, started.elapsed())
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_of_a_healthy_deployment_exits_zero_with_plain_lines_and_json() {
    let ns = "status-healthy";
    let (cluster, client) = setup(ns).await;
    let d = deployment(ns, "web", "web:1", 2, json!({}));
    apply(&client, &[manifest("app.yaml", 1, d.clone())]).await;
    let (out, _) = status(cluster, &[d], &["-o", "json"]).await;
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "stderr:\n{stderr}");
    assert!(
        !stderr.contains('\u{1b}'),
        "no escape sequences without a terminal:\n{stderr}"
    );
    assert!(stderr.contains("Deployment status-healthy/web"), "{stderr}");
    assert!(stderr.contains("1 object ready"), "{stderr}");
    let doc: Value = serde_json::from_slice(&out.stdout).expect("stdout is one JSON document");
    assert_eq!(doc["result"], "succeeded");
    assert_eq!(doc["exitCode"], 0);
    assert_eq!(doc["objects"][0]["name"], "web");
    assert_eq!(doc["objects"][0]["readiness"], "ready");
    assert!(
        doc["objects"][0]["file"]
            .as_str()
            .is_some_and(|f| f.ends_with("app.yaml"))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_of_a_bad_image_exits_4_within_seconds_naming_reason_pod_and_file_line() {
    let ns = "status-bad-image";
    let (cluster, client) = setup(ns).await;
    let cm = json!({"apiVersion": "v1", "kind": "ConfigMap",
                    "metadata": {"name": "settings", "namespace": ns}, "data": {"a": "b"}});
    let d = deployment(ns, "web", "registry.example/bad-image:1", 1, json!({}));
    apply(
        &client,
        &[
            manifest("app.yaml", 1, cm.clone()),
            manifest("app.yaml", 2, d.clone()),
        ],
    )
    .await;
    let (out, took) = status(cluster, &[cm, d], &[]).await;
    let stderr = text(&out.stderr);
    eprintln!("kpush status took {took:?}; its standard error:\n{stderr}");
    assert_eq!(
        out.status.code(),
        Some(kpush::exit::ROLLOUT_FAILED),
        "stderr:\n{stderr}"
    );
    assert!(took < Duration::from_secs(15), "took {took:?}\n{stderr}");
    assert!(
        stderr.contains("ErrImagePull") || stderr.contains("ImagePullBackOff"),
        "{stderr}"
    );
    // The Deployment is the second document of app.yaml.
    assert!(stderr.contains("app.yaml:"), "{stderr}");
    assert!(stderr.contains("pod: web-"), "{stderr}");
    assert!(stderr.contains("Warning Failed Pod web-"), "{stderr}");
    assert!(out.stdout.is_empty(), "nothing on stdout without -o json");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_of_a_crash_loop_says_in_one_line_that_logs_cannot_be_read() {
    let ns = "status-crashloop";
    let (cluster, client) = setup(ns).await;
    let d = deployment(ns, "app", "example/crashloop:1", 1, json!({}));
    apply(&client, &[manifest("app.yaml", 1, d.clone())]).await;
    let (out, _) = status(cluster, &[d], &["-o", "json"]).await;
    let stderr = text(&out.stderr);
    assert_eq!(
        out.status.code(),
        Some(kpush::exit::ROLLOUT_FAILED),
        "stderr:\n{stderr}"
    );
    let lines: Vec<&str> = stderr
        .lines()
        .filter(|l| l.contains("cannot be read"))
        .collect();
    assert_eq!(lines.len(), 1, "{stderr}");
    let doc: Value = serde_json::from_slice(&out.stdout).expect("json");
    let failure = &doc["objects"][0]["failure"];
    assert_eq!(failure["reason"], "CrashLoopBackOff");
    assert!(
        failure["restartCount"].as_i64().is_some_and(|n| n >= 2),
        "{failure}"
    );
    assert!(failure["logs"]["unavailable"].is_string(), "{failure}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_of_an_object_that_was_never_applied_fails_naming_it() {
    let ns = "status-missing";
    let (cluster, _) = setup(ns).await;
    let d = deployment(ns, "ghost", "web:1", 1, json!({}));
    let (out, _) = status(cluster, &[d], &["--timeout", "20s"]).await;
    let stderr = text(&out.stderr);
    assert_eq!(
        out.status.code(),
        Some(kpush::exit::ROLLOUT_FAILED),
        "stderr:\n{stderr}"
    );
    assert!(
        stderr.contains("NotFound") && stderr.contains("ghost"),
        "{stderr}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_timeout_exits_5_naming_what_was_pending() {
    let ns = "status-timeout";
    let (cluster, client) = setup(ns).await;
    let slow =
        json!({"sim.kpush.dev/behavior": "slow-start", "sim.kpush.dev/start-seconds": "120"});
    let d = deployment(ns, "slow", "slow:1", 1, slow);
    apply(&client, &[manifest("app.yaml", 1, d.clone())]).await;
    let (out, _) = status(cluster, &[d], &["--timeout", "3s"]).await;
    let stderr = text(&out.stderr);
    assert_eq!(
        out.status.code(),
        Some(kpush::exit::TIMED_OUT),
        "stderr:\n{stderr}"
    );
    assert!(
        stderr.contains("still pending: Deployment status-timeout/slow"),
        "{stderr}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_with_an_unknown_kind_is_bad_input() {
    let ns = "status-unknown-kind";
    let (cluster, _) = setup(ns).await;
    let w = json!({"apiVersion": "nothing.example.com/v1", "kind": "Gadget",
                   "metadata": {"name": "g", "namespace": ns}});
    let (out, _) = status(cluster, &[w], &[]).await;
    let stderr = text(&out.stderr);
    assert_eq!(
        out.status.code(),
        Some(kpush::exit::BAD_INPUT),
        "stderr:\n{stderr}"
    );
    assert!(
        stderr.contains("Gadget") && stderr.contains("CustomResourceDefinition"),
        "{stderr}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_in_github_actions_annotates_the_failure_and_writes_the_summary() {
    let ns = "status-github";
    let (cluster, client) = setup(ns).await;
    let d = deployment(ns, "web", "registry.example/bad-image:1", 1, json!({}));
    apply(&client, &[manifest("app.yaml", 1, d.clone())]).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("app.yaml");
    std::fs::write(&file, serde_saphyr::to_string(&d).expect("yaml")).expect("write");
    let kubeconfig = dir.path().join("kubeconfig");
    cluster
        .write_kubeconfig("admin", &kubeconfig)
        .expect("kubeconfig");
    let summary = dir.path().join("summary.md");
    let outputs = dir.path().join("outputs.txt");
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_kpush"))
        .arg("status")
        .arg(&file)
        .arg("--kubeconfig")
        .arg(&kubeconfig)
        .env_remove("KPUSH_OUTPUT")
        .env_remove("KPUSH_CI")
        .env("GITHUB_ACTIONS", "true")
        .env("GITHUB_WORKSPACE", dir.path())
        .env("GITHUB_STEP_SUMMARY", &summary)
        .env("GITHUB_OUTPUT", &outputs)
        .output()
        .await
        .expect("run kpush");
    let stderr = text(&out.stderr);
    assert_eq!(
        out.status.code(),
        Some(kpush::exit::ROLLOUT_FAILED),
        "{stderr}"
    );
    assert!(
        stderr.contains("::error file=app.yaml,line=1"),
        "annotation on the manifest's line:\n{stderr}"
    );
    let summary = std::fs::read_to_string(&summary).expect("a job summary was written");
    assert!(summary.contains("web"), "{summary}");
    let outputs = std::fs::read_to_string(&outputs).expect("outputs were written");
    assert!(outputs.contains("result=rollout-failed"), "{outputs}");
}
