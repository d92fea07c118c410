//! Releases against the real control plane: revisions recorded by `apply --release`, `history`,
//! `list`, `rollback`, `drift`, the deploy lock between real concurrent `kpush` processes,
//! `--rollback-on-failure`, and the bad cases (corrupt records, missing revisions, a killed
//! lock holder, Ctrl-C during a rollback).

mod harness;

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use harness::binary::{Ctx, config_map, deployment};
use serde_json::{Value, json};

/// A Deployment whose pods become ready after `seconds` (node simulator behaviour).
fn slow_deployment(name: &str, seconds: u32) -> String {
    deployment(name, "registry.example/team/web:1.0", name).replace(
        "      labels:\n        app:",
        &format!(
            "      annotations:\n        sim.kpush.dev/behavior: slow-start\n        \
             sim.kpush.dev/start-seconds: \"{seconds}\"\n      labels:\n        app:"
        ),
    )
}

/// Starts `kpush <args> --kubeconfig … -n <ns>` without waiting; stderr is piped.
fn spawn(ctx: &Ctx, args: &[&str], env: &[(&str, &str)]) -> Child {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_kpush"));
    cmd.args(args).args([
        "--kubeconfig",
        &ctx.cluster.kubeconfig_path("admin").display().to_string(),
        "-n",
        &ctx.namespace,
    ]);
    for (k, _) in std::env::vars_os() {
        let k = k.to_string_lossy().to_string();
        if k.starts_with("KPUSH_") || k.starts_with("GITHUB_") || k == "TF_BUILD" {
            cmd.env_remove(k);
        }
    }
    cmd.env("NO_COLOR", "1")
        .envs(env.iter().copied())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn kpush")
}

/// Reads `child`'s stderr until a line contains `needle` (panics after `within`); returns
/// the lines read. The rest of stderr keeps draining in a thread.
fn wait_for_line(child: &mut Child, needle: &str, within: Duration) -> Vec<String> {
    let stderr = child.stderr.take().expect("piped stderr");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let deadline = Instant::now() + within;
    let mut seen = Vec::new();
    while let Ok(line) = rx.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
        let hit = line.contains(needle);
        seen.push(line);
        if hit {
            // Keep draining so the child never blocks on a full pipe.
            std::thread::spawn(move || for _ in rx {});
            return seen;
        }
    }
    panic!(
        "no line containing {needle:?} within {within:?}; saw:\n{}",
        seen.join("\n")
    );
}

fn history_json(ctx: &Ctx, release: &str) -> Value {
    let run = ctx.kpush(&["history", release, "-o", "json"]);
    run.expect_code(0);
    serde_json::from_str(&run.stdout).unwrap_or_else(|e| panic!("{e}: {}", run.stdout))
}

fn statuses(history: &Value) -> Vec<(u64, String)> {
    history["revisions"]
        .as_array()
        .expect("revisions")
        .iter()
        .map(|r| {
            (
                r["revision"].as_u64().expect("number"),
                r["status"].as_str().expect("status").to_string(),
            )
        })
        .collect()
}

fn revs(pairs: &[(u64, &str)]) -> Vec<(u64, String)> {
    pairs.iter().map(|(n, s)| (*n, s.to_string())).collect()
}

async fn config_value(ctx: &Ctx, name: &str) -> Option<String> {
    ctx.get(&ctx.core("configmaps", name))
        .await
        .map(|c| c["data"]["key"].as_str().unwrap_or_default().to_string())
}

#[tokio::test(flavor = "multi_thread")]
async fn apply_records_revisions_that_history_and_list_show_and_rollback_restores() {
    let ctx = Ctx::new("rel-basic").await;
    ctx.write("cm.yaml", &config_map("settings", "one"));
    let extra = ctx.write("extra.yaml", &config_map("extra", "x"));
    let ci = [
        ("GITHUB_ACTIONS", "true"),
        ("GITHUB_REPOSITORY", "acme/shop"),
        ("GITHUB_RUN_ID", "42"),
        ("GITHUB_SHA", "0123456789abcdef"),
        ("GITHUB_WORKFLOW", "deploy"),
        ("GITHUB_ACTOR", "ana"),
    ];
    let dir = ctx.path().display().to_string();
    ctx.kpush_env("admin", &["apply", &dir, "--release", "shop"], &ci)
        .expect_code(0);

    // The record: a Secret of kpush's type, labelled for listing, compressed.
    let secret = ctx
        .get(&ctx.core("secrets", "kpush.release.v1.shop.v1"))
        .await
        .expect("revision 1 is recorded");
    assert_eq!(secret["type"], "kpush.dev/release.v1");
    assert_eq!(secret["metadata"]["labels"]["kpush.dev/release"], "shop");
    assert_eq!(secret["metadata"]["labels"]["kpush.dev/revision"], "1");
    assert_eq!(
        secret["metadata"]["labels"]["kpush.dev/status"],
        "succeeded"
    );
    // The lock is released on exit.
    assert!(
        ctx.get(&format!(
            "/apis/coordination.k8s.io/v1/namespaces/{}/leases/kpush.lock.shop",
            ctx.namespace
        ))
        .await
        .is_none(),
        "lease deleted after the run"
    );

    // Second revision changes a value and drops `extra`: prune is on by default.
    ctx.write("cm.yaml", &config_map("settings", "two"));
    std::fs::remove_file(&extra).expect("rm");
    let second = ctx.kpush(&["apply", &dir, "--release", "shop"]);
    second.expect_code(0);
    assert!(second.stderr.contains("1 pruned"), "{}", second.stderr);
    assert_eq!(config_value(&ctx, "extra").await, None);

    let h = history_json(&ctx, "shop");
    assert_eq!(statuses(&h), revs(&[(1, "succeeded"), (2, "succeeded")]));
    let first = &h["revisions"][0];
    assert_eq!(first["commit"], "0123456789abcdef");
    assert_eq!(
        first["runUrl"],
        "https://github.com/acme/shop/actions/runs/42"
    );
    assert_eq!(first["actor"], "ana");
    assert_eq!(first["workflow"], "deploy");
    assert!(first["startedAt"].as_str().unwrap().ends_with('Z'));
    assert!(first["finishedAt"].is_string());
    assert!(
        first["objects"].as_array().unwrap().contains(
            &json!({"group": "", "kind": "ConfigMap", "namespace": ctx.namespace,
                "name": "extra", "action": "created"})
        ),
        "{first}"
    );
    assert!(
        h["revisions"][1]["objects"]
            .as_array()
            .unwrap()
            .iter()
            .any(|o| o["name"] == "extra" && o["action"] == "pruned"),
        "{h}"
    );
    assert!(
        first.get("manifests").is_none(),
        "manifests are never printed"
    );

    let table = ctx.kpush(&["history", "shop"]);
    table.expect_code(0);
    assert!(
        table.stdout.starts_with("REVISION  STATUS"),
        "{}",
        table.stdout
    );
    assert!(table.stdout.contains("0123456789ab"), "{}", table.stdout);

    let list = ctx.kpush(&["list"]);
    list.expect_code(0);
    let row = list.stdout.lines().nth(1).unwrap_or_default().to_string();
    assert!(
        row.starts_with(&format!("{}  shop", ctx.namespace)) && row.contains("succeeded"),
        "{}",
        list.stdout
    );
    let all = ctx.kpush(&["list", "-A", "-o", "json"]);
    all.expect_code(0);
    let all: Value = serde_json::from_str(&all.stdout).expect("json");
    assert!(
        all["releases"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["namespace"] == ctx.namespace
                && r["release"] == "shop"
                && r["revision"] == 2),
        "{all}"
    );

    // Rollback to 1: the old value and the pruned object come back, as revision 3.
    let back = ctx.kpush(&["rollback", "shop", "--to", "1"]);
    back.expect_code(0);
    assert_eq!(config_value(&ctx, "settings").await.as_deref(), Some("one"));
    assert_eq!(config_value(&ctx, "extra").await.as_deref(), Some("x"));
    let h = history_json(&ctx, "shop");
    assert_eq!(
        statuses(&h),
        revs(&[(1, "succeeded"), (2, "succeeded"), (3, "succeeded")])
    );
    assert_eq!(h["revisions"][2]["rollbackTo"], 1);

    // Default target: the newest success before the newest revision (2), pruning `extra`.
    ctx.kpush(&["rollback", "shop"]).expect_code(0);
    assert_eq!(config_value(&ctx, "settings").await.as_deref(), Some("two"));
    assert_eq!(config_value(&ctx, "extra").await, None);
    assert_eq!(history_json(&ctx, "shop")["revisions"][3]["rollbackTo"], 2);
}

#[tokio::test(flavor = "multi_thread")]
async fn rollback_to_a_missing_revision_lists_the_existing_ones() {
    let ctx = Ctx::new("rel-missing").await;
    let cm = ctx.write("cm.yaml", &config_map("c", "v1"));
    let cm = cm.display().to_string();
    ctx.kpush(&["apply", &cm, "--release", "app"])
        .expect_code(0);
    let run = ctx.kpush(&["rollback", "app", "--to", "7"]);
    run.expect_code(2);
    assert!(
        run.stderr
            .contains("release app has no revision 7; its revisions: 1 (succeeded)"),
        "{}",
        run.stderr
    );
    let unknown = ctx.kpush(&["history", "nothing-here"]);
    unknown.expect_code(2);
    assert!(
        unknown.stderr.contains("has no revisions"),
        "{}",
        unknown.stderr
    );
    // Nothing was recorded by the refused rollback.
    assert_eq!(
        statuses(&history_json(&ctx, "app")),
        revs(&[(1, "succeeded")])
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn corrupt_and_foreign_records_are_reported_and_skipped() {
    let ctx = Ctx::new("rel-corrupt").await;
    let cm = ctx.write("cm.yaml", &config_map("c", "v1"));
    let cm = cm.display().to_string();
    ctx.kpush(&["apply", &cm, "--release", "app"])
        .expect_code(0);
    let client = ctx.client().await;
    let secrets: kube::Api<k8s_openapi::api::core::v1::Secret> =
        kube::Api::namespaced(client, &ctx.namespace);
    let pp = kube::api::PostParams::default();
    let bad = |name: &str, kind: &str, data: &str| {
        serde_json::from_value::<k8s_openapi::api::core::v1::Secret>(json!({
            "metadata": {"name": name, "labels": {"kpush.dev/release": "app", "kpush.dev/revision": "2"}},
            "type": kind,
            "stringData": {"release": data},
        }))
        .expect("secret")
    };
    secrets
        .create(
            &pp,
            &bad(
                "kpush.release.v1.app.v2",
                "kpush.dev/release.v1",
                "not gzip",
            ),
        )
        .await
        .expect("create corrupt");
    secrets
        .create(&pp, &bad("someone-elses", "Opaque", "x"))
        .await
        .expect("create foreign");

    let run = ctx.kpush(&["history", "app", "-o", "json"]);
    run.expect_code(0);
    assert!(
        run.stderr.contains("skipped Secret")
            && run.stderr.contains("kpush.release.v1.app.v2")
            && run.stderr.contains("gzip"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("someone-elses") && run.stderr.contains("not written by kpush"));
    let h: Value = serde_json::from_str(&run.stdout).expect("json");
    assert_eq!(statuses(&h), revs(&[(1, "succeeded")]));
    assert_eq!(h["skipped"].as_array().unwrap().len(), 2);

    // The next apply numbers past the corrupt record instead of colliding with it.
    ctx.write("cm.yaml", &config_map("c", "v2"));
    let next = ctx.kpush(&["apply", &cm, "--release", "app"]);
    next.expect_code(0);
    assert_eq!(
        statuses(&history_json(&ctx, "app")),
        revs(&[(1, "succeeded"), (3, "succeeded")])
    );
    ctx.kpush(&["list", "-o", "json"]).expect_code(0);
}

#[tokio::test(flavor = "multi_thread")]
async fn history_is_capped_at_history_max_keeping_the_newest() {
    let ctx = Ctx::new("rel-cap").await;
    for v in 1..=4 {
        let p = ctx.write("cm.yaml", &config_map("c", &format!("v{v}")));
        ctx.kpush(&[
            "apply",
            &p.display().to_string(),
            "--release",
            "app",
            "--history-max",
            "2",
        ])
        .expect_code(0);
    }
    assert_eq!(
        statuses(&history_json(&ctx, "app")),
        revs(&[(3, "succeeded"), (4, "succeeded")])
    );
    assert!(
        ctx.get(&ctx.core("secrets", "kpush.release.v1.app.v1"))
            .await
            .is_none()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn drift_finds_hand_edits_and_deletions_and_never_shows_secret_values() {
    let ctx = Ctx::new("rel-drift").await;
    ctx.write("cm.yaml", &config_map("settings", "one"));
    ctx.write(
        "secret.yaml",
        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: creds\nstringData:\n  password: hunter2\n",
    );
    ctx.write("gone.yaml", &config_map("gone", "x"));
    let dir = ctx.path().display().to_string();
    ctx.kpush(&["apply", &dir, "--release", "app"])
        .expect_code(0);

    let none = ctx.kpush(&["drift", "app"]);
    none.expect_code(0);

    let client = ctx.client().await;
    let cms: kube::Api<k8s_openapi::api::core::v1::ConfigMap> =
        kube::Api::namespaced(client.clone(), &ctx.namespace);
    let secrets: kube::Api<k8s_openapi::api::core::v1::Secret> =
        kube::Api::namespaced(client, &ctx.namespace);
    let pp = kube::api::PatchParams::default();
    cms.patch(
        "settings",
        &pp,
        &kube::api::Patch::Merge(json!({"data": {"key": "edited-by-hand"}})),
    )
    .await
    .expect("edit");
    secrets
        .patch(
            "creds",
            &pp,
            &kube::api::Patch::Merge(json!({"stringData": {"password": "changed-secret-value"}})),
        )
        .await
        .expect("edit secret");
    cms.delete("gone", &Default::default())
        .await
        .expect("delete");

    let drift = ctx.kpush(&["drift", "app"]);
    drift.expect_code(1);
    let all = format!("{}{}", drift.stdout, drift.stderr);
    assert!(all.contains("edited-by-hand"), "{all}");
    assert!(all.contains("gone"), "{all}");
    assert!(all.contains("creds") && all.contains("password"), "{all}");
    assert!(
        !all.contains("changed-secret-value") && !all.contains("hunter2"),
        "{all}"
    );
    assert!(
        !all.contains("Y2hhbmdlZC1zZWNyZXQtdmFsdWU"),
        "no base64 either: {all}"
    );

    // The same in GitHub Actions: the result output says so.
    let out = ctx.path().join("github-output");
    let summary = ctx.path().join("github-summary");
    let gh = ctx.kpush_env(
        "admin",
        &["drift", "app"],
        &[
            ("GITHUB_ACTIONS", "true"),
            ("GITHUB_OUTPUT", out.to_str().unwrap()),
            ("GITHUB_STEP_SUMMARY", summary.to_str().unwrap()),
        ],
    );
    gh.expect_code(1);
    let outputs = std::fs::read_to_string(&out).expect("outputs written");
    assert!(outputs.contains("result=differences"), "{outputs}");
    assert!(
        gh.stderr
            .contains("comparing the live objects with revision 1"),
        "{}",
        gh.stderr
    );

    // drift changes nothing.
    assert_eq!(
        config_value(&ctx, "settings").await.as_deref(),
        Some("edited-by-hand")
    );
    let none = ctx.kpush(&["drift", "never-deployed"]);
    none.expect_code(2);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_failed_rollout_is_rolled_back_to_the_last_success_with_exit_7() {
    let ctx = Ctx::new("rel-rollback").await;
    let web = ctx.write(
        "web.yaml",
        &deployment("web", "registry.example/team/web:1.0", "web"),
    );
    let web = web.display().to_string();
    ctx.kpush(&["apply", &web, "--release", "app"])
        .expect_code(0);
    ctx.write(
        "web.yaml",
        &deployment("web", "registry.example/team/bad-image:2.0", "web"),
    );
    let run = ctx.kpush(&[
        "apply",
        &web,
        "--release",
        "app",
        "--rollback-on-failure",
        "--rollback-timeout",
        "60s",
        "--timeout",
        "60s",
        "-o",
        "json",
    ]);
    run.expect_code(7);
    // Both deploys are in the JSON document, and what happened to the release.
    let doc: Value = serde_json::from_str(&run.stdout).expect("one JSON document");
    assert_eq!(doc["exitCode"], 7);
    let notes: Vec<&str> = doc["release"]
        .as_array()
        .expect("release notes")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert_eq!(
        notes,
        [
            "release app: revision 2 failed",
            "release app: revision 2 failed; rolling back to revision 1 (rollout budget 60s)",
            "release app: revision 3 succeeded",
        ],
        "{doc}"
    );
    assert!(
        run.stderr
            .contains("revision 2 failed; rolling back to revision 1"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("rolled back to revision 1"),
        "{}",
        run.stderr
    );
    let h = history_json(&ctx, "app");
    assert_eq!(
        statuses(&h),
        revs(&[(1, "succeeded"), (2, "rolled-back"), (3, "succeeded")])
    );
    assert_eq!(h["revisions"][2]["rollbackTo"], 1);
    assert_eq!(
        h["revisions"][1]["images"],
        json!(["registry.example/team/bad-image:2.0"])
    );
    let live = ctx
        .get(&ctx.grouped("apps/v1", "deployments", "web"))
        .await
        .expect("deployment");
    assert_eq!(
        live["spec"]["template"]["spec"]["containers"][0]["image"],
        "registry.example/team/web:1.0"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_first_deploy_that_fails_has_nothing_to_roll_back_to_and_says_so() {
    let ctx = Ctx::new("rel-first-fail").await;
    let web = ctx.write(
        "web.yaml",
        &deployment("web", "registry.example/team/bad-image:1.0", "web"),
    );
    let run = ctx.kpush(&[
        "apply",
        &web.display().to_string(),
        "--release",
        "app",
        "--rollback-on-failure",
        "--timeout",
        "60s",
    ]);
    run.expect_code(4);
    assert!(
        run.stderr.contains("nothing to roll back to")
            && run.stderr.contains("this was its first deploy"),
        "{}",
        run.stderr
    );
    let h = history_json(&ctx, "app");
    assert_eq!(statuses(&h), revs(&[(1, "failed")]));
    assert!(
        h["revisions"][0]["message"]
            .as_str()
            .unwrap()
            .contains("nothing to roll back to")
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_second_deploy_waits_for_the_lock_and_another_release_does_not() {
    let ctx = Ctx::new("rel-lock").await;
    ctx.write("web.yaml", &slow_deployment("web", 20));
    let dir = ctx.path().display().to_string();
    let other_dir = tempfile::tempdir().expect("temp dir");
    let other = other_dir.path().join("other.yaml");
    std::fs::write(&other, config_map("other", "v1")).expect("write");
    let other = other.display().to_string();
    let started = Instant::now();
    let mut holder = spawn(
        &ctx,
        &["apply", &dir, "--release", "app"],
        &[
            ("GITHUB_ACTIONS", "true"),
            ("GITHUB_REPOSITORY", "acme/shop"),
            ("GITHUB_RUN_ID", "1001"),
        ],
    );
    // Wait until the first process holds the lock.
    let lease = format!(
        "/apis/coordination.k8s.io/v1/namespaces/{}/leases/kpush.lock.app",
        ctx.namespace
    );
    while ctx.get(&lease).await.is_none() {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "lock never taken"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // A different release is not blocked.
    let free = ctx.kpush(&[
        "apply",
        &other,
        "--release",
        "other",
        "--lock-timeout",
        "1s",
    ]);
    free.expect_code(0);
    // Same release, short timeout: exit 8 naming the holder.
    let impatient = ctx.kpush(&["apply", &dir, "--release", "app", "--lock-timeout", "2s"]);
    impatient.expect_code(8);
    assert!(
        impatient
            .stderr
            .contains("https://github.com/acme/shop/actions/runs/1001"),
        "{}",
        impatient.stderr
    );
    assert!(
        impatient.stderr.contains("--lock-timeout"),
        "{}",
        impatient.stderr
    );
    // Ctrl-C while waiting: exit 130, nothing recorded.
    let mut quitter = spawn(
        &ctx,
        &["apply", &dir, "--release", "app", "--lock-timeout", "2m"],
        &[],
    );
    wait_for_line(&mut quitter, "for the deploy lock", Duration::from_secs(30));
    let sent = Command::new("kill")
        .args(["-INT", &quitter.id().to_string()])
        .status()
        .expect("kill");
    assert!(sent.success());
    assert_eq!(quitter.wait().expect("exit").code(), Some(130));
    // Same release, patient: waits, says for whom, then deploys.
    let mut waiter = spawn(
        &ctx,
        &["apply", &dir, "--release", "app", "--lock-timeout", "2m"],
        &[],
    );
    let lines = wait_for_line(
        &mut waiter,
        "waiting up to 120s for the deploy lock",
        Duration::from_secs(30),
    );
    assert!(
        lines
            .last()
            .unwrap()
            .contains("held by https://github.com/acme/shop/actions/runs/1001"),
        "{lines:?}"
    );
    let first = holder.wait().expect("holder");
    assert_eq!(first.code(), Some(0));
    let second = waiter.wait().expect("waiter");
    assert_eq!(second.code(), Some(0));
    let h = history_json(&ctx, "app");
    assert_eq!(statuses(&h), revs(&[(1, "succeeded"), (2, "succeeded")]));
    // The waiter recorded its revision only after the holder finished.
    assert!(h["revisions"][1]["startedAt"].as_str() >= h["revisions"][0]["finishedAt"].as_str());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_killed_holders_lock_is_taken_over_only_after_its_lease_expired() {
    let ctx = Ctx::new("rel-kill").await;
    ctx.write("web.yaml", &slow_deployment("web", 120));
    let dir = ctx.path().display().to_string();
    let mut holder = spawn(&ctx, &["apply", &dir, "--release", "app"], &[]);
    let lease_path = format!(
        "/apis/coordination.k8s.io/v1/namespaces/{}/leases/kpush.lock.app",
        ctx.namespace
    );
    let started = Instant::now();
    // Wait until it applied (pending revision written) so it dies mid-deploy.
    while ctx
        .get(&ctx.grouped("apps/v1", "deployments", "web"))
        .await
        .is_none()
    {
        assert!(started.elapsed() < Duration::from_secs(30), "never applied");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // SIGKILL: no chance to release the lock or complete the revision.
    holder.kill().expect("kill -9");
    holder.wait().expect("reaped");
    let killed_at = Instant::now();
    let lease = ctx.get(&lease_path).await.expect("lease left behind");
    assert_eq!(lease["spec"]["leaseDurationSeconds"], 30);

    ctx.write(
        "web.yaml",
        &deployment("web", "registry.example/team/web:1.0", "web"),
    );
    let next = ctx.kpush(&["apply", &dir, "--release", "app", "--lock-timeout", "2m"]);
    next.expect_code(0);
    assert!(
        next.stderr
            .contains("waiting up to 120s for the deploy lock"),
        "{}",
        next.stderr
    );
    // Renewed at most 10 s before the kill: at least 20 s must pass before the takeover.
    assert!(
        killed_at.elapsed() >= Duration::from_secs(20),
        "taken over after {:?}",
        killed_at.elapsed()
    );
    assert!(
        next.stderr.contains("revision 1 was left pending"),
        "{}",
        next.stderr
    );
    let h = history_json(&ctx, "app");
    assert_eq!(statuses(&h), revs(&[(1, "interrupted"), (2, "succeeded")]));
}

#[tokio::test(flavor = "multi_thread")]
async fn ctrl_c_during_a_rollback_leaves_a_revision_saying_so() {
    let ctx = Ctx::new("rel-int-rollback").await;
    // Revision 1 is recorded as soon as it is applied; its pods take 30 s to start, so the
    // rollback to it has to wait for them.
    ctx.write("web.yaml", &slow_deployment("web", 30));
    let dir = ctx.path().display().to_string();
    ctx.kpush(&["apply", &dir, "--release", "app", "--wait=false"])
        .expect_code(0);
    ctx.write(
        "web.yaml",
        &deployment("web", "registry.example/team/bad-image:2.0", "web"),
    );
    let mut run = spawn(
        &ctx,
        &[
            "apply",
            &dir,
            "--release",
            "app",
            "--rollback-on-failure",
            "--timeout",
            "60s",
        ],
        &[],
    );
    wait_for_line(
        &mut run,
        "rolling back to revision 1",
        Duration::from_secs(60),
    );
    std::thread::sleep(Duration::from_secs(2));
    let pid = run.id().to_string();
    let sent = Command::new("kill")
        .args(["-INT", &pid])
        .status()
        .expect("kill");
    assert!(sent.success());
    let status = run.wait().expect("exit");
    assert_eq!(status.code(), Some(130));
    let h = history_json(&ctx, "app");
    assert_eq!(
        statuses(&h),
        revs(&[(1, "succeeded"), (2, "failed"), (3, "interrupted")])
    );
    let msg = h["revisions"][2]["message"].as_str().unwrap_or_default();
    assert!(
        msg.contains("rollback to revision 1") && msg.contains("interrupted"),
        "{msg}"
    );
    assert!(
        ctx.get(&format!(
            "/apis/coordination.k8s.io/v1/namespaces/{}/leases/kpush.lock.app",
            ctx.namespace
        ))
        .await
        .is_none(),
        "lock released on Ctrl-C"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_revision_too_large_for_a_secret_is_refused_before_anything_is_applied() {
    let ctx = Ctx::new("rel-large").await;
    // Three ConfigMaps of 650 KB of random letters each (about 60% after gzip): fine for the API,
    // too much for one record.
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    for name in ["big-a", "big-b", "big-c"] {
        let text: String = (0..650_000)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                char::from(b'a' + (x % 26) as u8)
            })
            .collect();
        ctx.write(&format!("{name}.yaml"), &config_map(name, &text));
    }
    let run = ctx.kpush(&[
        "apply",
        &ctx.path().display().to_string(),
        "--release",
        "app",
    ]);
    run.expect_code(2);
    assert!(
        run.stderr.contains("more than a Secret holds")
            && run.stderr.contains("nothing was applied"),
        "{}",
        run.stderr
    );
    assert_eq!(config_value(&ctx, "big-a").await, None);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_rollout_past_its_timeout_is_recorded_as_timed_out() {
    let ctx = Ctx::new("rel-timeout").await;
    let web = ctx.write("web.yaml", &slow_deployment("web", 120));
    let run = ctx.kpush(&[
        "apply",
        &web.display().to_string(),
        "--release",
        "app",
        "--timeout",
        "3s",
    ]);
    run.expect_code(5);
    assert!(
        run.stderr.contains("release app: revision 1 timed-out"),
        "{}",
        run.stderr
    );
    let h = history_json(&ctx, "app");
    assert_eq!(statuses(&h), revs(&[(1, "timed-out")]));
    assert_eq!(
        h["revisions"][0]["message"],
        "a rollout did not finish in time"
    );
    assert!(
        h["revisions"][0]["objects"]
            .as_array()
            .unwrap()
            .iter()
            .any(|o| o["kind"] == "Deployment" && o["action"] == "created"),
        "{h}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn prune_without_a_release_and_bad_release_names_are_bad_input() {
    let ctx = Ctx::new("rel-bad-input").await;
    let cm = ctx.write("cm.yaml", &config_map("c", "v1"));
    let cm = cm.display().to_string();
    let prune = ctx.kpush(&["apply", &cm, "--prune"]);
    prune.expect_code(2);
    assert!(
        prune.stderr.contains("--prune needs --release"),
        "{}",
        prune.stderr
    );
    let name = ctx.kpush(&["apply", &cm, "--release", "Shop_Web"]);
    name.expect_code(2);
    assert!(
        name.stderr.contains("release name `Shop_Web`"),
        "{}",
        name.stderr
    );
    // Neither sent anything.
    assert_eq!(config_value(&ctx, "c").await, None);
    // --applyset is the same flag, and --prune=false keeps what left the manifests.
    ctx.kpush(&["apply", &cm, "--applyset", "app"])
        .expect_code(0);
    let other = ctx.write("other.yaml", &config_map("other", "v1"));
    ctx.kpush(&[
        "apply",
        &ctx.path().display().to_string(),
        "--release",
        "app",
    ])
    .expect_code(0);
    std::fs::remove_file(other).expect("rm");
    ctx.kpush(&[
        "apply",
        &ctx.path().display().to_string(),
        "--release",
        "app",
        "--prune=false",
    ])
    .expect_code(0);
    assert_eq!(config_value(&ctx, "other").await.as_deref(), Some("v1"));
    assert_eq!(
        statuses(&history_json(&ctx, "app")),
        revs(&[(1, "succeeded"), (2, "succeeded"), (3, "succeeded")])
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_release_in_a_namespace_the_deploy_creates_gets_its_lock_and_records_there() {
    let ctx = Ctx::new("rel-new-ns").await;
    let ns = format!("{}-fresh", ctx.namespace);
    let cm = ctx.write("cm.yaml", &config_map("settings", "a"));
    let kubeconfig = ctx.cluster.kubeconfig_path("admin").display().to_string();
    let args = |extra: &[&str]| -> Vec<String> {
        let mut v: Vec<String> = [
            "apply",
            &cm.display().to_string(),
            "--kubeconfig",
            &kubeconfig,
            "-n",
            &ns,
            "--release",
            "app",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        v.extend(extra.iter().map(|s| s.to_string()));
        v
    };
    let run = harness::binary::kpush(&args(&["--create-namespace"]));
    run.expect_code(0);
    // Created before the lock, and said so once: its wave reports it created, not configured.
    assert!(
        run.stderr
            .contains(&format!("created    Namespace {ns} (--create-namespace)")),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("2 objects: 2 created"),
        "{}",
        run.stderr
    );
    let created = ctx.get(&format!("/api/v1/namespaces/{ns}")).await;
    assert!(created.is_some(), "namespace {ns} created: {}", run.stderr);
    let secrets = ctx
        .get(&format!("/api/v1/namespaces/{ns}/secrets"))
        .await
        .expect("secrets");
    let names: Vec<&str> = secrets["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|s| s["metadata"]["name"].as_str())
        .collect();
    assert!(
        names.iter().any(|n| n.contains("app")),
        "the release's records live in {ns}: {names:?}"
    );
    // A second deploy takes the lock in the same namespace and finds the first revision.
    let run = harness::binary::kpush(&args(&["--create-namespace"]));
    run.expect_code(0);
    let out = harness::binary::kpush(&[
        "history".to_string(),
        "app".to_string(),
        "--kubeconfig".to_string(),
        kubeconfig.clone(),
        "-n".to_string(),
        ns.clone(),
        "-o".to_string(),
        "json".to_string(),
    ]);
    out.expect_code(0);
    let h: Value = serde_json::from_str(&out.stdout).expect("history json");
    assert_eq!(
        statuses(&h),
        revs(&[(1, "succeeded"), (2, "succeeded")]),
        "{h}"
    );
    // Deployed without --create-namespace, the namespace leaves the manifests but stays (as
    // apply keeps namespaces by default); drift agrees: kept, not a difference.
    harness::binary::kpush(&args(&[])).expect_code(0);
    let drift = harness::binary::kpush(&[
        "drift".to_string(),
        "app".to_string(),
        "--kubeconfig".to_string(),
        kubeconfig.clone(),
        "-n".to_string(),
        ns.clone(),
    ]);
    drift.expect_code(0);
    let all = format!("{}{}", drift.stdout, drift.stderr);
    assert!(
        all.contains(&format!("Namespace {ns} would be kept")),
        "{all}"
    );
    assert!(!all.contains("would be pruned"), "{all}");
    assert!(ctx.get(&format!("/api/v1/namespaces/{ns}")).await.is_some());
}

/// The requests a run sent, from kube's request log (`KPUSH_LOG=kube_client=debug`):
/// `(method, path)`.
fn requests(stderr: &str) -> Vec<(String, String)> {
    // Without the terminal's colour codes.
    let mut plain = String::with_capacity(stderr.len());
    let mut chars = stderr.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            for c in chars.by_ref() {
                if c == 'm' {
                    break;
                }
            }
        } else {
            plain.push(c);
        }
    }
    plain
        .lines()
        .filter(|l| l.ends_with("requesting"))
        .filter_map(|l| {
            let method = l.split("http.method=").nth(1)?.split(' ').next()?;
            let url = l.split("http.url=").nth(1)?.split(' ').next()?;
            let path = url.splitn(4, '/').nth(3).unwrap_or_default();
            Some((method.to_string(), format!("/{}", path.split('?').next()?)))
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn an_unchanged_redeploy_does_not_rewrite_the_applyset_parent() {
    let ctx = Ctx::new("rel-parent-writes").await;
    ctx.write("a.yaml", &config_map("a", "one"));
    ctx.write("b.yaml", &config_map("b", "one"));
    let dir = ctx.path().display().to_string();
    let args = [
        "apply",
        dir.as_str(),
        "--release",
        "app",
        "--no-run-annotations",
    ];
    ctx.kpush(&args).expect_code(0);
    let parent = format!("/api/v1/namespaces/{}/secrets/app", ctx.namespace);
    let log = [("KPUSH_LOG", "kube_client=debug"), ("NO_COLOR", "1")];

    let again = ctx.kpush_env("admin", &args, &log);
    again.expect_code(0);
    let sent = requests(&again.stderr);
    assert!(sent.len() > 5, "no request log: {}", again.stderr);
    let writes: Vec<_> = sent
        .iter()
        .filter(|(m, p)| *p == parent && m != "GET")
        .collect();
    assert!(writes.is_empty(), "the parent was written: {writes:?}");

    // A change of the set is still recorded: b is pruned and the parent records ConfigMaps
    // in one namespace still, so the kinds stay; a Secret added shows up in the record.
    ctx.remove("b.yaml");
    ctx.write(
        "s.yaml",
        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: s\nstringData:\n  k: v\n",
    );
    let changed = ctx.kpush_env("admin", &args, &log);
    changed.expect_code(0);
    let writes = requests(&changed.stderr)
        .into_iter()
        .filter(|(m, p)| *p == parent && m == "PATCH")
        .count();
    assert!(writes >= 1, "the new kind was not recorded");
    let live = ctx.get(&parent).await.expect("parent");
    assert_eq!(
        live["metadata"]["annotations"]["applyset.kubernetes.io/contains-group-kinds"],
        "ConfigMap,Secret"
    );
    assert!(
        ctx.get(&ctx.core("configmaps", "b")).await.is_none(),
        "b was not pruned"
    );
}
