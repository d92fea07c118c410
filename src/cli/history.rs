//! `kpush history NAME` and `kpush list`: what is deployed, from which commit, by which run
//! (documents and tables: `report::history`).

use clap::Args;

use super::args::{ClusterArgs, ReleaseRef, TableOutput, TargetsArgs};
use crate::deploy::targets_file::{self, Target};
use crate::deploy::{self, DeployError};
use crate::exit::{self, ExitError};
use crate::report::history::{self, Entry, Format, Found, TargetAnswer};

/// Flags of `kpush history`.
#[derive(Debug, Args)]
pub struct HistoryArgs {
    #[command(flatten)]
    release: ReleaseRef,

    #[command(flatten)]
    cluster: ClusterArgs,

    #[command(flatten)]
    targets: TargetsArgs,

    /// `table`, or `json` (one document on standard output).
    #[arg(
        short = 'o',
        long,
        value_enum,
        default_value = "table",
        env = "KPUSH_OUTPUT"
    )]
    output: TableOutput,
}

/// Flags of `kpush list`.
#[derive(Debug, Args)]
pub struct ListArgs {
    /// Namespace to list (default: the context's).
    #[arg(short = 'n', long, env = "KPUSH_NAMESPACE")]
    namespace: Option<String>,

    /// List releases in every namespace (overrides --namespace).
    #[arg(short = 'A', long)]
    all_namespaces: bool,

    #[command(flatten)]
    cluster: ClusterArgs,

    #[command(flatten)]
    targets: TargetsArgs,

    /// `table`, or `json` (one document on standard output).
    #[arg(
        short = 'o',
        long,
        value_enum,
        default_value = "table",
        env = "KPUSH_OUTPUT"
    )]
    output: TableOutput,
}

fn format(output: TableOutput) -> Format {
    match output {
        TableOutput::Table => Format::Table,
        TableOutput::Json => Format::Json,
    }
}

pub(super) async fn history(args: HistoryArgs, env: &super::Env) -> Result<i32, ExitError> {
    let one = async |cluster: &ClusterArgs, release: &ReleaseRef| {
        let cluster = cluster.settings(&super::lookup(env));
        let (release, found) =
            deploy::history::history(&cluster, &release.name, release.namespace.as_deref()).await?;
        Ok(history::history(&release, &found))
    };
    let Some(file) = &args.targets.targets else {
        return print(one(&args.cluster, &args.release).await?, args.output);
    };
    let each = async |t: &Target| {
        one(
            &t.cluster_args(&args.cluster),
            &t.release_ref(&args.release),
        )
        .await
    };
    for_targets(
        file,
        &args.targets,
        args.output,
        Entry::Under("history"),
        each,
    )
    .await
}

pub(super) async fn list(args: ListArgs, env: &super::Env) -> Result<i32, ExitError> {
    let one = async |cluster: &ClusterArgs, namespace: Option<&str>| {
        let cluster = cluster.settings(&super::lookup(env));
        let found = deploy::history::list(&cluster, namespace, args.all_namespaces).await?;
        Ok(history::list(
            found.namespace.as_deref(),
            &found.releases,
            &found.unreadable,
        ))
    };
    let Some(file) = &args.targets.targets else {
        return print(
            one(&args.cluster, args.namespace.as_deref()).await?,
            args.output,
        );
    };
    let each = async |t: &Target| {
        let namespace = t.namespace.as_deref().or(args.namespace.as_deref());
        one(&t.cluster_args(&args.cluster), namespace).await
    };
    for_targets(file, &args.targets, args.output, Entry::Merged, each).await
}

/// A single cluster's answer, printed.
fn print(found: Found, output: TableOutput) -> Result<i32, ExitError> {
    found
        .print(format(output))
        .map_err(|e| ExitError::new(exit::INTERNAL, e))?;
    Ok(exit::SUCCESS)
}

/// Asks every target of `file` (whatever the others answered), prints the answers in the
/// file's order, and returns the worst target's exit code (2 for a bad file).
async fn for_targets<F>(
    file: &std::path::Path,
    opts: &TargetsArgs,
    output: TableOutput,
    entry: Entry,
    query: F,
) -> Result<i32, ExitError>
where
    F: AsyncFn(&Target) -> Result<Found, DeployError>,
{
    let targets = targets_file::read(file)
        .map_err(|e| ExitError::new(exit::BAD_INPUT, anyhow::anyhow!(e)))?;
    let answers = deploy::targets::each(&targets, opts.parallel, &|_| false, query).await;
    let mut worst = crate::event::Outcome::Success;
    let answers = targets
        .iter()
        .zip(answers)
        .map(|(t, answer)| {
            let answer = match answer {
                Some(Ok(found)) => Ok(found),
                Some(Err(e)) => {
                    worst = worst.max(e.outcome);
                    Err((t.error_message(&e, file), e.outcome))
                }
                // Never: the query asks every target.
                None => Err(("not asked".to_string(), crate::event::Outcome::Internal)),
            };
            TargetAnswer {
                name: &t.name,
                cluster: t.cluster.to_string(),
                answer,
            }
        })
        .collect();
    history::print_targets(answers, format(output), entry)
        .map_err(|e| ExitError::new(exit::INTERNAL, e))?;
    Ok(exit::of_outcome(worst))
}
