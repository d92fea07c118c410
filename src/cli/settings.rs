//! Parsed flags and the environment become deploy settings here — the one place — once per run
//! (and once per target of a `--targets` run, on top of the command line's).

use super::args::deployment::NotifyOn;
use super::args::{
    ApplyArgs, ClusterArgs, DeploymentArgs, FleetArgs, ManifestArgs, PlanArgs, TrackArgs,
};
use super::{Env, lookup};
use crate::deploy::{
    ClusterSettings, DeployError, DeploySettings, FleetSettings, PlanSettings, ReleaseSettings,
};
use crate::records::github::{GithubSettings, Setup, Token};
use crate::records::notify::{NotifySettings, Receiver, When};
use crate::track::TrackOptions;

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

/// Waiting for rollouts, from `--wait` (`wait`) and the tracking flags; the watch deadline fits
/// within `cluster`'s request timeout.
pub fn wait(wait: bool, track: &TrackArgs, cluster: &ClusterArgs) -> Option<TrackOptions> {
    wait.then(|| tracking(track, cluster))
}

/// The tracking options of the tracking flags, for `cluster`.
pub fn tracking(track: &TrackArgs, cluster: &ClusterArgs) -> TrackOptions {
    TrackOptions {
        watch_deadline: track.watch_deadline_within(cluster.request_timeout),
        ..track.to_options()
    }
}

/// Deploying through a Fleet hub: `--fleet` (an Azure flag of `cluster`), `--fleet-hub` or
/// `--placement`.
pub fn fleet(fleet: &FleetArgs, cluster: &ClusterArgs) -> Option<FleetSettings> {
    fleet
        .through_fleet(cluster.azure.fleet.as_deref())
        .then(|| FleetSettings {
            placement: fleet.placement.clone(),
            update_strategy: fleet.update_strategy.clone(),
        })
}

/// The settings of `kpush apply` with `cluster` and `manifests` (the command line's, or one
/// target's on top of them).
pub fn apply(
    args: &ApplyArgs,
    cluster: &ClusterArgs,
    manifests: &ManifestArgs,
    env: &Env,
) -> Result<(DeploySettings, ClusterSettings), DeployError> {
    let base = deploy(
        manifests,
        &args.plan,
        |name| args.release.settings(name, env),
        env,
    )?;
    let settings = DeploySettings {
        preflight: !args.no_preflight,
        access_check: !args.no_rbac_check,
        recreate_on_immutable: args.recreate_on_immutable,
        wait: wait(args.wait_flag.wait_for_rollout, &args.wait, cluster),
        timeout: args.wait.timeout,
        fleet: fleet(&args.fleet, cluster),
        ..base
    };
    Ok((settings, cluster.settings(&lookup(env))))
}

/// Whether `kpush apply` records a GitHub deployment, and where: with `--environment` in
/// GitHub Actions, unless `--no-github-deployment`. `release` is the release deployed. Asked
/// for (an environment named in GitHub Actions) without what it needs: one warning saying what.
pub fn github_deployment(args: &DeploymentArgs, release: Option<&str>, env: &Env) -> Setup {
    let get = lookup(env);
    let environment = match args.environment.as_deref().map(str::trim) {
        Some(e) if !e.is_empty() && !args.no_github_deployment => e.to_string(),
        _ => return Setup::Off,
    };
    if get("GITHUB_ACTIONS").as_deref() != Some("true") {
        return Setup::Off;
    }
    let head = format!(
        "GitHub deployment to environment {environment} not recorded (the deploy itself is \
         unaffected)"
    );
    let Some(token) = get("GITHUB_TOKEN") else {
        return Setup::Unusable(format!(
            "{head}: GITHUB_TOKEN is not set\n  fix: pass the job's token to the step \
             (`env: GITHUB_TOKEN: ${{{{ github.token }}}}`) with `permissions: deployments: \
             write`, or pass --no-github-deployment"
        ));
    };
    let (Some(repository), Some(sha)) = (get("GITHUB_REPOSITORY"), get("GITHUB_SHA")) else {
        return Setup::Unusable(format!(
            "{head}: GITHUB_REPOSITORY or GITHUB_SHA is not set (GitHub Actions sets both)\n  \
             fix: run kpush in a GitHub Actions step, or pass --no-github-deployment"
        ));
    };
    let api_url = get("GITHUB_API_URL").unwrap_or_else(|| "https://api.github.com".into());
    if !api_url.starts_with("https://") {
        return Setup::Unusable(format!(
            "{head}: GITHUB_API_URL={api_url} is not an https URL (kpush sends GITHUB_TOKEN \
             only over https)\n  fix: set GITHUB_API_URL to GitHub's API, like \
             https://api.github.com"
        ));
    }
    Setup::Record(GithubSettings {
        api_url,
        repository,
        sha,
        token: Token::new(token),
        environment,
        environment_url: args.environment_url.clone(),
        log_url: crate::release::revision::RunInfo::from_env(env).run_url,
        release: release.map(str::to_string),
    })
}

/// The notifications of `kpush apply` (`--notify`, `--notify-on`) about a deploy of `release`;
/// an invalid `--notify` value is invalid input (its URL, which holds a secret, is not shown).
pub fn notify(
    args: &DeploymentArgs,
    release: Option<&str>,
    env: &Env,
) -> Result<NotifySettings, DeployError> {
    let receivers = args
        .notify
        .iter()
        .filter(|v| !v.trim().is_empty())
        .map(|v| Receiver::parse(v))
        .collect::<Result<Vec<_>, _>>()
        .map_err(DeployError::invalid)?;
    let run = crate::release::revision::RunInfo::from_env(env);
    Ok(NotifySettings {
        receivers,
        when: match args.notify_on {
            NotifyOn::Always => When::Always,
            NotifyOn::Success => When::Success,
            NotifyOn::Failure => When::Failure,
        },
        command: "apply".into(),
        environment: args.environment.clone(),
        release: release.map(str::to_string),
        repository: run.repository,
        commit: run.commit,
        run_url: run.run_url,
    })
}
