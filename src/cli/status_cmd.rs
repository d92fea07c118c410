//! `kpush status`: wait for already-applied manifests to be ready, changing nothing.

use std::io::{IsTerminal, Write};

use clap::{Args, ValueEnum};

use super::ManifestArgs;
use super::cluster_args::{ClusterArgs, connect};
use super::interrupt::interrupted;
use super::run_report::RunReporters;
use super::track_args::TrackArgs;
use crate::exit::{self, ExitError};
use crate::report::{CiLines, CiMode, Fanout, JsonResult, Reporter, TerminalProgress};
use crate::track::{self, TargetError};

/// Flags of `kpush status`.
#[derive(Debug, Args)]
pub struct StatusArgs {
    #[command(flatten)]
    manifests: ManifestArgs,

    #[command(flatten)]
    cluster: ClusterArgs,

    #[command(flatten)]
    wait: TrackArgs,

    /// Result format on standard output: `text` prints nothing there (progress and summary go
    /// to standard error); `json` prints one JSON document describing the run.
    #[arg(short = 'o', long, value_enum, default_value = "text")]
    output: Output,

    /// Progress display on standard error: live lines on a terminal, or plain lines for logs.
    #[arg(long, value_enum, env = "KPUSH_PROGRESS", default_value = "auto")]
    progress: Progress,
}

/// Result formats of `kpush status`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Output {
    /// Human output on standard error only.
    Text,
    /// A JSON document on standard output (see docs/rollouts.md).
    Json,
}

/// Progress displays.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Progress {
    /// Live lines when standard error is a terminal, plain lines otherwise.
    Auto,
    /// Live lines (indicatif).
    Terminal,
    /// Plain lines, for CI logs.
    Plain,
}

/// The human progress reporter for `progress` (`auto` looks at standard error).
pub fn human_reporter(progress: Progress) -> Box<dyn Reporter> {
    let terminal = match progress {
        Progress::Auto => std::io::stderr().is_terminal(),
        Progress::Terminal => true,
        Progress::Plain => false,
    };
    if terminal {
        Box::new(TerminalProgress::new())
    } else {
        Box::new(CiLines::stderr())
    }
}

pub(super) async fn run(args: StatusArgs, ci: CiMode) -> Result<i32, ExitError> {
    // In GitHub Actions or Azure Pipelines the CI reporter takes the progress display's place.
    let run = RunReporters::new("status", human_reporter(args.progress), ci);
    let json = JsonResult::default();
    let code = run_with(&args, &run, &json).await;
    run.finish(&code);
    if args.output == Output::Json {
        let exit_code = match &code {
            Ok(c) => *c,
            Err(e) => e.code,
        };
        let mut out = std::io::stdout().lock();
        out.write_all(json.render(exit_code).as_bytes())
            .and_then(|_| out.flush())
            .map_err(|e| ExitError::new(exit::INTERNAL, e))?;
    }
    code
}

async fn run_with(
    args: &StatusArgs,
    run: &RunReporters,
    json: &JsonResult,
) -> Result<i32, ExitError> {
    let client = if args.manifests.has_charts() {
        Some(
            connect(&args.cluster)
                .await
                .map_err(|e| ExitError::new(e.exit_code(), e))?,
        )
    } else {
        None
    };
    let manifests = args.manifests.render(run, client.as_ref()).await?;
    run.set_images(crate::render::images::images(&manifests));
    let client = match client {
        Some(c) => c,
        None => connect(&args.cluster)
            .await
            .map_err(|e| ExitError::new(e.exit_code(), e))?,
    };
    let targets = track::resolve(&client, &manifests).await.map_err(|e| {
        let code = match &e {
            TargetError::Discovery(_) => exit::CLUSTER_UNREACHABLE,
            TargetError::UnknownKind { .. } => exit::BAD_INPUT,
        };
        ExitError::new(code, e)
    })?;
    let mut sinks: Vec<&dyn Reporter> = vec![run];
    if args.output == Output::Json {
        sinks.push(json);
    }
    let reporter = Fanout::new(sinks);
    let outcome = track::track(
        &client,
        targets,
        &args.wait.to_options(),
        &reporter,
        interrupted(),
    )
    .await;
    Ok(outcome.exit_code())
}
