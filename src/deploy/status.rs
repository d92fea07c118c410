//! `kpush status`: wait for already-applied manifests to be ready, changing nothing.

use crate::event::Sink;
use crate::render::RenderOptions;
use crate::track::{self, TrackOptions};

use super::error::{self, DeployError, DeployResult, Verdict};
use super::{ClusterSettings, Interrupt, Renders};

/// Renders `render` (charts as Helm release `release`) and tracks the objects' rollouts on
/// `cluster` with `wait` (its timeout bounds the run's retries too).
pub async fn status(
    render: &RenderOptions,
    release: Option<&str>,
    wait: &TrackOptions,
    cluster: &ClusterSettings,
    sink: &dyn Sink,
    renders: &Renders,
    interrupt: &Interrupt,
) -> DeployResult {
    let (mut manifests, client, _) = super::cancel::unless_cancelled(
        interrupt,
        renders.render_connected(render, cluster, sink, release),
    )
    .await?;
    // A chart's hooks run only during apply (and may be deleted after): not compared or tracked.
    super::hooks::leave_out_hooks(&mut manifests, sink);
    // Kinds are resolved with the plan's discovery catalogue, as for apply.
    let resolve = async {
        track::resolve(&client, &manifests)
            .await
            .map_err(|e| DeployError::new(error::of_target_error(&e), e))
    };
    let targets = super::cancel::unless_cancelled(interrupt, resolve).await?;
    let opts = TrackOptions {
        retry: cluster.retry_policy(Some(std::time::Instant::now() + wait.timeout)),
        ..wait.clone()
    };
    let outcome = track::track(&client, targets, &opts, sink, interrupt.cancelled()).await;
    Ok(Verdict::of_run_state(outcome.state))
}
