//! SIGTERM (a cancelled pipeline) or Ctrl-C during `kpush apply`: the requests in flight finish,
//! the rest are reported skipped, and the exit code is 130.

mod harness;

use std::process::{Command, Stdio};

use harness::binary::{Ctx, config_map};

#[tokio::test(flavor = "multi_thread")]
async fn sigterm_stops_after_the_requests_in_flight_and_reports_what_was_skipped() {
    let ctx = Ctx::new("apply-interrupt").await;
    // Many objects, one request at a time, so the signal lands in the middle of the wave.
    for i in 0..400 {
        ctx.write(
            &format!("cm-{i:03}.yaml"),
            &config_map(&format!("cm-{i:03}"), "v"),
        );
    }
    let kubeconfig = ctx.cluster.kubeconfig_path("admin");
    let child = Command::new(env!("CARGO_BIN_EXE_kpush"))
        .args([
            "apply",
            "--no-run-annotations",
            "--concurrency",
            "1",
            "--no-preflight",
            "-n",
        ])
        .arg(&ctx.namespace)
        .arg("--kubeconfig")
        .arg(&kubeconfig)
        .arg(ctx.path())
        .env("NO_COLOR", "1")
        .env("KPUSH_CI", "none")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start kpush");
    // Objects are reported when their wave ends, so watch the cluster instead: once some
    // ConfigMaps exist, send SIGTERM as a CI runner does when a pipeline is cancelled.
    let list_path = format!("/api/v1/namespaces/{}/configmaps", ctx.namespace);
    let count = |v: &serde_json::Value| {
        v["items"]
            .as_array()
            .map(|items| {
                items
                    .iter()
                    .filter(|i| {
                        i["metadata"]["name"]
                            .as_str()
                            .is_some_and(|n| n.starts_with("cm-"))
                    })
                    .count()
            })
            .unwrap_or(0)
    };
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        let listed = ctx.get(&list_path).await.expect("list");
        if count(&listed) >= 5 {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "kpush created nothing within 60 s"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("kill");
    assert!(status.success());
    let out = child.wait_with_output().expect("wait");
    let stderr = String::from_utf8_lossy(&out.stderr);
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    // Human output (one line per object) is on standard error.
    let seen: Vec<&str> = stderr.lines().collect();
    assert_eq!(
        out.status.code(),
        Some(130),
        "stdout:\n{stdout}\nstderr:\n{stderr}"
    );
    let created = seen.iter().filter(|l| l.starts_with("created")).count();
    assert!((1..400).contains(&created), "created {created}\n{stderr}");
    let everything = format!("{stdout}\n{stderr}");
    assert!(
        everything.contains("skipped"),
        "not-applied objects are reported:\n{everything}"
    );
    // What was reported created really exists; nothing half-written is left unreported.
    let in_cluster = count(&ctx.get(&list_path).await.expect("list"));
    assert!(
        in_cluster >= created && in_cluster <= created + 1,
        "{in_cluster} in the cluster, {created} reported created (at most one more was in flight)"
    );
}
