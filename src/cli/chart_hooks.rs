//! Running a chart's Helm hooks around `kpush apply`'s own apply and tracking.

use kube::Client;

use super::apply_cmd::{apply_exit_code, unreachable_advice};
use super::interrupt::interrupted;
use crate::apply::hooks::{self as run, HookStop};
use crate::apply::{ApplyError, ApplyOptions, Interrupt};
use crate::exit::{self, ExitError};
use crate::plan::Plan;
use crate::plan::hooks::{self, HookGroup};
use crate::report::Reporter;
use crate::track::{ObjectState, TrackOptions};

/// What running hooks needs from `kpush apply`.
pub(super) struct Hooks<'a> {
    pub client: &'a Client,
    pub apply: &'a ApplyOptions,
    pub track: TrackOptions,
    pub reporter: &'a dyn Reporter,
    pub track_reporter: &'a dyn Reporter,
    pub interrupt: &'a Interrupt,
}

impl Hooks<'_> {
    /// Splits off the plan's hooks, runs the pre-install (or pre-upgrade) ones, and returns the
    /// release's plan and the hooks to run once it is ready.
    pub async fn run_pre(&self, plan: Plan) -> Result<(Plan, Vec<HookGroup>), ExitError> {
        if !hooks::has_hooks(&plan) {
            return Ok((plan, Vec::new()));
        }
        let release = run::release_state(self.client, &plan)
            .await
            .map_err(|e| ExitError::new(exit::APPLY_REJECTED, e))?;
        let phases = hooks::split(plan, release);
        run::report_not_run(&phases, release, self.reporter);
        self.run(phases.pre, "pre").await?;
        Ok((phases.main, phases.post))
    }

    /// Runs the post-install (or post-upgrade) hooks.
    pub async fn run_post(&self, groups: Vec<HookGroup>) -> Result<(), ExitError> {
        self.run(groups, "post").await
    }

    async fn run(&self, groups: Vec<HookGroup>, when: &str) -> Result<(), ExitError> {
        if groups.is_empty() {
            return Ok(());
        }
        let stop = run::run_groups(
            self.client,
            groups,
            self.apply,
            &self.track,
            self.track_reporter,
            self.interrupt,
            interrupted,
        )
        .await;
        let after = if when == "pre" {
            "; the release's objects were not applied"
        } else {
            "; the release's objects are applied and ready, the later hooks did not run"
        };
        match stop {
            Ok(()) => Ok(()),
            Err(HookStop::Apply(failure)) => {
                let code = apply_exit_code(&failure.error);
                let message = match &failure.error {
                    ApplyError::Unreachable(m) => unreachable_advice(m, "the cluster"),
                    other => other.to_string(),
                };
                Err(ExitError::new(
                    code,
                    anyhow::anyhow!("a {when}-deploy hook could not be applied: {message}{after}"),
                ))
            }
            Err(HookStop::Failed(tracked)) => {
                let failed: Vec<String> = tracked
                    .objects
                    .iter()
                    .filter(|o| o.state != ObjectState::Ready && o.state != ObjectState::Skipped)
                    .map(|o| {
                        let at = o
                            .object
                            .file
                            .as_ref()
                            .map(|f| format!(" ({f}:{})", o.object.line.unwrap_or(0)))
                            .unwrap_or_default();
                        format!("{} {}{at}", o.object.kind, o.object.name)
                    })
                    .collect();
                Err(ExitError::new(
                    tracked.exit_code(),
                    anyhow::anyhow!(
                        "{when}-deploy hook {} did not succeed{after}",
                        failed.join(", ")
                    ),
                ))
            }
            Err(HookStop::Delete(message)) => Err(ExitError::new(
                exit::APPLY_REJECTED,
                anyhow::anyhow!(message),
            )),
        }
    }
}
