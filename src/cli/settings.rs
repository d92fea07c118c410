//! Parsed flags and the environment become deploy settings here, once per run (and once per
//! target of a `--targets` run, on top of the command line's).

use super::Env;
use super::args::manifests::ManifestArgs;
use super::args::plan::PlanArgs;
use crate::deploy::{DeployError, DeploySettings, PlanSettings, ReleaseSettings};

/// How objects are sent, from the plan flags.
pub fn plan(plan: &PlanArgs) -> PlanSettings {
    PlanSettings {
        field_manager: plan.field_manager.field_manager.clone(),
        force_conflicts: plan.force_conflicts,
        adopt: !plan.no_adopt,
        concurrency: usize::from(plan.concurrency),
        take_over_from_releases: plan.take_over_from_releases,
    }
}

/// The settings `apply` and `diff` share: what to render and how objects are sent, the
/// release (`release` turns its name into its settings) and prune. Invalid input for flags
/// that do not convert.
pub fn deploy(
    manifests: &ManifestArgs,
    plan_args: &PlanArgs,
    release: impl Fn(&str) -> ReleaseSettings,
    env: &Env,
) -> Result<DeploySettings, DeployError> {
    let prune = plan_args.prune().map_err(DeployError::invalid)?;
    let render = manifests.to_options(env).map_err(DeployError::invalid)?;
    Ok(DeploySettings {
        render,
        plan: plan(plan_args),
        release: plan_args.release_name().map(release),
        prune,
        prune_namespaces_and_crds: plan_args.prune_namespaces_and_crds,
        prune_guard: plan_args.guard.guard(),
        create_namespace: plan_args.create_namespace,
        ..DeploySettings::new(Vec::new())
    })
}
