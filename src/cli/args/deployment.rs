//! Flags of `kpush apply` for the deployment record outside the cluster: the environment
//! deployed to, its address, and GitHub deployments (see docs/records.md).

use clap::Args;

/// The environment a deploy goes to, and whether GitHub records it.
#[derive(Debug, Clone, Args)]
pub struct DeploymentArgs {
    /// The environment this deploy goes to (`production`, `staging`, …). In GitHub Actions,
    /// with GITHUB_TOKEN in the environment, kpush records a GitHub deployment of the commit to
    /// it (GitHub does not tell a step its job's environment: name it here).
    #[arg(long, value_name = "NAME", env = "KPUSH_ENVIRONMENT")]
    pub environment: Option<String>,

    /// The environment's address, shown on the GitHub deployment (`environment_url`).
    #[arg(long, value_name = "URL", env = "KPUSH_ENVIRONMENT_URL", value_parser = parse_url)]
    pub environment_url: Option<String>,

    /// Do not record a GitHub deployment, even with --environment and GITHUB_TOKEN.
    #[arg(long, env = "KPUSH_NO_GITHUB_DEPLOYMENT")]
    pub no_github_deployment: bool,
}

/// An `http://` or `https://` URL.
fn parse_url(value: &str) -> Result<String, String> {
    let v = value.trim();
    match url::Url::parse(v) {
        Ok(u) if (u.scheme() == "https" || u.scheme() == "http") && u.host().is_some() => {
            Ok(v.to_string())
        }
        _ => Err(format!(
            "{value} is not an http(s) URL; pass the environment's address, like https://shop.example.com"
        )),
    }
}
