//! `kpush kubeconfig`: a kubeconfig for an AKS cluster whose user runs `kpush token`, so kubectl
//! works without kubelogin. It holds the server and CA from ARM, and never a token or secret.

use std::io::Write;
use std::path::{Path, PathBuf};

use clap::Args;

use super::args::azure::{self, AzureArgs};
use crate::auth;
use crate::exit::{self, ExitError};

/// Flags of `kpush kubeconfig`.
#[derive(Debug, Args)]
pub struct KubeconfigArgs {
    #[command(flatten)]
    azure: AzureArgs,

    /// Write the kubeconfig to FILE (replaced; mode 0600) instead of standard output.
    #[arg(
        short = 'o',
        long,
        value_name = "FILE",
        env = "KPUSH_KUBECONFIG_OUTPUT"
    )]
    output: Option<PathBuf>,

    /// The command kubectl runs to get tokens.
    #[arg(
        long,
        value_name = "PATH",
        env = "KPUSH_EXEC_COMMAND",
        default_value = "kpush"
    )]
    exec_command: String,

    /// Name of the cluster, user and context in the kubeconfig [default: the cluster's name].
    #[arg(long, value_name = "NAME")]
    context_name: Option<String>,
}

fn bad_input(message: String) -> ExitError {
    ExitError::new(exit::BAD_INPUT, anyhow::anyhow!(message))
}

pub(super) async fn run(args: KubeconfigArgs, env: &super::Env) -> Result<i32, ExitError> {
    let lookup = super::lookup(env);
    let env: azure::EnvLookup<'_> = &lookup;
    let target = args.azure.target(env).map_err(bad_input)?.ok_or_else(|| {
        bad_input(
            "kpush kubeconfig needs a cluster\n  fix: pass --aks-cluster NAME --resource-group GROUP --subscription ID, or --aks-cluster-id ID".into(),
        )
    })?;
    if target.admin {
        return Err(bad_input(
            "kpush kubeconfig does not write admin credentials: they are a client certificate and key, a secret that would sit in the file\n  fix: drop --admin (the kubeconfig signs in with Entra ID), or use `az aks get-credentials --admin` if you must".into(),
        ));
    }
    let settings = args.azure.settings(env);
    let cluster = auth::aks_cluster(&settings, &target).await.map_err(|e| {
        ExitError::new(
            exit::CLUSTER_UNREACHABLE,
            anyhow::anyhow!("cannot get the address of {target}: {e}"),
        )
    })?;
    let name = args
        .context_name
        .clone()
        .unwrap_or_else(|| target.cluster.clone());
    let text = auth::exec_kubeconfig(
        &name,
        &cluster,
        &args.exec_command,
        &args.azure.token_args(env),
    );
    match &args.output {
        Some(path) => {
            write_private(path, &text).map_err(|e| {
                ExitError::new(
                    exit::BAD_INPUT,
                    anyhow::anyhow!("cannot write {}: {e}", path.display()),
                )
            })?;
            eprintln!(
                "wrote {} (context {name}, server {}); kubectl signs in through `{} token`",
                path.display(),
                cluster.server,
                args.exec_command
            );
        }
        None => {
            let mut out = std::io::stdout().lock();
            out.write_all(text.as_bytes())
                .and_then(|_| out.flush())
                .map_err(|e| ExitError::new(exit::INTERNAL, e))?;
        }
    }
    Ok(exit::SUCCESS)
}

/// Writes `text` to `path` readable only by its owner (kubeconfigs conventionally are).
fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
        options.mode(0o600);
        let mut file = options.open(path)?;
        file.set_permissions(std::fs::Permissions::from_mode(0o600))?;
        file.write_all(text.as_bytes())
    }
    #[cfg(not(unix))]
    {
        options.open(path)?.write_all(text.as_bytes())
    }
}
