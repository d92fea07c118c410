//! The tables and JSON documents of `kpush history` and `kpush list`: what is deployed, from
//! which commit, by which run. Manifests are never printed (they may hold Secrets).
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
//! With `--targets FILE` ([`print_targets`]) the output stays in the file's order: each
//! target's table after a `# target NAME` line, its warnings on standard error after `[NAME] `,
//! a failed target as `target NAME: error (exit code N): …`; with `-o json` one document
//! `{"targets": [{"name", "cluster", "exitCode", …}]}`: for `history`, `"history": <the
//! document above>`; for `list`, the document's `releases` and `skipped` beside them;
//! `"error": "…"` for a target that failed.

use std::io::Write;

use serde::Serialize;

use crate::event::Outcome;
use crate::exit;
use crate::release::{History, ObjectRecord, Release, Revision, Unreadable};

use super::ci::untrusted;

/// `table` or `json`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// A table.
    Table,
    /// One JSON document.
    Json,
}

/// What a read-only command found on one cluster.
pub struct Found {
    /// The command's `-o json` document.
    pub json: serde_json::Value,
    /// The command's table (may be empty).
    pub table: String,
    /// Lines for standard error (warnings, "no releases in …").
    pub notes: Vec<String>,
}

impl Found {
    /// Prints a single-cluster run's result: notes on standard error, then the table or the
    /// JSON document on standard output.
    pub fn print(&self, output: Format) -> std::io::Result<()> {
        for n in &self.notes {
            eprintln!("{}", untrusted::neutralise(n));
        }
        match output {
            Format::Json => print(&json_text(&self.json)),
            Format::Table => print(&self.table),
        }
    }
}

/// Where a target's JSON document goes in its entry of the `targets` list.
#[derive(Clone, Copy)]
pub enum Entry {
    /// Under this key (`"history": {…}`).
    Under(&'static str),
    /// Its fields beside `name`, `cluster` and `exitCode` (`"releases": […], "skipped": […]`).
    Merged,
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

/// The history of `release`.
pub fn history(release: &Release, history: &History) -> Found {
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
    Found {
        json,
        table,
        notes: warnings(&history.unreadable),
    }
}

/// The releases of `namespace` (`None`: every namespace), each with its newest revision.
pub fn list(namespace: Option<&str>, releases: &[Revision], unreadable: &[Unreadable]) -> Found {
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
        skipped: skipped(unreadable),
    };
    let json = serde_json::to_value(&doc).unwrap_or_default();
    let mut notes = warnings(unreadable);
    if releases.is_empty() {
        notes.push(format!(
            "no releases in {}",
            namespace
                .map(|n| format!("namespace {n}"))
                .unwrap_or_else(|| "any namespace".into())
        ));
        return Found {
            json,
            table: String::new(),
            notes,
        };
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
    Found { json, table, notes }
}

/// One target's answer: what it found, or its error message and outcome.
pub struct TargetAnswer<'a> {
    /// The target's name.
    pub name: &'a str,
    /// Its cluster, as the targets file names it.
    pub cluster: String,
    /// What it found, or why not.
    pub answer: Result<Found, (String, Outcome)>,
}

/// Prints every target's answer in order (see the module's documentation).
pub fn print_targets(
    answers: Vec<TargetAnswer<'_>>,
    output: Format,
    entry: Entry,
) -> std::io::Result<()> {
    let mut docs = Vec::new();
    for TargetAnswer {
        name,
        cluster,
        answer,
    } in answers
    {
        let mut doc = serde_json::json!({"name": name, "cluster": cluster});
        match answer {
            Ok(found) => {
                doc["exitCode"] = exit::SUCCESS.into();
                match (entry, found.json) {
                    (Entry::Under(key), json) => doc[key] = json,
                    (Entry::Merged, serde_json::Value::Object(fields)) => {
                        for (k, v) in fields {
                            doc[k.as_str()] = v;
                        }
                    }
                    (Entry::Merged, other) => doc["result"] = other,
                }
                for n in &found.notes {
                    eprintln!("{}", untrusted::neutralise(&format!("[{name}] {n}")));
                }
                if output == Format::Table {
                    print(&format!("# target {name}\n{}", found.table))?;
                }
            }
            Err((message, outcome)) => {
                let code = exit::of_outcome(outcome);
                doc["exitCode"] = code.into();
                doc["error"] = message.clone().into();
                let line = format!("target {name}: error (exit code {code}): {message}");
                // The message may quote the API server.
                eprintln!("{}", untrusted::neutralise(&line));
            }
        }
        docs.push(doc);
    }
    if output == Format::Json {
        print(&json_text(&serde_json::json!({ "targets": docs })))?;
    }
    Ok(())
}

fn json_text(doc: &serde_json::Value) -> String {
    serde_json::to_string_pretty(doc).unwrap_or_default() + "\n"
}

/// Writes `text` to standard output.
fn print(text: &str) -> std::io::Result<()> {
    let mut out = std::io::stdout().lock();
    out.write_all(text.as_bytes()).and_then(|_| out.flush())
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
