//! Finding the pinned `helm` binaries tests use as an oracle (built by `scripts/build-helm.sh`).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;

use anyhow::{Result, anyhow, bail};

/// Environment variable naming a Helm 3 binary to use instead of building one.
pub const HELM_V3_ENV: &str = "KPUSH_HELM_V3";
/// Environment variable naming a Helm 4 binary to use instead of building one.
pub const HELM_V4_ENV: &str = "KPUSH_HELM_V4";

/// Which Helm release line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HelmMajor {
    /// helm.sh/helm/v3.
    V3,
    /// helm.sh/helm/v4.
    V4,
}

/// The path of the pinned helm of `major`, running `scripts/build-helm.sh` at most once per
/// process and major version (the build is cached; later runs only check it).
pub fn helm(major: HelmMajor) -> Result<PathBuf> {
    static V3: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    static V4: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    let (cell, env, arg) = match major {
        HelmMajor::V3 => (&V3, HELM_V3_ENV, "v3"),
        HelmMajor::V4 => (&V4, HELM_V4_ENV, "v4"),
    };
    cell.get_or_init(|| locate(env, arg).map_err(|e| format!("{e:#}")))
        .clone()
        .map_err(|e| anyhow!("{e}"))
}

fn locate(env: &str, arg: &str) -> Result<PathBuf> {
    if let Some(p) = std::env::var_os(env).filter(|p| !p.is_empty()) {
        return Ok(PathBuf::from(p));
    }
    let script = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join("scripts")
        .join("build-helm.sh");
    let output = Command::new("bash")
        .arg(&script)
        .arg(arg)
        .stdin(Stdio::null())
        .stderr(Stdio::inherit())
        .output()
        .map_err(|e| anyhow!("running {}: {e}", script.display()))?;
    if !output.status.success() {
        bail!(
            "{} {arg} failed ({}); set {env} to a helm binary to skip it",
            script.display(),
            output.status
        );
    }
    let stdout = String::from_utf8_lossy(&output.stdout);
    let last = stdout
        .lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .ok_or_else(|| anyhow!("{} printed no path", script.display()))?;
    Ok(PathBuf::from(last.trim()))
}
