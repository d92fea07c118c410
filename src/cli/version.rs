//! `kpush version`.

use clap::Args;
use serde::Serialize;

use crate::exit::{self, ExitError};

/// Flags of `kpush version`.
#[derive(Debug, Args)]
pub struct VersionArgs {
    /// Output format.
    #[arg(
        short = 'o',
        long,
        value_enum,
        default_value = "text",
        env = "KPUSH_OUTPUT"
    )]
    output: VersionFormat,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum VersionFormat {
    Text,
    Json,
}

/// Build facts printed by `kpush version`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BuildInfo {
    /// kpush's version.
    pub version: &'static str,
    /// Git commit it was built from.
    pub commit: &'static str,
    /// Target triple.
    pub target: &'static str,
    /// Kubernetes API version of the compiled-in types (k8s-openapi feature).
    pub kubernetes_api: &'static str,
}

/// The build facts of this binary.
pub fn build_info() -> BuildInfo {
    BuildInfo {
        version: env!("CARGO_PKG_VERSION"),
        commit: env!("KPUSH_GIT_COMMIT"),
        target: env!("KPUSH_TARGET"),
        kubernetes_api: KUBERNETES_API,
    }
}

// k8s-openapi is built with feature `v1_33` (see Cargo.toml); this fails to compile otherwise.
k8s_openapi::k8s_if_1_33! {
    const KUBERNETES_API: &str = "v1.33";
}

pub(super) fn run(args: &VersionArgs) -> Result<i32, ExitError> {
    let info = build_info();
    let text = match args.output {
        VersionFormat::Json => {
            serde_json::to_string_pretty(&info).map_err(|e| ExitError::new(exit::INTERNAL, e))?
        }
        VersionFormat::Text => format!(
            "kpush {}\ncommit: {}\ntarget: {}\nkubernetes api: {}",
            info.version, info.commit, info.target, info.kubernetes_api
        ),
    };
    println!("{text}");
    Ok(exit::SUCCESS)
}
