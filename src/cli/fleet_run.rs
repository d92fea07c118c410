//! `kpush apply` through a Fleet hub: wrap the manifests in a placement, apply them to the hub
//! without tracking workloads there (the hub runs none), then follow the placement's rollout on
//! the member clusters.

use super::apply_cmd::Deploy;
use super::fleet_args::FleetArgs;
use super::interrupt::interrupted;
use crate::event::Action;
use crate::exit::{self, ExitError};
use crate::fleet::{self, Expect, FleetTrackOptions, Placement};
use crate::manifest::Manifest;

/// Wraps, applies and follows. `deploy.wait` must be `None` (hub objects are not tracked);
/// `wait` bounds following the placement (`None` with `--wait=false`).
pub(super) async fn deploy(
    deploy: &Deploy<'_>,
    mut manifests: Vec<Manifest>,
    args: &FleetArgs,
    namespace: &str,
    wait: Option<FleetTrackOptions>,
) -> Result<i32, ExitError> {
    let name = placement_name(&manifests, namespace);
    let placement = fleet::wrap(&mut manifests, args.placement.as_ref(), &name, namespace)
        .map_err(|e| ExitError::new(exit::BAD_INPUT, anyhow::anyhow!(e)))?;
    if placement.external && args.update_strategy.is_none() && wait.is_some() {
        return Err(ExitError::new(
            exit::BAD_INPUT,
            anyhow::anyhow!(
                "the ClusterResourcePlacement {} ({}) rolls out with the External strategy, through staged update runs, and no strategy was named; nothing was applied\n  fix: pass --update-strategy NAME (a ClusterStagedUpdateStrategy on the hub), or --wait=false to leave starting the run to someone else",
                placement.name,
                placement.origin
            ),
        ));
    }
    let before = fleet::before_deploy(deploy.client, &placement).await;
    let deployed = deploy.deploy(manifests).await;
    let code = deployed.result?;
    let Some(opts) = wait else {
        return Ok(code);
    };
    if code != exit::SUCCESS {
        return Ok(code);
    }
    let expect = deployed
        .outcome
        .as_ref()
        .map(|o| expectation(o, &placement, before))
        .unwrap_or(Expect::Current);
    let outcome = fleet::follow(
        deploy.client,
        &placement,
        &expect,
        args.update_strategy.as_deref(),
        &opts,
        deploy.reporter,
        interrupted(),
    )
    .await;
    Ok(exit::of_run_state(outcome.state))
}

/// The generated placement's name: the first namespace the manifests define or use, else the
/// default namespace.
fn placement_name(manifests: &[Manifest], namespace: &str) -> String {
    manifests
        .iter()
        .find(|m| m.group().is_empty() && m.kind() == "Namespace")
        .map(|m| m.name().to_string())
        .or_else(|| {
            manifests
                .iter()
                .find_map(|m| m.namespace().map(str::to_string))
        })
        .unwrap_or_else(|| namespace.to_string())
}

/// Which snapshot the members must roll out: a new one when an object the placement selected
/// before changed (or the placement is new, or changed along with other objects: its selection
/// may have grown), else the current one.
fn expectation(
    outcome: &crate::apply::ApplyOutcome,
    placement: &Placement,
    before: fleet::Before,
) -> Expect {
    let changed = |a: Action| matches!(a, Action::Created | Action::Configured | Action::Recreated);
    let is_placement = |o: &crate::apply::AppliedObject| {
        o.object.key.group == fleet::placement::GROUP
            && o.object.key.kind == fleet::placement::CRP_KIND
            && o.object.key.name == placement.name
    };
    let Some(selected) = before.selected else {
        return Expect::NewerThan(None);
    };
    let placement_changed = outcome
        .objects
        .iter()
        .any(|o| is_placement(o) && changed(o.action));
    let others: Vec<_> = outcome
        .objects
        .iter()
        .filter(|o| !is_placement(o) && changed(o.action))
        .collect();
    let selected_changed = others
        .iter()
        .any(|o| fleet::status::selects(&selected, &o.object.key));
    if selected_changed || (placement_changed && !others.is_empty()) {
        Expect::NewerThan(before.index)
    } else {
        Expect::Current
    }
}
