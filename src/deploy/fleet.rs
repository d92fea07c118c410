//! `kpush apply` through a Fleet hub: wrap the manifests in a placement, apply them to the hub
//! without tracking workloads there (the hub runs none), then follow the placement's rollout on
//! the member clusters.

use super::engine::Deployer;
use super::error::{DeployError, Verdict};
use crate::event::Outcome;
use crate::event::{Action, Permission};
use crate::fleet::{self, Expect, FleetTrackOptions, Placement};
use crate::manifest::Manifest;

/// A fleet deploy as settled before anything is checked or applied.
pub struct FleetDeploy {
    /// The placement the manifests go through (now among them).
    pub placement: Placement,
    /// What the deploy asks the hub for beside applying the manifests (`fleet::access`).
    pub permissions: Vec<Permission>,
}

/// Wraps `manifests` in their placement (generating it from `--placement`) and derives the
/// hub permissions of following it (`follow`: `--wait`); refuses (invalid input) what a fleet deploy
/// cannot do: a `--release` (`release`), or following an External placement without
/// `--update-strategy`.
pub fn prepare(
    manifests: &mut Vec<Manifest>,
    args: &super::FleetSettings,
    namespace: &str,
    follow: bool,
    release: bool,
) -> Result<FleetDeploy, DeployError> {
    let bad = |e: String| DeployError::new(Outcome::InvalidInput, anyhow::anyhow!(e));
    if release {
        return Err(bad(
            "--release cannot be combined with a fleet deploy (--fleet, --fleet-hub, --placement) yet: releases record and roll back one cluster's objects\n  fix: deploy through the fleet without --release (the placement's resource snapshots keep its history)".into(),
        ));
    }
    let name = placement_name(manifests, namespace);
    let placement = fleet::wrap(manifests, args.placement.as_ref(), &name, namespace)
        .map_err(|e| bad(e.to_string()))?;
    if placement.external && args.update_strategy.is_none() && follow {
        return Err(bad(format!(
            "the ClusterResourcePlacement {} ({}) rolls out with the External strategy, through staged update runs, and no strategy was named; nothing was applied\n  fix: pass --update-strategy NAME (a ClusterStagedUpdateStrategy on the hub), or --wait=false to leave starting the run to someone else",
            placement.name, placement.origin
        )));
    }
    let permissions = fleet::access::needs(&placement, follow, args.update_strategy.as_deref());
    Ok(FleetDeploy {
        placement,
        permissions,
    })
}

/// Applies `manifests` (wrapped by [`prepare`]) and follows `placement`. `deploy.wait` must be
/// `None` (hub objects are not tracked); `wait` bounds following the placement (`None` with
/// `--wait=false`).
pub async fn deploy(
    deploy: &Deployer<'_>,
    manifests: Vec<Manifest>,
    placement: &Placement,
    args: &super::FleetSettings,
    wait: Option<FleetTrackOptions>,
) -> Result<Verdict, DeployError> {
    // What the placement stood at before is only needed to follow it (and its reads are
    // among the followed deploy's permissions only).
    let before = match wait {
        Some(_) => Some(fleet::before_deploy(deploy.client, placement).await),
        None => None,
    };
    let deployed = deploy.deploy(manifests).await;
    let code = deployed.result?;
    let (Some(opts), Some(before)) = (wait, before) else {
        return Ok(code);
    };
    if code != Verdict::Success {
        return Ok(code);
    }
    let expect = deployed
        .outcome
        .as_ref()
        .map(|o| expectation(o, placement, before))
        .unwrap_or(Expect::Current);
    let outcome = fleet::follow(
        deploy.client,
        placement,
        &expect,
        args.update_strategy.as_deref(),
        &opts,
        deploy.reporter,
        deploy.interrupt.cancelled(),
    )
    .await;
    Ok(Verdict::of_run_state(outcome.state))
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
