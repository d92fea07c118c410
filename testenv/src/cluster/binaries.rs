//! Finding etcd, kube-apiserver and kube-controller-manager.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;

use anyhow::{Context, Result, anyhow, bail};

/// Environment variable naming a directory that already holds the control-plane binaries.
pub const CONTROL_PLANE_DIR_ENV: &str = "KPUSH_CONTROL_PLANE_DIR";

/// Paths of the programs a cluster runs.
#[derive(Debug, Clone)]
pub struct Binaries {
    pub etcd: PathBuf,
    pub kube_apiserver: PathBuf,
    pub kube_controller_manager: PathBuf,
    pub kubectl: Option<PathBuf>,
}

/// Locates the binaries, running `scripts/build-control-plane.sh` at most once per process.
pub fn locate() -> Result<Binaries> {
    static DIR: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    let dir = DIR
        .get_or_init(|| control_plane_dir().map_err(|e| format!("{e:#}")))
        .as_ref()
        .map_err(|e| anyhow!("{e}"))?;
    let in_dir = |name: &str| -> Result<PathBuf> {
        let path = dir.join(name);
        if is_executable(&path) {
            Ok(path)
        } else {
            bail!("{} is missing or not executable", path.display())
        }
    };
    Ok(Binaries {
        etcd: find_etcd(dir)?,
        kube_apiserver: in_dir("kube-apiserver")?,
        kube_controller_manager: in_dir("kube-controller-manager")?,
        kubectl: in_dir("kubectl").ok(),
    })
}

fn control_plane_dir() -> Result<PathBuf> {
    if let Some(dir) = std::env::var_os(CONTROL_PLANE_DIR_ENV).filter(|d| !d.is_empty()) {
        return Ok(PathBuf::from(dir));
    }
    let script = build_script();
    eprintln!(
        "kpush-testenv: locating the control plane with {} (the first run builds Kubernetes: about 10 minutes)",
        script.display()
    );
    let output = Command::new("bash")
        .arg(&script)
        .stdin(Stdio::null())
        .stderr(Stdio::inherit())
        .output()
        .with_context(|| format!("running {}", script.display()))?;
    if !output.status.success() {
        bail!(
            "{} failed ({}); set {CONTROL_PLANE_DIR_ENV} to a directory holding kube-apiserver and kube-controller-manager to skip it",
            script.display(),
            output.status
        );
    }
    let stdout = String::from_utf8_lossy(&output.stdout);
    let last = stdout
        .lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .ok_or_else(|| anyhow!("{} printed no directory", script.display()))?;
    Ok(PathBuf::from(last.trim()))
}

/// The build script in this repository (`scripts/build-control-plane.sh`).
pub fn build_script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join("scripts")
        .join("build-control-plane.sh")
}

fn find_etcd(dir: &Path) -> Result<PathBuf> {
    let mut candidates = vec![dir.join("etcd")];
    if let Some(path) = std::env::var_os("PATH") {
        candidates.extend(std::env::split_paths(&path).map(|p| p.join("etcd")));
    }
    candidates.push(PathBuf::from("/usr/bin/etcd"));
    candidates
        .into_iter()
        .find(|p| is_executable(p))
        .ok_or_else(|| anyhow!("etcd not found in {}, on PATH or at /usr/bin/etcd (Debian: apt-get install etcd-server)", dir.display()))
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    path.metadata()
        .map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        .unwrap_or(false)
}
