//! Running `kpush apply` in the background on many ConfigMaps while a test injects faults,
//! and counting what reached the API server.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::ConfigMap;
use kube::Api;
use kube::api::ListParams;

use kpush_testenv::TestCluster;

use super::binary::Run;

/// Writes `n` ConfigMaps `cm-0` … into one multi-document file in `dir`.
pub fn write_config_maps(dir: &Path, n: usize) {
    let docs: Vec<String> = (0..n)
        .map(|i| super::binary::config_map(&format!("cm-{i}"), &format!("v{i}")))
        .collect();
    std::fs::write(dir.join("config-maps.yaml"), docs.join("---\n")).expect("write manifests");
}

/// A `kpush apply` running in the background; its output goes to files, so a long run never
/// blocks on a full pipe.
pub struct Background {
    child: Child,
    output: tempfile::TempDir,
}

impl Background {
    /// Whether the run has ended.
    pub fn ended(&mut self) -> bool {
        !matches!(self.child.try_wait(), Ok(None))
    }

    /// The kpush process's id (to signal it).
    #[allow(dead_code)]
    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

/// Starts `kpush apply` on `dir` through `kubeconfig`, without waiting for it.
pub fn spawn_apply(dir: &Path, kubeconfig: &Path, namespace: &str, extra: &[&str]) -> Background {
    let output = tempfile::tempdir().expect("temp dir");
    let file = |name: &str| std::fs::File::create(output.path().join(name)).expect("output file");
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_kpush"));
    cmd.arg("apply")
        .arg(dir)
        .arg("--kubeconfig")
        .arg(kubeconfig)
        .args(["-n", namespace])
        .args(extra)
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::from(file("stdout")))
        .stderr(Stdio::from(file("stderr")));
    for (k, _) in std::env::vars_os() {
        let k = k.to_string_lossy().to_string();
        if k.starts_with("KPUSH_") || k.starts_with("GITHUB_") || k == "TF_BUILD" {
            cmd.env_remove(k);
        }
    }
    let child = cmd.spawn().expect("start kpush");
    Background { child, output }
}

/// Waits for the run to end and returns what it printed.
pub fn finish(mut run: Background) -> Run {
    let status = run.child.wait().expect("wait for kpush");
    let read = |name: &str| {
        String::from_utf8_lossy(&std::fs::read(run.output.path().join(name)).unwrap_or_default())
            .into_owned()
    };
    Run {
        code: status.code().unwrap_or(-1),
        stdout: read("stdout"),
        stderr: read("stderr"),
    }
}

/// ConfigMaps named `cm-*` in `namespace`, read directly from the API server.
pub async fn stored(namespace: &str) -> usize {
    let client = TestCluster::shared().client("admin").await.expect("client");
    let api: Api<ConfigMap> = Api::namespaced(client, namespace);
    api.list(&ListParams::default())
        .await
        .expect("list")
        .items
        .iter()
        .filter(|c| {
            c.metadata
                .name
                .as_deref()
                .is_some_and(|n| n.starts_with("cm-"))
        })
        .count()
}

/// Names of the ConfigMaps named `cm-*` in `namespace`.
pub async fn stored_names(namespace: &str) -> std::collections::BTreeSet<String> {
    let client = TestCluster::shared().client("admin").await.expect("client");
    let api: Api<ConfigMap> = Api::namespaced(client, namespace);
    api.list(&ListParams::default())
        .await
        .expect("list")
        .items
        .into_iter()
        .filter_map(|c| c.metadata.name)
        .filter(|n| n.starts_with("cm-"))
        .collect()
}

/// Waits until at least `n` objects are stored (the run is mid-way), or the run ends.
pub async fn wait_until_stored(namespace: &str, n: usize, run: &mut Background) {
    let deadline = Instant::now() + Duration::from_secs(120);
    while stored(namespace).await < n {
        assert!(!run.ended(), "kpush ended before {n} objects were stored");
        assert!(
            Instant::now() < deadline,
            "fewer than {n} objects after 120 s"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
