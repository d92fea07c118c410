//! The command line: flags and `KPUSH_*` variables become settings; nothing below sees clap.

mod apply;
pub mod args;
mod diff;
mod drift;
pub mod env_defaults;
mod history;
mod kubeconfig;
mod rbac;
mod render;
mod rollback;
mod settings;
mod status;
mod targets;
mod token;
mod version;

use std::io::Write;

use clap::{CommandFactory, Parser, Subcommand, ValueEnum};

pub use args::{AzureArgs, ClusterArgs, ManifestArgs};

use crate::exit::{self, ExitError};
use crate::report::CiMode;

/// kpush: deploy Kubernetes manifests from CI to AKS, and wait until they really work.
#[derive(Debug, Parser)]
#[command(name = "kpush", version, about, long_about = None, propagate_version = true)]
pub struct Cli {
    /// Log verbosity for diagnostics on standard error (error, warn, info, debug, trace).
    #[arg(long, global = true, env = "KPUSH_LOG", default_value = "warn")]
    pub log_level: String,

    /// CI log dialect: groups, annotations, masks, job summary and outputs for GitHub Actions,
    /// Azure Pipelines or GitLab CI (auto: detected from GITHUB_ACTIONS / TF_BUILD / GITLAB_CI).
    #[arg(
        long,
        global = true,
        value_enum,
        env = "KPUSH_CI",
        default_value = "auto"
    )]
    pub ci: args::CiArg,

    /// The command to run.
    #[command(subcommand)]
    pub command: Command,
}

/// kpush's commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Render manifests (files, directories, `-`) and print the resulting objects.
    Render(Box<render::RenderArgs>),
    /// Apply manifests with server-side apply: in waves, after a dry-run of everything, with prune.
    Apply(Box<args::ApplyArgs>),
    /// Show what `kpush apply` would change (exit 0: nothing, 1: differences, >1: error).
    Diff(Box<diff::DiffArgs>),
    /// Print the Roles and bindings the deploying identity needs to apply these manifests
    /// (least privilege: verbs per resource, prune, tracking and release records included).
    Rbac(Box<rbac::RbacArgs>),
    /// Show a release's revisions: status, images, commit, CI run, times (`-o json`).
    History(Box<history::HistoryArgs>),
    /// List the releases in a namespace (`-A`: all): newest revision, status, images, commit.
    List(Box<history::ListArgs>),
    /// Re-apply a recorded revision of a release (`--to N`; default: the previous success).
    Rollback(Box<rollback::RollbackArgs>),
    /// Compare the live objects with a release's last succeeded revision (exit 0: none, 1: drift).
    Drift(Box<drift::DriftArgs>),
    /// Print an Entra ID token for AKS as a kubectl exec credential (used by `kpush kubeconfig`).
    Token(Box<token::TokenArgs>),
    /// Write a kubeconfig for an AKS cluster whose user signs in through `kpush token`.
    Kubeconfig(Box<kubeconfig::KubeconfigArgs>),
    /// Wait until already-applied manifests are ready (changes nothing); explain failures.
    Status(Box<status::StatusArgs>),
    /// Print version, git commit, target and the Kubernetes API version kpush was built against.
    Version(version::VersionArgs),
    /// Print a shell completion script.
    Completions {
        /// The shell.
        #[arg(value_enum)]
        shell: Shell,
    },
}

/// Shells for `kpush completions`.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum Shell {
    /// Bash.
    Bash,
    /// Zsh.
    Zsh,
    /// Fish.
    Fish,
    /// PowerShell.
    Powershell,
    /// Elvish.
    Elvish,
}

/// Runs the parsed command; returns the process exit code.
pub async fn run(cli: Cli) -> Result<i32, ExitError> {
    // The environment is read once, here: CI detection, `KPUSH_VAR_*`, run annotations, the
    // record key and Azure's fallbacks all come from this copy.
    let env = process_env();
    let env = &env;
    let ci: CiMode = cli.ci.into();
    match cli.command {
        Command::Render(args) => render::run(*args, ci, env),
        Command::Apply(args) => apply::run(*args, ci, env).await,
        Command::Diff(args) => diff::run(*args, ci, env).await,
        Command::Rbac(args) => rbac::run(*args, ci, env).await,
        Command::History(args) => history::history(*args, env).await,
        Command::List(args) => history::list(*args, env).await,
        Command::Rollback(args) => rollback::run(*args, ci, env).await,
        Command::Drift(args) => drift::run(*args, ci, env).await,
        Command::Token(args) => token::run(*args, ci, env).await,
        Command::Kubeconfig(args) => kubeconfig::run(*args, env).await,
        Command::Status(args) => status::run(*args, ci, env).await,
        Command::Version(args) => version::run(&args),
        Command::Completions { shell } => {
            let shell = match shell {
                Shell::Bash => clap_complete::Shell::Bash,
                Shell::Zsh => clap_complete::Shell::Zsh,
                Shell::Fish => clap_complete::Shell::Fish,
                Shell::Powershell => clap_complete::Shell::PowerShell,
                Shell::Elvish => clap_complete::Shell::Elvish,
            };
            let mut out = std::io::stdout().lock();
            clap_complete::generate(shell, &mut Cli::command(), "kpush", &mut out);
            out.flush().map_err(|e| ExitError::new(exit::INTERNAL, e))?;
            Ok(exit::SUCCESS)
        }
    }
}

/// The process environment as a sorted map, read once per run by [`run`].
fn process_env() -> std::collections::BTreeMap<String, String> {
    std::env::vars_os()
        .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)))
        .collect()
}

/// The process environment, read once per command.
pub type Env = std::collections::BTreeMap<String, String>;

/// `env` as the lookup the Azure flags take their fallbacks from.
pub fn lookup(env: &Env) -> impl Fn(&str) -> Option<String> + '_ {
    |name| env.get(name).filter(|v| !v.trim().is_empty()).cloned()
}
