//! `kpush rbac`: print the Roles, ClusterRole and bindings that let an identity run
//! `kpush apply` with the same manifests and flags, and nothing more.

use std::collections::BTreeSet;
use std::io::Write;

use clap::Args;
use kube::core::{ApiResource, GroupVersionKind};

use super::args::{ClusterArgs, FleetArgs, ManifestArgs, PlanArgs, WaitFlag};
use crate::deploy::fleet::FleetDeploy;
use crate::deploy::{self, DeployError, FleetSettings};
use crate::exit::{self, ExitError};
use crate::fleet;
use crate::manifest::Manifest;
use crate::plan::permissions::{self, Recorded, Settings};
use crate::plan::{PlanError, discovery};
use crate::render::patch::schema;
use crate::report::rbac::{RoleSettings, Subject, yaml};
use crate::report::{CiMode, OutputSettings, Progress, Reporter};

/// Flags of `kpush rbac`.
#[derive(Debug, Args)]
pub struct RbacArgs {
    #[command(flatten)]
    manifests: ManifestArgs,

    #[command(flatten)]
    cluster: ClusterArgs,

    #[command(flatten)]
    plan: PlanArgs,

    #[command(flatten)]
    fleet: FleetArgs,

    /// The apply uses --recreate-on-immutable (needs delete).
    #[arg(long, env = "KPUSH_RECREATE_ON_IMMUTABLE")]
    recreate_on_immutable: bool,

    /// Bind the roles to this identity: `user:NAME` (for Entra ID, the object id),
    /// `group:NAME` or `serviceaccount:NAMESPACE/NAME` (repeatable).
    #[arg(
        long = "subject",
        value_name = "KIND:NAME",
        env = "KPUSH_SUBJECT",
        value_delimiter = '\n'
    )]
    subjects: Vec<String>,

    /// Name of the roles and bindings (default: `kpush-<release>`, or `kpush-deployer`).
    #[arg(long, value_name = "NAME")]
    name: Option<String>,

    /// Resolve kinds without a cluster: built-in kinds of Kubernetes 1.35 and kinds of CRDs in
    /// the manifests only; a release's previously recorded kinds are not seen.
    #[arg(long)]
    offline: bool,

    #[command(flatten)]
    wait_flag: WaitFlag,
}

pub(super) async fn run(args: RbacArgs, ci: CiMode, env: &super::Env) -> Result<i32, ExitError> {
    let settings = OutputSettings {
        command: "rbac",
        ci,
        progress: Progress::Plain,
        json: false,
        verbose: false,
    };
    let reporter = Reporter::new(&settings, env);
    let result = run_with(&args, &reporter, env).await;
    if let Err(e) = &result {
        reporter.stopping_problems(&e.error);
    }
    result
}

async fn run_with(
    args: &RbacArgs,
    reporter: &Reporter,
    env: &super::Env,
) -> Result<i32, ExitError> {
    let bad = |e: String| ExitError::new(exit::BAD_INPUT, anyhow::anyhow!(e));
    let subjects = args
        .subjects
        .iter()
        .filter(|s| !s.is_empty())
        .map(|s| Subject::parse(s))
        .collect::<Result<Vec<_>, _>>()
        .map_err(bad)?;
    // The same settings `kpush apply` would deploy with.
    let deploy_settings = super::settings::deploy(
        &args.manifests,
        &args.plan,
        |name: &str| deploy::ReleaseSettings::new(name),
        env,
    )?;
    let cluster = args.cluster.settings(&super::lookup(env));
    let prune = deploy_settings.prune;
    let release = args.plan.release_name();
    let client = match args.offline {
        true => None,
        false => Some(deploy::render::connect(&cluster).await?),
    };
    let mut manifests = match &client {
        Some((c, _)) => {
            deploy::render::render(&deploy_settings.render, reporter, Some(c), release).await?
        }
        None => deploy::render::render_offline(&deploy_settings.render, reporter, release)?,
    };
    let namespace = match (&args.manifests.namespace, &client) {
        (Some(ns), _) => ns.clone(),
        (None, Some((c, _))) => c.default_namespace().to_string(),
        (None, None) => "default".to_string(),
    };
    if deploy_settings.create_namespace {
        deploy::add_namespace(&mut manifests, &namespace);
    }
    // Through a fleet, as in `kpush apply`: the manifests are wrapped in their placement, the
    // hub's copies are not tracked, and following the placement has needs of its own.
    let fleet = match args
        .fleet
        .through_fleet(args.cluster.azure.fleet.as_deref())
    {
        true => Some(deploy::fleet::prepare(
            &mut manifests,
            &FleetSettings {
                placement: args.fleet.placement.clone(),
                update_strategy: args.fleet.update_strategy.clone(),
            },
            &namespace,
            args.wait_flag.wait_for_rollout,
            release.is_some(),
        )?),
        false => None,
    };
    // As `kpush apply` waits: on the cluster applied to, not through a fleet.
    let wait = crate::track::TrackOptions::default();
    let wait = (args.wait_flag.wait_for_rollout && fleet.is_none()).then_some(&wait);
    let applyset = release.map(|r| crate::plan::ApplySet::new(r, &namespace));
    let apply = crate::apply::ApplyOptions {
        prune,
        prune_namespaces_and_crds: deploy_settings.prune_namespaces_and_crds,
        ..Default::default()
    };
    let settings = Settings {
        beside: fleet
            .as_ref()
            .map(|f| f.permissions.clone())
            .unwrap_or_default(),
        ..deploy::engine::permission_settings(wait, applyset, &apply, args.recreate_on_immutable)
    };
    let (perms, source) = match &client {
        Some((c, server)) => {
            let retry = cluster.retry_policy(None);
            let needed = deploy::access::needed(c, retry, &manifests, &namespace, &settings)
                .await
                .map_err(|f| {
                    let e = PlanError::from(f);
                    DeployError::new(
                        deploy::error::of_plan_error(&e),
                        anyhow::anyhow!("{}", deploy::explain::explain(&e, server)),
                    )
                })?;
            unknown(
                &needed.unknown,
                exit::APPLY_REJECTED,
                "the cluster does not serve it",
            )?;
            (needed.permissions, format!("the discovery of {server}"))
        }
        None => {
            let crds = discovery::kinds_defined_by_crds(&manifests);
            let (members, unresolved) = permissions::members(&manifests, &namespace, |m| {
                permissions::defined_by_set(&crds, m)
                    .or_else(|| builtin(m))
                    .or_else(|| fleet::access::known_kind(m.api_version(), m.kind()))
            });
            unknown(
                &unresolved,
                exit::BAD_INPUT,
                &format!(
                    "it is not a built-in kind of Kubernetes {} and no CRD among the manifests \
                     defines it; run kpush rbac without --offline against the cluster",
                    schema::KUBERNETES_VERSION
                ),
            )?;
            let perms = permissions::required(&members, &Recorded::default(), &settings);
            let source = format!(
                "the built-in kinds of Kubernetes {} (--offline)",
                schema::KUBERNETES_VERSION
            );
            (perms, source)
        }
    };
    let created: BTreeSet<String> = manifests
        .iter()
        .filter(|m| m.group().is_empty() && m.kind() == "Namespace")
        .map(|m| m.name().to_string())
        .collect();
    let name = args.name.clone().unwrap_or_else(|| match release {
        Some(r) => format!("kpush-{r}"),
        None => "kpush-deployer".to_string(),
    });
    let mut header = vec![
        format!(
            "Permissions `kpush apply` needs for {} objects ({}), resolved with {source}.",
            manifests.len(),
            flags_text(&settings, fleet.as_ref(), args.wait_flag.wait_for_rollout)
        ),
        "Generated by `kpush rbac`; apply with `kubectl apply -f`.".to_string(),
    ];
    if settings.release.is_some() && args.offline {
        header.push(
            "Offline: kinds the release recorded before (and still prunes) are not included."
                .to_string(),
        );
    }
    let text = yaml(
        &perms,
        &RoleSettings {
            name,
            subjects,
            created_namespaces: created,
            header,
        },
    );
    let mut out = std::io::stdout().lock();
    out.write_all(text.as_bytes())
        .and_then(|_| out.flush())
        .map_err(|e| ExitError::new(exit::INTERNAL, e))?;
    Ok(exit::SUCCESS)
}

/// The settings as words for the header: `release shop, prune, wait`, or `through the Fleet
/// placement shop, follow its rollout`.
fn flags_text(s: &Settings, fleet: Option<&FleetDeploy>, wait: bool) -> String {
    let mut words = Vec::new();
    if let Some(f) = fleet {
        words.push(format!("through the Fleet placement {}", f.placement.name));
    }
    if let Some(set) = &s.release {
        words.push(format!("release {} in {}", set.name, set.namespace));
    }
    if s.prune {
        words.push("prune".into());
    }
    if s.prune_namespaces_and_crds {
        words.push("prune namespaces and CRDs".into());
    }
    if s.recreate_on_immutable {
        words.push("recreate on immutable".into());
    }
    words.push(
        match (fleet.is_some(), wait) {
            (false, true) => "wait",
            (false, false) => "no wait",
            (true, true) => "follow its rollout",
            (true, false) => "not following its rollout",
        }
        .into(),
    );
    words.join(", ")
}

/// A built-in kind of the Kubernetes version kpush's schema table holds: its resource from
/// kube's pluralization (checked against that version's names) and its scope from the table.
fn builtin(m: &Manifest) -> Option<permissions::Resolved> {
    if !schema::is_builtin_kind(m.api_version(), m.kind()) {
        return None;
    }
    let gvk = GroupVersionKind::gvk(m.group(), m.version(), m.kind());
    Some((
        ApiResource::from_gvk(&gvk),
        !schema::is_cluster_scoped(m.group(), m.kind()),
    ))
}

/// Fails naming every object whose kind could not be resolved.
fn unknown(objects: &[&Manifest], code: i32, why: &str) -> Result<(), ExitError> {
    if objects.is_empty() {
        return Ok(());
    }
    let lines: Vec<String> = objects
        .iter()
        .map(|m| format!("{}: {} ({})", m.origin, m.key(), m.api_version()))
        .collect();
    Err(ExitError::new(
        code,
        anyhow::anyhow!(
            "cannot tell which resource {} of the objects use{}: {why}\n  {}",
            lines.len(),
            if lines.len() == 1 { "s" } else { "" },
            lines.join("\n  ")
        ),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manifest::Origin;
    use serde_json::json;

    #[test]
    fn builtin_kinds_resolve_offline_with_resource_and_scope() {
        let m = |api: &str, kind: &str| {
            Manifest::new(
                Origin::new("x.yaml", 1),
                json!({"apiVersion": api, "kind": kind, "metadata": {"name": "x"}}),
            )
        };
        let (r, namespaced) = builtin(&m("networking.k8s.io/v1", "NetworkPolicy")).unwrap();
        assert_eq!(r.plural, "networkpolicies");
        assert!(namespaced);
        let (r, namespaced) = builtin(&m("v1", "Endpoints")).unwrap();
        assert_eq!(r.plural, "endpoints");
        assert!(namespaced);
        let (r, namespaced) = builtin(&m("storage.k8s.io/v1", "StorageClass")).unwrap();
        assert_eq!(r.plural, "storageclasses");
        assert!(!namespaced);
        assert!(builtin(&m("stable.example.com/v1", "CronTab")).is_none());
        assert!(
            builtin(&m("apps/v1beta1", "Deployment")).is_none(),
            "not served in 1.35"
        );
    }
}
