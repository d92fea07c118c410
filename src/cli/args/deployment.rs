//! Flags of `kpush apply` for the records outside the cluster: the environment deployed to, its
//! address, GitHub deployments and notifications (see docs/records.md).

use clap::{Args, ValueEnum};

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

    /// Post the outcome to a webhook when the deploy ends (repeatable; KPUSH_NOTIFY: one per
    /// line): `teams=URL` (a Teams Workflows webhook: an Adaptive Card), `slack=URL` (a Slack
    /// incoming webhook) or `cloudevents=URL` (any endpoint: a CloudEvent). A bare URL is Slack
    /// for hooks.slack.com, Teams for Power Automate hosts, a CloudEvent otherwise. https only.
    #[arg(
        long = "notify",
        value_name = "[KIND=]URL",
        env = "KPUSH_NOTIFY",
        value_delimiter = '\n',
        hide_env_values = true
    )]
    pub notify: Vec<String>,

    /// Which outcomes --notify posts: always, success or failure (anything but success).
    #[arg(long, value_enum, env = "KPUSH_NOTIFY_ON", default_value = "always")]
    pub notify_on: NotifyOn,
}

/// `--notify-on`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum NotifyOn {
    /// Every run.
    Always,
    /// Successful runs.
    Success,
    /// Runs that did not succeed.
    Failure,
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
