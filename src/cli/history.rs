//! `kpush history NAME` and `kpush list`: what is deployed, from which commit, by which run.
//!
//! JSON (`-o json`) is written from the serialize-only types below; manifests are never
//! printed (they may hold Secrets).
//!
//! ```json
//! {"release": "shop", "namespace": "prod",
//!  "revisions": [{"revision": 3, "status": "succeeded", "rollbackTo": null, "message": null,
//!                 "images": ["nginx:1.27"], "commit": "abc", "repository": "...",
//!                 "workflow": "deploy", "runUrl": "...", "actor": "ana", "kpushVersion": "0.1.0",
//!                 "startedAt": "2026-11-29T10:00:00Z", "finishedAt": "2026-11-29T10:01:00Z",
//!                 "objects": [{"group": "apps", "kind": "Deployment", "namespace": "prod",
//!                              "name": "web", "action": "configured"}]}],
//!  "skipped": [{"namespace": "prod", "secret": "...", "reason": "..."}]}
//! ```
//! `kpush list -o json` prints `{"releases": [<revision as above, plus "release" and
//! "namespace">], "skipped": [...]}` with each release's newest revision.
//!
//! With `--targets FILE` ([`super::targets_query`]), each target's table follows a `# target
//! NAME` line, and `-o json` prints `{"targets": [{"name", "cluster", "exitCode", …}]}`: for
//! `history`, `"history": <the document above>`; for `list`, the document's `releases` and
//! `skipped` beside them; `"error": "…"` for a target that failed.

use clap::Args;
use serde::Serialize;

use super::args::ClusterArgs;
use super::args::TargetsArgs;
use super::args::{ReleaseRef, TableOutput};
use super::targets_query::{self, Entry, Found};
use crate::deploy::ClusterSettings;
use crate::exit::{self, ExitError};
use crate::release::{ObjectRecord, Revision, Store, Unreadable, store};

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

/// One revision, for JSON.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct RevisionView<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    release: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    namespace: Option<&'a str>,
    revision: u32,
    status: &'static str,
    rollback_to: Option<u32>,
    message: Option<&'a str>,
    images: &'a [String],
    commit: Option<&'a str>,
    repository: Option<&'a str>,
    workflow: Option<&'a str>,
    run_url: Option<&'a str>,
    actor: Option<&'a str>,
    kpush_version: &'a str,
    started_at: &'a str,
    finished_at: Option<&'a str>,
    objects: &'a [ObjectRecord],
}

impl<'a> RevisionView<'a> {
    fn new(r: &'a Revision, with_release: bool) -> Self {
        Self {
            release: with_release.then_some(r.release.as_str()),
            namespace: with_release.then_some(r.namespace.as_str()),
            revision: r.revision,
            status: r.status.word(),
            rollback_to: r.rollback_to,
            message: r.message.as_deref(),
            images: &r.images,
            commit: r.run.commit.as_deref(),
            repository: r.run.repository.as_deref(),
            workflow: r.run.workflow.as_deref(),
            run_url: r.run.run_url.as_deref(),
            actor: r.run.actor.as_deref(),
            kpush_version: &r.kpush_version,
            started_at: &r.started_at,
            finished_at: r.finished_at.as_deref(),
            objects: &r.objects,
        }
    }
}

/// A skipped record, for JSON.
#[derive(Serialize)]
struct SkippedView<'a> {
    namespace: &'a str,
    secret: &'a str,
    reason: &'a str,
}

fn skipped(u: &[Unreadable]) -> Vec<SkippedView<'_>> {
    u.iter()
        .map(|u| SkippedView {
            namespace: &u.namespace,
            secret: &u.secret,
            reason: &u.reason,
        })
        .collect()
}

/// Left-aligned columns separated by two spaces.
fn table(header: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = header.iter().map(|h| h.len()).collect();
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |cells: Vec<String>| {
        let mut s = String::new();
        for (i, (c, w)) in cells.iter().zip(&widths).enumerate() {
            if i + 1 == cells.len() {
                s.push_str(c);
            } else {
                s.push_str(&format!("{c:<w$}  "));
            }
        }
        s.trim_end().to_string() + "\n"
    };
    let mut out = line(header.iter().map(|h| h.to_string()).collect());
    for row in rows {
        out.push_str(&line(row.clone()));
    }
    out
}

fn short_commit(r: &Revision) -> String {
    r.run
        .commit
        .as_deref()
        .map(|c| c.chars().take(12).collect())
        .unwrap_or_else(|| "-".into())
}

fn by(r: &Revision) -> String {
    r.run
        .run_url
        .clone()
        .or_else(|| r.run.actor.clone())
        .unwrap_or_else(|| "-".into())
}

fn images(r: &Revision) -> String {
    if r.images.is_empty() {
        "-".into()
    } else {
        r.images.join(",")
    }
}

fn warnings(u: &[Unreadable]) -> Vec<String> {
    u.iter().map(|u| format!("warning: {u}")).collect()
}

pub(super) async fn history(args: HistoryArgs, env: &super::Env) -> Result<i32, ExitError> {
    if args.targets.targets.is_none() {
        history_of(&args.cluster.settings(&super::lookup(env)), &args.release)
            .await?
            .print(args.output)?;
        return Ok(exit::SUCCESS);
    }
    targets_query::run(
        &args.targets,
        args.output,
        Entry::Under("history"),
        async |t| {
            history_of(
                &t.cluster_args(&args.cluster).settings(&super::lookup(env)),
                &t.release_ref(&args.release),
            )
            .await
        },
    )
    .await
}

/// One release's history on one cluster.
async fn history_of(cluster: &ClusterSettings, release: &ReleaseRef) -> Result<Found, ExitError> {
    let (client, _) = connect(cluster).await?;
    let release = release.release(client.default_namespace())?;
    let history = Store::new(&client, &release)
        .history()
        .await
        .map_err(store_error)?;
    if history.revisions.is_empty() && history.unreadable.is_empty() {
        return Err(ExitError::new(
            exit::BAD_INPUT,
            anyhow::anyhow!(
                "release {} has no revisions in namespace {}; `kpush list -A` shows the releases \
                 in the cluster",
                release.name,
                release.namespace
            ),
        ));
    }
    #[derive(Serialize)]
    struct Doc<'a> {
        release: &'a str,
        namespace: &'a str,
        revisions: Vec<RevisionView<'a>>,
        skipped: Vec<SkippedView<'a>>,
    }
    let doc = Doc {
        release: &release.name,
        namespace: &release.namespace,
        revisions: history
            .revisions
            .iter()
            .map(|r| RevisionView::new(r, false))
            .collect(),
        skipped: skipped(&history.unreadable),
    };
    let json = serde_json::to_value(&doc).unwrap_or_default();
    let rows: Vec<Vec<String>> = history
        .revisions
        .iter()
        .map(|r| {
            vec![
                r.revision.to_string(),
                r.status.word().to_string(),
                r.started_at.clone(),
                r.finished_at.clone().unwrap_or_else(|| "-".into()),
                images(r),
                short_commit(r),
                by(r),
                r.message.clone().unwrap_or_default(),
            ]
        })
        .collect();
    let table = table(
        &[
            "REVISION", "STATUS", "STARTED", "FINISHED", "IMAGES", "COMMIT", "BY", "MESSAGE",
        ],
        &rows,
    );
    Ok(Found {
        json,
        table,
        notes: warnings(&history.unreadable),
    })
}

pub(super) async fn list(args: ListArgs, env: &super::Env) -> Result<i32, ExitError> {
    if args.targets.targets.is_none() {
        list_of(
            &args.cluster.settings(&super::lookup(env)),
            args.namespace.as_deref(),
            args.all_namespaces,
        )
        .await?
        .print(args.output)?;
        return Ok(exit::SUCCESS);
    }
    targets_query::run(&args.targets, args.output, Entry::Merged, async |t| {
        let namespace = t.namespace.as_deref().or(args.namespace.as_deref());
        list_of(
            &t.cluster_args(&args.cluster).settings(&super::lookup(env)),
            namespace,
            args.all_namespaces,
        )
        .await
    })
    .await
}

/// The releases in `namespace` (default: the context's; `all`: every namespace) of one cluster,
/// each with its newest revision.
async fn list_of(
    cluster: &ClusterSettings,
    namespace: Option<&str>,
    all: bool,
) -> Result<Found, ExitError> {
    let (client, server) = connect(cluster).await?;
    let namespace = match (namespace, all) {
        (_, true) => None,
        (Some(ns), false) => Some(ns.to_string()),
        (None, false) => Some(client.default_namespace().to_string()),
    };
    let (releases, unreadable) = store::releases(&client, namespace.as_deref())
        .await
        .map_err(|f| {
            ExitError::new(
                exit::CLUSTER_UNREACHABLE,
                anyhow::anyhow!("cannot list release records (Secrets) at {server}: {f}"),
            )
        })?;
    #[derive(Serialize)]
    struct Doc<'a> {
        releases: Vec<RevisionView<'a>>,
        skipped: Vec<SkippedView<'a>>,
    }
    let doc = Doc {
        releases: releases
            .iter()
            .map(|r| RevisionView::new(r, true))
            .collect(),
        skipped: skipped(&unreadable),
    };
    let json = serde_json::to_value(&doc).unwrap_or_default();
    let mut notes = warnings(&unreadable);
    if releases.is_empty() {
        notes.push(format!(
            "no releases in {}",
            namespace
                .map(|n| format!("namespace {n}"))
                .unwrap_or_else(|| "any namespace".into())
        ));
        return Ok(Found {
            json,
            table: String::new(),
            notes,
        });
    }
    let rows: Vec<Vec<String>> = releases
        .iter()
        .map(|r| {
            vec![
                r.namespace.clone(),
                r.release.clone(),
                r.revision.to_string(),
                r.status.word().to_string(),
                images(r),
                short_commit(r),
                r.finished_at
                    .clone()
                    .unwrap_or_else(|| r.started_at.clone()),
            ]
        })
        .collect();
    let table = table(
        &[
            "NAMESPACE",
            "RELEASE",
            "REVISION",
            "STATUS",
            "IMAGES",
            "COMMIT",
            "UPDATED",
        ],
        &rows,
    );
    Ok(Found { json, table, notes })
}

/// Connects to `cluster` (its client and address).
async fn connect(cluster: &ClusterSettings) -> Result<(kube::Client, String), ExitError> {
    crate::deploy::render::connect(cluster)
        .await
        .map_err(ExitError::from)
}

/// A failed request about release records, with its exit code.
fn store_error(e: crate::release::StoreError) -> ExitError {
    ExitError::from(crate::deploy::DeployError::from(e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_align_columns_and_trim_the_last() {
        let t = table(
            &["A", "BB"],
            &[vec!["xyz".into(), "1".into()], vec!["q".into(), "".into()]],
        );
        assert_eq!(t, "A    BB\nxyz  1\nq\n");
    }
}
