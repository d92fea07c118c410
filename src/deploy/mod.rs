//! The deploy workflow, below the command line: connect → render → plan → hooks → apply →
//! track → record, for one cluster ([`apply`]), a release ([`release`]), a Fleet hub
//! ([`fleet`]) or many targets ([`targets`]).
//!
//! Nothing here knows clap or exit codes, and nothing prints: stages report through the
//! [`Sink`] given, and each deploy ends in a typed [`Verdict`] or [`DeployError`] (the command
//! line maps them to exit codes in `exit`). Cancellation is the [`Interrupt`] token passed in.
//!
//! ```no_run
//! # async fn example() -> Result<(), kpush::deploy::DeployError> {
//! use kpush::deploy::{self, ClusterSettings, DeploySettings, Interrupt, Renders};
//!
//! let settings = DeploySettings::new(vec!["deploy/".into()]);
//! let cluster = ClusterSettings::kubeconfig("/home/me/.kube/config", None);
//! let sink = kpush::event::RecordingSink::default();
//! let verdict = deploy::apply(&settings, &cluster, &sink, &Renders::default(), &Interrupt::never())
//!     .await?;
//! assert!(verdict.is_success());
//! # Ok(())
//! # }
//! ```

pub mod access;
pub mod adoption;
pub mod cancel;
pub mod capabilities;
pub mod connect;
pub mod diff;
pub mod drift;
pub mod engine;
pub mod error;
pub mod explain;
pub mod fleet;
pub mod history;
pub mod hooks;
pub mod namespace;
pub mod prune_check;
pub mod rbac;
pub mod release;
pub mod render;
pub mod rollback;
pub mod settings;
pub mod status;
pub mod targets;
pub mod targets_file;
pub mod tracking;

use std::time::Instant;

pub use crate::apply::Interrupt;
pub use connect::{ClusterSettings, Way};
pub use engine::{Deployed, Deployer};
pub use error::{DeployError, DeployResult, Verdict, outcome_of};
pub use render::{RenderKey, Renders};
pub use settings::{DeploySettings, FleetSettings, PlanSettings, ReleaseSettings};

use crate::apply::ApplyOptions;
use crate::event::Sink;

/// Renders `settings.render`, then plans, applies (and prunes) and tracks the objects on
/// `cluster` — as a release's revision under its lock with `settings.release`, through the
/// hub with `settings.fleet`. `renders` shares renders between the targets of one run.
pub async fn apply(
    settings: &DeploySettings,
    cluster: &ClusterSettings,
    sink: &dyn Sink,
    renders: &Renders,
    interrupt: &Interrupt,
) -> DeployResult {
    let started = Instant::now();
    settings.check_prune()?;
    let (mut manifests, client, server) = cancel::unless_cancelled(
        interrupt,
        renders.render_connected(&settings.render, cluster, sink, settings.release_name()),
    )
    .await?;
    let namespace = settings
        .render
        .namespace
        .clone()
        .unwrap_or_else(|| client.default_namespace().to_string());
    if settings.create_namespace {
        namespace::add(&mut manifests, &namespace);
    }
    let retry = cluster.retry_policy(Some(started + settings.timeout));
    let mut opts = settings
        .plan
        .options(&namespace, settings.release_name(), retry);
    opts.preflight = settings.preflight;
    opts.recreate_on_immutable = settings.recreate_on_immutable;
    let deploy = Deployer {
        client: &client,
        server: &server,
        reporter: sink,
        plan: opts,
        apply: ApplyOptions {
            prune: settings.prune,
            prune_namespaces_and_crds: settings.prune_namespaces_and_crds,
            prune_guard: settings.prune_guard,
            ..Default::default()
        },
        // Tracking re-establishes its watches within the same run-wide budget. Through a
        // fleet, workloads run on the members: the hub's copies are never tracked.
        wait: settings
            .wait
            .clone()
            .filter(|_| settings.fleet.is_none())
            .map(|w| crate::track::TrackOptions { retry, ..w }),
        interrupt: interrupt.clone(),
        adopt: settings.plan.adopt,
    };
    // A fleet deploy's placement is settled (generated) first, so the access check covers it
    // and what following it asks of the hub.
    let fleet = match &settings.fleet {
        Some(f) => Some(fleet::prepare(
            &mut manifests,
            f,
            &namespace,
            settings.wait.is_some(),
            settings.release.is_some(),
        )?),
        None => None,
    };
    if settings.access_check {
        let beside = fleet.as_ref().map(|f| access::Beside {
            permissions: f.permissions.clone(),
            fleet: true,
            fleet_id: cluster.fleet_id(),
        });
        let check = access::check(&deploy, &manifests, &namespace, beside.unwrap_or_default());
        cancel::unless_cancelled(interrupt, check).await?;
    }
    if let (Some(prepared), Some(f)) = (fleet, &settings.fleet) {
        let wait = settings
            .wait
            .is_some()
            .then(|| crate::fleet::FleetTrackOptions {
                timeout: settings.timeout,
                ..Default::default()
            });
        return fleet::deploy(&deploy, manifests, &prepared.placement, f, wait).await;
    }
    match &settings.release {
        Some(r) => {
            let release =
                crate::release::Release::new(&r.name, &namespace).map_err(DeployError::invalid)?;
            let r = ReleaseSettings {
                allow_other_namespaces: settings.render.allow_other_namespaces,
                ..r.clone()
            };
            release::deploy(&deploy, &release, &r, release::Source::Manifests(manifests)).await
        }
        None => deploy.deploy(manifests).await.result,
    }
}
