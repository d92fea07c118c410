//! Errors with advice: what happened, to which object, and what to do next.

use crate::apply::ApplyOutcome;
use crate::plan::PlanError;

use super::error::{self, DeployError};

/// The error of a failed plan: its outcome and [`explain`]'s message, followed by
/// `then` when given ("nothing was applied").
pub fn plan_failed(e: &PlanError, server: &str, then: Option<&str>) -> DeployError {
    let message = explain(e, server);
    let message = match then {
        Some(then) => format!("{message}; {then}"),
        None => message,
    };
    DeployError::new(error::of_plan_error(e), anyhow::anyhow!(message))
}

/// The error with advice for unreachable and unauthenticated servers.
pub fn explain(e: &PlanError, server: &str) -> String {
    match e {
        PlanError::Unreachable(m) => unreachable_advice(m, server),
        PlanError::Unauthorized(m) => format!(
            "the API server at {server} did not accept the credentials: {m}; with a kubeconfig, \
             check its user (token expired? exec plugin logged in?) and --context; with \
             --aks-cluster, check that the cluster uses Microsoft Entra ID integration and that \
             the identity's tenant (--tenant-id) is the cluster's"
        ),
        other => other.to_string(),
    }
}

pub fn unreachable_advice(m: &str, server: &str) -> String {
    format!(
        "cannot reach the API server at {server}: {m}; check that the cluster is running, the \
         kubeconfig's server address and --context, and your network (VPN, firewall, private cluster)"
    )
}

/// A failed check after the first wave, followed by what that wave applied ("applied before
/// this check: CustomResourceDefinition gadgets.example.com (configured); nothing else was
/// applied").
pub fn applied_before(message: String, outcome: &ApplyOutcome) -> String {
    use crate::event::Action;
    let changed: Vec<String> = outcome
        .objects
        .iter()
        .filter(|o| {
            matches!(
                o.action,
                Action::Created | Action::Configured | Action::Recreated | Action::Unknown
            )
        })
        .map(|o| format!("{} ({})", o.object.key, o.action.word()))
        .collect();
    const SHOWN: usize = 10;
    let more = match changed.len() > SHOWN {
        true => format!(" and {} more", changed.len() - SHOWN),
        false => String::new(),
    };
    match changed.is_empty() {
        true => format!("{message}; nothing was changed"),
        false => format!(
            "{message}; applied before this check: {}{more}; nothing else was applied",
            changed[..changed.len().min(SHOWN)].join(", ")
        ),
    }
}
