//! Running `helm`: finding it, checking it is Helm 3 or 4, and `helm template`.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde_json::Value;

use super::ChartOptions;

/// A helm binary known to be Helm 3 or 4.
#[derive(Debug, Clone)]
pub struct Helm {
    /// The binary.
    pub path: PathBuf,
    /// What `helm version` says, for example `v3.22.0`.
    pub version: String,
}

impl Helm {
    /// Finds helm (`explicit`, else `helm` on PATH) and checks its version; the error says what
    /// to install or pass.
    pub fn locate(explicit: Option<&Path>) -> Result<Self, String> {
        let path = match explicit {
            Some(p) => p.to_path_buf(),
            None => on_path("helm").ok_or_else(|| {
                "this is a Helm chart, and kpush renders charts with helm, which is not on PATH: \
                 install Helm 3 or 4 (https://helm.sh/docs/intro/install/; GitHub's hosted runners \
                 have it) or pass --helm PATH"
                    .to_string()
            })?,
        };
        let out = command(&path)
            .args(["version", "--template", "{{.Version}}"])
            .stdin(Stdio::null())
            .output()
            .map_err(|e| match path.is_dir() {
                true => format!(
                    "cannot run {} (--helm): it is a directory; pass the helm executable in it",
                    path.display()
                ),
                false => format!("cannot run {} (--helm): {e}", path.display()),
            })?;
        let version = String::from_utf8_lossy(&out.stdout).trim().to_string();
        if !out.status.success() || !(version.starts_with("v3.") || version.starts_with("v4.")) {
            return Err(format!(
                "{} is not Helm 3 or 4 (`helm version` says {:?}); kpush needs Helm 3 or 4 to \
                 render charts: install one or pass --helm PATH",
                path.display(),
                if version.is_empty() {
                    String::from_utf8_lossy(&out.stderr).trim().to_string()
                } else {
                    version
                }
            ));
        }
        Ok(Self { path, version })
    }

    /// The chart's name (its `Chart.yaml` `name`), the default release name.
    pub fn chart_name(&self, chart: &Path) -> Result<String, String> {
        let text = if chart.is_dir() {
            let file = chart.join("Chart.yaml");
            std::fs::read_to_string(&file)
                .map_err(|e| format!("cannot read {}: {e}", file.display()))?
        } else {
            self.run(&["show".as_ref(), "chart".as_ref(), chart.as_os_str()])?
        };
        let value: Value =
            serde_saphyr::from_str_with_options(&text, crate::render::documents::yaml_options())
                .map_err(|e| {
                    format!("Chart.yaml is not valid YAML: {e}; fix it (see `helm lint`)")
                })?;
        value
            .get("name")
            .and_then(Value::as_str)
            .filter(|n| !n.is_empty())
            .map(str::to_string)
            .ok_or_else(|| "Chart.yaml has no `name`; every chart needs one".to_string())
    }

    /// `helm template` of `chart` as release `release`: its standard output, or its error text.
    pub fn template(
        &self,
        chart: &Path,
        release: &str,
        opts: &ChartOptions,
    ) -> Result<String, String> {
        let args = template_args(chart, release, opts);
        self.run(&args.iter().map(|a| a.as_ref()).collect::<Vec<_>>())
    }

    /// Runs helm with `args` and its configuration, cache and data kept in `homes` (a fresh
    /// directory of kpush's): no repository list, registry login or plugin of the machine is
    /// seen, as `kustomize build --enable-helm` runs it, and nothing a plugin could run is
    /// installed there. Used for kustomizations' `helmCharts`, which a repository controls.
    pub fn run_isolated(
        &self,
        args: &[std::ffi::OsString],
        homes: &Path,
    ) -> Result<String, String> {
        let mut cmd = command(&self.path);
        for k in HELM_ENV.iter().filter(|k| k.starts_with("HELM_")) {
            cmd.env_remove(k);
        }
        cmd.env("HELM_CONFIG_HOME", homes)
            .env("HELM_CACHE_HOME", homes.join(".cache"))
            .env("HELM_DATA_HOME", homes.join(".data"))
            .env("HELM_PLUGINS", homes.join(".data/plugins"));
        self.finish(cmd.args(args))
    }

    fn run(&self, args: &[&std::ffi::OsStr]) -> Result<String, String> {
        self.finish(command(&self.path).args(args))
    }

    fn finish(&self, cmd: &mut Command) -> Result<String, String> {
        let out = cmd
            .stdin(Stdio::null())
            .output()
            .map_err(|e| format!("cannot run {}: {e}", self.path.display()))?;
        if out.status.success() {
            Ok(String::from_utf8_lossy(&out.stdout).into_owned())
        } else {
            let err = String::from_utf8_lossy(&out.stderr).trim().to_string();
            Err(if err.is_empty() {
                format!("{} failed ({})", self.path.display(), out.status)
            } else {
                err
            })
        }
    }
}

/// The arguments of `helm template` for these options (CRDs included, test hooks left out).
pub fn template_args(chart: &Path, release: &str, opts: &ChartOptions) -> Vec<std::ffi::OsString> {
    let mut a: Vec<std::ffi::OsString> = vec![
        "template".into(),
        release.into(),
        chart.into(),
        "--include-crds".into(),
        "--skip-tests".into(),
    ];
    if let Some(ns) = &opts.namespace {
        a.extend(["--namespace".into(), ns.into()]);
    }
    for f in &opts.values {
        a.extend(["--values".into(), f.into()]);
    }
    for (flag, list) in [
        ("--set", &opts.set),
        ("--set-string", &opts.set_string),
        ("--set-file", &opts.set_file),
    ] {
        for v in list {
            a.extend([flag.into(), v.into()]);
        }
    }
    if let Some(v) = &opts.capabilities.kube_version {
        a.extend(["--kube-version".into(), v.into()]);
    }
    if !opts.capabilities.api_versions.is_empty() {
        a.extend([
            "--api-versions".into(),
            opts.capabilities.api_versions.join(",").into(),
        ]);
    }
    if opts.dependency_update {
        a.push("--dependency-update".into());
    }
    a
}

/// Variables helm is given (besides `PATH`, whose relative entries are dropped): where its own
/// configuration, caches, plugins and registry logins are, and how to reach chart repositories
/// (proxies, CA bundles). Nothing else of kpush's environment (cloud credentials, CI tokens,
/// `KPUSH_*`) reaches helm, its plugins, or a chart that reads `/proc/self/environ`.
const HELM_ENV: &[&str] = &[
    "HOME",
    "TMPDIR",
    "LANG",
    "LC_ALL",
    "XDG_CACHE_HOME",
    "XDG_CONFIG_HOME",
    "XDG_DATA_HOME",
    "HELM_CACHE_HOME",
    "HELM_CONFIG_HOME",
    "HELM_DATA_HOME",
    "HELM_PLUGINS",
    "HELM_REGISTRY_CONFIG",
    "HELM_REPOSITORY_CACHE",
    "HELM_REPOSITORY_CONFIG",
    "HELM_CONTENT_CACHE",
    "HELM_MAX_CHART_SIZE",
    "HELM_MAX_FILE_SIZE",
    "HTTPS_PROXY",
    "https_proxy",
    "HTTP_PROXY",
    "http_proxy",
    "NO_PROXY",
    "no_proxy",
    "SSL_CERT_FILE",
    "SSL_CERT_DIR",
];

/// The environment helm runs with, from kpush's (`lookup`): [`HELM_ENV`] and the absolute
/// entries of `PATH`.
pub fn helm_env(
    lookup: &dyn Fn(&str) -> Option<std::ffi::OsString>,
) -> Vec<(&'static str, std::ffi::OsString)> {
    let mut env: Vec<(&'static str, std::ffi::OsString)> = HELM_ENV
        .iter()
        .filter_map(|k| lookup(k).map(|v| (*k, v)))
        .collect();
    if let Some(path) = lookup("PATH") {
        let absolute: Vec<PathBuf> = std::env::split_paths(&path)
            .filter(|d| d.is_absolute())
            .collect();
        if let Ok(joined) = std::env::join_paths(absolute) {
            env.push(("PATH", joined));
        }
    }
    env
}

/// A command running helm with [`helm_env`] only.
fn command(path: &Path) -> Command {
    let mut cmd = Command::new(path);
    cmd.env_clear()
        .envs(helm_env(&|k| std::env::var_os(k)))
        .stdin(Stdio::null());
    cmd
}

/// The first executable `name` in an absolute directory of `PATH` (a relative entry, such as
/// `.` or an empty one, would find a `helm` planted in the repository being deployed).
fn on_path(name: &str) -> Option<PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .filter(|d| d.is_absolute())
        .map(|d| d.join(name))
        .find(|p| {
            p.metadata()
                .map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
                .unwrap_or(false)
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn helm_gets_only_its_own_variables_and_absolute_path_entries() {
        let env: std::collections::BTreeMap<&str, &str> = [
            ("PATH", ".:/usr/local/bin::bin:/usr/bin"),
            ("HOME", "/home/runner"),
            ("HELM_CACHE_HOME", "/cache/helm"),
            ("HTTPS_PROXY", "http://proxy:3128"),
            ("AZURE_CLIENT_SECRET", "s3cret"),
            ("ACTIONS_ID_TOKEN_REQUEST_TOKEN", "t0ken"),
            ("SYSTEM_ACCESSTOKEN", "ado"),
            ("GITHUB_TOKEN", "gh"),
            ("KPUSH_RECORD_KEY", "key"),
            ("KUBECONFIG", "/home/runner/.kube/config"),
            ("HELM_KUBETOKEN", "cluster-token"),
        ]
        .into();
        let got = helm_env(&|k| env.get(k).map(Into::into));
        let names: Vec<&str> = got.iter().map(|(k, _)| *k).collect();
        assert_eq!(names, ["HOME", "HELM_CACHE_HOME", "HTTPS_PROXY", "PATH"]);
        let path = &got.iter().find(|(k, _)| *k == "PATH").expect("PATH").1;
        assert_eq!(path, "/usr/local/bin:/usr/bin");
    }

    #[test]
    fn template_args_pass_values_in_order_and_capabilities() {
        let opts = ChartOptions {
            values: vec!["a.yaml".into(), "b.yaml".into()],
            set: vec!["x=1,y=2".into()],
            set_string: vec!["tag=010".into()],
            namespace: Some("prod".into()),
            capabilities: super::super::Capabilities {
                kube_version: Some("v1.35.4".into()),
                api_versions: vec!["apps/v1".into(), "apps/v1/Deployment".into()],
            },
            ..Default::default()
        };
        let args: Vec<String> = template_args(Path::new("c"), "rel", &opts)
            .into_iter()
            .map(|a| a.to_string_lossy().into_owned())
            .collect();
        assert_eq!(
            args.join(" "),
            "template rel c --include-crds --skip-tests --namespace prod --values a.yaml \
             --values b.yaml --set x=1,y=2 --set-string tag=010 --kube-version v1.35.4 \
             --api-versions apps/v1,apps/v1/Deployment"
        );
    }
}
