//! The prune guard's check before anything changes: what a prune would delete, and whether the
//! guard allows it.

use crate::apply::{self, ApplyError};
use crate::plan;

use super::error::{self, DeployError};

/// How many of `manifests` the render produced: not the objects flags add, whose origin is
/// the flag (the Namespace of `--create-namespace`, a fleet's generated `--placement`).
pub fn rendered(manifests: &[crate::Manifest]) -> usize {
    manifests
        .iter()
        .filter(|m| !m.origin.file.starts_with("--"))
        .count()
}

/// Lists what a prune after `plan` would delete and checks it against `guard`; returns what
/// it read, the candidates among it (`None` without an ApplySet). Nothing is changed.
pub async fn check_prune(
    client: &kube::Client,
    plan: &plan::Plan,
    rendered: usize,
    guard: &apply::PruneGuard,
    prune_definitions: bool,
) -> Result<Option<apply::prune::Preview>, DeployError> {
    let preview = apply::prune::preview(client, plan, prune_definitions)
        .await
        .map_err(|e| {
            let error = match e {
                apply::prune::PruneError::NotOurs(m) => ApplyError::ApplySet(m),
                apply::prune::PruneError::Request(f) => match f {
                    crate::cluster::Failure::Unreachable(m)
                    | crate::cluster::Failure::InFlight(m) => ApplyError::Unreachable(m),
                    crate::cluster::Failure::Unauthorized(m) => ApplyError::Unauthorized(m),
                    f @ crate::cluster::Failure::Transient { .. } => {
                        ApplyError::Unreachable(f.message())
                    }
                    other => ApplyError::ApplySet(format!(
                        "cannot list the release's members to check the prune: {}",
                        other.message()
                    )),
                },
            };
            DeployError::new(
                error::of_apply_error(&error),
                anyhow::anyhow!("{error}; nothing was applied"),
            )
        })?;
    let (Some(preview), Some(set)) = (preview, plan.options.applyset.as_ref()) else {
        return Ok(None);
    };
    let members = &preview.members;
    guard
        .check(&set.name, rendered, members.count, &members.candidates)
        .map_err(|r| DeployError::new(error::of_prune_refusal(&r), r))?;
    Ok(Some(preview))
}
