//! `kpush apply` taking over objects other tools applied, before applying them.

use kube::Client;

use super::apply_cmd::{explain, plan_exit_code};
use crate::apply::adopt;
use crate::exit::{self, ExitError};
use crate::plan::Plan;
use crate::render::{Problem, ProblemKind, Severity};
use crate::report::{Event, Reporter};

/// Moves other deploy tools' field ownership to kpush on the plan's live objects, then runs
/// the preflight (`preflight`) the plan was made without, so the dry-runs and the no-op check
/// see the new owners.
pub(super) async fn take_over(
    client: &Client,
    mut plan: Plan,
    preflight: bool,
    server: &str,
    reporter: &dyn Reporter,
) -> Result<Plan, ExitError> {
    let retry = plan.options.retry;
    let adopted = adopt::adopt(client, &plan, retry).await.map_err(|m| {
        ExitError::new(
            exit::APPLY_REJECTED,
            anyhow::anyhow!("{m}; nothing was applied"),
        )
    })?;
    if adopted.objects > 0 {
        reporter.event(&Event::Info {
            message: format!(
                "took over {} object(s) from kubectl or Helm (their field managers now belong to {})",
                adopted.objects, plan.options.field_manager
            ),
        });
    }
    for release in &adopted.helm_releases {
        let (ns, name) = release.split_once('/').unwrap_or(("default", release));
        reporter.event(&Event::Problem {
            problem: Problem::at(
                Severity::Warning,
                ProblemKind::Chart,
                "<cluster>",
                0,
                format!(
                    "objects of Helm release {name} (namespace {ns}) are now deployed by kpush: \
                     `helm list` and `helm history` will no longer be current; Helm's release \
                     Secrets (sh.helm.release.v1.{name}.*) are left as they were"
                ),
            ),
        });
    }
    if adopted.objects == 0 && !preflight {
        return Ok(plan);
    }
    plan.options.preflight = preflight;
    plan.check_again(client, reporter).await.map_err(|e| {
        ExitError::new(
            plan_exit_code(&e),
            anyhow::anyhow!("{}; nothing was applied", explain(&e, server)),
        )
    })?;
    Ok(plan)
}
