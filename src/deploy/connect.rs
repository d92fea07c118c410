//! Connecting: [`ClusterSettings`] (which cluster, how to sign in) become a `kube::Client`.
//! This is the seam where other ways of signing in (AKS with Entra ID, a Fleet hub) plug in.

use std::path::PathBuf;
use std::time::Duration;

pub use crate::auth::ConnectError;
use kube::config::{KubeConfigOptions, Kubeconfig};

use crate::auth::{AksTarget, AzureSettings, FleetTarget};
use crate::cluster::{RetryBudget, RetryPolicy};

/// How to reach the cluster.
#[derive(Debug, Clone)]
pub enum Way {
    /// A kubeconfig file (`None`: $KUBECONFIG, then ~/.kube/config, then in-cluster).
    Kubeconfig {
        /// The file.
        path: Option<PathBuf>,
        /// Its context (default: current-context).
        context: Option<String>,
        /// The file comes from a targets file (the repository), not the runner: its users may
        /// not run programs unless `allow_exec_credentials`.
        from_targets: bool,
    },
    /// The pod's service account.
    InCluster,
    /// An AKS cluster through ARM and Entra ID.
    Aks(AksTarget),
    /// A Fleet hub through ARM and Entra ID.
    Fleet(FleetTarget),
}

/// Which cluster, which credentials, and how patient to be with it.
#[derive(Debug, Clone)]
pub struct ClusterSettings {
    /// How to reach the cluster; an error when the flags that name it do not fit together
    /// (reported when connecting, as invalid input).
    pub way: Result<Way, String>,
    /// Sign-in settings for AKS and Fleet.
    pub azure: AzureSettings,
    /// Do not verify the API server's TLS certificate.
    pub insecure_skip_tls_verify: bool,
    /// Give up on a single request after this long.
    pub request_timeout: Duration,
    /// Time a run may spend retrying while the API server is unreachable or overloaded.
    pub retry_budget: Duration,
    /// Let kubeconfigs from a targets file run `exec` plugins and send outside token files.
    pub allow_exec_credentials: bool,
}

impl Default for ClusterSettings {
    fn default() -> Self {
        Self {
            way: Ok(Way::Kubeconfig {
                path: None,
                context: None,
                from_targets: false,
            }),
            azure: AzureSettings::default(),
            insecure_skip_tls_verify: false,
            request_timeout: Duration::from_secs(30),
            retry_budget: Duration::from_secs(30),
            allow_exec_credentials: false,
        }
    }
}

impl ClusterSettings {
    /// The settings of a kubeconfig file's context.
    pub fn kubeconfig(path: impl Into<PathBuf>, context: Option<String>) -> Self {
        Self {
            way: Ok(Way::Kubeconfig {
                path: Some(path.into()),
                context,
                from_targets: false,
            }),
            ..Self::default()
        }
    }

    /// The retry policy of this run: one budget of `retry_budget`, ending at `deadline`.
    pub fn retry_policy(&self, deadline: Option<std::time::Instant>) -> RetryPolicy {
        RetryPolicy::with_budget(RetryBudget::for_run(self.retry_budget, deadline))
    }

    /// The ARM resource id of the fleet deployed through, when one is named.
    pub fn fleet_id(&self) -> Option<String> {
        match &self.way {
            Ok(Way::Fleet(f)) => Some(f.resource_id()),
            _ => None,
        }
    }

    fn context(&self) -> Option<&str> {
        match &self.way {
            Ok(Way::Kubeconfig { context, .. }) => context.as_deref(),
            _ => None,
        }
    }
}

/// Builds a client and returns it with the API server's URL (for messages). Sends no request.
///
/// With an AKS cluster the client comes from [`crate::auth::aks_client_with`] (ARM for the
/// address, Entra ID tokens that refresh themselves); otherwise from the kubeconfig.
pub async fn connect_to(args: &ClusterSettings) -> Result<(kube::Client, String), ConnectError> {
    // One rule for every path (kubeconfig, AKS, Fleet), before anything is read or asked.
    check_https_proxy().map_err(ConnectError::Flags)?;
    let way = args.way.clone().map_err(ConnectError::Flags)?;
    let (path, from_targets) = match way {
        Way::Fleet(fleet) => return fleet_client(args, &fleet).await,
        Way::Aks(target) => return aks_client(args, &target).await,
        Way::InCluster => (None, false),
        Way::Kubeconfig {
            path, from_targets, ..
        } => (path, from_targets),
    };
    let in_cluster = matches!(args.way, Ok(Way::InCluster));
    let context = args.context().map(str::to_string);
    let options = KubeConfigOptions {
        context: context.clone(),
        ..Default::default()
    };
    // A kubeconfig's `proxy-url` wins over the environment (see `cluster::proxy`).
    let mut kubeconfig_proxy = false;
    let mut config = if in_cluster {
        kube::Config::incluster().map_err(|e| ConnectError::InCluster(e.to_string()))?
    } else if let Some(path) = &path {
        let kc = Kubeconfig::read_from(path).map_err(|e| ConnectError::Kubeconfig {
            path: Some(path.clone()),
            message: format!("{e}; check the --kubeconfig path"),
        })?;
        if from_targets && !args.allow_exec_credentials {
            refuse_plugins(&kc, context.as_deref(), path).map_err(|message| {
                ConnectError::Kubeconfig {
                    path: Some(path.clone()),
                    message,
                }
            })?;
        }
        kubeconfig_proxy = has_proxy_url(&kc, context.as_deref());
        kube::Config::from_custom_kubeconfig(kc, &options)
            .await
            .map_err(|e| ConnectError::Kubeconfig {
                path: Some(path.clone()),
                message: context_hint(&e.to_string(), args),
            })?
    } else {
        let loaded = match Kubeconfig::read() {
            Ok(kc) => {
                kubeconfig_proxy = has_proxy_url(&kc, context.as_deref());
                kube::Config::from_custom_kubeconfig(kc, &options)
                    .await
                    .map_err(|e| e.to_string())
            }
            Err(e) => Err(e.to_string()),
        };
        match loaded {
            Ok(c) => c,
            Err(e) if context.is_some() => {
                return Err(ConnectError::Kubeconfig {
                    path: None,
                    message: context_hint(&e, args),
                });
            }
            Err(kubeconfig_err) => kube::Config::incluster().map_err(|_| ConnectError::Kubeconfig {
                path: None,
                message: format!(
                    "{kubeconfig_err}; pass --kubeconfig FILE, set KUBECONFIG, or run in a pod (in-cluster)"
                ),
            })?,
        }
    };
    if !kubeconfig_proxy {
        config.proxy_url = env_proxy(&config.cluster_url).map_err(ConnectError::Flags)?;
    }
    tune(&mut config, args);
    let mut url = config
        .cluster_url
        .to_string()
        .trim_end_matches('/')
        .to_string();
    if let Some(proxy) = &config.proxy_url {
        // Said in every message about the server; the proxy's credentials are left out.
        url.push_str(&format!(
            " (through the proxy {}://{})",
            proxy.scheme_str().unwrap_or("http"),
            proxy
                .authority()
                .map(|a| a
                    .as_str()
                    .rsplit('@')
                    .next()
                    .unwrap_or_default()
                    .to_string())
                .unwrap_or_default()
        ));
    }
    // HTTP/2 where the server (or proxy) offers it: one multiplexed connection.
    let client =
        crate::auth::connection::client(config).map_err(|e| ConnectError::Client(e.to_string()))?;
    Ok((client, url))
}

async fn fleet_client(
    args: &ClusterSettings,
    fleet: &FleetTarget,
) -> Result<(kube::Client, String), ConnectError> {
    let connected = crate::auth::fleet_client_with(&args.azure, fleet, |config| {
        // Checked above: an https server's proxy variable parses.
        if let Ok(proxy) = env_proxy(&config.cluster_url) {
            config.proxy_url = proxy;
        }
        tune(config, args)
    })
    .await
    .map_err(|error| ConnectError::Aks {
        target: fleet.to_string(),
        error,
    })?;
    Ok((connected.client, connected.server))
}

async fn aks_client(
    args: &ClusterSettings,
    target: &AksTarget,
) -> Result<(kube::Client, String), ConnectError> {
    let connected = crate::auth::aks_client_with(&args.azure, target, |config| {
        // Checked above: an https server's proxy variable parses.
        if let Ok(proxy) = env_proxy(&config.cluster_url) {
            config.proxy_url = proxy;
        }
        tune(config, args)
    })
    .await
    .map_err(|error| ConnectError::Aks {
        target: target.to_string(),
        error,
    })?;
    Ok((connected.client, connected.server))
}

/// Refuses a kubeconfig (at `path`) whose user for `context` (default: current-context; every
/// user when that context is not found) runs a program (`exec`), uses an `auth-provider`, or
/// sends a `tokenFile` from outside the repository: a kubeconfig named by a targets file comes
/// from the repository, the program would run with the runner's environment and secrets, and
/// the token file's content goes to whichever server the kubeconfig names.
fn refuse_plugins(
    kc: &Kubeconfig,
    context: Option<&str>,
    path: &std::path::Path,
) -> Result<(), String> {
    let root = path
        .parent()
        .map(|d| {
            if d.as_os_str().is_empty() {
                std::path::Path::new(".")
            } else {
                d
            }
        })
        .and_then(|d| d.canonicalize().ok())
        .map(|d| crate::render::source::repository_root(&d));
    let name = context.or(kc.current_context.as_deref());
    let user = name
        .and_then(|n| kc.contexts.iter().find(|c| c.name == n))
        .and_then(|c| c.context.as_ref())
        .map(|c| c.user.clone());
    for u in &kc.auth_infos {
        if let Some(wanted) = &user
            && wanted.as_deref() != Some(u.name.as_str())
        {
            continue;
        }
        let Some(info) = &u.auth_info else { continue };
        let outside = info.token_file.as_deref().filter(|f| {
            let Ok(file) = std::path::Path::new(f).canonicalize() else {
                return false;
            };
            match root.as_deref().map(|r| file.strip_prefix(r)) {
                Some(Ok(rest)) => rest
                    .components()
                    .next()
                    .is_some_and(|c| c.as_os_str() == ".git"),
                _ => true,
            }
        });
        let what = match (&info.exec, &info.auth_provider, outside) {
            (Some(exec), _, _) => format!(
                "runs the program {:?} (`exec`)",
                exec.command.clone().unwrap_or_default()
            ),
            (None, Some(provider), _) => format!("uses auth-provider {:?}", provider.name),
            (None, None, Some(file)) => format!(
                "sends the token file {file}, outside the repository (or in its .git), to its server"
            ),
            (None, None, None) => continue,
        };
        return Err(format!(
            "user {:?} of this kubeconfig, named by the targets file, {what}; kpush does not run \
             programs or send files of the runner named by the repository, since they would run \
             with (or read) this runner's environment and secrets. Use a kubeconfig with a token \
             or client certificate, an `aks:` target, or, if you trust the repository's \
             kubeconfigs, pass --allow-exec-credentials (KPUSH_ALLOW_EXEC_CREDENTIALS=true)",
            u.name
        ));
    }
    Ok(())
}

/// Whether the kubeconfig's cluster for `context` (default: current-context) sets `proxy-url`.
fn has_proxy_url(kc: &Kubeconfig, context: Option<&str>) -> bool {
    let Some(name) = context.or(kc.current_context.as_deref()) else {
        return false;
    };
    let cluster = kc
        .contexts
        .iter()
        .find(|c| c.name == name)
        .and_then(|c| c.context.as_ref())
        .map(|c| c.cluster.as_str());
    kc.clusters
        .iter()
        .filter(|c| Some(c.name.as_str()) == cluster)
        .filter_map(|c| c.cluster.as_ref())
        .any(|c| c.proxy_url.as_deref().is_some_and(|p| !p.trim().is_empty()))
}

/// Refuses an unparsable `HTTPS_PROXY` (either case, or `ALL_PROXY`) before Entra ID, ARM or
/// the cluster is asked anything: ignored, it would send the requests past the proxy (and kube
/// would refuse it without naming it).
fn check_https_proxy() -> Result<(), String> {
    crate::cluster::proxy::check_https_env(&crate::cluster::proxy::process_env)
}

/// The proxy `HTTPS_PROXY`/`NO_PROXY` (either case) choose for `server`.
fn env_proxy(server: &http::Uri) -> Result<Option<http::Uri>, String> {
    let proxy = crate::cluster::proxy::from_env(server, &crate::cluster::proxy::process_env)?;
    if let Some(p) = &proxy {
        tracing::debug!(
            "connecting to {server} through the proxy {}",
            p.authority().map(|a| a.host()).unwrap_or_default()
        );
    }
    Ok(proxy)
}

/// Timeouts, retries and TLS verification from the flags, for every way of connecting.
fn tune(config: &mut kube::Config, args: &ClusterSettings) {
    if args.insecure_skip_tls_verify {
        config.accept_invalid_certs = true;
        config.root_cert = None;
    }
    if config.accept_invalid_certs {
        // kube logs "Server cert bypassed" on every connection (filtered out in main): say it
        // once per run instead.
        warn_insecure_once();
    }
    config.read_timeout = Some(args.request_timeout);
    config.write_timeout = Some(args.request_timeout);
    config.connect_timeout = Some(args.request_timeout.min(Duration::from_secs(10)));
    // kpush retries transient failures itself (bounded, see cluster::retry); kube's default layer
    // would retry again, for up to many minutes.
    config.default_retry = false;
}

/// Warns, once per process, that the API server's certificate is not verified.
fn warn_insecure_once() {
    static WARNED: std::sync::Once = std::sync::Once::new();
    WARNED.call_once(|| {
        tracing::warn!(
            "the API server's TLS certificate is not verified (--insecure-skip-tls-verify or the kubeconfig's insecure-skip-tls-verify): anyone on the network path can read and change this deployment; trust the cluster's CA instead"
        );
    });
}

fn context_hint(err: &str, args: &ClusterSettings) -> String {
    match args.context() {
        Some(c) => format!(
            "{err}; is context {c:?} defined in the kubeconfig? (kubectl config get-contexts)"
        ),
        None => err.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kubeconfigs_from_targets_files_may_not_run_programs() {
        let kc = |user: &str| {
            Kubeconfig::from_yaml(&format!(
                "apiVersion: v1
kind: Config
current-context: c
clusters: [{{name: k, cluster: {{server: https://k.example}}}}]
contexts:
  - {{name: c, context: {{cluster: k, user: u}}}}
  - {{name: other, context: {{cluster: k, user: v}}}}
users:
  - name: u
    user: {user}
  - name: v
    user: {{token: t}}
"
            ))
            .expect("kubeconfig")
        };
        let here = std::path::Path::new("kc");
        let exec = kc(
            "{exec: {apiVersion: client.authentication.k8s.io/v1, command: /bin/sh, args: [-c, 'env > /tmp/leak']}}",
        );
        let e = refuse_plugins(&exec, None, here).unwrap_err();
        assert!(e.contains("\"/bin/sh\" (`exec`)"), "{e}");
        assert!(e.contains("--allow-exec-credentials"), "{e}");
        assert!(
            refuse_plugins(&exec, Some("other"), here).is_ok(),
            "its other user has a token"
        );
        let provider = kc("{auth-provider: {name: oidc, config: {}}}");
        assert!(
            refuse_plugins(&provider, None, here)
                .unwrap_err()
                .contains("auth-provider \"oidc\"")
        );
        assert!(refuse_plugins(&kc("{token: t}"), None, here).is_ok());
        // A token file of the runner's, sent to whichever server the repository names.
        let dir = tempfile::tempdir().expect("dir");
        let repo = dir.path().join("repo");
        std::fs::create_dir_all(repo.join(".git")).expect("mkdir");
        std::fs::write(dir.path().join("runner-token"), "t").expect("write");
        std::fs::write(repo.join("token"), "t").expect("write");
        let inside = repo.join("kc");
        let with_file = |f: &std::path::Path| kc(&format!("{{tokenFile: {}}}", f.display()));
        let e = refuse_plugins(&with_file(&dir.path().join("runner-token")), None, &inside)
            .unwrap_err();
        assert!(e.contains("sends the token file"), "{e}");
        assert!(refuse_plugins(&with_file(&repo.join("token")), None, &inside).is_ok());
    }
}
