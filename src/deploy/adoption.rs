//! `kpush apply` taking over objects other tools applied, before applying them.

use std::collections::BTreeSet;

use kube::Client;
use serde_json::Value;

use super::error::DeployError;
use super::explain::plan_failed;
use crate::event::{Event, Sink};
use crate::plan::{Live, Plan, ownership};

/// Moves other deploy tools' field ownership to kpush on the plan's live objects (unless
/// `adopt` is false: `--no-adopt`), then runs the preflight (`preflight`) the plan was made
/// without, so the dry-runs and the no-op check see the new owners.
pub async fn take_over(
    client: &Client,
    mut plan: Plan,
    preflight: bool,
    adopt: bool,
    server: &str,
    sink: &dyn Sink,
) -> Result<Plan, DeployError> {
    if adopt {
        for release in helm_releases(&plan) {
            let (ns, name) = release.split_once('/').unwrap_or(("default", &release));
            sink.event(&Event::Warning {
                object: None,
                message: format!(
                    "objects of Helm release {name} (namespace {ns}) are now deployed by kpush: \
                     `helm list` and `helm history` will no longer be current; Helm's release \
                     Secrets (sh.helm.release.v1.{name}.*) are left as they were"
                ),
            });
        }
    }
    if !preflight {
        return Ok(plan);
    }
    plan.options.preflight = true;
    plan.check_again(client, sink)
        .await
        .map_err(|e| plan_failed(&e, server, Some("nothing was applied")))?;
    Ok(plan)
}

/// `namespace/name` of the Helm releases whose objects this run takes over from Helm (live
/// objects with Helm's release annotations that another tool's manager still owns).
fn helm_releases(plan: &Plan) -> BTreeSet<String> {
    let mut releases = BTreeSet::new();
    for o in &plan.objects {
        let Live::Present(live) = &o.live else {
            continue;
        };
        if ownership::adoption_patch(live, &plan.options.field_manager).is_none() {
            continue;
        }
        let annotation = |k: &str| {
            live.pointer("/metadata/annotations")
                .and_then(|a| a.get(k))
                .and_then(Value::as_str)
        };
        if let Some(release) = annotation("meta.helm.sh/release-name") {
            let ns = annotation("meta.helm.sh/release-namespace").unwrap_or("default");
            releases.insert(format!("{ns}/{release}"));
        }
    }
    releases
}
