//! `kpush apply` taking over objects other tools applied, before applying them.

use kube::Client;

use super::apply_cmd::explain;
use crate::apply::adopt;
use crate::event::{Event, Sink};
use crate::exit::{self, ExitError};
use crate::plan::Plan;

/// Moves other deploy tools' field ownership to kpush on the plan's live objects (unless
/// `adopt` is false: `--no-adopt`), then runs the preflight (`preflight`) the plan was made
/// without, so the dry-runs and the no-op check see the new owners.
pub(super) async fn take_over(
    client: &Client,
    mut plan: Plan,
    preflight: bool,
    adopt: bool,
    server: &str,
    sink: &dyn Sink,
) -> Result<Plan, ExitError> {
    let retry = plan.options.retry;
    let adopted = match adopt {
        true => adopt::adopt(client, &plan, retry, &now()).await,
        false => Ok(adopt::Adopted::default()),
    }
    .map_err(|m| {
        ExitError::new(
            exit::APPLY_REJECTED,
            anyhow::anyhow!("{m}; nothing was applied"),
        )
    })?;
    if adopted.objects > 0 {
        sink.event(&Event::Info {
            message: format!(
                "took over {} object(s) from kubectl or Helm (their field managers now belong to {})",
                adopted.objects, plan.options.field_manager
            ),
        });
    }
    for release in &adopted.helm_releases {
        let (ns, name) = release.split_once('/').unwrap_or(("default", release));
        sink.event(&Event::Warning {
            object: None,
            message: format!(
                "objects of Helm release {name} (namespace {ns}) are now deployed by kpush: \
                     `helm list` and `helm history` will no longer be current; Helm's release \
                     Secrets (sh.helm.release.v1.{name}.*) are left as they were"
            ),
        });
    }
    if adopted.objects == 0 && !preflight {
        return Ok(plan);
    }
    plan.options.preflight = preflight;
    plan.check_again(client, sink).await.map_err(|e| {
        ExitError::new(
            exit::of_plan_error(&e),
            anyhow::anyhow!("{}; nothing was applied", explain(&e, server)),
        )
    })?;
    Ok(plan)
}

/// The current time as Kubernetes writes it (RFC 3339, seconds, UTC).
fn now() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    crate::auth::tokens::rfc3339(secs)
}
