//! Parsed flags and the environment become deploy settings here — the one place — once per run
//! (and once per target of a `--targets` run, on top of the command line's).

use std::sync::Arc;

use super::args::deployment::NotifyOn;
use super::args::{
    ApplyArgs, AzureArgs, ClusterArgs, DeploymentArgs, FleetArgs, ManifestArgs, PlanArgs, TrackArgs,
};
use super::{Env, lookup};
use crate::deploy::{
    ClusterSettings, DeployError, DeploySettings, FleetSettings, PlanSettings, ReleaseSettings,
};
use crate::records::github::{GithubSettings, Setup, Token};
use crate::records::notify::{NotifySettings, Receiver, When};
use crate::render::RenderOptions;
use crate::render::sops::{KeyVaultClient, SopsKeys, TokenSource};
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
    azure: &AzureArgs,
    plan_args: &PlanArgs,
    release: impl Fn(&str) -> ReleaseSettings,
    env: &Env,
) -> Result<DeploySettings, DeployError> {
    let render = render(manifests, Some(azure), env)?;
    Ok(DeploySettings {
        render,
        plan: plan(plan_args),
        release: plan_args.release_name().map(release),
        prune: plan_args.prune(),
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
        &cluster.azure,
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

/// What to render and how, SOPS keys included (Key Vault signed in with `azure`'s identity).
pub fn render(
    manifests: &ManifestArgs,
    azure: Option<&AzureArgs>,
    env: &Env,
) -> Result<RenderOptions, DeployError> {
    let mut opts = manifests.to_options(env).map_err(DeployError::invalid)?;
    opts.sops = sops(azure, env).map_err(DeployError::invalid)?;
    Ok(opts)
}

/// Keys for SOPS-encrypted files: age identities from `SOPS_AGE_KEY` and the file
/// `SOPS_AGE_KEY_FILE` names (as sops reads them), and Azure Key Vault, signed in as kpush signs
/// in to Azure (`azure`'s flags and the environment's credential), asked for a token only when
/// a file names a Key Vault key. `KPUSH_KEY_VAULT_HOSTS` (comma-separated `host:port`) trusts
/// hosts beside Key Vault's own domains (a private endpoint's name, a test emulator).
pub fn sops(azure: Option<&AzureArgs>, env: &Env) -> Result<SopsKeys, String> {
    let mut keys = SopsKeys::default();
    let var = |name: &str| env.get(name).filter(|v| !v.trim().is_empty());
    if let Some(k) = var("SOPS_AGE_KEY") {
        keys.add_age_identities(k);
    }
    if let Some(file) = var("SOPS_AGE_KEY_FILE") {
        let text = std::fs::read_to_string(file).map_err(|e| {
            format!(
                "SOPS_AGE_KEY_FILE names {file}, which cannot be read: {e}\n  fix: point it at \
                 the age key file (one AGE-SECRET-KEY-1… per line), or unset it"
            )
        })?;
        keys.add_age_identities(&text);
    }
    let Some(azure) = azure else {
        return Ok(keys);
    };
    let settings = azure.settings(&lookup(env));
    let scope = match settings.cloud {
        crate::auth::Cloud::AzureUSGovernment => "https://vault.usgovcloudapi.net/.default",
        crate::auth::Cloud::AzureChinaCloud => "https://vault.azure.cn/.default",
        _ => "https://vault.azure.net/.default",
    };
    let ca_pem = match &settings.azure_ca_file {
        Some(f) => Some(
            std::fs::read(f)
                .map_err(|e| format!("--azure-ca-file {} cannot be read: {e}", f.display()))?,
        ),
        None => None,
    };
    let handle = tokio::runtime::Handle::try_current().ok();
    // Called on a thread of its own, outside the runtime, only when a file needs Key Vault.
    let token: TokenSource = Arc::new(move || {
        let fetch = crate::auth::access_token(&settings, scope);
        let token = match &handle {
            Some(h) => h.block_on(fetch),
            None => tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|e| e.to_string())?
                .block_on(fetch),
        };
        token
            .map(|t| t.secret().to_string())
            .map_err(|e| format!("cannot sign in for Azure Key Vault ({scope}): {e}"))
    });
    let extra_hosts = var("KPUSH_KEY_VAULT_HOSTS")
        .map(|v| {
            v.split(',')
                .map(str::trim)
                .filter(|h| !h.is_empty())
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default();
    keys.key_vault = Some(Arc::new(KeyVaultClient {
        token,
        ca_pem,
        extra_hosts,
    }));
    Ok(keys)
}
