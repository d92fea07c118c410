//! Flags that say which cluster to talk to, and connecting to it.
//!
//! NOTE (branch `watch`): a minimal version written for `kpush status` while branch `apply`
//! builds the full one (AKS credentials and more). When that lands, take its version and keep
//! `connect(&ClusterArgs)`.

use std::path::PathBuf;

use clap::Args;
use kube::config::{KubeConfigOptions, Kubeconfig};

use crate::exit::{self, ExitError};

/// Which cluster, through which kubeconfig.
#[derive(Debug, Clone, Args)]
pub struct ClusterArgs {
    /// Path of the kubeconfig file (default: $KUBECONFIG, then ~/.kube/config).
    #[arg(long, env = "KPUSH_KUBECONFIG", value_name = "FILE")]
    pub kubeconfig: Option<PathBuf>,

    /// The kubeconfig context to use (default: its current context).
    #[arg(long, env = "KPUSH_CONTEXT")]
    pub context: Option<String>,
}

/// Builds a client for the chosen cluster; a broken kubeconfig is exit code 6.
pub async fn connect(args: &ClusterArgs) -> Result<kube::Client, ExitError> {
    let options = KubeConfigOptions {
        context: args.context.clone(),
        ..KubeConfigOptions::default()
    };
    let unreachable =
        |what: String| ExitError::new(exit::CLUSTER_UNREACHABLE, anyhow::anyhow!(what));
    let config = match &args.kubeconfig {
        Some(path) => {
            let file = Kubeconfig::read_from(path)
                .map_err(|e| unreachable(format!("cannot read kubeconfig {}: {e}", path.display())))?;
            kube::Config::from_custom_kubeconfig(file, &options).await
        }
        None => kube::Config::from_kubeconfig(&options).await,
    }
    .map_err(|e| {
        unreachable(format!(
            "cannot load the kubeconfig: {e}\n  fix: pass --kubeconfig FILE (or set KUBECONFIG), and --context if needed"
        ))
    })?;
    kube::Client::try_from(config)
        .map_err(|e| unreachable(format!("cannot build a client for the cluster: {e}")))
}
