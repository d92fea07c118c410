//! Why no client could be built for the cluster (before any request was sent).

use std::path::PathBuf;

use thiserror::Error;

use super::AuthError;

/// Why no client could be built (before any request was sent).
#[derive(Debug, Error)]
pub enum ConnectError {
    /// The kubeconfig could not be read or lacks what is needed.
    #[error("cannot use kubeconfig{}: {message}", .path.as_ref().map(|p| format!(" {}", p.display())).unwrap_or_default())]
    Kubeconfig {
        /// The file, when given explicitly.
        path: Option<PathBuf>,
        /// What is wrong, and what to do.
        message: String,
    },
    /// In-cluster configuration is unavailable.
    #[error(
        "cannot use in-cluster configuration: {0} (is kpush running in a pod with a service account?)"
    )]
    InCluster(String),
    /// The client could not be built (TLS setup, credentials plugin).
    #[error("cannot set up the connection to the API server: {0}")]
    Client(String),
    /// The flags contradict each other or are incomplete.
    #[error("{0}")]
    Flags(String),
    /// Signing in to Entra ID, or getting the AKS cluster's address from ARM, failed.
    #[error("cannot connect to {target}: {error}")]
    Aks {
        /// The cluster, as the flags named it.
        target: String,
        /// What went wrong, with the likely fix.
        error: AuthError,
    },
}
