//! `--targets FILE` for the read-only commands that print tables (`history`, `list`): every
//! target is asked, one after another or `--parallel N` at once, whatever the others answered.
//!
//! Output stays in the file's order: each target's table after a `# target NAME` line, its
//! warnings on standard error after `[NAME] `, a failed target as `target NAME: error (exit
//! code N): …`; with `-o json` one document `{"targets": [{"name", "cluster", "exitCode", …}]}`.
//! The exit code is the worst target's.

use std::io::Write;

use futures::StreamExt;

use super::args::TableOutput;
use super::args::TargetsArgs;
use crate::deploy::targets_file::{self, Target};
use crate::exit::{self, ExitError};
use crate::report::ci::untrusted;

/// What a read-only command found on one cluster.
pub(super) struct Found {
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
    pub fn print(&self, output: TableOutput) -> Result<(), ExitError> {
        for n in &self.notes {
            eprintln!("{}", untrusted::neutralise(n));
        }
        match output {
            TableOutput::Json => print(&json_text(&self.json)),
            TableOutput::Table => print(&self.table),
        }
    }
}

/// Where a target's JSON document goes in its entry of the `targets` list.
#[derive(Clone, Copy)]
pub(super) enum Entry {
    /// Under this key (`"history": {…}`).
    Under(&'static str),
    /// Its fields beside `name`, `cluster` and `exitCode` (`"releases": […], "skipped": […]`).
    Merged,
}

/// Runs `query` on every target of `opts.targets` (`opts.parallel` at once) and prints the
/// results in the file's order; returns the worst target's exit code (2 for a bad file).
pub(super) async fn run<F>(
    opts: &TargetsArgs,
    output: TableOutput,
    entry: Entry,
    query: F,
) -> Result<i32, ExitError>
where
    F: AsyncFn(&Target) -> Result<Found, ExitError>,
{
    let Some(file) = &opts.targets else {
        return Ok(exit::SUCCESS);
    };
    let targets = targets_file::read(file)
        .map_err(|e| ExitError::new(exit::BAD_INPUT, anyhow::anyhow!(e)))?;
    let mut answers = futures::stream::iter(&targets)
        .map(async |t| (t, Box::pin(query(t)).await))
        .buffered(usize::from(opts.parallel.max(1)));
    let mut docs = Vec::new();
    let mut codes = Vec::new();
    while let Some((t, answer)) = answers.next().await {
        let mut doc = serde_json::json!({"name": t.name, "cluster": t.cluster.to_string()});
        match answer {
            Ok(found) => {
                codes.push(exit::SUCCESS);
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
                    eprintln!("{}", untrusted::neutralise(&format!("[{}] {n}", t.name)));
                }
                if output == TableOutput::Table {
                    print(&format!("# target {}\n{}", t.name, found.table))?;
                }
            }
            Err(e) => {
                codes.push(e.code);
                let outcome = match e.code {
                    exit::BAD_INPUT => crate::event::Outcome::InvalidInput,
                    exit::CLUSTER_UNREACHABLE => crate::event::Outcome::Unreachable,
                    _ => crate::event::Outcome::Internal,
                };
                let message = t.message_of(&e.to_string(), outcome, file);
                doc["exitCode"] = e.code.into();
                doc["error"] = message.clone().into();
                let line = format!("target {}: error (exit code {}): {message}", t.name, e.code);
                // The message may quote the API server.
                eprintln!("{}", untrusted::neutralise(&line));
            }
        }
        docs.push(doc);
    }
    if output == TableOutput::Json {
        print(&json_text(&serde_json::json!({ "targets": docs })))?;
    }
    Ok(exit::worst(codes))
}

fn json_text(doc: &serde_json::Value) -> String {
    serde_json::to_string_pretty(doc).unwrap_or_default() + "\n"
}

/// Writes `text` to standard output.
fn print(text: &str) -> Result<(), ExitError> {
    let mut out = std::io::stdout().lock();
    out.write_all(text.as_bytes())
        .and_then(|_| out.flush())
        .map_err(|e| ExitError::new(exit::INTERNAL, e))
}
