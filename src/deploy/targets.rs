//! Many clusters in one run (`--targets FILE`): one command run against each target, one
//! after another (stopping at the first failure) or `parallel` at once, each target's events
//! scoped to its name for the one sink. Each target runs the same single-cluster path a plain
//! run takes.

use std::path::Path;
use std::time::Instant;

use futures::StreamExt;

use super::error::{DeployError, DeployResult};
use super::targets_file::Target;
use crate::event::{Event, Outcome, ScopedSink, Sink, TargetResult, TargetState};

impl Target {
    /// `e`'s message; for invalid input or an unreachable cluster (flags said once for every
    /// target) followed by where this target's own settings are in `file`.
    pub fn error_message(&self, e: &DeployError, file: &Path) -> String {
        self.message_of(&e.to_string(), e.outcome, file)
    }

    /// `message` of an error that ended as `outcome`, located as [`Target::error_message`] does.
    pub fn message_of(&self, message: &str, outcome: Outcome, file: &Path) -> String {
        let mut message = message.to_string();
        if matches!(outcome, Outcome::InvalidInput | Outcome::Unreachable) {
            message.push_str(&format!(
                "\n(target {} is defined at {}:{})",
                self.name,
                file.display(),
                self.line
            ));
        }
        message
    }
}

/// Runs `f` on every target: one after another when `parallel` is 1, stopping after the
/// first whose result `stops` (the later ones are `None`: not started), or `parallel` at once
/// (every target runs). Results come back in the targets' order. The one runner behind every
/// multi-target command: deploys ([`run`]) and the read-only queries (`history`, `list`).
pub async fn each<T, F>(
    targets: &[Target],
    parallel: u16,
    stops: &dyn Fn(&Result<T, DeployError>) -> bool,
    f: F,
) -> Vec<Option<Result<T, DeployError>>>
where
    F: AsyncFn(&Target) -> Result<T, DeployError>,
{
    if parallel <= 1 {
        let mut out = Vec::with_capacity(targets.len());
        let mut stopped = false;
        for t in targets {
            if stopped {
                out.push(None);
                continue;
            }
            // Boxed: a deploy's future is large.
            let r = Box::pin(f(t)).await;
            stopped = stops(&r);
            out.push(Some(r));
        }
        return out;
    }
    futures::stream::iter(targets)
        .map(async |t| Some(Box::pin(f(t)).await))
        .buffered(usize::from(parallel))
        .collect()
        .await
}

/// Runs `f` on every target (read from `file`) through [`each`], reporting each target's
/// start, events and end to `reporter`; a sequential run stops after the first target whose
/// outcome `stops`. `on_error` sees each target's error first (CI annotations of manifest
/// problems). Returns the worst target's outcome.
pub async fn run<F>(
    file: &Path,
    targets: &[Target],
    parallel: u16,
    reporter: &dyn Sink,
    on_error: &dyn Fn(&DeployError),
    stops: fn(Outcome) -> bool,
    f: F,
) -> Outcome
where
    F: AsyncFn(&Target, &dyn Sink) -> DeployResult,
{
    let alone = parallel <= 1;
    let one = async |t: &Target| -> Result<Outcome, DeployError> {
        reporter.event(&Event::TargetStarted {
            name: t.name.clone(),
            cluster: t.cluster.to_string(),
            alone,
        });
        let started = Instant::now();
        let sink = ScopedSink {
            target: t.name.clone(),
            inner: reporter,
        };
        let result = f(t, &sink).await;
        let (outcome, message) = match &result {
            Ok(verdict) => (verdict.outcome(), None),
            Err(e) => {
                // A manifest error becomes an annotation on its file and line in CI.
                on_error(e);
                (e.outcome, Some(t.error_message(e, file)))
            }
        };
        reporter.event(&Event::TargetFinished {
            result: TargetResult {
                name: t.name.clone(),
                state: outcome.target_state(),
                outcome,
                message,
                elapsed: started.elapsed(),
            },
        });
        result.map(|v| v.outcome())
    };
    let outcome_of = |r: &Result<Outcome, DeployError>| match r {
        Ok(o) => *o,
        Err(e) => e.outcome,
    };
    let results = each(targets, parallel, &|r| stops(outcome_of(r)), one).await;
    let mut failed: Option<&str> = None;
    let mut worst = Outcome::Success;
    for (t, r) in targets.iter().zip(&results) {
        match r {
            Some(r) => {
                let o = outcome_of(r);
                worst = worst.max(o);
                if stops(o) && failed.is_none() {
                    failed = Some(&t.name);
                }
            }
            None => reporter.event(&Event::TargetFinished {
                result: TargetResult {
                    name: t.name.clone(),
                    state: TargetState::NotStarted,
                    outcome: Outcome::Success,
                    message: Some(format!(
                        "an earlier target ({}) failed",
                        failed.unwrap_or("?")
                    )),
                    elapsed: Default::default(),
                },
            }),
        }
    }
    worst
}
