//! Flags that say which cluster to talk to and how, and [`connect`], which turns them into a
//! client. This is the seam where other ways of signing in (AKS with Entra ID) plug in.

use std::path::PathBuf;
use std::time::Duration;

use super::azure_args::{self, AzureArgs};
pub use crate::auth::ConnectError;
use clap::Args;
use kube::config::{KubeConfigOptions, Kubeconfig};

/// Which cluster, which credentials.
#[derive(Debug, Clone, Args)]
pub struct ClusterArgs {
    /// Path to the kubeconfig file (default: $KUBECONFIG, then ~/.kube/config, then in-cluster).
    #[arg(long, value_name = "FILE", env = "KPUSH_KUBECONFIG")]
    pub kubeconfig: Option<PathBuf>,

    /// The kubeconfig context to use (default: its current-context).
    #[arg(long, value_name = "NAME", env = "KPUSH_CONTEXT")]
    pub context: Option<String>,

    /// Use the pod's service account (in-cluster config) and ignore kubeconfig files.
    #[arg(long, env = "KPUSH_IN_CLUSTER", conflicts_with_all = ["kubeconfig", "context"])]
    pub in_cluster: bool,

    /// Do not verify the API server's TLS certificate. Insecure: for test clusters only.
    #[arg(long, env = "KPUSH_INSECURE_SKIP_TLS_VERIFY")]
    pub insecure_skip_tls_verify: bool,

    /// Give up on a single request after this long (e.g. 30s, 2m, 500ms).
    #[arg(long, value_name = "DURATION", env = "KPUSH_REQUEST_TIMEOUT", default_value = "30s", value_parser = parse_duration)]
    pub request_timeout: Duration,

    /// An AKS cluster reached through Azure Resource Manager and Entra ID, instead of a kubeconfig.
    #[command(flatten)]
    pub azure: AzureArgs,
}

/// Parses `30s`, `2m`, `500ms`, `1h30m`, or a bare number of seconds (one parser for every
/// duration flag).
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    super::track_args::parse_duration(s)
}

/// Builds a client from the flags. Sends no request.
pub async fn connect(args: &ClusterArgs) -> Result<kube::Client, ConnectError> {
    connect_to(args).await.map(|(client, _)| client)
}

/// Like [`connect`], also returning the API server's URL (for messages).
///
/// With `--aks-cluster`/`--aks-cluster-id` the client comes from [`crate::auth::aks_client_with`]
/// (ARM for the address, Entra ID tokens that refresh themselves); otherwise from the kubeconfig.
pub async fn connect_to(args: &ClusterArgs) -> Result<(kube::Client, String), ConnectError> {
    let env: azure_args::EnvLookup<'_> = &azure_args::process_env;
    if let Some(target) = args.azure.target(env).map_err(ConnectError::Flags)? {
        if args.kubeconfig.is_some() || args.context.is_some() || args.in_cluster {
            return Err(ConnectError::Flags(
                "--aks-cluster/--aks-cluster-id cannot be combined with --kubeconfig, --context or --in-cluster\n  fix: pass one way to reach the cluster (check KPUSH_KUBECONFIG, KPUSH_CONTEXT and KPUSH_AKS_CLUSTER in the environment)".into(),
            ));
        }
        let settings = args.azure.settings(env);
        let connected =
            crate::auth::aks_client_with(&settings, &target, |config| tune(config, args))
                .await
                .map_err(|error| ConnectError::Aks {
                    target: target.to_string(),
                    error,
                })?;
        return Ok((connected.client, connected.server));
    }
    let options = KubeConfigOptions {
        context: args.context.clone(),
        ..Default::default()
    };
    let mut config = if args.in_cluster {
        kube::Config::incluster().map_err(|e| ConnectError::InCluster(e.to_string()))?
    } else if let Some(path) = &args.kubeconfig {
        let kc = Kubeconfig::read_from(path).map_err(|e| ConnectError::Kubeconfig {
            path: Some(path.clone()),
            message: format!("{e}; check the --kubeconfig path"),
        })?;
        kube::Config::from_custom_kubeconfig(kc, &options)
            .await
            .map_err(|e| ConnectError::Kubeconfig {
                path: Some(path.clone()),
                message: context_hint(&e.to_string(), args),
            })?
    } else {
        match kube::Config::from_kubeconfig(&options).await {
            Ok(c) => c,
            Err(e) if args.context.is_some() => {
                return Err(ConnectError::Kubeconfig {
                    path: None,
                    message: context_hint(&e.to_string(), args),
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
    tune(&mut config, args);
    let url = config.cluster_url.to_string();
    let client = kube::Client::try_from(config).map_err(|e| ConnectError::Client(e.to_string()))?;
    Ok((client, url.trim_end_matches('/').to_string()))
}

/// Timeouts, retries and TLS verification from the flags, for every way of connecting.
fn tune(config: &mut kube::Config, args: &ClusterArgs) {
    if args.insecure_skip_tls_verify {
        config.accept_invalid_certs = true;
        config.root_cert = None;
    }
    config.read_timeout = Some(args.request_timeout);
    config.write_timeout = Some(args.request_timeout);
    config.connect_timeout = Some(args.request_timeout.min(Duration::from_secs(10)));
    // kpush retries transient failures itself (bounded, see cluster::retry); kube's default layer
    // would retry again, for up to many minutes.
    config.default_retry = false;
}

fn context_hint(err: &str, args: &ClusterArgs) -> String {
    match &args.context {
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
    fn durations_parse_with_units() {
        assert_eq!(parse_duration("30s"), Ok(Duration::from_secs(30)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("7"), Ok(Duration::from_secs(7)));
        assert!(parse_duration("5 parsecs").is_err());
    }
}
