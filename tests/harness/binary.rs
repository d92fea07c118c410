//! Helpers for the `apply` and `diff` integration tests: a namespace per test on the shared
//! test cluster, manifest files in a temp dir, and running the real `kpush` binary.

use std::path::{Path, PathBuf};
use std::process::Command;

use kpush_testenv::TestCluster;
use serde_json::Value;

/// What a `kpush` run printed and returned.
#[derive(Debug)]
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    /// Panics with the output unless the exit code is `code`.
    pub fn expect_code(&self, code: i32) -> &Self {
        assert_eq!(
            self.code, code,
            "exit code\nstdout:\n{}\nstderr:\n{}",
            self.stdout, self.stderr
        );
        self
    }
}

/// One test's namespace, manifest dir and kubeconfigs.
pub struct Ctx {
    pub cluster: &'static TestCluster,
    pub namespace: String,
    pub dir: tempfile::TempDir,
}

impl Ctx {
    /// Creates namespace `name` (unique per test) on the shared cluster.
    pub async fn new(name: &str) -> Ctx {
        let cluster = TestCluster::shared();
        cluster
            .create_namespace(name)
            .await
            .unwrap_or_else(|e| panic!("{e:#}"));
        Ctx {
            cluster,
            namespace: name.to_string(),
            dir: tempfile::tempdir().expect("temp dir"),
        }
    }

    /// An admin client.
    pub async fn client(&self) -> kube::Client {
        self.cluster
            .client("admin")
            .await
            .unwrap_or_else(|e| panic!("{e:#}"))
    }

    /// Writes `text` to `name` under the manifest dir; returns its path.
    pub fn write(&self, name: &str, text: &str) -> PathBuf {
        let p = self.dir.path().join(name);
        if let Some(parent) = p.parent() {
            std::fs::create_dir_all(parent).expect("mkdir");
        }
        std::fs::write(&p, text).expect("write manifest");
        p
    }

    /// Removes a manifest file.
    pub fn remove(&self, name: &str) {
        std::fs::remove_file(self.dir.path().join(name)).expect("remove manifest");
    }

    /// The manifest dir.
    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Runs `kpush <args> --kubeconfig <user's> -n <namespace>`.
    pub fn kpush_as(&self, user: &str, args: &[&str]) -> Run {
        self.kpush_env(user, args, &[])
    }

    /// Runs `kpush` as `user` with extra environment variables.
    pub fn kpush_env(&self, user: &str, args: &[&str], env: &[(&str, &str)]) -> Run {
        let kubeconfig = self.cluster.kubeconfig_path(user);
        let mut all: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        all.extend([
            "--kubeconfig".into(),
            kubeconfig.display().to_string(),
            "-n".into(),
            self.namespace.clone(),
        ]);
        kpush_with_env(&all, env)
    }

    /// Runs `kpush` as admin.
    pub fn kpush(&self, args: &[&str]) -> Run {
        self.kpush_as("admin", args)
    }

    /// GETs an object as JSON (`None` when absent) through kubectl-like raw access.
    pub async fn get(&self, api_path: &str) -> Option<Value> {
        let client = self.client().await;
        let req = http::Request::get(api_path)
            .body(Vec::new())
            .expect("request");
        match client.request::<Value>(req).await {
            Ok(v) => Some(v),
            Err(kube::Error::Api(s)) if s.code == 404 => None,
            Err(e) => panic!("GET {api_path}: {e}"),
        }
    }

    /// `/api/v1/namespaces/<ns>/<plural>/<name>`.
    pub fn core(&self, plural: &str, name: &str) -> String {
        format!("/api/v1/namespaces/{}/{plural}/{name}", self.namespace)
    }

    /// `/apis/<group/version>/namespaces/<ns>/<plural>/<name>`.
    pub fn grouped(&self, gv: &str, plural: &str, name: &str) -> String {
        format!("/apis/{gv}/namespaces/{}/{plural}/{name}", self.namespace)
    }
}

/// Runs the real `kpush` binary with `args`, without CI variables or `KPUSH_*` settings.
pub fn kpush(args: &[String]) -> Run {
    kpush_with_env(args, &[])
}

/// Runs the real `kpush` binary with `args` and only the given extra variables.
pub fn kpush_with_env(args: &[String], env: &[(&str, &str)]) -> Run {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_kpush"));
    cmd.args(args);
    for (k, _) in std::env::vars_os() {
        let k = k.to_string_lossy().to_string();
        if k.starts_with("KPUSH_")
            || k.starts_with("GITHUB_")
            || k == "TF_BUILD"
            || k == "GITLAB_CI"
            || k == "KUBECONFIG"
        {
            cmd.env_remove(k);
        }
    }
    cmd.env("NO_COLOR", "1");
    cmd.envs(env.iter().copied());
    let out = cmd.output().expect("run kpush");
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// A ConfigMap manifest.
pub fn config_map(name: &str, value: &str) -> String {
    format!("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\ndata:\n  key: {value}\n")
}

/// A Deployment manifest with `image` and selector label `app: <selector>`.
pub fn deployment(name: &str, image: &str, selector: &str) -> String {
    format!(
        "apiVersion: apps/v1
kind: Deployment
metadata:
  name: {name}
spec:
  replicas: 1
  selector:
    matchLabels:
      app: {selector}
  template:
    metadata:
      labels:
        app: {selector}
    spec:
      containers:
        - name: app
          image: {image}
          ports:
            - containerPort: 8080
"
    )
}
