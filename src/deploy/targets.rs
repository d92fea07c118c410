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

/// Runs `each` on every target (read from `file`), reporting each target's start, events and
/// end to `reporter`; a sequential run (`parallel` 1) stops after the first target whose
/// outcome `stops`. `on_error` sees each target's error first (CI annotations of manifest
/// problems). Returns the worst target's outcome.
pub async fn run<F>(
    file: &Path,
    targets: &[Target],
    parallel: u16,
    reporter: &dyn Sink,
    on_error: &dyn Fn(&DeployError),
    stops: fn(Outcome) -> bool,
    each: F,
) -> Outcome
where
    F: AsyncFn(&Target, &dyn Sink) -> DeployResult,
{
    let alone = parallel <= 1;
    let one = async |t: &Target| -> TargetResult {
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
        // Boxed: a deploy's future is large, and several may be alive at once.
        let (outcome, message) = match Box::pin(each(t, &sink)).await {
            Ok(verdict) => (verdict.outcome(), None),
            Err(e) => {
                // A manifest error becomes an annotation on its file and line in CI.
                on_error(&e);
                (e.outcome, Some(t.error_message(&e, file)))
            }
        };
        let result = TargetResult {
            name: t.name.clone(),
            state: outcome.target_state(),
            outcome,
            message,
            elapsed: started.elapsed(),
        };
        reporter.event(&Event::TargetFinished {
            result: result.clone(),
        });
        result
    };
    let mut outcomes = Vec::new();
    if parallel <= 1 {
        let mut failed: Option<&str> = None;
        for t in targets {
            if let Some(earlier) = failed {
                reporter.event(&Event::TargetFinished {
                    result: TargetResult {
                        name: t.name.clone(),
                        state: TargetState::NotStarted,
                        outcome: Outcome::Success,
                        message: Some(format!("an earlier target ({earlier}) failed")),
                        elapsed: Default::default(),
                    },
                });
                continue;
            }
            let r = one(t).await;
            outcomes.push(r.outcome);
            if stops(r.outcome) {
                failed = Some(&t.name);
            }
        }
    } else {
        let results: Vec<TargetResult> = futures::stream::iter(targets)
            .map(&one)
            .buffered(usize::from(parallel))
            .collect()
            .await;
        outcomes.extend(results.iter().map(|r| r.outcome));
    }
    outcomes.into_iter().max().unwrap_or(Outcome::Success)
}
