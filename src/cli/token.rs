//! `kpush token`: an exec credential plugin for kubectl; prints one Entra token for AKS as an
//! ExecCredential on standard output (nothing is cached on disk except device code's own cache).

use std::io::Write;

use clap::Args;

use super::args::azure::{self, AzureArgs};
use crate::auth::{self, AKS_SERVER_APP_ID};
use crate::event::Sink;
use crate::exit::{self, ExitError};
use crate::report::{CiMode, OutputSettings, Progress, Reporter};

/// Flags of `kpush token`.
#[derive(Debug, Args)]
pub struct TokenArgs {
    #[command(flatten)]
    azure: AzureArgs,

    /// Application id of the API server's Entra app (AKS's, the same in every cloud).
    #[arg(long, value_name = "APP_ID", env = "KPUSH_SERVER_ID", default_value = AKS_SERVER_APP_ID)]
    server_id: String,
}

pub(super) async fn run(args: TokenArgs, ci: CiMode, env: &super::Env) -> Result<i32, ExitError> {
    let settings = OutputSettings {
        command: "token",
        ci,
        progress: Progress::Plain,
        json: false,
        verbose: false,
    };
    let reporter = Reporter::new(&settings, env);
    let lookup = super::lookup(env);
    let env: azure::EnvLookup<'_> = &lookup;
    let settings = args.azure.settings(env);
    let scope = format!("{}/.default", args.server_id.trim().trim_end_matches('/'));
    let token = auth::access_token(&settings, &scope)
        .await
        .map_err(|e| ExitError::new(exit::CLUSTER_UNREACHABLE, e))?;
    tracing::info!(
        identity = token.principal().as_deref().unwrap_or("unknown"),
        expires = %token.expires_on_rfc3339(),
        "token issued for the API server"
    );
    // In CI the token is masked before it is printed (kubectl's plugin output may be logged).
    reporter.mask(token.secret());
    let api_version = auth::exec_api_version(env("KUBERNETES_EXEC_INFO").as_deref());
    let mut out = std::io::stdout().lock();
    writeln!(out, "{}", auth::exec_credential(&token, api_version))
        .and_then(|_| out.flush())
        .map_err(|e| ExitError::new(exit::INTERNAL, e))?;
    Ok(exit::SUCCESS)
}
