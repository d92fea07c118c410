//! Flags that say which cluster to talk to and how, converted once into
//! [`ClusterSettings`] (`deploy::connect` turns those into a client).

use std::path::PathBuf;
use std::time::Duration;

use super::azure::{self, AzureArgs};
use clap::Args;

use crate::deploy::connect::{ClusterSettings, Way};

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

    /// Time a run may spend retrying while the API server is unreachable or overloaded
    /// (refused or reset connections, timeouts, 429, 5xx), summed over the run; 0 turns
    /// retries off. Never waits past --timeout.
    #[arg(long, value_name = "DURATION", env = "KPUSH_RETRY_BUDGET", default_value = "30s", value_parser = parse_duration)]
    pub retry_budget: Duration,

    /// Let kubeconfig files named by a --targets file run `exec` credential plugins and
    /// `auth-provider`s (they run with this process's environment, secrets included), and send
    /// `tokenFile`s from outside the repository. The kubeconfig of --kubeconfig or KUBECONFIG is
    /// trusted without this flag.
    #[arg(long, env = "KPUSH_ALLOW_EXEC_CREDENTIALS")]
    pub allow_exec_credentials: bool,

    /// Set when the kubeconfig comes from a targets file (the repository), not the runner.
    #[arg(skip)]
    pub kubeconfig_from_targets: bool,

    /// An AKS cluster reached through Azure Resource Manager and Entra ID, instead of a kubeconfig.
    #[command(flatten)]
    pub azure: AzureArgs,
}

/// Parses `30s`, `2m`, `500ms`, `1h30m`, or a bare number of seconds (one parser for every
/// duration flag).
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    super::wait::parse_duration(s)
}

impl ClusterArgs {
    /// The connection settings; `env` supplies the conventional fallbacks. Flags that do not
    /// fit together become an error reported when connecting (exit code 2).
    pub fn settings(&self, env: azure::EnvLookup<'_>) -> ClusterSettings {
        ClusterSettings {
            way: self.way(env),
            azure: self.azure.settings(env),
            insecure_skip_tls_verify: self.insecure_skip_tls_verify,
            request_timeout: self.request_timeout,
            retry_budget: self.retry_budget,
            allow_exec_credentials: self.allow_exec_credentials,
        }
    }

    fn way(&self, env: azure::EnvLookup<'_>) -> Result<Way, String> {
        let kubeconfig_flags =
            self.kubeconfig.is_some() || self.context.is_some() || self.in_cluster;
        if let Some(fleet) = self.azure.fleet_target(env)? {
            if kubeconfig_flags {
                return Err("--fleet cannot be combined with --kubeconfig, --context or --in-cluster\n  fix: pass one way to reach the fleet's hub (check KPUSH_KUBECONFIG, KPUSH_CONTEXT and KPUSH_FLEET in the environment)".into());
            }
            return Ok(Way::Fleet(fleet));
        }
        if let Some(target) = self.azure.target(env)? {
            if kubeconfig_flags {
                return Err("--aks-cluster/--aks-cluster-id cannot be combined with --kubeconfig, --context or --in-cluster\n  fix: pass one way to reach the cluster (check KPUSH_KUBECONFIG, KPUSH_CONTEXT and KPUSH_AKS_CLUSTER in the environment)".into());
            }
            return Ok(Way::Aks(target));
        }
        Ok(match self.in_cluster {
            true => Way::InCluster,
            false => Way::Kubeconfig {
                path: self.kubeconfig.clone(),
                context: self.context.clone(),
                from_targets: self.kubeconfig_from_targets,
            },
        })
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
